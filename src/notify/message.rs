//! The words of every notification: SMS, voice, email, chat and the client
//! channel. Pure: the caller supplies the acknowledge link.

use crate::incident::Incident;

/// One line naming the incident: `#42 [critical] shop: Disk full on db-1`.
pub fn headline(i: &Incident) -> String {
    format!("#{} [{}] {}: {}", i.id, i.severity, i.project, i.title)
}

/// An SMS page: number, project, severity, summary, the acknowledge link and
/// the reply commands, kept short (one or two segments).
pub fn sms_page(i: &Incident, ack_url: &str) -> String {
    let title: String = i.title.chars().take(90).collect();
    format!(
        "tocsin #{} [{}] {}: {}\nAck: {}\nReply: ack {} | res {} | esc {}",
        i.id, i.severity, i.project, title, ack_url, i.id, i.id, i.id
    )
}

/// Several pages to one person folded into one SMS.
pub fn sms_bundle(headlines: &[String], ids: &[i64]) -> String {
    let mut text = format!("tocsin: {} incidents need you\n", headlines.len());
    for h in headlines {
        let line: String = h.chars().take(70).collect();
        text.push_str(&line);
        text.push('\n');
    }
    let first = ids.first().copied().unwrap_or_default();
    text.push_str(&format!("Reply: ack N (e.g. ack {first}) | res N | esc N"));
    text
}

/// What the phone call says before asking for a digit.
pub fn voice(i: &Incident) -> String {
    format!(
        "tocsin incident {} on project {}, severity {}: {}. Press 1 to acknowledge, 2 to escalate, 3 to resolve.",
        i.id, i.project, i.severity, i.title
    )
}

pub fn email_subject(i: &Incident) -> String {
    format!("[tocsin] {}", headline(i))
}

pub fn email_text(i: &Incident, ack_url: &str) -> String {
    format!(
        "Incident {} needs a responder.\n\nProject: {}\nSeverity: {}\nSummary: {}\n\nAcknowledge: {}\n\nOr reply by SMS: ack {}",
        i.id, i.project, i.severity, i.title, ack_url, i.id
    )
}

pub fn email_html(i: &Incident, ack_url: &str) -> String {
    let e = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<p>Incident <b>{}</b> needs a responder.</p><ul><li>Project: {}</li><li>Severity: {}</li><li>Summary: {}</li></ul><p><a href=\"{}\">Acknowledge incident {}</a></p>",
        i.id,
        e(&i.project),
        i.severity,
        e(&i.title),
        e(ack_url),
        i.id
    )
}

/// A page in the on-call chat, mentioning the person.
pub fn chat_page(i: &Incident, handle: &str, ack_url: &str) -> String {
    format!(
        "{handle} you are paged: {} — acknowledge: {ack_url}",
        headline(i)
    )
}

/// Told to the assignee when the incident is resolved, whoever resolved it.
pub fn resolved_notice(i: &Incident, by: &str) -> String {
    format!("tocsin: {} was resolved by {by}.", headline(i))
}

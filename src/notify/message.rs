//! The words of every notification: SMS, voice, email, chat and the client
//! channel. Pure: the caller supplies the acknowledge link. Text an alert
//! brought (an incident's title) enters every message through [`one_line`],
//! so an alert cannot forge a line of a page; an SMS stays within the
//! segment cap (counted by `sms_segments`).

use std::collections::BTreeSet;

use super::sms_segments::{cut, fits, longest_start};
use crate::incident::Incident;
use crate::incident::apply::ActError;
use crate::incident::transition::Action;
use crate::store::StoreError;

/// Longest title in an SMS page, in characters.
const SMS_TITLE_CHARS: usize = 90;
/// Longest headline in an SMS bundle, in characters.
const BUNDLE_LINE_CHARS: usize = 70;

/// Alert-provided text as it may appear in a message: one line. Each run of
/// control characters (newlines, tabs, ...), with the spaces around it,
/// becomes one space; bidi controls, which reorder what the reader sees,
/// are dropped; the ends are trimmed. The stored text keeps what was sent.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Spaces not yet written, and whether a control character was among them.
    let (mut gap, mut broken) = (String::new(), false);
    for c in text.chars().filter(|&c| !is_bidi_control(c)) {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            broken = true;
        } else if c == ' ' {
            gap.push(c);
        } else {
            if !out.is_empty() {
                out.push_str(if broken { " " } else { &gap });
            }
            gap.clear();
            broken = false;
            out.push(c);
        }
    }
    out
}

/// The Unicode bidi embedding, override and isolate controls and marks.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// One line naming the incident: `#42 [critical] shop: Disk full on db-1`.
pub fn headline(i: &Incident) -> String {
    format!(
        "#{} [{}] {}: {}",
        i.id,
        i.severity,
        i.project,
        one_line(&i.title)
    )
}

/// An SMS page: number, project, severity, summary, the acknowledge link and
/// the reply commands, in at most `max_segments` (a long title is shortened).
pub fn sms_page(i: &Incident, ack_url: &str, max_segments: usize) -> String {
    let render = |title: &str| {
        format!(
            "tocsin #{} [{}] {}: {title}\nAck: {ack_url}\nReply: ack {} | res {} | esc {}",
            i.id, i.severity, i.project, i.id, i.id, i.id
        )
    };
    let title = one_line(&i.title);
    let title = cut(&title, SMS_TITLE_CHARS);
    // Most pages fit whole: rendered and counted once.
    let whole = render(title.trim_end());
    if fits(&whole, max_segments) {
        return whole;
    }
    let title = longest_start(title, |t| fits(&render(t), max_segments)).trim_end();
    within(render(title), max_segments)
}

/// Several pages to one person folded into one SMS of at most
/// `max_segments`: a headline per incident (`pages` are incident numbers and
/// headlines) while they fit, the reply line, then, when some incidents are
/// not named, `+N more: <link>` with `link` of the first of them.
pub fn sms_bundle(
    pages: &[(i64, &str)],
    max_segments: usize,
    link: impl Fn(i64) -> String,
) -> String {
    sms_bundle_of(pages, 0, max_segments, link)
}

/// `sms_bundle` of a bundle too big to hold whole: `pages` are its first
/// pages, and `incidents` counts every incident in it.
pub fn sms_bundle_of(
    pages: &[(i64, &str)],
    incidents: usize,
    max_segments: usize,
    link: impl Fn(i64) -> String,
) -> String {
    let mut seen = BTreeSet::new();
    let lines: Vec<(i64, String)> = pages
        .iter()
        .filter(|(id, _)| seen.insert(*id))
        .map(|(id, h)| (*id, cut(&one_line(h), BUNDLE_LINE_CHARS).to_string()))
        .collect();
    let total = incidents.max(lines.len());
    let render = |named: usize| {
        let mut text = format!("tocsin: {total} incidents need you\n");
        for (_, line) in &lines[..named] {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str("Reply: ack N | res N | esc N");
        if let Some((first, _)) = lines.get(named) {
            let more = total - named;
            text.push_str(&format!("\n+{more} more: {}", link(*first)));
        }
        text
    };
    if total == lines.len() {
        let all = render(lines.len());
        if fits(&all, max_segments) {
            return all;
        }
    }
    let mut named = 0;
    while named + 1 < lines.len() && fits(&render(named + 1), max_segments) {
        named += 1;
    }
    within(render(named), max_segments)
}

/// A text for a cap too small even for its fixed lines (a long public URL
/// in one segment) loses whole lines from its end; a first line still too
/// long is cut between grapheme clusters.
fn within(mut text: String, max_segments: usize) -> String {
    while !fits(&text, max_segments) {
        match text.rfind('\n') {
            Some(end) => text.truncate(end),
            None => return longest_start(&text, |t| fits(t, max_segments)).to_string(),
        }
    }
    text
}

/// What the phone call says before asking for a digit; `project` is the
/// project's name.
pub fn voice(i: &Incident, project: &str) -> String {
    format!(
        "tocsin incident {} on project {project}, severity {}: {}. Press 1 to acknowledge, 2 to escalate, 3 to resolve.",
        i.id,
        i.severity,
        one_line(&i.title)
    )
}

pub fn email_subject(i: &Incident) -> String {
    format!("[tocsin] {}", headline(i))
}

pub fn email_text(i: &Incident, ack_url: &str) -> String {
    format!(
        "Incident {} needs a responder.\n\nProject: {}\nSeverity: {}\nSummary: {}\n\nAcknowledge: {}\n\nOr reply by SMS: ack {}",
        i.id,
        i.project,
        i.severity,
        one_line(&i.title),
        ack_url,
        i.id
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
        e(&one_line(&i.title)),
        e(ack_url),
        i.id
    )
}

/// A page in the on-call chat; the sender puts the person's handle first
/// (so Slack's `<@U…>` stays a mention, not text).
pub fn chat_page(i: &Incident, ack_url: &str) -> String {
    format!("you are paged: {} — acknowledge: {ack_url}", headline(i))
}

/// Told to the assignee when the incident is resolved, whoever resolved it.
pub fn resolved_notice(i: &Incident, by: &str) -> String {
    format!("tocsin: {} was resolved by {by}.", headline(i))
}

/// Told to everyone else a page reached, once somebody acknowledged.
pub fn taken_notice(i: &Incident, who: &str) -> String {
    format!("tocsin: {who} took {}. Nothing to do.", headline(i))
}

/// Acknowledged in the tool its alerts come from (`source`, the
/// integration): nobody here took it, so nobody is named.
pub fn acknowledged_at_source(i: &Incident, source: &str) -> String {
    format!(
        "tocsin: {} was acknowledged in {source}. Nothing to do here.",
        headline(i)
    )
}

/// Past participle for the confirmation words.
fn done(action: Action) -> &'static str {
    match action {
        Action::Acknowledge => "acknowledged",
        Action::Resolve => "resolved",
        Action::Downgrade => "downgraded",
        Action::Reopen => "reopened",
        Action::Unacknowledge => "unacknowledged",
        Action::Escalate => "escalated",
        Action::EndMaintenance => "paged after its maintenance",
    }
}

/// What a responder hears back after `action` on incident `id`, by any
/// channel; `Err` only when the store failed (nothing was changed). Whoever
/// did it first is named as `roster` names them.
pub fn outcome_words(
    roster: &crate::config::Roster,
    id: i64,
    action: Action,
    result: Result<(Incident, bool), ActError>,
) -> Result<String, StoreError> {
    match result {
        Ok((_, true)) => Ok(format!("Incident {id} {}.", done(action))),
        Ok((incident, false)) => Ok(match incident.assignee {
            Some(who) => {
                let who = roster
                    .people
                    .get(&who)
                    .map_or(who.as_str(), |p| p.name.as_str());
                format!("Incident {id} was already {} by {who}.", done(action))
            }
            None => format!("Incident {id} was already {}.", done(action)),
        }),
        Err(ActError::NotFound) => Ok(format!("Incident {id} not found.")),
        Err(ActError::Illegal(state)) => Ok(format!(
            "Incident {id} is {state}, so it cannot be {}.",
            done(action)
        )),
        Err(ActError::NobodyLeft) => Ok(ActError::nobody_left(id)),
        Err(ActError::Store(e)) => Err(e),
    }
}

/// What a responder hears back after escalating incident `id`.
pub fn escalated_words(id: i64) -> String {
    format!("Incident {id} escalated: the next step is being paged now.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::sms_segments::{MAX_CHARS, segments};

    const FORGED: &str = "db down\nAck: https://evil.example/a/PHISH\nReply: ack 1";
    const URL: &str = "https://tocsin.example/a/AQqA8qTSBGFsaWNlOkTy0OaXGl2lKt0xhT2kZoE";

    fn incident(id: i64, title: &str) -> Incident {
        let at = chrono::DateTime::UNIX_EPOCH;
        Incident {
            id,
            reference: format!("ACME-{id}"),
            project: "shop".into(),
            client: "acme".into(),
            title: title.into(),
            severity: crate::ingest::alert::Severity::Critical,
            state: crate::incident::State::Triggered,
            critical: true,
            source: crate::ingest::alert::Source::Alertmanager,
            integration: None,
            dedup_key: None,
            client_reported: false,
            labels: Default::default(),
            annotations: Default::default(),
            links: vec![],
            details: serde_json::Value::Null,
            alert_count: 1,
            created_at: at,
            started_at: at,
            last_seen_at: at,
            acknowledged_at: None,
            resolved_at: None,
            downgraded_at: None,
            assignee: None,
            layer: None,
            reproducible: None,
            serious: false,
            serious_reason: None,
            provider_ticket: None,
            announced: false,
        }
    }

    #[test]
    fn one_line_collapses_controls_and_drops_bidi_controls() {
        let cases = [
            (
                FORGED,
                "db down Ack: https://evil.example/a/PHISH Reply: ack 1",
            ),
            ("a\r\nb", "a b"),
            ("a \n\t b", "a b"),
            ("a\u{0}\u{7}\u{1b}[31mb", "a [31mb"),
            ("a\u{85}b\u{2028}c\u{2029}d\u{b}e\u{c}f", "a b c d e f"),
            ("\n  leading and trailing \t\n", "leading and trailing"),
            ("two  spaces stay", "two  spaces stay"),
            ("pay\u{202E}gpj.exe", "paygpj.exe"),
            (
                "\u{202A}\u{202B}\u{202C}\u{202D}\u{2066}\u{2067}\u{2068}\u{2069}\u{200E}\u{200F}\u{61C}x",
                "x",
            ),
            // Joiners and variation selectors are part of emoji: kept.
            (
                "👨\u{200d}👩\u{200d}👧 ❤\u{fe0f}",
                "👨\u{200d}👩\u{200d}👧 ❤\u{fe0f}",
            ),
            ("Disk full on db-1", "Disk full on db-1"),
            ("", ""),
        ];
        for (text, expected) in cases {
            assert_eq!(one_line(text), expected, "{text:?}");
        }
    }

    /// Every message built from an incident shows its title on one line.
    #[test]
    fn no_message_takes_a_line_from_the_title() {
        let i = incident(42, FORGED);
        let clean = "db down Ack: https://evil.example/a/PHISH Reply: ack 1";
        let sms = sms_page(&i, URL, 3);
        assert_eq!(
            sms.lines().collect::<Vec<_>>(),
            [
                &format!("tocsin #42 [critical] shop: {clean}")[..],
                &format!("Ack: {URL}"),
                "Reply: ack 42 | res 42 | esc 42",
            ]
        );
        for text in [
            headline(&i),
            voice(&i, "Shop"),
            email_subject(&i),
            chat_page(&i, URL),
            resolved_notice(&i, "bob"),
        ] {
            assert!(!text.contains('\n') && text.contains(clean), "{text:?}");
        }
        assert!(email_text(&i, URL).contains(&format!("\nSummary: {clean}\n")));
        assert!(email_html(&i, URL).contains(&format!("Summary: {clean}<")));
        let bundle = sms_bundle(&[(1, &headline(&i)), (2, "#2 x")], 3, |_| URL.into());
        assert_eq!(bundle.lines().count(), 4, "{bundle}");
    }

    #[test]
    fn an_sms_page_fits_its_segments() {
        let long = "disk full ".repeat(30);
        let emoji = "🔥".repeat(60);
        let cases: [(&str, usize, &str); 5] = [
            ("Disk full on db-1", 1, "Disk full on db-1"),
            // 90 characters at most, even when more would fit.
            (&long, 3, &long[..90]),
            // One segment: the title gives way to the link and the reply line
            // (`[`, `]` and `|` cost two septets each).
            (&long, 1, &long[..26]),
            // UCS-2: 70 units, the emoji two each, never split.
            (&emoji, 2, &emoji[..4 * 2]),
            (&emoji, 3, &emoji[..4 * 35]),
        ];
        for (title, max, shown) in cases {
            let text = sms_page(&incident(42, title), URL, max);
            assert!(segments(&text) <= max, "{max}: {text:?}");
            let first = text.lines().next().unwrap_or_default();
            assert_eq!(
                first,
                format!("tocsin #42 [critical] shop: {shown}").trim_end(),
                "{max}"
            );
            assert!(text.ends_with(&format!("Ack: {URL}\nReply: ack 42 | res 42 | esc 42")));
        }
    }

    fn heads(n: i64, title: &str) -> Vec<(i64, String)> {
        (1..=n)
            .map(|id| (id, format!("#{id} [critical] shop: {title}")))
            .collect()
    }

    fn bundle(heads: &[(i64, String)], max: usize) -> String {
        let pages: Vec<(i64, &str)> = heads.iter().map(|(id, h)| (*id, h.as_str())).collect();
        sms_bundle(&pages, max, |id| {
            format!("https://tocsin.example/a/link-{id}")
        })
    }

    /// (incidents named, the `+N more` count and its link's incident)
    fn tally(text: &str) -> (Vec<i64>, Option<(usize, i64)>) {
        let named = text
            .lines()
            .filter_map(|l| l.strip_prefix('#')?.split(' ').next()?.parse().ok())
            .collect();
        let more = text.lines().last().and_then(|l| {
            let (n, link) = l
                .strip_prefix('+')?
                .split_once(" more: https://tocsin.example/a/link-")?;
            Some((n.parse().ok()?, link.parse().ok()?))
        });
        (named, more)
    }

    #[test]
    fn a_bundle_names_what_fits_and_counts_the_rest() {
        let cases: [(i64, &str, usize, usize); 7] = [
            // (incidents, title, cap, named)
            (2, "Disk full", 3, 2),
            (383, "Disk full on db-1", 3, 8),
            (383, "Disk full on db-1", 10, 34),
            (383, "Disk full on db-1", 1, 1),
            // The dash is not GSM-7: UCS-2, 67 units a segment.
            (20, "Platte voll – db-1", 3, 2),
            // Headlines are cut to 70 characters.
            (20, &"x".repeat(200), 3, 4),
            (5, "🔥", 1, 0),
        ];
        for (n, title, max, want) in cases {
            let text = bundle(&heads(n, title), max);
            let what = format!("{n} × {title:?} in {max}: {text}");
            assert!(
                segments(&text) <= max && text.chars().count() <= MAX_CHARS,
                "{what}"
            );
            assert!(
                text.starts_with(&format!("tocsin: {n} incidents need you\n")),
                "{what}"
            );
            let (named, more) = tally(&text);
            assert_eq!(named, (1..=want as i64).collect::<Vec<_>>(), "{what}");
            let rest = n as usize - want;
            if rest == 0 {
                assert!(
                    more.is_none() && text.ends_with("\nReply: ack N | res N | esc N"),
                    "{what}"
                );
            } else {
                assert_eq!(more, Some((rest, want as i64 + 1)), "{what}");
                assert!(text.contains("\nReply: ack N | res N | esc N\n+"), "{what}");
            }
        }
    }

    #[test]
    fn a_bundle_names_each_incident_once() {
        let text = sms_bundle(&[(7, "#7 a"), (8, "#8 b"), (7, "#7 a")], 3, |_| URL.into());
        assert_eq!(
            text,
            "tocsin: 2 incidents need you\n#7 a\n#8 b\nReply: ack N | res N | esc N"
        );
    }

    #[test]
    fn a_headline_is_cut_between_grapheme_clusters() {
        let family = "👨\u{200d}👩\u{200d}👧";
        let head = format!("#1 [critical] shop: {}{family} down", "x".repeat(47));
        let text = sms_bundle(&[(1, &head), (2, "#2 b")], 3, |_| URL.into());
        assert_eq!(text.lines().nth(1), Some(&head[..67]), "{text}");
        let head = format!("#1 [critical] shop: {}{family} down", "x".repeat(45));
        let text = sms_bundle(&[(1, &head), (2, "#2 b")], 3, |_| URL.into());
        assert_eq!(
            text.lines().nth(1),
            Some(&head[..65 + family.len()]),
            "{text}"
        );
    }

    #[test]
    fn a_cap_too_small_for_the_fixed_lines_drops_whole_lines() {
        let long_url = format!(
            "https://oncall.example.com/some/long/path/{}",
            "a".repeat(80)
        );
        let text = sms_page(&incident(42, "Disk full"), &long_url, 1);
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            ["tocsin #42 [critical] shop: ", &format!("Ack: {long_url}")]
        );
        let many = heads(10, "Disk full");
        let pages: Vec<(i64, &str)> = many.iter().map(|(id, h)| (*id, h.as_str())).collect();
        let text = sms_bundle(&pages, 1, |_| long_url.clone());
        assert_eq!(
            text,
            "tocsin: 10 incidents need you\nReply: ack N | res N | esc N"
        );
    }

    /// Whoever did it first is named as people read names, not by id.
    #[test]
    fn a_repeat_names_who_did_it_by_name() {
        let mut roster = crate::escalation::fixture::roster();
        if let Some(p) = roster.people.get_mut("lead") {
            p.name = "Lee Adams".into();
        }
        let mut inc = incident(3, "db down");
        inc.assignee = Some("lead".into());
        let words = outcome_words(&roster, 3, Action::Acknowledge, Ok((inc, false)));
        assert_eq!(
            words.ok().as_deref(),
            Some("Incident 3 was already acknowledged by Lee Adams.")
        );
    }
}

//! The postmortem record and its review workflow: the four internal sections
//! of the guide and the client summary (the only text ever published), the
//! states `draft` → `submitted` → `approved` → `published`, who may take
//! each step, and the pre-filled "What happened?" facts and client summary.
//! Pure: no storage, no clock (the caller passes `now` and the timeline).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::config::Roster;
use crate::incident::{Event, Incident};

/// The four questions of the guide, by the API's section key.
pub const QUESTIONS: [(&str, &str); 4] = [
    ("what_happened", "What happened?"),
    ("how_fixed", "How was the problem fixed?"),
    ("cause", "What caused the problem?"),
    (
        "measures",
        "What have we done or are going to do to minimise these risks?",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PmState {
    Draft,
    Submitted,
    Approved,
    Published,
}

impl PmState {
    pub fn as_str(self) -> &'static str {
        match self {
            PmState::Draft => "draft",
            PmState::Submitted => "submitted",
            PmState::Approved => "approved",
            PmState::Published => "published",
        }
    }

    /// Approved and published text is final until reopened.
    pub fn is_final(self) -> bool {
        matches!(self, PmState::Approved | PmState::Published)
    }
}

impl fmt::Display for PmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PmState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "draft" => Ok(PmState::Draft),
            "submitted" => Ok(PmState::Submitted),
            "approved" => Ok(PmState::Approved),
            "published" => Ok(PmState::Published),
            _ => Err(format!("unknown postmortem state {s:?}")),
        }
    }
}

/// The section published to the client, by its API key, and what it is.
pub const CLIENT_SUMMARY: (&str, &str) = (
    "client_summary",
    "What the client reads when the postmortem is published",
);

/// The gaps the client summary's pre-fill leaves for the author; approval
/// waits until none is left.
pub const PLACEHOLDERS: [&str; 3] = [
    "[when it ended]",
    "[what we did to fix it]",
    "[what we will do so it does not happen again]",
];

/// Subject of the post that publishes a postmortem: the text is the client
/// summary alone.
pub const PUBLICATION_SUBJECT: &str = "Postmortem";

/// The answers to [`QUESTIONS`], internal, and the client summary, public.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sections {
    pub what_happened: String,
    pub how_fixed: String,
    pub cause: String,
    pub measures: String,
    pub client_summary: String,
}

impl Sections {
    fn all(&self) -> [(&'static str, &str); 5] {
        [
            (QUESTIONS[0].0, &self.what_happened),
            (QUESTIONS[1].0, &self.how_fixed),
            (QUESTIONS[2].0, &self.cause),
            (QUESTIONS[3].0, &self.measures),
            (CLIENT_SUMMARY.0, &self.client_summary),
        ]
    }

    /// Keys of the sections still blank.
    pub fn empty(&self) -> Vec<&'static str> {
        self.all()
            .into_iter()
            .filter(|(_, text)| text.trim().is_empty())
            .map(|(key, _)| key)
            .collect()
    }
}

/// A stored postmortem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Postmortem {
    pub id: i64,
    pub incident: i64,
    pub team: String,
    pub state: PmState,
    pub author: String,
    pub approver: String,
    pub title: String,
    #[serde(flatten)]
    pub sections: Sections,
    /// The lead's explicit "no measures needed" instead of action items.
    pub no_measures_needed: bool,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub approved_by: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
}

/// What creating a postmortem stores; the store assigns the number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPostmortem {
    pub incident: i64,
    pub team: String,
    pub author: String,
    pub approver: String,
    pub title: String,
    pub sections: Sections,
    pub due_at: DateTime<Utc>,
}

/// A review step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Submit,
    Approve,
    Publish,
    /// A correction: back to draft (the lead only).
    Reopen,
}

impl FromStr for Verb {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "submit" => Ok(Verb::Submit),
            "approve" => Ok(Verb::Approve),
            "publish" => Ok(Verb::Publish),
            "reopen" => Ok(Verb::Reopen),
            _ => Err(format!("unknown postmortem action {s:?}")),
        }
    }
}

/// Why a step or an edit is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The caller may not take this step (HTTP 403).
    Forbidden(String),
    /// Not in this state, or not complete (HTTP 409).
    Conflict(String),
}

/// The state after `verb` by `by`, `None` when it is already there.
/// `lead` is the current lead of the postmortem's team; `actions` the
/// number of its action items.
pub fn transition(
    pm: &Postmortem,
    verb: Verb,
    by: &str,
    lead: &str,
    actions: usize,
) -> Result<Option<PmState>, Refusal> {
    use PmState::*;
    let lead_only = |what: &str| {
        if by == lead {
            Ok(())
        } else {
            Err(Refusal::Forbidden(format!(
                "only the lead of team {} ({lead}) may {what} postmortems; {by} is not the lead",
                pm.team
            )))
        }
    };
    let conflict = |why: &str| {
        Err(Refusal::Conflict(format!(
            "postmortem {} is {}: {why}",
            pm.id, pm.state
        )))
    };
    match (verb, pm.state) {
        (Verb::Submit, Draft) => Ok(Some(Submitted)),
        (Verb::Submit, Submitted) => Ok(None),
        (Verb::Submit, _) => conflict("approved is final; the lead reopens it for a correction"),
        (Verb::Approve, s) => {
            lead_only("approve")?;
            match s {
                Submitted => {
                    let missing = missing_for_approval(pm, actions);
                    if missing.is_empty() {
                        Ok(Some(Approved))
                    } else {
                        conflict(&format!("cannot approve yet: {}", missing.join("; ")))
                    }
                }
                Draft => conflict("submit it for review first"),
                Approved | Published => Ok(None),
            }
        }
        (Verb::Publish, s) => {
            lead_only("publish")?;
            match s {
                Approved => match unwritten_summary(pm) {
                    None => Ok(Some(Published)),
                    Some(why) => conflict(&format!(
                        "{why}; the lead reopens it, the author writes it, and it is approved again"
                    )),
                },
                Published => Ok(None),
                Draft | Submitted => conflict("only an approved postmortem is published"),
            }
        }
        (Verb::Reopen, s) => {
            lead_only("reopen")?;
            Ok((s != Draft).then_some(Draft))
        }
    }
}

/// Why the client summary cannot go out yet: blank, or a gap of the
/// pre-fill still unfilled. Facts the pre-fill wrote may stay as they are.
fn unwritten_summary(pm: &Postmortem) -> Option<String> {
    let text = &pm.sections.client_summary;
    if text.trim().is_empty() {
        return Some("client_summary is empty".into());
    }
    let left: Vec<&str> = PLACEHOLDERS
        .into_iter()
        .filter(|p| text.contains(p))
        .collect();
    (!left.is_empty()).then(|| format!("client_summary still has {}", left.join(" ")))
}

/// What approval still needs: every section written, the client summary's
/// gaps filled, and measures (action items, or the explicit "no measures
/// needed").
pub fn missing_for_approval(pm: &Postmortem, actions: usize) -> Vec<String> {
    let mut out = Vec::new();
    let empty = pm.sections.empty();
    if !empty.is_empty() {
        out.push(format!("empty sections: {}", empty.join(", ")));
    }
    if !empty.contains(&CLIENT_SUMMARY.0)
        && let Some(why) = unwritten_summary(pm)
    {
        out.push(why);
    }
    if actions == 0 && !pm.no_measures_needed {
        out.push(
            "no action items: add one, or set no_measures_needed: true if none are needed".into(),
        );
    }
    out
}

/// Whether the text may be changed: approved is final until reopened.
pub fn check_editable(pm: &Postmortem) -> Result<(), Refusal> {
    if pm.state.is_final() {
        Err(Refusal::Conflict(format!(
            "postmortem {} is {}: approved is final; the team lead reopens it (POST /api/v1/postmortems/{}/reopen) for a correction",
            pm.id, pm.state, pm.id
        )))
    } else {
        Ok(())
    }
}

fn both(at: DateTime<Utc>, tz: Tz) -> String {
    format!(
        "{} ({})",
        at.format("%Y-%m-%d %H:%M UTC"),
        at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
    )
}

fn duration(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let mins = (to - from).num_minutes().max(0);
    match (mins / 60, mins % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m:02}m"),
    }
}

/// The people who acted on the incident (timeline actors), assignee first.
pub fn responders(inc: &Incident, events: &[Event]) -> Vec<String> {
    let mut out: Vec<String> = inc.assignee.iter().cloned().collect();
    for e in events {
        if let Some(p) = e.actor.strip_prefix("person:")
            && !out.iter().any(|o| o == p)
        {
            out.push(p.to_string());
        }
    }
    out
}

/// Timeline kinds that tell the story; deliveries and routing are noise.
const STORY: &[&str] = &[
    "opened",
    "suppressed",
    "maintenance over",
    "reopened",
    "raised",
    "page queued",
    "acknowledged",
    "acknowledgement timed out",
    "escalation requested",
    "back to triggered",
    "escalated",
    "escalation exhausted",
    "diagnosis",
    "alert fired again",
    "client report repeated",
    "status update",
    "downgraded",
    "resolved",
];

/// Most lines of the condensed timeline.
const STORY_LINES: usize = 40;

fn story_line(e: &Event, tz: Tz) -> String {
    let at = e.at.with_timezone(&tz).format("%m-%d %H:%M");
    let d = &e.detail;
    let extra = match e.kind.as_str() {
        "page queued" => format!(
            " to {} by {}",
            d["person"].as_str().unwrap_or("?"),
            d["channel"].as_str().unwrap_or("?")
        ),
        "diagnosis" => {
            let mut parts = Vec::new();
            if let Some(obj) = d.as_object() {
                for (k, v) in obj {
                    parts.push(format!(
                        "{k}={}",
                        v.as_str().map_or(v.to_string(), String::from)
                    ));
                }
            }
            format!(" {}", parts.join(", "))
        }
        _ => String::new(),
    };
    format!("- {at} {}{extra} ({})", e.kind, e.actor)
}

/// The condensed timeline: the events that tell the story, in `tz`.
pub fn condensed_timeline(events: &[Event], tz: Tz) -> Vec<String> {
    let story: Vec<&Event> = events
        .iter()
        .filter(|e| STORY.contains(&e.kind.as_str()) || e.actor.starts_with("person:"))
        .collect();
    let mut lines: Vec<String> = story
        .iter()
        .take(STORY_LINES)
        .map(|e| story_line(e, tz))
        .collect();
    if story.len() > STORY_LINES {
        lines.push(format!(
            "- … {} more events on the incident timeline",
            story.len() - STORY_LINES
        ));
    }
    lines
}

/// The facts for "What happened?": interval in UTC and the team's zone,
/// project, client, severity, responders, and the condensed timeline.
/// "How was the problem fixed?" starts from the incident's notes, the
/// resolution note first (how the fix is remembered), then every other note
/// in order with when and who; empty when nobody wrote one.
pub fn how_fixed(events: &[Event], roster: &Roster, tz: Tz) -> String {
    let notes = crate::incident::notes::of(events);
    let who = |e: &Event| {
        e.actor
            .strip_prefix("person:")
            .map_or(e.actor.clone(), |p| {
                crate::followup::channel::person_name(roster, p).to_string()
            })
    };
    let line = |e: &Event, text: &str| {
        format!(
            "- {} {}: {}\n",
            e.at.with_timezone(&tz).format("%a %H:%M"),
            who(e),
            text.trim()
        )
    };
    let mut out = String::new();
    if let Some((e, text)) = notes.iter().rev().find(|(e, _)| e.kind == "resolved") {
        out.push_str(&format!("Resolution note ({}): {}\n", who(e), text.trim()));
    }
    let others: Vec<String> = notes
        .iter()
        .filter(|(e, _)| e.kind != "resolved")
        .map(|(e, t)| line(e, t))
        .collect();
    if !others.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str("Notes:\n");
        out.extend(others);
    }
    out
}

pub fn what_happened(inc: &Incident, events: &[Event], roster: &Roster, tz: Tz) -> String {
    let project = roster
        .projects
        .get(&inc.project)
        .map_or(inc.project.clone(), |p| format!("{} ({})", p.name, p.id));
    let client = roster
        .clients
        .get(&inc.client)
        .map_or(inc.client.clone(), |c| format!("{} ({})", c.name, c.id));
    let mut out = format!("Incident {}: {}\n\n", inc.id, inc.title);
    out.push_str(&format!("- Project: {project}; client: {client}\n"));
    out.push_str(&format!("- Severity: {}\n", inc.severity.as_str()));
    // The interval starts when the problem did, by the alert's own clock;
    // the acknowledgement counts from when we heard of it.
    if inc.started_at < inc.created_at {
        out.push_str(&format!(
            "- Started: {} (by the alert's own start)\n",
            both(inc.started_at, tz)
        ));
        out.push_str(&format!(
            "- First alert received: {} (after {})\n",
            both(inc.created_at, tz),
            duration(inc.started_at, inc.created_at)
        ));
    } else {
        out.push_str(&format!("- First alert: {}\n", both(inc.created_at, tz)));
    }
    if let Some(a) = inc.acknowledged_at {
        out.push_str(&format!(
            "- Acknowledged: {} (after {})\n",
            both(a, tz),
            duration(inc.created_at, a)
        ));
    }
    if let Some(r) = inc.resolved_at {
        out.push_str(&format!(
            "- Resolved: {} (after {})\n",
            both(r, tz),
            duration(inc.started_at, r)
        ));
    }
    if let Some(reason) = &inc.serious_reason {
        out.push_str(&format!("- Serious: {reason}\n"));
    }
    if let Some(layer) = inc.layer {
        out.push_str(&format!("- Layer (diagnosis): {}\n", layer.as_str()));
    }
    let who = responders(inc, events);
    let who = if who.is_empty() {
        "nobody recorded".to_string()
    } else {
        who.join(", ")
    };
    out.push_str(&format!("- Responders: {who}\n"));
    out.push_str(&format!(
        "\nTimeline ({}):\n{}\n",
        tz.name(),
        condensed_timeline(events, tz).join("\n")
    ));
    out.push_str("\nDamage (which service, fully or partly down, data lost or compromised): \n");
    out
}

/// A day and time for the client: `Wed 25 Nov 2026 10:00 CET`.
fn readable(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%a %-d %b %Y %H:%M %Z")
        .to_string()
}

/// When it happened, in `tz`: one day named once, else both ends in full.
fn client_interval(from: DateTime<Utc>, to: Option<DateTime<Utc>>, tz: Tz) -> String {
    let Some(to) = to else {
        return format!("from {} until {}", readable(from, tz), PLACEHOLDERS[0]);
    };
    let (a, b) = (from.with_timezone(&tz), to.with_timezone(&tz));
    let length = duration(from, to);
    if a.date_naive() == b.date_naive() && a.offset() == b.offset() {
        format!(
            "on {} from {} to {} {} ({length})",
            a.format("%a %-d %b %Y"),
            a.format("%H:%M"),
            b.format("%H:%M"),
            b.format("%Z")
        )
    } else {
        format!(
            "from {} to {} ({length})",
            readable(from, tz),
            readable(to, tz)
        )
    }
}

/// The client summary's pre-fill, in plain words for the client: what was
/// affected (the project's name) and when, in the team's zone, with gaps
/// for what was done and what will be done. No numbers, handles, channels
/// or pages: it is what gets published.
pub fn client_summary(inc: &Incident, project_name: &str, tz: Tz) -> String {
    format!(
        "{project_name} was affected by an incident {}.\n\n\
         What we did: {}\n\n\
         What we will do: {}\n",
        client_interval(inc.started_at, inc.resolved_at, tz),
        PLACEHOLDERS[1],
        PLACEHOLDERS[2],
    )
}

/// The text published to the client channel: the client summary alone.
pub fn publication(pm: &Postmortem) -> String {
    pm.sections.client_summary.trim().to_string()
}

/// What a reviewer is told will go public, for the submit and approve
/// messages and answers.
pub fn on_publish(pm: &Postmortem) -> String {
    match publication(pm) {
        text if text.is_empty() => {
            "On publish, the client reads: nothing yet (client_summary is empty).".into()
        }
        text => format!("On publish, the client reads:\n{text}"),
    }
}

#[cfg(test)]
#[path = "postmortem_tests.rs"]
mod tests;

//! The client's public channel (guide steps 1, 4 and 5): the wording of
//! each post, what the client may hear, and queueing it as an outbox row
//! (kind `client`, channel `channel`) with a `client post queued` event,
//! inside the caller's transaction. Delivery, retries and the `notification
//! sent` event are the outbox's; nothing here talks to a provider.
//!
//! Every client post goes through [`post`], which applies the one rule
//! ([`withheld`]): heartbeats are internal, and the client hears how an
//! incident ends only when it was told about it (its own report, the
//! "online" post, a status update). Posts name the incident by the
//! client's reference (`ACME-7`), never by the global number.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use super::business_days;
use crate::config::Roster;
use crate::escalation::paging::{Ctx, notice_row};
use crate::incident::apply::ActError;
use crate::incident::{Actor, Event, Incident, Repo, State};
use crate::ingest::alert::Source;
use crate::notify::message;
use crate::store::StoreResult;

/// Placeholders an `ack_message` may use.
pub const PLACEHOLDERS: [&str; 4] = ["person", "number", "title", "project"];

/// Said when a client sets no `ack_message`.
pub const DEFAULT_ACK_MESSAGE: &str =
    "{person} is online and investigating incident {number}: {title}.";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    /// `{{` or `}}`.
    Brace(char),
    Var(&'a str),
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push(Piece::Text(&rest[..i]));
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push(Piece::Brace(if tail.starts_with('{') { '{' } else { '}' }));
            rest = &tail[2..];
        } else if tail.starts_with('}') {
            return Err("a lone \"}\" (write \"}}\" for a brace)".into());
        } else {
            let Some(end) = tail.find('}') else {
                return Err("\"{\" without a closing \"}\"".into());
            };
            let name = &tail[1..end];
            if !PLACEHOLDERS.contains(&name) {
                return Err(format!(
                    "unknown placeholder {{{name}}} (expected {{person}}, {{number}}, {{title}} or {{project}})"
                ));
            }
            out.push(Piece::Var(name));
            rest = &tail[end + 1..];
        }
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Checks a template's placeholders; the error names the first bad one.
pub fn check_template(template: &str) -> Result<(), String> {
    pieces(template).map(|_| ())
}

/// Values for a template's placeholders.
#[derive(Debug, Clone)]
pub struct Vars<'a> {
    pub person: &'a str,
    /// The client's reference (`ACME-7`); the placeholder keeps its name.
    pub number: &'a str,
    pub title: &'a str,
    pub project: &'a str,
}

/// Fills a template; a template that does not check (it was validated at
/// load, so only by a programming error) falls back to the default wording.
pub fn render(template: &str, v: &Vars<'_>) -> String {
    let parts = pieces(template)
        .or_else(|_| pieces(DEFAULT_ACK_MESSAGE))
        .unwrap_or_default();
    let mut out = String::new();
    for p in parts {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Brace(c) => out.push(c),
            Piece::Var("person") => out.push_str(v.person),
            Piece::Var("number") => out.push_str(v.number),
            Piece::Var("title") => out.push_str(v.title),
            Piece::Var(_) => out.push_str(v.project),
        }
    }
    out
}

/// A person's display name, or their id when unknown.
pub fn person_name<'a>(roster: &'a Roster, id: &'a str) -> &'a str {
    roster.people.get(id).map_or(id, |p| p.name.as_str())
}

/// Step 1: an engineer is online and investigating.
pub fn online_text(template: Option<&str>, inc: &Incident, person: &str, project: &str) -> String {
    render(
        template.unwrap_or(DEFAULT_ACK_MESSAGE),
        &Vars {
            person,
            number: &inc.reference,
            title: &message::one_line(&inc.title),
            project,
        },
    )
}

/// Step 4: a responder's status update, relayed.
pub fn update_text(inc: &Incident, person: &str, text: &str) -> String {
    format!(
        "Update on incident {} ({}) from {person}: {text}",
        inc.reference,
        message::one_line(&inc.title)
    )
}

/// Exactly what the client reads for `person`'s update `text`: (title,
/// body). What `post_update` sends and what a preview shows.
pub fn update_post(roster: &Roster, inc: &Incident, person: &str, text: &str) -> (String, String) {
    (
        headline(inc),
        update_text(inc, person_name(roster, person), text),
    )
}

/// Step 4: the client and we agreed it can wait.
pub fn downgraded_text(inc: &Incident) -> String {
    format!(
        "Incident {} ({}) was agreed to be non-critical: it can wait and is no longer handled as an urgent incident.",
        inc.reference,
        message::one_line(&inc.title)
    )
}

/// Resolution; for a serious incident (step 5) with the postmortem's date.
pub fn resolved_text(inc: &Incident, postmortem_on: Option<NaiveDate>) -> String {
    let mut text = format!(
        "Incident {} ({}) is resolved.",
        inc.reference,
        message::one_line(&inc.title)
    );
    if let Some(day) = postmortem_on {
        text.push_str(&format!(
            " A detailed postmortem follows on the next business day, {}.",
            day.format("%A %Y-%m-%d")
        ));
    }
    text
}

/// The next business day after now, in the time zone of the project's team.
pub fn postmortem_date(ctx: &Ctx<'_>, inc: &Incident) -> NaiveDate {
    let tz = ctx
        .roster
        .projects
        .get(&inc.project)
        .and_then(|p| ctx.roster.teams.get(&p.team))
        .map_or(ctx.roster.timezone, |t| t.timezone);
    business_days::next_business_day(
        &ctx.roster.calendar,
        ctx.now.with_timezone(&tz).date_naive(),
    )
}

/// What a client post is about; its label on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    /// Step 1: an engineer is online and investigating.
    Acknowledged,
    /// Step 3: another engineer took the acknowledged incident over.
    Assigned,
    /// Step 4: a responder's status update.
    Update,
    Downgraded,
    /// Resolved, with the postmortem's date when serious.
    Resolved,
    /// A published postmortem.
    Postmortem,
}

impl About {
    pub fn as_str(self) -> &'static str {
        match self {
            About::Acknowledged => "acknowledged",
            About::Assigned => "assigned",
            About::Update => "update",
            About::Downgraded => "downgraded",
            About::Resolved => "resolved",
            About::Postmortem => "postmortem",
        }
    }

    /// Whether the post itself tells the client about the incident.
    fn announces(self) -> bool {
        matches!(self, About::Acknowledged | About::Update)
    }

    /// Whether the post names who is investigating.
    fn names_investigator(self) -> bool {
        matches!(self, About::Acknowledged | About::Assigned)
    }

    /// Whether the post tells the client the incident ended.
    fn ends(self) -> bool {
        matches!(self, About::Resolved | About::Downgraded)
    }
}

/// Why a post about `inc` must not reach its client, or None when it may.
/// The only place that decides what a client hears. `told_online`: whom
/// the client was last told investigates ([`Repo::told_online`]); a post
/// naming that same person again (they acknowledged again, after asking
/// for help or an ack timeout) is not news.
pub fn withheld(inc: &Incident, about: About, told_online: Option<&str>) -> Option<&'static str> {
    let investigator = inc.assignee.as_deref().unwrap_or_default();
    if inc.source == Source::Heartbeat {
        Some("heartbeat incidents are internal")
    } else if !inc.announced && !about.announces() {
        Some("the client was never told about this incident")
    } else if about.names_investigator() && told_online == Some(investigator) {
        Some("the client was already told who is investigating")
    } else {
        None
    }
}

/// Whether the client may see `inc` at all (its status page): only what it
/// was told about, never an internal incident. The rule of [`withheld`].
pub fn client_sees(inc: &Incident) -> bool {
    withheld(inc, About::Resolved, None).is_none()
}

/// What the client channel was sent about an incident, oldest first: the
/// time and the exact text of each queued post.
pub fn heard(events: &[Event]) -> Vec<(DateTime<Utc>, String)> {
    events
        .iter()
        .filter(|e| e.kind == "client post queued")
        .filter_map(|e| Some((e.at, e.detail["text"].as_str()?.to_string())))
        .collect()
}

/// The title of a client post: the reference and the incident's title.
pub fn headline(inc: &Incident) -> String {
    format!("{}: {}", inc.reference, inc.title)
}

/// Queues `body` for the incident's client channel, unless [`withheld`]
/// (then a `client post withheld` event says why). A post that announces
/// the incident marks it announced in the same transaction. Returns the
/// outbox row, or None when withheld or the client is not configured.
pub fn post(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    inc: &Incident,
    about: About,
    body: String,
) -> StoreResult<Option<i64>> {
    post_titled(repo, ctx, inc, about, headline(inc), body)
}

/// [`post`] with its own title (a postmortem's).
pub fn post_titled(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    inc: &Incident,
    about: About,
    title: String,
    body: String,
) -> StoreResult<Option<i64>> {
    let Some(client) = ctx.roster.clients.get(&inc.client) else {
        return Ok(None);
    };
    // Decided on the incident as stored now, whatever copy the caller holds.
    let inc = &repo.get(inc.id)?;
    let told = if about.names_investigator() {
        repo.told_online(inc.id)?
    } else {
        None
    };
    if let Some(reason) = withheld(inc, about, told.as_deref()) {
        let detail = json!({"about": about.as_str(), "reason": reason});
        repo.append(
            inc.id,
            ctx.now,
            &Actor::System,
            "client post withheld",
            detail,
        )?;
        return Ok(None);
    }
    if !inc.announced {
        repo.mark_announced(inc.id)?;
    }
    let row = notice_row(
        inc,
        ctx,
        None,
        Some(client.id.clone()),
        "channel",
        client.channel.name.clone(),
        title,
        body,
    );
    let oid = repo.insert_outbox(&row)?;
    if about.names_investigator() {
        let investigator = inc.assignee.as_deref().unwrap_or_default();
        repo.set_told_online(inc.id, Some(investigator))?;
    } else if about.ends() {
        // A reopened incident's next acknowledge is news again.
        repo.set_told_online(inc.id, None)?;
    }
    repo.append(
        inc.id,
        ctx.now,
        &Actor::System,
        "client post queued",
        json!({"channel": client.channel.name, "outbox": oid, "about": about.as_str(), "text": row.body}),
    )?;
    Ok(Some(oid))
}

/// Step 1, on acknowledge: the assignee (or "An engineer") is online.
/// Also step 3, when an acknowledged incident is handed to someone else:
/// the client hears who works on it now, in the same words (`about` tells
/// the two apart on the timeline). Returns the queued post's outbox row.
pub fn post_online(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    inc: &Incident,
    about: About,
) -> StoreResult<Option<i64>> {
    let Some(client) = ctx.roster.clients.get(&inc.client) else {
        return Ok(None);
    };
    let person = inc
        .assignee
        .as_deref()
        .map_or("An engineer", |a| person_name(ctx.roster, a));
    let project = ctx.roster.project_name(&inc.project);
    let text = online_text(client.ack_message.as_deref(), inc, person, project);
    post(repo, ctx, inc, about, text)
}

/// On resolution of a critical incident: resolved, and for a serious one
/// the postmortem's date.
pub fn post_resolved(repo: &mut dyn Repo, ctx: &Ctx<'_>, inc: &Incident) -> StoreResult<()> {
    let day = inc.serious.then(|| postmortem_date(ctx, inc));
    let posted = post(repo, ctx, inc, About::Resolved, resolved_text(inc, day))?;
    if let (Some(day), Some(_)) = (day, posted) {
        repo.append(
            inc.id,
            ctx.now,
            &Actor::System,
            "postmortem announced",
            json!({"on": day, "reason": inc.serious_reason}),
        )?;
    }
    Ok(())
}

/// Step 4, on downgrade: the client and we agreed it can wait.
pub fn post_downgraded(repo: &mut dyn Repo, ctx: &Ctx<'_>, inc: &Incident) -> StoreResult<()> {
    post(repo, ctx, inc, About::Downgraded, downgraded_text(inc)).map(|_| ())
}

/// Step 4: a responder's status update goes to the client channel, is
/// recorded, and restarts the client's update clock. Not after resolution.
pub fn post_update(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    id: i64,
    person: &str,
    text: &str,
) -> Result<(Incident, Option<String>), ActError> {
    let inc = repo.get(id)?;
    if inc.state == State::Resolved {
        return Err(ActError::Illegal(inc.state));
    }
    let actor = Actor::Person(person.to_string());
    repo.append(id, ctx.now, &actor, "status update", json!({"text": text}))?;
    let why_not = update_withheld(ctx.roster, &inc);
    let (title, body) = update_post(ctx.roster, &inc, person, text);
    post_titled(repo, ctx, &inc, About::Update, title, body)?;
    super::reminders::restart_update_clock(repo, ctx, &inc)?;
    Ok((repo.get(id)?, why_not))
}

/// Why a status update about `inc` would not reach its client (the
/// client gone from the configuration, or [`withheld`]); None when it would be posted. Told to whoever
/// writes it, before (the web preview) and after (the API's answer).
pub fn update_withheld(roster: &Roster, inc: &Incident) -> Option<String> {
    match roster.clients.get(&inc.client) {
        None => Some(format!(
            "client {:?} is no longer in the configuration",
            inc.client
        )),
        Some(_) => withheld(inc, About::Update, None).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(template: &str, expected: Result<&str, &str>) {
        let vars = Vars {
            person: "Alice",
            number: "ACME-42",
            title: "Disk full",
            project: "Shop",
        };
        match (check_template(template), expected) {
            (Ok(()), Ok(want)) => assert_eq!(render(template, &vars), want, "{template}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{template}: {got}"),
            (got, want) => panic!("{template}: got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn templates() {
        check(
            DEFAULT_ACK_MESSAGE,
            Ok("Alice is online and investigating incident ACME-42: Disk full."),
        );
        check(
            "{person} looks at #{number} ({title}) on {project}",
            Ok("Alice looks at #ACME-42 (Disk full) on Shop"),
        );
        check("no placeholders", Ok("no placeholders"));
        check("{{literal}} {number}", Ok("{literal} ACME-42"));
        check("", Ok(""));
        check("{name} is here", Err("unknown placeholder {name}"));
        check("{Person}", Err("unknown placeholder {Person}"));
        check("{}", Err("unknown placeholder {}"));
        check("open {person", Err("without a closing"));
        check("close }", Err("lone"));
    }

    #[test]
    fn render_of_a_bad_template_uses_the_default() {
        let vars = Vars {
            person: "Bob",
            number: "ACME-1",
            title: "t",
            project: "p",
        };
        assert_eq!(
            render("{oops}", &vars),
            "Bob is online and investigating incident ACME-1: t."
        );
    }

    fn incident() -> Incident {
        let at = chrono::DateTime::UNIX_EPOCH;
        Incident {
            id: 70,
            reference: "ACME-7".into(),
            project: "shop".into(),
            client: "acme".into(),
            title: "Checkout down".into(),
            severity: crate::ingest::alert::Severity::Critical,
            state: crate::incident::State::Resolved,
            critical: true,
            source: crate::ingest::alert::Source::Trigger,
            integration: None,
            dedup_key: None,
            client_reported: false,
            labels: Default::default(),
            annotations: Default::default(),
            links: vec![],
            details: serde_json::Value::Null,
            alert_count: 1,
            started_at: at,
            created_at: at,
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
    fn wording() {
        let inc = incident();
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).expect("date");
        for (got, want) in [
            (
                resolved_text(&inc, None),
                "Incident ACME-7 (Checkout down) is resolved.",
            ),
            (
                resolved_text(&inc, Some(monday)),
                "Incident ACME-7 (Checkout down) is resolved. A detailed postmortem follows on the next business day, Monday 2026-11-30.",
            ),
            (
                update_text(&inc, "Bob", "rolling back"),
                "Update on incident ACME-7 (Checkout down) from Bob: rolling back",
            ),
            (
                online_text(None, &inc, "Bob", "Shop"),
                "Bob is online and investigating incident ACME-7: Checkout down.",
            ),
            (
                online_text(Some("{person} @ {project}"), &inc, "Bob", "Shop"),
                "Bob @ Shop",
            ),
        ] {
            assert_eq!(got, want);
        }
        assert!(downgraded_text(&inc).contains("agreed to be non-critical"));
        assert_eq!(headline(&inc), "ACME-7: Checkout down");
    }

    #[test]
    fn what_the_client_hears() {
        use About::*;
        const NEVER_TOLD: Option<&str> = Some("the client was never told about this incident");
        const INTERNAL: Option<&str> = Some("heartbeat incidents are internal");
        const TOLD: Option<&str> = Some("the client was already told who is investigating");
        let all = [
            Acknowledged,
            Assigned,
            Update,
            Downgraded,
            Resolved,
            Postmortem,
        ];
        // (source, announced, whom the client was last told investigates)
        // → what each post gets, in the order of `all`, for an incident bob
        // holds. Bob again holds back only the posts naming who works on it.
        let cases = [
            (
                Source::Alertmanager,
                false,
                None,
                [None, NEVER_TOLD, None, NEVER_TOLD, NEVER_TOLD, NEVER_TOLD],
            ),
            (Source::Alertmanager, true, None, [None; 6]),
            (Source::Alertmanager, true, Some("alice"), [None; 6]),
            (
                Source::Alertmanager,
                true,
                Some("bob"),
                [TOLD, TOLD, None, None, None, None],
            ),
            (Source::Trigger, true, None, [None; 6]),
            (Source::Heartbeat, false, None, [INTERNAL; 6]),
            (Source::Heartbeat, true, None, [INTERNAL; 6]),
            (Source::Heartbeat, true, Some("bob"), [INTERNAL; 6]),
        ];
        for (source, announced, told, expected) in cases {
            let inc = Incident {
                source,
                announced,
                assignee: Some("bob".into()),
                ..incident()
            };
            for (about, want) in all.into_iter().zip(expected) {
                assert_eq!(
                    withheld(&inc, about, told),
                    want,
                    "{source:?} announced={announced} told={told:?} {about:?}"
                );
            }
        }
    }

    /// An alert's title cannot start a line of its own in the client's channel.
    #[test]
    fn posts_show_the_title_on_one_line() {
        let inc = Incident {
            title: "Checkout down\n@channel all clear\u{202E}".into(),
            ..incident()
        };
        for text in [
            resolved_text(&inc, None),
            update_text(&inc, "Bob", "rolling back"),
            online_text(None, &inc, "Bob", "Shop"),
            downgraded_text(&inc),
        ] {
            assert!(
                text.contains("Checkout down @channel all clear"),
                "{text:?}"
            );
            assert!(!text.contains(['\n', '\u{202E}']), "{text:?}");
        }
    }
}

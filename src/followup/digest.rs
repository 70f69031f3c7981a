//! The periodic action-item digest of a team: when it runs next (the
//! team's cron expression in its time zone), who receives what (the lead:
//! every open item of the team; each assignee: their own), and the text.
//! Pure: instants are parameters.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::actions::{ActionItem, Status};
use crate::config::Team;

/// The first instant of `expr` (5 or 6 fields) in `tz` strictly after
/// `after`; `None` when the expression is invalid or never fires.
pub fn next_run(expr: &str, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let expr = expr.trim();
    let full = if expr.split_whitespace().count() == 5 {
        format!("0 {expr}")
    } else {
        expr.to_string()
    };
    let schedule = cron::Schedule::from_str(&full).ok()?;
    schedule
        .after(&after.with_timezone(&tz))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// Each recipient with the open items they hear about, by person id.
pub fn recipients<'a>(
    team: &Team,
    items: &'a [ActionItem],
) -> BTreeMap<String, Vec<&'a ActionItem>> {
    let mut out: BTreeMap<String, Vec<&ActionItem>> = BTreeMap::new();
    for item in items.iter().filter(|i| i.done_at.is_none()) {
        out.entry(team.lead.clone()).or_default().push(item);
        if item.assignee != team.lead {
            out.entry(item.assignee.clone()).or_default().push(item);
        }
    }
    out
}

/// Subject and body of one person's digest.
pub fn text(
    team: &Team,
    person: &str,
    items: &[&ActionItem],
    now: DateTime<Utc>,
) -> (String, String) {
    let overdue = items
        .iter()
        .filter(|i| i.status(now) == Status::Overdue)
        .count();
    let subject = format!(
        "[tocsin] {}: {} open action item(s), {overdue} overdue",
        team.name,
        items.len()
    );
    let mut body = format!(
        "Open action items for {person} (team {}), as of {}:\n",
        team.name,
        now.with_timezone(&team.timezone)
            .format("%Y-%m-%d %H:%M %Z")
    );
    let mut sorted: Vec<&&ActionItem> = items.iter().collect();
    sorted.sort_by_key(|i| (i.deadline, i.id));
    for i in sorted {
        let flag = if i.status(now) == Status::Overdue {
            "OVERDUE "
        } else {
            ""
        };
        body.push_str(&format!(
            "- {flag}#{} {} ({}, {} priority, due {}, postmortem {})\n",
            i.id,
            i.title,
            i.assignee,
            i.priority.as_str(),
            i.deadline
                .with_timezone(&team.timezone)
                .format("%Y-%m-%d %H:%M %Z"),
            i.postmortem
        ));
    }
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::fixture::utc;
    use crate::followup::actions::Priority;

    fn check(cases: &[(&str, &str, &str, Option<&str>)]) {
        for (expr, tz, after, expected) in cases {
            let tz: Tz = tz.parse().expect("zone");
            assert_eq!(
                next_run(expr, tz, utc(after)),
                expected.map(utc),
                "{expr} in {tz} after {after}"
            );
        }
    }

    #[test]
    fn next_digest() {
        check(&[
            // Default: Monday 09:00 team time. Wednesday → next Monday.
            (
                "0 9 * * MON",
                "Europe/Berlin",
                "2026-11-25T09:00:00Z",
                Some("2026-11-30T08:00:00Z"),
            ),
            // Exactly at the instant: the following week.
            (
                "0 9 * * MON",
                "Europe/Berlin",
                "2026-11-30T08:00:00Z",
                Some("2026-12-07T08:00:00Z"),
            ),
            (
                "0 9 * * MON",
                "America/New_York",
                "2026-11-25T09:00:00Z",
                Some("2026-11-30T14:00:00Z"),
            ),
            // Six fields pass through.
            (
                "0 30 8 * * FRI",
                "Europe/Berlin",
                "2026-11-25T09:00:00Z",
                Some("2026-11-27T07:30:00Z"),
            ),
            ("not cron", "Europe/Berlin", "2026-11-25T09:00:00Z", None),
        ]);
    }

    fn item(id: i64, assignee: &str, deadline: &str, done: bool) -> ActionItem {
        ActionItem {
            id,
            postmortem: 1,
            incident: 1,
            team: "web".into(),
            title: format!("item {id}"),
            assignee: assignee.into(),
            deadline: utc(deadline),
            priority: Priority::High,
            created_by: "lead".into(),
            created_at: utc("2026-11-20T09:00:00Z"),
            done_at: done.then(|| utc("2026-11-24T09:00:00Z")),
            done_by: None,
        }
    }

    fn team() -> Team {
        Team {
            id: "web".into(),
            name: "Web".into(),
            lead: "lead".into(),
            members: vec!["r1".into(), "m1".into()],
            timezone: chrono_tz::Europe::Berlin,
            digest: "0 9 * * MON".into(),
        }
    }

    #[test]
    fn lead_gets_all_assignees_their_own() {
        let items = vec![
            item(1, "r1", "2026-11-24T17:00:00Z", false),
            item(2, "m1", "2026-12-04T17:00:00Z", false),
            item(3, "r1", "2026-12-04T17:00:00Z", true),
            item(4, "lead", "2026-12-04T17:00:00Z", false),
        ];
        let got: Vec<(String, Vec<i64>)> = recipients(&team(), &items)
            .into_iter()
            .map(|(p, v)| (p, v.iter().map(|i| i.id).collect()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("lead".into(), vec![1, 2, 4]),
                ("m1".into(), vec![2]),
                ("r1".into(), vec![1]),
            ]
        );
    }

    #[test]
    fn digest_text_flags_overdue() {
        let items = [
            item(2, "m1", "2026-12-04T17:00:00Z", false),
            item(1, "r1", "2026-11-24T17:00:00Z", false),
        ];
        let refs: Vec<&ActionItem> = items.iter().collect();
        let (subject, body) = text(&team(), "lead", &refs, utc("2026-11-30T08:00:00Z"));
        assert_eq!(subject, "[tocsin] Web: 2 open action item(s), 1 overdue");
        assert_eq!(
            body,
            "Open action items for lead (team Web), as of 2026-11-30 09:00 CET:\n\
             - OVERDUE #1 item 1 (r1, high priority, due 2026-11-24 18:00 CET, postmortem 1)\n\
             - #2 item 2 (m1, high priority, due 2026-12-04 18:00 CET, postmortem 1)\n"
        );
    }
}

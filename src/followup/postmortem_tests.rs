use chrono_tz::Europe::Berlin;
use chrono_tz::Tz;
use serde_json::json;

use super::*;
use crate::escalation::fixture::{roster, utc};
use crate::incident::State;
use crate::ingest::alert::{Severity, Source};

fn pm(state: PmState, sections: [&str; 5], no_measures: bool) -> Postmortem {
    let [w, h, c, m, client_summary] = sections.map(String::from);
    Postmortem {
        id: 7,
        incident: 3,
        team: "web".into(),
        state,
        author: "r1".into(),
        approver: "lead".into(),
        title: "shop down".into(),
        sections: Sections {
            what_happened: w,
            how_fixed: h,
            cause: c,
            measures: m,
            client_summary,
        },
        no_measures_needed: no_measures,
        due_at: utc("2026-11-26T22:59:59Z"),
        created_at: utc("2026-11-25T10:00:00Z"),
        updated_at: utc("2026-11-25T10:00:00Z"),
        submitted_at: None,
        approved_at: None,
        approved_by: None,
        published_at: None,
    }
}

const FULL: [&str; 5] = ["w", "h", "c", "m", "s"];

/// (state, sections, no_measures, actions, verb, by) → expected.
type Case = (
    PmState,
    [&'static str; 5],
    bool,
    usize,
    Verb,
    &'static str,
    Result<Option<PmState>, &'static str>,
);

fn check(cases: &[Case]) {
    for (i, (state, sections, no_measures, actions, verb, by, expected)) in cases.iter().enumerate()
    {
        let got = transition(
            &pm(*state, *sections, *no_measures),
            *verb,
            by,
            "lead",
            *actions,
        );
        match (expected, &got) {
            (Ok(want), Ok(have)) => assert_eq!(want, have, "case {i}"),
            (Err("403"), Err(Refusal::Forbidden(_))) => {}
            (Err(part), Err(Refusal::Conflict(m))) => {
                assert!(m.contains(part), "case {i}: {m:?} lacks {part:?}")
            }
            _ => panic!("case {i}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn review_workflow() {
    use PmState::*;
    use Verb::*;
    check(&[
        (
            Draft,
            ["", "", "", "", ""],
            false,
            0,
            Submit,
            "r1",
            Ok(Some(Submitted)),
        ),
        (Submitted, FULL, false, 0, Submit, "r1", Ok(None)),
        (Approved, FULL, false, 1, Submit, "r1", Err("final")),
        // Only the lead approves, publishes and reopens.
        (Submitted, FULL, false, 1, Approve, "r1", Err("403")),
        (Approved, FULL, false, 1, Publish, "r1", Err("403")),
        (Approved, FULL, false, 1, Reopen, "r1", Err("403")),
        (
            Submitted,
            FULL,
            false,
            1,
            Approve,
            "lead",
            Ok(Some(Approved)),
        ),
        (
            Submitted,
            FULL,
            true,
            0,
            Approve,
            "lead",
            Ok(Some(Approved)),
        ),
        (
            Submitted,
            FULL,
            false,
            0,
            Approve,
            "lead",
            Err("no_measures_needed"),
        ),
        (
            Submitted,
            ["w", "", "c", " ", "s"],
            false,
            1,
            Approve,
            "lead",
            Err("how_fixed, measures"),
        ),
        // The client summary is a section like the others ...
        (
            Submitted,
            ["w", "h", "c", "m", "\n"],
            false,
            1,
            Approve,
            "lead",
            Err("empty sections: client_summary"),
        ),
        // ... and its pre-fill's gaps must be filled; its facts may stay.
        (
            Submitted,
            [
                "w",
                "h",
                "c",
                "m",
                "Shop was affected. What we did: [what we did to fix it]",
            ],
            false,
            1,
            Approve,
            "lead",
            Err("client_summary still has [what we did to fix it]"),
        ),
        (
            Submitted,
            ["w", "h", "c", "m", "Shop was affected. We restarted it."],
            false,
            1,
            Approve,
            "lead",
            Ok(Some(Approved)),
        ),
        // Approved before the client summary existed: nothing to publish.
        (
            Approved,
            ["w", "h", "c", "m", ""],
            false,
            1,
            Publish,
            "lead",
            Err("client_summary is empty; the lead reopens it"),
        ),
        (Draft, FULL, false, 1, Approve, "lead", Err("submit it")),
        (Approved, FULL, false, 1, Approve, "lead", Ok(None)),
        (
            Submitted,
            FULL,
            false,
            1,
            Publish,
            "lead",
            Err("only an approved"),
        ),
        (
            Approved,
            FULL,
            false,
            1,
            Publish,
            "lead",
            Ok(Some(Published)),
        ),
        (Published, FULL, false, 1, Publish, "lead", Ok(None)),
        (Published, FULL, false, 1, Reopen, "lead", Ok(Some(Draft))),
        (Draft, FULL, false, 1, Reopen, "lead", Ok(None)),
    ]);
}

#[test]
fn approved_and_published_are_not_editable() {
    for (state, editable) in [
        (PmState::Draft, true),
        (PmState::Submitted, true),
        (PmState::Approved, false),
        (PmState::Published, false),
    ] {
        assert_eq!(
            check_editable(&pm(state, FULL, false)).is_ok(),
            editable,
            "{state}"
        );
    }
}

fn incident() -> Incident {
    Incident {
        id: 3,
        reference: "ACME-1".into(),
        project: "shop".into(),
        client: "acme".into(),
        title: "shop down".into(),
        severity: Severity::Critical,
        state: State::Resolved,
        critical: true,
        source: Source::Alertmanager,
        integration: Some("prom".into()),
        dedup_key: None,
        client_reported: false,
        labels: Default::default(),
        annotations: Default::default(),
        links: vec![],
        details: json!({}),
        alert_count: 1,
        started_at: utc("2026-11-25T10:00:00Z"),
        created_at: utc("2026-11-25T10:00:00Z"),
        last_seen_at: utc("2026-11-25T10:00:00Z"),
        acknowledged_at: Some(utc("2026-11-25T10:04:00Z")),
        resolved_at: Some(utc("2026-11-25T11:34:00Z")),
        downgraded_at: None,
        assignee: Some("r1".into()),
        layer: None,
        reproducible: None,
        serious: true,
        serious_reason: Some("long outage".into()),
        provider_ticket: None,
        announced: true,
    }
}

fn event(id: i64, at: &str, actor: &str, kind: &str, detail: serde_json::Value) -> Event {
    Event {
        id,
        incident: 3,
        at: utc(at),
        actor: actor.into(),
        kind: kind.into(),
        detail,
    }
}

#[test]
fn what_happened_has_the_facts() {
    let events = vec![
        event(
            1,
            "2026-11-25T10:00:00Z",
            "integration:prom",
            "opened",
            json!({}),
        ),
        event(2, "2026-11-25T10:00:00Z", "system", "routed", json!({})),
        event(
            3,
            "2026-11-25T10:00:00Z",
            "system",
            "page queued",
            json!({"person": "r1", "channel": "sms"}),
        ),
        event(4, "2026-11-25T10:00:05Z", "system", "page sent", json!({})),
        event(
            5,
            "2026-11-25T10:04:00Z",
            "person:r1",
            "acknowledged",
            json!({}),
        ),
        event(
            6,
            "2026-11-25T10:30:00Z",
            "person:lead",
            "status update",
            json!({}),
        ),
        event(
            7,
            "2026-11-25T11:34:00Z",
            "person:r1",
            "resolved",
            json!({}),
        ),
    ];
    let text = what_happened(&incident(), &events, &roster(), Berlin);
    for expected in [
        "Incident 3: shop down",
        "Project: shop (shop); client: acme (acme)",
        "Severity: critical",
        "First alert: 2026-11-25 10:00 UTC (2026-11-25 11:00 CET)",
        "Acknowledged: 2026-11-25 10:04 UTC (2026-11-25 11:04 CET) (after 4m)",
        "Resolved: 2026-11-25 11:34 UTC (2026-11-25 12:34 CET) (after 1h34m)",
        "Serious: long outage",
        "Responders: r1, lead",
        "Timeline (Europe/Berlin)",
        "- 11-25 11:00 page queued to r1 by sms (system)",
        "- 11-25 12:34 resolved (person:r1)",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("page sent"), "deliveries are noise:\n{text}");
    assert!(!text.contains("routed"), "routing is noise:\n{text}");
    assert!(!text.contains("Started"), "started on arrival:\n{text}");
}

#[test]
fn what_happened_starts_at_the_alerts_own_start() {
    let inc = Incident {
        started_at: utc("2026-11-25T09:53:00Z"),
        ..incident()
    };
    let text = what_happened(&inc, &[], &roster(), Berlin);
    for expected in [
        "- Started: 2026-11-25 09:53 UTC (2026-11-25 10:53 CET) (by the alert's own start)\n",
        "- First alert received: 2026-11-25 10:00 UTC (2026-11-25 11:00 CET) (after 7m)\n",
        "- Acknowledged: 2026-11-25 10:04 UTC (2026-11-25 11:04 CET) (after 4m)\n",
        "- Resolved: 2026-11-25 11:34 UTC (2026-11-25 12:34 CET) (after 1h41m)\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn long_timelines_are_condensed() {
    let events: Vec<Event> = (0..50)
        .map(|i| {
            event(
                i,
                "2026-11-25T10:00:00Z",
                "system",
                "page queued",
                json!({}),
            )
        })
        .collect();
    let lines = condensed_timeline(&events, Berlin);
    assert_eq!(lines.len(), STORY_LINES + 1);
    assert_eq!(
        lines.last().map(String::as_str),
        Some("- … 10 more events on the incident timeline")
    );
}

#[test]
fn only_the_client_summary_is_published() {
    let p = pm(
        PmState::Approved,
        ["W", "H", "C", "M", "\nShop was down; we fixed it.\n\n"],
        false,
    );
    assert_eq!(publication(&p), "Shop was down; we fixed it.");
    assert_eq!(
        on_publish(&p),
        "On publish, the client reads:\nShop was down; we fixed it."
    );
    let blank = pm(PmState::Draft, ["W", "H", "C", "M", " "], false);
    assert_eq!(
        on_publish(&blank),
        "On publish, the client reads: nothing yet (client_summary is empty)."
    );
}

fn at(created: &str, resolved: Option<&str>) -> Incident {
    Incident {
        created_at: utc(created),
        started_at: utc(created),
        resolved_at: resolved.map(utc),
        ..incident()
    }
}

/// (incident, zone) → the whole pre-fill.
fn check_summary(cases: &[(Incident, Tz, &str)]) {
    for (inc, tz, want) in cases {
        assert_eq!(client_summary(inc, "Web shop", *tz), *want, "{inc:?}");
    }
}

#[test]
fn the_client_summary_is_pre_filled_in_plain_words() {
    use chrono_tz::America::New_York;
    let gaps = "\n\nWhat we did: [what we did to fix it]\n\n\
                What we will do: [what we will do so it does not happen again]\n";
    check_summary(&[
        (
            incident(),
            Berlin,
            &format!(
                "Web shop was affected by an incident on Wed 25 Nov 2026 from 11:00 to 12:34 CET (1h34m).{gaps}"
            ),
        ),
        // Over midnight: both ends in full.
        (
            at("2026-11-25T22:50:00Z", Some("2026-11-26T00:10:00Z")),
            Berlin,
            &format!(
                "Web shop was affected by an incident from Wed 25 Nov 2026 23:50 CET to Thu 26 Nov 2026 01:10 CET (1h20m).{gaps}"
            ),
        ),
        // Across a DST change (Berlin, 25 Oct 2026 03:00 CEST → 02:00 CET).
        (
            at("2026-10-25T00:30:00Z", Some("2026-10-25T01:30:00Z")),
            Berlin,
            &format!(
                "Web shop was affected by an incident from Sun 25 Oct 2026 02:30 CEST to Sun 25 Oct 2026 02:30 CET (1h).{gaps}"
            ),
        ),
        // In the team's zone, not the server's.
        (
            incident(),
            New_York,
            &format!(
                "Web shop was affected by an incident on Wed 25 Nov 2026 from 05:00 to 06:34 EST (1h34m).{gaps}"
            ),
        ),
        // Not resolved yet: the end is a gap too.
        (
            at("2026-11-25T10:00:00Z", None),
            Berlin,
            &format!(
                "Web shop was affected by an incident from Wed 25 Nov 2026 11:00 CET until [when it ended].{gaps}"
            ),
        ),
    ]);
}

#[test]
fn the_client_summary_names_no_ids_handles_or_channels() {
    let text = client_summary(&incident(), "Web shop", Berlin);
    let internal = [
        "incident 3",
        "#3",
        "shop down",
        "acme",
        "r1",
        "person:",
        "page",
        "sms",
        "outbox",
        "critical",
        "UTC",
    ];
    for word in internal {
        assert!(!text.contains(word), "{word:?} in:\n{text}");
    }
}

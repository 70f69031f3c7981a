use super::*;
use crate::escalation::fixture::{roster, utc};

#[test]
fn percentiles_are_nearest_rank() {
    fn check(samples: &[i64], p: u64, expected: Option<i64>) {
        assert_eq!(percentile(samples, p), expected, "{samples:?} p{p}");
    }
    check(&[], 50, None);
    check(&[60], 50, Some(60));
    check(&[60], 90, Some(60));
    check(&[60, 120], 50, Some(60));
    check(&[60, 120], 90, Some(120));
    check(&[60, 120, 180, 240], 50, Some(120));
    check(&[60, 120, 180, 240], 90, Some(240));
    check(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, Some(9));
    check(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90, Some(10));
}

#[test]
fn ranges_default_and_refuse() {
    let now = utc("2026-11-25T10:00:00Z");
    fn check(
        from: Option<&str>,
        to: Option<&str>,
        now: DateTime<Utc>,
        expected: Result<(&str, &str), &str>,
    ) {
        let got = Range::new(from.map(utc), to.map(utc), now);
        match (got, expected) {
            (Ok(r), Ok((f, t))) => assert_eq!((r.from, r.to), (utc(f), utc(t))),
            (Err((field, _)), Err(e)) => assert_eq!(field, e),
            (g, e) => panic!("{from:?}..{to:?}: got {g:?}, expected {e:?}"),
        }
    }
    check(
        None,
        None,
        now,
        Ok(("2026-10-26T10:00:00Z", "2026-11-25T10:00:00Z")),
    );
    check(
        None,
        Some("2026-11-01T00:00:00Z"),
        now,
        Ok(("2026-10-02T00:00:00Z", "2026-11-01T00:00:00Z")),
    );
    check(
        Some("2026-11-01T00:00:00Z"),
        None,
        now,
        Ok(("2026-11-01T00:00:00Z", "2026-11-25T10:00:00Z")),
    );
    check(
        Some("2026-11-01T00:00:00Z"),
        Some("2026-11-01T00:00:00Z"),
        now,
        Err("to"),
    );
    check(
        Some("2026-11-02T00:00:00Z"),
        Some("2026-11-01T00:00:00Z"),
        now,
        Err("to"),
    );
    check(
        Some("2025-01-01T00:00:00Z"),
        Some("2026-01-02T00:00:00Z"),
        now,
        Ok(("2025-01-01T00:00:00Z", "2026-01-02T00:00:00Z")),
    );
    check(
        Some("2025-01-01T00:00:00Z"),
        Some("2026-01-02T00:00:01Z"),
        now,
        Err("to"),
    );
}

#[test]
fn night_is_outside_working_hours_in_the_persons_zone() {
    let r = roster();
    let check = |who: &str, at: &str, expected: bool| {
        assert_eq!(night(&r, who, utc(at)), expected, "{who} at {at}");
    };
    // Wednesday 10:00 and 23:00 in Berlin.
    check("oc", "2026-11-25T09:00:00Z", false);
    check("oc", "2026-11-25T22:00:00Z", true);
    // 02:30 in Berlin happens twice on 2026-10-25 (a Sunday): both wake.
    check("oc", "2026-10-25T00:30:00Z", true);
    check("oc", "2026-10-25T01:30:00Z", true);
    // Friday before the change: 07:30 UTC is 09:30 CEST, at work.
    check("oc", "2026-10-23T07:30:00Z", false);
    // Monday after it: 07:30 UTC is 08:30 CET, still in bed.
    check("oc", "2026-10-26T07:30:00Z", true);
    check("oc", "2026-10-26T08:30:00Z", false);
    // Someone the roster does not know never counts.
    check("ghost", "2026-11-25T22:00:00Z", false);
}

fn incident(project: &str, who: Option<&str>, ack: Option<i64>, fix: Option<i64>) -> IncidentRow {
    let start = utc("2026-11-25T09:00:00Z");
    IncidentRow {
        project: project.into(),
        client: "acme".into(),
        assignee: who.map(Into::into),
        started_at: start,
        acknowledged_at: ack.map(|s| start + Duration::seconds(s)),
        resolved_at: fix.map(|s| start + Duration::seconds(s)),
    }
}

fn page(person: Option<&str>, channel: &str, at: &str) -> PageRow {
    PageRow {
        project: Some("shop".into()),
        client: Some("acme".into()),
        person: person.map(Into::into),
        channel: channel.into(),
        sent_at: utc(at),
    }
}

fn rows() -> Rows {
    Rows {
        incidents: vec![
            incident("shop", Some("oc"), Some(60), Some(600)),
            incident("shop", Some("r1"), Some(180), None),
            incident("blog", Some("oc"), Some(120), Some(1200)),
            incident("blog", None, None, None),
        ],
        pages: vec![
            page(Some("oc"), "sms", "2026-10-25T00:30:00Z"),
            page(Some("oc"), "sms", "2026-10-25T01:30:00Z"),
            page(Some("r1"), "voice", "2026-11-25T09:00:00Z"),
            page(None, "chat", "2026-11-25T22:00:00Z"),
        ],
        postmortems: vec![
            PostmortemRow {
                project: "shop".into(),
                client: "acme".into(),
                author: "oc".into(),
                due_at: utc("2026-11-20T09:00:00Z"),
                approved_at: None,
            },
            PostmortemRow {
                project: "blog".into(),
                client: "acme".into(),
                author: "r1".into(),
                due_at: utc("2026-11-20T09:00:00Z"),
                approved_at: Some(utc("2026-11-19T09:00:00Z")),
            },
        ],
        actions: vec![ActionRow {
            project: "shop".into(),
            client: "acme".into(),
            assignee: "r1".into(),
            deadline: utc("2026-11-24T09:00:00Z"),
        }],
    }
}

fn spread(p50: i64, p90: i64) -> Spread {
    Spread {
        p50: Some(p50),
        p90: Some(p90),
    }
}

#[test]
fn groups_add_up() {
    let as_of = utc("2026-11-25T10:00:00Z");
    let r = roster();
    let check = |by: By, expected: Vec<Group>| {
        assert_eq!(build(&rows(), by, &r, as_of), expected, "{by:?}");
    };
    let pages = |list: &[(&str, u64)]| list.iter().map(|(c, n)| (c.to_string(), *n)).collect();
    check(
        By::Project,
        vec![
            Group {
                key: "blog".into(),
                incidents: 2,
                acknowledged: 1,
                resolved: 1,
                mtta: spread(120, 120),
                mttr: spread(1200, 1200),
                postmortems_due: 1,
                ..Group::default()
            },
            Group {
                key: "shop".into(),
                incidents: 2,
                acknowledged: 2,
                resolved: 1,
                mtta: spread(60, 180),
                mttr: spread(600, 600),
                pages: pages(&[("chat", 1), ("sms", 2), ("voice", 1)]),
                night_pages: 2,
                postmortems_due: 1,
                postmortems_overdue: 1,
                actions_open: 1,
                actions_overdue: 1,
            },
        ],
    );
    check(
        By::Team,
        vec![Group {
            key: "web".into(),
            incidents: 4,
            acknowledged: 3,
            resolved: 2,
            mtta: spread(120, 180),
            mttr: spread(600, 1200),
            pages: pages(&[("chat", 1), ("sms", 2), ("voice", 1)]),
            night_pages: 2,
            postmortems_due: 2,
            postmortems_overdue: 1,
            actions_open: 1,
            actions_overdue: 1,
        }],
    );
    check(
        By::Person,
        vec![
            Group {
                key: "-".into(),
                pages: pages(&[("chat", 1)]),
                ..Group::default()
            },
            Group {
                key: "oc".into(),
                incidents: 2,
                acknowledged: 2,
                resolved: 2,
                mtta: spread(60, 120),
                mttr: spread(600, 1200),
                pages: pages(&[("sms", 2)]),
                night_pages: 2,
                postmortems_due: 1,
                postmortems_overdue: 1,
                ..Group::default()
            },
            Group {
                key: "r1".into(),
                incidents: 1,
                acknowledged: 1,
                mtta: spread(180, 180),
                pages: pages(&[("voice", 1)]),
                postmortems_due: 1,
                actions_open: 1,
                actions_overdue: 1,
                ..Group::default()
            },
        ],
    );
}

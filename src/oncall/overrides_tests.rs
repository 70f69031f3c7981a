use super::*;
use crate::escalation::fixture::{DAY, roster, utc};

/// Validates `(person, from, to, reason)` on `schedule` at [`DAY`]: the
/// stored interval, or the field refused.
fn check(
    schedule: &str,
    req: (&str, &str, &str, Option<&str>),
    expected: Result<(&str, &str), &str>,
) {
    let roster = roster();
    let s = &roster.schedules[schedule];
    let (person, from, to, reason) = req;
    let req = Request {
        person: person.into(),
        from: from.into(),
        to: to.into(),
        reason: reason.map(str::to_string),
    };
    let got = validate(&roster, s, "lead", &req, utc(DAY));
    match (got, expected) {
        (Ok(n), Ok((f, t))) => {
            assert_eq!((n.from, n.to), (utc(f), utc(t)), "{req:?}");
            assert_eq!(
                (n.schedule.as_str(), n.created_by.as_str(), n.created_at),
                (schedule, "lead", utc(DAY))
            );
        }
        (Err(OverrideError::Invalid { field, .. }), Err(e)) => assert_eq!(field, e, "{req:?}"),
        (got, e) => panic!("{req:?}: got {got:?}, expected {e:?}"),
    }
}

/// (schedule, (person, from, to, reason), the interval or the field refused)
type Case<'a> = (
    &'a str,
    (&'a str, &'a str, &'a str, Option<&'a str>),
    Result<(&'a str, &'a str), &'a str>,
);

#[test]
fn requests_are_checked_field_by_field() {
    let day = ("2026-11-26 09:00", "2026-11-26 18:00");
    let ok_day = Ok(("2026-11-26T08:00:00Z", "2026-11-26T17:00:00Z"));
    let cases: &[Case] = &[
        // A member of the schedule's team; local times in the schedule's zone.
        ("primary", ("r1", day.0, day.1, None), ok_day),
        // The team lead is eligible too; an offset is taken as written.
        (
            "primary",
            (
                "lead",
                "2026-11-26T09:00:00+01:00",
                "2026-11-26T18:00:00+01:00",
                Some(" "),
            ),
            ok_day,
        ),
        // A schedule without a team: its members only.
        ("night", ("m2", day.0, day.1, None), ok_day),
        ("night", ("lead", day.0, day.1, None), Err("person")),
        ("primary", ("ext", day.0, day.1, None), Err("person")),
        ("primary", ("ghost", day.0, day.1, None), Err("person")),
        ("primary", (" ", day.0, day.1, None), Err("person")),
        ("primary", ("r1", "soon", day.1, None), Err("from")),
        ("primary", ("r1", "", day.1, None), Err("from")),
        ("primary", ("r1", day.0, "", None), Err("to")),
        ("primary", ("r1", day.1, day.0, None), Err("to")),
        ("primary", ("r1", day.0, day.0, None), Err("to")),
        // Started before now and still running is fine; over by now is not.
        (
            "primary",
            ("r1", "2026-11-25 09:00", "2026-11-25 11:00:01", None),
            Ok(("2026-11-25T08:00:00Z", "2026-11-25T10:00:01Z")),
        ),
        (
            "primary",
            ("r1", "2026-11-25 09:00", "2026-11-25 11:00", None),
            Err("to"),
        ),
        // Ninety days at most.
        (
            "primary",
            ("r1", "2026-12-01 00:00", "2027-03-01 00:00", None),
            Ok(("2026-11-30T23:00:00Z", "2027-02-28T23:00:00Z")),
        ),
        (
            "primary",
            ("r1", "2026-12-01 00:00", "2027-03-01 00:01", None),
            Err("to"),
        ),
        (
            "primary",
            ("r1", day.0, day.1, Some(&"x".repeat(201))),
            Err("reason"),
        ),
    ];
    for (schedule, req, expected) in cases {
        check(schedule, *req, *expected);
    }
}

#[test]
fn who_may_create() {
    let roster = roster();
    // (schedule, caller, person, from, to): allowed?
    let cases = [
        // For themselves.
        (
            "primary",
            "r1",
            "r1",
            "2026-11-26T08:00:00Z",
            "2026-11-26T17:00:00Z",
            true,
        ),
        // oc holds primary all the time: oc hands it over.
        (
            "primary",
            "oc",
            "r1",
            "2026-11-26T08:00:00Z",
            "2026-11-26T17:00:00Z",
            true,
        ),
        (
            "primary",
            "r1",
            "m1",
            "2026-11-26T08:00:00Z",
            "2026-11-26T17:00:00Z",
            false,
        ),
        // The team lead for anyone.
        (
            "primary",
            "lead",
            "m1",
            "2026-11-26T08:00:00Z",
            "2026-11-26T17:00:00Z",
            true,
        ),
        // ext holds night this week except the YAML override to lead.
        (
            "night",
            "ext",
            "m2",
            "2026-11-25T08:00:00Z",
            "2026-11-25T11:00:00Z",
            true,
        ),
        (
            "night",
            "ext",
            "m2",
            "2026-11-25T08:00:00Z",
            "2026-11-25T12:00:00Z",
            false,
        ),
        // ...and not past the Monday hand-off to m2.
        (
            "night",
            "ext",
            "lead",
            "2026-11-30T07:00:00Z",
            "2026-11-30T09:00:00Z",
            false,
        ),
        // Nobody is on call before the rotation starts: nothing to hand over.
        (
            "night",
            "ext",
            "m2",
            "2026-11-23T06:00:00Z",
            "2026-11-23T09:00:00Z",
            false,
        ),
    ];
    for (schedule, caller, person, from, to, expected) in cases {
        let s = &roster.schedules[schedule];
        let range = (utc(from), utc(to));
        let before = rotation(&roster, s, &[]).shifts(range.0, range.1);
        assert_eq!(
            may_create(&roster, s, caller, person, &before, range),
            expected,
            "{caller} puts {person} on call in {schedule} {from}..{to}"
        );
    }
}

#[test]
fn notices_say_who_covers_whom_and_who_set_it() {
    let roster = roster();
    let s = &roster.schedules["night"];
    let o = |created_by: &str, deleted_by: Option<&str>| StoredOverride {
        id: 1,
        schedule: "night".into(),
        person: "m2".into(),
        from: utc("2026-11-29T20:00:00Z"),
        to: utc("2026-11-30T10:00:00Z"),
        reason: None,
        created_by: created_by.into(),
        created_at: utc(DAY),
        deleted_by: deleted_by.map(str::to_string),
        deleted_at: deleted_by.map(|_| utc(DAY)),
    };
    let span = "in night from Sun 29 Nov 21:00 CET until Mon 30 Nov 11:00 CET";
    let ext = Handed {
        person: "ext",
        from: utc("2026-11-29T20:00:00Z"),
        to: utc("2026-11-30T08:00:00Z"),
    };
    let ext_span = "in night from Sun 29 Nov 21:00 CET until Mon 30 Nov 09:00 CET";
    let m2 = &roster.people["m2"];
    let cases: Vec<(StoredOverride, Vec<Handed<'_>>, Change, String, String)> = vec![
        (
            o("m2", None),
            vec![],
            Change::Created,
            format!("tocsin: you are on call {span}."),
            String::new(),
        ),
        (
            o("ext", None),
            vec![ext.clone()],
            Change::Created,
            format!("tocsin: you are on call {span}, covering ext."),
            format!("tocsin: m2 covers your on-call shift {ext_span}."),
        ),
        (
            o("lead", None),
            vec![ext.clone()],
            Change::Created,
            format!("tocsin: you are on call {span}, covering ext. Set by lead."),
            format!("tocsin: m2 covers your on-call shift {ext_span}. Set by lead."),
        ),
        (
            o("lead", Some("m2")),
            vec![ext.clone()],
            Change::Deleted,
            format!("tocsin: you cancelled your on-call override {span}; ext is on call again."),
            format!("tocsin: m2 no longer covers for you: you are on call again {ext_span}."),
        ),
        (
            o("m2", Some("lead")),
            vec![],
            Change::Deleted,
            format!("tocsin: lead cancelled your on-call override {span}."),
            String::new(),
        ),
    ];
    for (o, handed, change, taker, other) in cases {
        let words = Words {
            roster: &roster,
            schedule: s,
            o: &o,
        };
        assert_eq!(words.to_taker(m2, &handed, change), taker);
        if let Some(h) = handed.first() {
            let p = &roster.people[h.person];
            assert_eq!(words.to_handed(p, h, change), other);
        }
    }
}

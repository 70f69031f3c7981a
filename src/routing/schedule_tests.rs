use super::*;
use chrono_tz::America::New_York;
use chrono_tz::Europe::Berlin;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamps are valid RFC 3339")
        .to_utc()
}

fn rotation(tz: Tz, members: &[&str], expr: &str, start: &str) -> Rotation {
    Rotation {
        tz,
        members: members.iter().map(|m| m.to_string()).collect(),
        handoff: Handoff::parse(expr).expect("test expressions parse"),
        start: utc(start),
        overrides: Vec::new(),
    }
}

fn with_overrides(mut r: Rotation, overrides: &[(&str, &str, &str)]) -> Rotation {
    r.overrides = overrides
        .iter()
        .map(|(person, from, to)| Override {
            person: person.to_string(),
            from: utc(from),
            to: utc(to),
        })
        .collect();
    r
}

/// Expected shift: person, start, end (`"max"` for unbounded), override flag.
type Expected<'a> = Option<(&'a str, &'a str, &'a str, bool)>;

fn stamp(s: &str) -> DateTime<Utc> {
    if s == "max" {
        DateTime::<Utc>::MAX_UTC
    } else {
        utc(s)
    }
}

fn shift_of(e: (&str, &str, &str, bool)) -> Shift {
    Shift {
        person: e.0.to_string(),
        start: stamp(e.1),
        end: stamp(e.2),
        is_override: e.3,
    }
}

fn check(r: &Rotation, at: &str, expected: Expected) {
    assert_eq!(
        r.on_call(utc(at)),
        expected.map(shift_of),
        "on call at {at}"
    );
}

#[test]
fn weekly_handoffs_exactly() {
    let r = rotation(
        Berlin,
        &["alice", "bob", "carol"],
        "0 9 * * MON",
        "2026-06-01T07:00:00Z",
    );
    let cases: &[(&str, Expected)] = &[
        ("2026-06-01T06:59:59Z", None),
        ("2020-01-01T00:00:00Z", None),
        (
            "2026-06-01T07:00:00Z",
            Some((
                "alice",
                "2026-06-01T07:00:00Z",
                "2026-06-08T07:00:00Z",
                false,
            )),
        ),
        (
            "2026-06-08T06:59:59Z",
            Some((
                "alice",
                "2026-06-01T07:00:00Z",
                "2026-06-08T07:00:00Z",
                false,
            )),
        ),
        (
            "2026-06-08T07:00:00Z",
            Some(("bob", "2026-06-08T07:00:00Z", "2026-06-15T07:00:00Z", false)),
        ),
        (
            "2026-06-08T07:00:01Z",
            Some(("bob", "2026-06-08T07:00:00Z", "2026-06-15T07:00:00Z", false)),
        ),
        (
            "2026-06-15T07:00:00Z",
            Some((
                "carol",
                "2026-06-15T07:00:00Z",
                "2026-06-22T07:00:00Z",
                false,
            )),
        ),
        (
            "2026-06-22T07:00:00Z",
            Some((
                "alice",
                "2026-06-22T07:00:00Z",
                "2026-06-29T07:00:00Z",
                false,
            )),
        ),
        // Across the autumn change the hand-off stays at 09:00 local (08:00Z in CET).
        (
            "2026-10-26T07:59:59Z",
            Some((
                "carol",
                "2026-10-19T07:00:00Z",
                "2026-10-26T08:00:00Z",
                false,
            )),
        ),
        (
            "2026-10-26T08:00:00Z",
            Some((
                "alice",
                "2026-10-26T08:00:00Z",
                "2026-11-02T08:00:00Z",
                false,
            )),
        ),
    ];
    for &(at, expected) in cases {
        check(&r, at, expected);
    }
}

#[test]
fn start_between_handoffs_runs_until_the_first_one() {
    let r = rotation(
        Berlin,
        &["alice", "bob"],
        "0 9 * * MON",
        "2026-06-03T12:34:56.5Z",
    );
    check(&r, "2026-06-03T12:34:56Z", None);
    check(
        &r,
        "2026-06-03T12:34:56.5Z",
        Some((
            "alice",
            "2026-06-03T12:34:56.5Z",
            "2026-06-08T07:00:00Z",
            false,
        )),
    );
    check(
        &r,
        "2026-06-08T07:00:00Z",
        Some(("bob", "2026-06-08T07:00:00Z", "2026-06-15T07:00:00Z", false)),
    );
}

#[test]
fn dst_nights() {
    let cases: &[(Rotation, &str, Expected)] = &[
        // Berlin spring forward: the daily 02:30 hand-off happens once, when clocks jump.
        (
            rotation(Berlin, &["a", "b"], "30 2 * * *", "2026-03-27T01:30:00Z"),
            "2026-03-29T00:59:59Z",
            Some(("b", "2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", false)),
        ),
        (
            rotation(Berlin, &["a", "b"], "30 2 * * *", "2026-03-27T01:30:00Z"),
            "2026-03-29T01:00:00Z",
            Some(("a", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", false)),
        ),
        (
            rotation(Berlin, &["a", "b"], "30 2 * * *", "2026-03-27T01:30:00Z"),
            "2026-03-30T00:30:00Z",
            Some(("b", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z", false)),
        ),
        // Berlin fall back: the repeated 02:30 hands off once, at its first occurrence.
        (
            rotation(Berlin, &["a", "b"], "30 2 * * *", "2026-10-23T00:30:00Z"),
            "2026-10-25T00:29:59Z",
            Some(("b", "2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", false)),
        ),
        (
            rotation(Berlin, &["a", "b"], "30 2 * * *", "2026-10-23T00:30:00Z"),
            "2026-10-25T01:30:00Z",
            Some(("a", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", false)),
        ),
        // New York spring forward: Sunday 02:30 does not exist; hand-off at 07:00Z.
        (
            rotation(
                New_York,
                &["a", "b"],
                "30 2 * * SUN",
                "2026-03-01T07:30:00Z",
            ),
            "2026-03-08T06:59:59Z",
            Some(("a", "2026-03-01T07:30:00Z", "2026-03-08T07:00:00Z", false)),
        ),
        (
            rotation(
                New_York,
                &["a", "b"],
                "30 2 * * SUN",
                "2026-03-01T07:30:00Z",
            ),
            "2026-03-08T07:00:00Z",
            Some(("b", "2026-03-08T07:00:00Z", "2026-03-15T06:30:00Z", false)),
        ),
        // New York fall back: Sunday 01:30 happens twice; the second is not a hand-off.
        (
            rotation(
                New_York,
                &["a", "b"],
                "30 1 * * SUN",
                "2026-10-25T05:30:00Z",
            ),
            "2026-11-01T05:30:00Z",
            Some(("b", "2026-11-01T05:30:00Z", "2026-11-08T06:30:00Z", false)),
        ),
        (
            rotation(
                New_York,
                &["a", "b"],
                "30 1 * * SUN",
                "2026-10-25T05:30:00Z",
            ),
            "2026-11-01T06:30:00Z",
            Some(("b", "2026-11-01T05:30:00Z", "2026-11-08T06:30:00Z", false)),
        ),
    ];
    for (r, at, expected) in cases {
        check(r, at, *expected);
    }
}

#[test]
fn single_member_and_repeated_members_merge() {
    let solo = rotation(Berlin, &["solo"], "0 9 * * MON", "2026-06-01T07:00:00Z");
    let aab = rotation(
        Berlin,
        &["a", "a", "b"],
        "0 9 * * MON",
        "2026-06-01T07:00:00Z",
    );
    let cases: &[(&Rotation, &str, Expected)] = &[
        (&solo, "2026-05-01T00:00:00Z", None),
        (
            &solo,
            "2026-06-01T07:00:00Z",
            Some(("solo", "2026-06-01T07:00:00Z", "max", false)),
        ),
        (
            &solo,
            "2031-06-01T07:00:00Z",
            Some(("solo", "2026-06-01T07:00:00Z", "max", false)),
        ),
        (
            &aab,
            "2026-06-08T07:00:00Z",
            Some(("a", "2026-06-01T07:00:00Z", "2026-06-15T07:00:00Z", false)),
        ),
        (
            &aab,
            "2026-06-15T07:00:00Z",
            Some(("b", "2026-06-15T07:00:00Z", "2026-06-22T07:00:00Z", false)),
        ),
        (
            &aab,
            "2026-06-29T07:00:00Z",
            Some(("a", "2026-06-22T07:00:00Z", "2026-07-06T07:00:00Z", false)),
        ),
    ];
    for &(r, at, expected) in cases {
        check(r, at, expected);
    }
    let empty = rotation(Berlin, &[], "0 9 * * MON", "2026-06-01T07:00:00Z");
    check(&empty, "2026-06-10T00:00:00Z", None);
}

fn overridden() -> Rotation {
    with_overrides(
        rotation(
            Berlin,
            &["alice", "bob"],
            "0 9 * * MON",
            "2026-06-01T07:00:00Z",
        ),
        &[
            ("early", "2026-05-20T00:00:00Z", "2026-05-21T00:00:00Z"),
            ("carol", "2026-06-03T10:00:00Z", "2026-06-03T18:00:00Z"),
            ("dave", "2026-06-09T00:00:00Z", "2026-06-12T00:00:00Z"),
            ("erin", "2026-06-10T00:00:00Z", "2026-06-11T00:00:00Z"),
            ("bob", "2026-06-20T00:00:00Z", "2026-06-21T00:00:00Z"),
            ("zed", "2026-06-05T00:00:00Z", "2026-06-04T00:00:00Z"),
        ],
    )
}

#[test]
fn overrides_win_for_their_interval() {
    let r = overridden();
    let cases: &[(&str, Expected)] = &[
        (
            "2026-05-20T12:00:00Z",
            Some((
                "early",
                "2026-05-20T00:00:00Z",
                "2026-05-21T00:00:00Z",
                true,
            )),
        ),
        ("2026-05-21T00:00:00Z", None),
        (
            "2026-06-03T09:59:59Z",
            Some((
                "alice",
                "2026-06-01T07:00:00Z",
                "2026-06-03T10:00:00Z",
                false,
            )),
        ),
        (
            "2026-06-03T10:00:00Z",
            Some((
                "carol",
                "2026-06-03T10:00:00Z",
                "2026-06-03T18:00:00Z",
                true,
            )),
        ),
        (
            "2026-06-03T17:59:59Z",
            Some((
                "carol",
                "2026-06-03T10:00:00Z",
                "2026-06-03T18:00:00Z",
                true,
            )),
        ),
        (
            "2026-06-03T18:00:00Z",
            Some((
                "alice",
                "2026-06-03T18:00:00Z",
                "2026-06-08T07:00:00Z",
                false,
            )),
        ),
        // An inverted override covers nothing.
        (
            "2026-06-04T12:00:00Z",
            Some((
                "alice",
                "2026-06-03T18:00:00Z",
                "2026-06-08T07:00:00Z",
                false,
            )),
        ),
        // Overlap: the later-listed erin wins inside dave's interval.
        (
            "2026-06-09T12:00:00Z",
            Some(("dave", "2026-06-09T00:00:00Z", "2026-06-10T00:00:00Z", true)),
        ),
        (
            "2026-06-10T00:00:00Z",
            Some(("erin", "2026-06-10T00:00:00Z", "2026-06-11T00:00:00Z", true)),
        ),
        (
            "2026-06-11T00:00:00Z",
            Some(("dave", "2026-06-11T00:00:00Z", "2026-06-12T00:00:00Z", true)),
        ),
        (
            "2026-06-12T00:00:00Z",
            Some(("bob", "2026-06-12T00:00:00Z", "2026-06-15T07:00:00Z", false)),
        ),
        // Overriding with the rotation's own person still marks the override.
        (
            "2026-06-20T12:00:00Z",
            Some(("bob", "2026-06-20T00:00:00Z", "2026-06-21T00:00:00Z", true)),
        ),
        (
            "2026-06-21T00:00:00Z",
            Some((
                "alice",
                "2026-06-21T00:00:00Z",
                "2026-06-22T07:00:00Z",
                false,
            )),
        ),
    ];
    for &(at, expected) in cases {
        check(&r, at, expected);
    }
}

#[test]
fn shifts_are_contiguous_clipped_and_merged() {
    let r = overridden();
    let got = r.shifts(utc("2026-05-19T00:00:00Z"), utc("2026-06-22T12:00:00Z"));
    let expected = [
        (
            "early",
            "2026-05-20T00:00:00Z",
            "2026-05-21T00:00:00Z",
            true,
        ),
        (
            "alice",
            "2026-06-01T07:00:00Z",
            "2026-06-03T10:00:00Z",
            false,
        ),
        (
            "carol",
            "2026-06-03T10:00:00Z",
            "2026-06-03T18:00:00Z",
            true,
        ),
        (
            "alice",
            "2026-06-03T18:00:00Z",
            "2026-06-08T07:00:00Z",
            false,
        ),
        ("bob", "2026-06-08T07:00:00Z", "2026-06-09T00:00:00Z", false),
        ("dave", "2026-06-09T00:00:00Z", "2026-06-10T00:00:00Z", true),
        ("erin", "2026-06-10T00:00:00Z", "2026-06-11T00:00:00Z", true),
        ("dave", "2026-06-11T00:00:00Z", "2026-06-12T00:00:00Z", true),
        ("bob", "2026-06-12T00:00:00Z", "2026-06-15T07:00:00Z", false),
        (
            "alice",
            "2026-06-15T07:00:00Z",
            "2026-06-20T00:00:00Z",
            false,
        ),
        ("bob", "2026-06-20T00:00:00Z", "2026-06-21T00:00:00Z", true),
        (
            "alice",
            "2026-06-21T00:00:00Z",
            "2026-06-22T07:00:00Z",
            false,
        ),
        ("bob", "2026-06-22T07:00:00Z", "2026-06-22T12:00:00Z", false),
    ];
    assert_eq!(got, expected.map(shift_of).to_vec());
    for pair in got[1..].windows(2) {
        assert_eq!(
            pair[0].end, pair[1].start,
            "contiguous after the rotation starts"
        );
    }

    type Window<'a> = (
        &'a Rotation,
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str, &'a str, bool)],
    );
    let cases: &[Window] = &[
        (&r, "2026-06-05T00:00:00Z", "2026-06-05T00:00:00Z", &[]),
        (&r, "2026-06-06T00:00:00Z", "2026-06-05T00:00:00Z", &[]),
        (&r, "2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z", &[]),
        (
            &r,
            "2026-06-05T00:00:00Z",
            "2026-06-06T00:00:00Z",
            &[(
                "alice",
                "2026-06-05T00:00:00Z",
                "2026-06-06T00:00:00Z",
                false,
            )],
        ),
    ];
    for &(r, from, to, expected) in cases {
        let want: Vec<Shift> = expected.iter().map(|e| shift_of(*e)).collect();
        assert_eq!(r.shifts(utc(from), utc(to)), want, "[{from}, {to})");
    }

    let solo = rotation(Berlin, &["solo"], "0 * * * *", "2026-06-01T00:00:00Z");
    assert_eq!(
        solo.shifts(utc("2026-06-01T00:00:00Z"), utc("2026-07-01T00:00:00Z")),
        vec![shift_of((
            "solo",
            "2026-06-01T00:00:00Z",
            "2026-07-01T00:00:00Z",
            false
        ))]
    );
}

#[test]
fn the_shift_in_progress_keeps_its_real_start() {
    let r = overridden();
    // Berlin switched to CET on Sunday 25 October 2026.
    let dst = rotation(
        Berlin,
        &["alice", "bob"],
        "0 9 * * MON",
        "2026-10-05T07:00:00Z",
    );
    let solo = rotation(Berlin, &["solo"], "0 9 * * MON", "2026-06-01T07:00:00Z");
    type Case<'a> = (&'a Rotation, &'a str, (&'a str, &'a str, &'a str, bool));
    let cases: &[Case] = &[
        // In a rotation stretch: from the hand-off that began it.
        (
            &r,
            "2026-06-02T12:00:00Z",
            (
                "alice",
                "2026-06-01T07:00:00Z",
                "2026-06-03T10:00:00Z",
                false,
            ),
        ),
        (
            &r,
            "2026-06-01T07:00:00Z",
            (
                "alice",
                "2026-06-01T07:00:00Z",
                "2026-06-03T10:00:00Z",
                false,
            ),
        ),
        // In an override: from its start.
        (
            &r,
            "2026-06-03T17:59:59Z",
            (
                "carol",
                "2026-06-03T10:00:00Z",
                "2026-06-03T18:00:00Z",
                true,
            ),
        ),
        // Nested overrides: from the start of the piece in progress.
        (
            &r,
            "2026-06-10T12:00:00Z",
            ("erin", "2026-06-10T00:00:00Z", "2026-06-11T00:00:00Z", true),
        ),
        // After an override: from its end, when the rotation took over again.
        (
            &r,
            "2026-06-05T00:00:00Z",
            (
                "alice",
                "2026-06-03T18:00:00Z",
                "2026-06-08T07:00:00Z",
                false,
            ),
        ),
        // A week that spans the change back to CET.
        (
            &dst,
            "2026-10-20T00:00:00Z",
            (
                "alice",
                "2026-10-19T07:00:00Z",
                "2026-10-26T08:00:00Z",
                false,
            ),
        ),
        (
            &dst,
            "2026-10-25T12:00:00Z",
            (
                "alice",
                "2026-10-19T07:00:00Z",
                "2026-10-26T08:00:00Z",
                false,
            ),
        ),
        // One member: the rotation's start.
        (
            &solo,
            "2026-07-15T00:00:00Z",
            (
                "solo",
                "2026-06-01T07:00:00Z",
                "2026-07-29T00:00:00Z",
                false,
            ),
        ),
    ];
    for &(r, at, first) in cases {
        let (from, to) = (utc(at), utc(at) + TimeDelta::days(14));
        let got = r.shifts_overlapping(from, to);
        let mut want = r.shifts(from, to);
        want[0] = shift_of(first);
        assert_eq!(got[0], want[0], "at {at}");
        let n = got.len();
        if n > 1 {
            assert_eq!(
                got[1..n - 1],
                want[1..n - 1],
                "the middle ones unchanged, at {at}"
            );
            // The last keeps its real end, as on_call tells it.
            let real = r.on_call(got[n - 1].start).map(|s| s.end);
            assert_eq!(Some(got[n - 1].end), real, "at {at}");
            assert!(got[n - 1].end >= to, "at {at}");
        }
    }
    assert_eq!(
        r.shifts_overlapping(utc("2026-05-01T00:00:00Z"), utc("2026-05-02T00:00:00Z")),
        vec![],
        "nobody on call"
    );
}

#[test]
fn next_handoff() {
    let r = overridden();
    let cases = [
        ("2026-01-01T00:00:00Z", "2026-06-08T07:00:00Z"),
        ("2026-06-08T06:59:59Z", "2026-06-08T07:00:00Z"),
        ("2026-06-08T07:00:00Z", "2026-06-15T07:00:00Z"),
        ("2026-10-20T00:00:00Z", "2026-10-26T08:00:00Z"),
    ];
    for (at, expected) in cases {
        assert_eq!(r.next_handoff(utc(at)), Some(utc(expected)), "after {at}");
    }
}

#[test]
fn long_running_rotations_agree_with_stepping() {
    let cases = [
        (
            rotation(
                Berlin,
                &["a", "b", "c"],
                "0 * * * *",
                "2025-06-01T00:00:00Z",
            ),
            "2026-06-01T00:30:00Z",
        ),
        (
            rotation(
                New_York,
                &["a", "b", "c", "d"],
                "0 9 * * MON",
                "2021-06-01T00:00:00Z",
            ),
            "2026-06-03T00:00:00Z",
        ),
    ];
    for (r, at) in cases {
        let (mut n, mut cursor) = (0usize, r.start);
        while let Some(h) = r.handoff.next_after(r.tz, cursor).filter(|h| *h <= utc(at)) {
            n += 1;
            cursor = h;
        }
        let shift = r.on_call(utc(at)).expect("rotation has started");
        assert_eq!(shift.person, r.members[n % r.members.len()], "at {at}");
        assert_eq!(shift.start, cursor);
    }
}

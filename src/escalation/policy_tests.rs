//! Policy tests: each case walks one incident through a sequence of events
//! (see `walk`) and checks every page, reason, outcome and deadline.

use super::*;
use crate::escalation::fixture::{DAY, NIGHT, marks, roster, utc};
use crate::escalation::walk::{Event, Pages, Walk, check, ex, policy, step};
use ChannelType::*;
use Event::*;
use Outcome::*;

#[test]
fn every_step_then_a_repeat_then_exhaustion() {
    let roster = roster();
    let walk = Walk {
        roster: &roster,
        project: "shop",
        policy: &roster.policies["default"],
        at: DAY,
        offline: &[],
        client_reported: false,
    };
    let r0 = [
        "step 1 of policy default: nearest",
        "step 2 of policy default: next",
        "step 3 of policy default: team_lead",
    ];
    let r1 = [
        "step 1 of policy default, repeat 1: nearest",
        "step 2 of policy default, repeat 1: next",
        "step 3 of policy default, repeat 1: team_lead",
    ];
    let state = check(
        &walk,
        &[
            ex(Start, 0, &[("oc", &[Chat, Sms])], r0[0], None, Some(5)),
            // r1 has no chat handle: sms only.
            ex(
                Deadline,
                5,
                &[("r1", &[Sms])],
                r0[1],
                Some(Continued),
                Some(15),
            ),
            ex(
                Deadline,
                15,
                &[("lead", &[Voice])],
                r0[2],
                Some(Continued),
                Some(30),
            ),
            // The repeat pages the same people again: `next` forgets the last round.
            ex(
                Deadline,
                30,
                &[("oc", &[Chat, Sms])],
                r1[0],
                Some(Repeated),
                Some(35),
            ),
            ex(
                Deadline,
                35,
                &[("r1", &[Sms])],
                r1[1],
                Some(Continued),
                Some(45),
            ),
            ex(
                Deadline,
                45,
                &[("lead", &[Voice])],
                r1[2],
                Some(Continued),
                Some(60),
            ),
            ex(Deadline, 60, &[], "", Some(Exhausted), None),
            // Exhausted stays exhausted.
            ex(Deadline, 61, &[], "", Some(Exhausted), None),
            ex(EscalateBy("lead"), 62, &[], "", Some(Exhausted), None),
        ],
    );
    assert_eq!(state.paged, ["oc", "r1", "lead", "oc", "r1", "lead"]);
    assert_eq!((state.step, state.round, state.round_start), (2, 1, 3));
}

#[test]
fn nearest_is_the_online_on_call_person_else_the_next_online() {
    let roster = roster();
    let p = policy(vec![step(Target::Nearest, &[Chat, Sms], 5)], 0);
    let reason = "step 1 of policy p: nearest";
    let cases: &[(&[&str], Pages)] = &[
        (&[], &[("oc", &[Chat, Sms])]),
        (&["oc"], &[("r1", &[Sms])]),
        (&["oc", "r1"], &[("m1", &[Chat])]),
    ];
    for &(offline, pages) in cases {
        let walk = Walk {
            roster: &roster,
            project: "shop",
            policy: &p,
            at: DAY,
            offline,
            client_reported: false,
        };
        check(
            &walk,
            &[
                ex(Start, 0, pages, reason, None, Some(5)),
                ex(Deadline, 5, &[], "", Some(Exhausted), None),
            ],
        );
    }
}

#[test]
fn nobody_online_first_page_is_a_phone_call() {
    let roster = roster();
    let default = &roster.policies["default"];
    let cases: &[(bool, &str)] = &[
        (
            false,
            "step 1 of policy default: nearest (nobody online: phone call first)",
        ),
        (
            true,
            "step 1 of policy default: nearest (client report, nobody online: phone call first)",
        ),
    ];
    for &(client_reported, first) in cases {
        let walk = Walk {
            roster: &roster,
            project: "shop",
            policy: default,
            at: NIGHT,
            offline: &[],
            client_reported,
        };
        check(
            &walk,
            &[
                ex(
                    Start,
                    0,
                    &[("oc", &[Voice, Chat, Sms])],
                    first,
                    None,
                    Some(5),
                ),
                ex(
                    Deadline,
                    5,
                    &[("r1", &[Sms])],
                    "step 2 of policy default: next",
                    Some(Continued),
                    Some(15),
                ),
                ex(
                    Deadline,
                    15,
                    &[("lead", &[Voice])],
                    "step 3 of policy default: team_lead",
                    Some(Continued),
                    Some(30),
                ),
                // Only the incident's first page is a call.
                ex(
                    Deadline,
                    30,
                    &[("oc", &[Chat, Sms])],
                    "step 1 of policy default, repeat 1: nearest",
                    Some(Repeated),
                    Some(35),
                ),
            ],
        );
    }
    // Everyone marked offline in hours counts as nobody online; the call
    // comes first even though the step does not list voice.
    let p = policy(vec![step(Target::Nearest, &[Chat], 5)], 0);
    let walk = Walk {
        roster: &roster,
        project: "shop",
        policy: &p,
        at: DAY,
        offline: &["oc", "r1", "m1", "m2", "lead"],
        client_reported: false,
    };
    check(
        &walk,
        &[ex(
            Start,
            0,
            &[("oc", &[Voice, Chat])],
            "step 1 of policy p: nearest (nobody online: phone call first)",
            None,
            Some(5),
        )],
    );
    let blog_team = policy(vec![step(Target::Team, &[Chat], 5)], 0);
    let walk = Walk {
        policy: &blog_team,
        project: "blog",
        at: NIGHT,
        offline: &[],
        ..walk
    };
    // Not a `nearest` step: no call even when nobody is online.
    check(
        &walk,
        &[ex(
            Start,
            0,
            &[
                ("m2", &[Sms]),
                ("m1", &[Chat]),
                ("oc", &[Chat]),
                ("r1", &[Sms]),
                ("lead", &[Chat]),
            ],
            "step 1 of policy p: team",
            None,
            Some(5),
        )],
    );
}

#[test]
fn next_skips_the_paged_and_a_step_for_nobody_is_skipped() {
    let roster = roster();
    let next = || step(Target::Next, &[Sms, Email], 5);
    let p = policy(
        vec![
            next(),
            next(),
            next(),
            next(),
            next(),
            next(),
            step(Target::Person("ext".into()), &[Email], 7),
        ],
        0,
    );
    let walk = Walk {
        roster: &roster,
        project: "shop",
        policy: &p,
        at: DAY,
        offline: &[],
        client_reported: false,
    };
    let state = check(
        &walk,
        &[
            ex(
                Start,
                0,
                &[("oc", &[Sms])],
                "step 1 of policy p: next",
                None,
                Some(5),
            ),
            ex(
                Deadline,
                5,
                &[("r1", &[Sms, Email])],
                "step 2 of policy p: next",
                Some(Continued),
                Some(10),
            ),
            // m1 has only chat, which the step lacks: their own first channel.
            ex(
                Deadline,
                10,
                &[("m1", &[Chat])],
                "step 3 of policy p: next",
                Some(Continued),
                Some(15),
            ),
            ex(
                Deadline,
                15,
                &[("m2", &[Sms])],
                "step 4 of policy p: next",
                Some(Continued),
                Some(20),
            ),
            ex(
                Deadline,
                20,
                &[("lead", &[Sms, Email])],
                "step 5 of policy p: next",
                Some(Continued),
                Some(25),
            ),
            // Everyone is paged: step 6 pages nobody and step 7 runs at once.
            ex(
                Deadline,
                25,
                &[("ext", &[Email])],
                "step 7 of policy p: person:ext",
                Some(Continued),
                Some(32),
            ),
            ex(Deadline, 32, &[], "", Some(Exhausted), None),
        ],
    );
    assert_eq!(state.paged, ["oc", "r1", "m1", "m2", "lead", "ext"]);
}

#[test]
fn steps_for_nobody_exhaust_without_looping() {
    let roster = roster();
    let ghost = || step(Target::Person("ghost".into()), &[Sms], 5);
    let cases: &[(Vec<Step>, u32)] = &[
        (vec![ghost()], 0),
        (vec![ghost(), ghost()], u32::MAX),
        (vec![], 3),
    ];
    for (steps, repeat) in cases {
        let p = policy(steps.clone(), *repeat);
        let walk = Walk {
            roster: &roster,
            project: "shop",
            policy: &p,
            at: DAY,
            offline: &[],
            client_reported: false,
        };
        // Steps naming nobody still page the nearest responder (oc, on
        // call), the first step's way; then the policy has nobody left.
        let start = if steps.is_empty() {
            ex(Start, 0, &[], "", None, None)
        } else {
            ex(
                Start,
                0,
                &[("oc", &[Sms])],
                "step 1 of policy p: person:ghost pages nobody now, so the nearest responder",
                None,
                Some(5),
            )
        };
        let state = check(
            &walk,
            &[start, ex(Deadline, 5, &[], "", Some(Exhausted), None)],
        );
        assert_eq!(state.paged.is_empty(), steps.is_empty());
    }
    // A round that pages someone keeps repeating up to `repeat`.
    let p = policy(vec![ghost(), step(Target::TeamLead, &[Sms], 5)], 1);
    let walk = Walk {
        roster: &roster,
        project: "shop",
        policy: &p,
        at: DAY,
        offline: &[],
        client_reported: false,
    };
    check(
        &walk,
        &[
            ex(
                Start,
                0,
                &[("lead", &[Sms])],
                "step 2 of policy p: team_lead",
                None,
                Some(5),
            ),
            ex(
                Deadline,
                5,
                &[("lead", &[Sms])],
                "step 2 of policy p, repeat 1: team_lead",
                Some(Repeated),
                Some(10),
            ),
            ex(Deadline, 10, &[], "", Some(Exhausted), None),
        ],
    );
}

#[test]
fn escalate_now_runs_the_next_step_early() {
    let roster = roster();
    let walk = Walk {
        roster: &roster,
        project: "shop",
        policy: &roster.policies["default"],
        at: DAY,
        offline: &[],
        client_reported: false,
    };
    check(
        &walk,
        &[
            ex(
                Start,
                0,
                &[("oc", &[Chat, Sms])],
                "step 1 of policy default: nearest",
                None,
                Some(5),
            ),
            // The deadline restarts from the escalation.
            ex(
                EscalateBy("oc"),
                1,
                &[("r1", &[Sms])],
                "step 2 of policy default: next (escalated by oc)",
                Some(Continued),
                Some(11),
            ),
            ex(
                EscalateBy("r1"),
                2,
                &[("lead", &[Voice])],
                "step 3 of policy default: team_lead (escalated by r1)",
                Some(Continued),
                Some(17),
            ),
            ex(
                EscalateBy("lead"),
                3,
                &[("oc", &[Chat, Sms])],
                "step 1 of policy default, repeat 1: nearest (escalated by lead)",
                Some(Repeated),
                Some(8),
            ),
            ex(
                Deadline,
                8,
                &[("r1", &[Sms])],
                "step 2 of policy default, repeat 1: next",
                Some(Continued),
                Some(18),
            ),
        ],
    );
}

/// The one who asks for the next step is never paged by it: a step that
/// would page only them (`nearest`, once they hold the incident) is passed.
#[test]
fn escalating_by_hand_pages_someone_else() {
    let roster = roster();
    let p = policy(
        vec![
            step(Target::Nearest, &[Sms], 5),
            step(Target::Nearest, &[Voice], 5),
            step(Target::Next, &[Sms], 5),
        ],
        0,
    );
    let walk = Walk {
        roster: &roster,
        project: "shop",
        policy: &p,
        at: DAY,
        offline: &[],
        client_reported: false,
    };
    check(
        &walk,
        &[
            ex(
                Start,
                0,
                &[("oc", &[Sms])],
                "step 1 of policy p: nearest",
                None,
                Some(5),
            ),
            ex(
                EscalateBy("oc"),
                1,
                &[("r1", &[Sms])],
                "step 3 of policy p: next (escalated by oc)",
                Some(Continued),
                Some(6),
            ),
            ex(EscalateBy("r1"), 2, &[], "", Some(Exhausted), None),
        ],
    );
}

/// `next` counts the one who asks as paged: in a repeat round (whose `next`
/// starts over) it moves on to the person after them, instead of resolving
/// to them and passing the step.
#[test]
fn escalating_by_hand_moves_next_past_the_asker() {
    let roster = roster();
    let p = policy(
        vec![
            step(Target::Nearest, &[Sms], 5),
            step(Target::Next, &[Sms], 5),
        ],
        1,
    );
    let walk = Walk {
        roster: &roster,
        project: "shop",
        policy: &p,
        at: DAY,
        offline: &[],
        client_reported: false,
    };
    check(
        &walk,
        &[
            ex(
                Start,
                0,
                &[("oc", &[Sms])],
                "step 1 of policy p: nearest",
                None,
                Some(5),
            ),
            ex(
                EscalateBy("oc"),
                1,
                &[("r1", &[Sms])],
                "step 2 of policy p: next (escalated by oc)",
                Some(Continued),
                Some(6),
            ),
            ex(
                EscalateBy("oc"),
                2,
                &[("r1", &[Sms])],
                "step 2 of policy p, repeat 1: next (escalated by oc)",
                Some(Repeated),
                Some(7),
            ),
            ex(EscalateBy("oc"), 3, &[], "", Some(Exhausted), None),
        ],
    );
}

#[test]
fn a_shrunken_policy_does_not_panic() {
    let roster = roster();
    let ctx_presence = marks(&[]);
    let ctx = RouteContext {
        roster: &roster,
        project: "shop",
        presence: &ctx_presence,
        client_reported: false,
        assignee: None,
        notify: &crate::escalation::targets::yaml_rules,
        overrides: &[],
    };
    let now = utc(DAY);
    let state = EscalationState {
        policy: "p".into(),
        step: 9,
        round: 0,
        paged: vec!["oc".into()],
        round_start: 5,
        next_at: Some(now),
    };
    let cases: &[(u32, Outcome, &[&str])] = &[(0, Exhausted, &[]), (1, Repeated, &["lead"])];
    for &(repeat, outcome, people) in cases {
        let p = policy(vec![step(Target::TeamLead, &[Sms], 5)], repeat);
        let (next, pages, got) = on_deadline(&p, &state, &ctx, now);
        let paged: Vec<&str> = pages.iter().map(|p| p.person.as_str()).collect();
        assert_eq!(
            (got, paged.as_slice()),
            (outcome, people),
            "repeat {repeat}"
        );
        assert_eq!(
            next.next_at.is_some(),
            outcome != Exhausted,
            "repeat {repeat}"
        );
    }
}

#[test]
fn state_round_trips_through_json() {
    let state = EscalationState {
        policy: "default".into(),
        step: 2,
        round: 1,
        paged: vec!["oc".into(), "r1".into(), "oc".into()],
        round_start: 2,
        next_at: Some(utc("2026-11-25T10:05:00Z")),
    };
    let json = serde_json::to_value(&state).expect("serializable");
    assert_eq!(
        json,
        serde_json::json!({
            "policy": "default", "step": 2, "round": 1, "paged": ["oc", "r1", "oc"],
            "round_start": 2, "next_at": "2026-11-25T10:05:00Z"
        })
    );
    let back: EscalationState = serde_json::from_value(json).expect("deserializable");
    assert_eq!(back, state);
    // Rows written without `round_start` read as the first round.
    let old: EscalationState = serde_json::from_str(
        r#"{"policy":"default","step":0,"round":0,"paged":["oc"],"next_at":null}"#,
    )
    .expect("deserializable");
    assert_eq!((old.round_start, old.next_at), (0, None));
}

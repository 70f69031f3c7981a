//! The nearest responder: proximity order, who is online, who is paged first.
//!
//! Owns SPEC rules 1, 3 and 4 of "Nearest responder" and the `next`
//! escalation target. Must not look up rosters, presence or schedules
//! itself: callers pass the order's ingredients and an `online_of` oracle.

use serde::Serialize;

use crate::routing::presence::{Online, Reason};

/// How the first page goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FirstPage {
    /// Someone is online: page through the policy's normal channels.
    Normal,
    /// Nobody is online: phone the picked person (the guide's "call the mobile numbers").
    PhoneCall,
}

/// One person in proximity order with their presence verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// Person id.
    pub person: String,
    /// Whether they count as online.
    pub online: bool,
    /// Why (serialized as a sentence).
    pub reason: Reason,
}

/// The explanation behind `tocsin route` and `GET /api/v1/route`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Everyone in proximity order, nearest first.
    pub candidates: Vec<Candidate>,
    /// The nearest responder; `None` only when the order is empty.
    pub picked: Option<String>,
    /// Normal when someone is online, a phone call when nobody is.
    pub first_page: FirstPage,
}

/// Proximity order: on-call person, then responders, then team members, then the lead;
/// duplicates removed, first occurrence kept.
pub fn proximity_order(
    on_call: Option<&str>,
    responders: &[String],
    team_members: &[String],
    lead: &str,
) -> Vec<String> {
    let all = on_call
        .into_iter()
        .chain(responders.iter().map(String::as_str))
        .chain(team_members.iter().map(String::as_str))
        .chain(std::iter::once(lead));
    let mut order: Vec<String> = Vec::new();
    for person in all {
        if !order.iter().any(|p| p == person) {
            order.push(person.to_string());
        }
    }
    order
}

/// Picks the first online person in `order`, or the first person by phone when nobody is online.
pub fn choose(order: &[String], online_of: impl Fn(&str) -> Online) -> Decision {
    let candidates: Vec<Candidate> = order
        .iter()
        .map(|person| {
            let Online { online, reason } = online_of(person);
            Candidate {
                person: person.clone(),
                online,
                reason,
            }
        })
        .collect();
    let first_online = candidates.iter().find(|c| c.online);
    let (picked, first_page) = match first_online {
        Some(c) => (Some(c.person.clone()), FirstPage::Normal),
        None => (order.first().cloned(), FirstPage::PhoneCall),
    };
    Decision {
        candidates,
        picked,
        first_page,
    }
}

/// The `next` escalation target: the first person in `order` not yet paged.
pub fn next_after(order: &[String], already_paged: &[String]) -> Option<String> {
    order.iter().find(|p| !already_paged.contains(p)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn proximity_order_follows_the_spec_and_dedups() {
        fn check(
            on_call: Option<&str>,
            responders: &[&str],
            team: &[&str],
            lead: &str,
            expected: &[&str],
        ) {
            let got = proximity_order(on_call, &names(responders), &names(team), lead);
            assert_eq!(
                got,
                names(expected),
                "{on_call:?} {responders:?} {team:?} {lead}"
            );
        }
        check(
            Some("oc"),
            &["r1", "r2"],
            &["m1", "m2"],
            "lead",
            &["oc", "r1", "r2", "m1", "m2", "lead"],
        );
        check(None, &["r1"], &["m1"], "lead", &["r1", "m1", "lead"]);
        check(
            Some("r2"),
            &["r1", "r2"],
            &["r2", "m1", "r1"],
            "r1",
            &["r2", "r1", "m1"],
        );
        check(Some("lead"), &[], &["lead", "m1"], "lead", &["lead", "m1"]);
        check(None, &["a", "a"], &[], "a", &["a"]);
        check(None, &[], &[], "lead", &["lead"]);
    }

    fn verdict(online: bool) -> Online {
        let reason = if online {
            Reason::InsideHours { tz: Berlin }
        } else {
            Reason::OutsideHours { tz: Berlin }
        };
        Online { online, reason }
    }

    fn check_choice(order: &[&str], online: &[&str], picked: Option<&str>, first_page: FirstPage) {
        let decision = choose(&names(order), |p| verdict(online.contains(&p)));
        assert_eq!(
            decision.picked.as_deref(),
            picked,
            "{order:?} online {online:?}"
        );
        assert_eq!(
            decision.first_page, first_page,
            "{order:?} online {online:?}"
        );
        let listed: Vec<(&str, bool)> = decision
            .candidates
            .iter()
            .map(|c| (c.person.as_str(), c.online))
            .collect();
        let expected: Vec<(&str, bool)> = order.iter().map(|p| (*p, online.contains(p))).collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn choice() {
        use FirstPage::*;
        let order = ["oc", "r1", "m1", "lead"];
        let cases: &[(&[&str], Option<&str>, FirstPage)] = &[
            // The on-call person, when online, is nearest.
            (&["oc", "r1", "m1", "lead"], Some("oc"), Normal),
            // Otherwise the first online responder, then team member, then lead.
            (&["r1", "lead"], Some("r1"), Normal),
            (&["m1", "lead"], Some("m1"), Normal),
            (&["lead"], Some("lead"), Normal),
            // Nobody online: first in order, by phone.
            (&[], Some("oc"), PhoneCall),
        ];
        for &(online, picked, page) in cases {
            check_choice(&order, online, picked, page);
        }
        check_choice(&[], &[], None, PhoneCall);
    }

    #[test]
    fn explicit_offline_during_hours_skips_the_person() {
        let order = names(&["oc", "r1"]);
        let until = chrono::DateTime::parse_from_rfc3339("2026-11-25T18:00:00Z")
            .expect("valid")
            .to_utc();
        let decision = choose(&order, |p| match p {
            "oc" => Online {
                online: false,
                reason: Reason::OfflineMark {
                    until,
                    tz: chrono_tz::Europe::Berlin,
                },
            },
            _ => verdict(true),
        });
        assert_eq!(decision.picked.as_deref(), Some("r1"));
        assert_eq!(decision.first_page, FirstPage::Normal);
        let json = serde_json::to_value(&decision).expect("serializable");
        assert_eq!(
            json,
            serde_json::json!({
                "candidates": [
                    {"person": "oc", "online": false, "reason": "presence mark offline until Wed 25 Nov 19:00 CET"},
                    {"person": "r1", "online": true, "reason": "inside working hours (Europe/Berlin)"}
                ],
                "picked": "r1",
                "first_page": "normal"
            })
        );
    }

    #[test]
    fn next_escalation_target() {
        let order = ["oc", "r1", "m1", "lead"];
        let cases: &[(&[&str], Option<&str>)] = &[
            (&[], Some("oc")),
            (&["oc"], Some("r1")),
            (&["r1"], Some("oc")),
            (&["oc", "r1", "stranger"], Some("m1")),
            (&["oc", "r1", "m1", "lead"], None),
        ];
        for &(paged, expected) in cases {
            assert_eq!(
                next_after(&names(&order), &names(paged)).as_deref(),
                expected,
                "paged {paged:?}"
            );
        }
    }
}

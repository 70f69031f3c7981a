//! Target resolution: which people a step's `notify` target means for one
//! project at one instant.
//!
//! Owns the mapping from the roster to routing's ingredients (proximity
//! order, presence oracle, rotations) and from a [`Target`] to person ids.
//! Must not decide channels or timing (see `policy`, `fallback`), store
//! presence marks, or read the clock: presence comes in as an oracle.

use chrono::{DateTime, Utc};

use crate::config::{Roster, Schedule, Target};
use crate::routing::{
    self, Decision, Online, Override, PresenceMark, Reason, Rotation, StoredOverride, choose,
    next_after, proximity_order,
};

/// What resolving a target needs besides the target: the roster, the
/// incident's project, the latest presence mark per person, and whether a
/// client reported the incident.
#[derive(Clone, Copy)]
pub struct RouteContext<'a> {
    /// The running configuration.
    pub roster: &'a Roster,
    /// The incident's project id.
    pub project: &'a str,
    /// The latest presence mark of a person, expired or not.
    pub presence: &'a dyn Fn(&str) -> Option<PresenceMark>,
    /// Whether a client (not monitoring) reported the incident; it only
    /// changes the wording of the first page's reason.
    pub client_reported: bool,
    /// The person the incident was handed to: `nearest` means them.
    pub assignee: Option<&'a str>,
    /// A person's notify ladder set over the API, overriding their YAML one.
    pub notify: &'a dyn Fn(&str) -> Option<Vec<crate::config::NotifyRule>>,
    /// The live on-call overrides stored in the database (any schedule).
    pub overrides: &'a [StoredOverride],
}

/// No ladder set over the API: every person's YAML `notify` holds.
pub fn yaml_rules(_: &str) -> Option<Vec<crate::config::NotifyRule>> {
    None
}

/// The routing rotation of a configured schedule: its YAML overrides and
/// the live `stored` ones merged (the most recently created wins). Every
/// door that shows or uses a schedule goes through here.
///
/// A stored override of someone `roster` no longer has (removed by a
/// reload) is passed over: the rotation's own person is on call, not nobody.
pub fn rotation(roster: &Roster, schedule: &Schedule, stored: &[StoredOverride]) -> Rotation {
    let known: Vec<StoredOverride>;
    let stored = if stored.iter().all(|o| roster.people.contains_key(&o.person)) {
        stored
    } else {
        known = stored
            .iter()
            .filter(|o| roster.people.contains_key(&o.person))
            .cloned()
            .collect();
        &known
    };
    let yaml: Vec<Override> = schedule
        .overrides
        .iter()
        .map(|o| Override {
            person: o.person.clone(),
            from: o.from,
            to: o.to,
        })
        .collect();
    Rotation {
        tz: schedule.timezone,
        members: schedule.members.clone(),
        handoff: schedule.handoff.clone(),
        start: schedule.start,
        overrides: routing::overrides::merge(&yaml, stored, &schedule.id),
    }
}

/// Who is on call in schedule `id` at `now`; `None` for an unknown schedule
/// or an uncovered instant.
fn on_call(ctx: &RouteContext<'_>, id: &str, now: DateTime<Utc>) -> Option<String> {
    let schedule = ctx.roster.schedules.get(id)?;
    rotation(ctx.roster, schedule, ctx.overrides)
        .on_call(now)
        .map(|shift| shift.person)
}

/// The project's proximity order at `now` (SPEC "Nearest responder" rule 1);
/// empty when the project is unknown (say, removed by a reload).
fn order(ctx: &RouteContext<'_>, now: DateTime<Utc>) -> Vec<String> {
    let Some(project) = ctx.roster.projects.get(ctx.project) else {
        return Vec::new();
    };
    let on_call = project
        .schedule
        .as_deref()
        .and_then(|s| on_call(ctx, s, now));
    let (members, lead) = match ctx.roster.teams.get(&project.team) {
        Some(team) => (team.members.as_slice(), team.lead.as_str()),
        None => (&[][..], ""),
    };
    let mut order = proximity_order(on_call.as_deref(), &project.responders, members, lead);
    order.retain(|p| !p.is_empty());
    order
}

/// Why someone stands where they do in a project's proximity order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "as", rename_all = "snake_case")]
pub enum Rank {
    /// On call in `schedule` until `until` (`by_override`: an override).
    OnCall {
        schedule: String,
        until: DateTime<Utc>,
        by_override: bool,
    },
    /// The project's responder number `n` (1: nearest).
    Responder {
        project: String,
        n: usize,
    },
    TeamMember {
        team: String,
    },
    TeamLead {
        team: String,
    },
}

/// Why `person` stands where they do in the project's proximity order at
/// `now`; `None` for someone not in it.
pub fn rank(ctx: &RouteContext<'_>, person: &str, now: DateTime<Utc>) -> Option<Rank> {
    let project = ctx.roster.projects.get(ctx.project)?;
    if let Some(s) = project.schedule.as_deref()
        && let Some(schedule) = ctx.roster.schedules.get(s)
        && let Some(shift) = rotation(ctx.roster, schedule, ctx.overrides).on_call(now)
        && shift.person == person
    {
        return Some(Rank::OnCall {
            schedule: schedule.id.clone(),
            until: shift.end,
            by_override: shift.is_override,
        });
    }
    if let Some(i) = project.responders.iter().position(|r| r == person) {
        return Some(Rank::Responder {
            project: project.id.clone(),
            n: i + 1,
        });
    }
    let team = ctx.roster.teams.get(&project.team)?;
    if team.lead == person {
        return Some(Rank::TeamLead {
            team: team.id.clone(),
        });
    }
    team.members
        .iter()
        .any(|m| m == person)
        .then(|| Rank::TeamMember {
            team: team.id.clone(),
        })
}

/// The nearest-responder decision for the context's project at `now`.
pub fn decision(ctx: &RouteContext<'_>, now: DateTime<Utc>) -> Decision {
    let order = order(ctx, now);
    choose(&order, |id| match ctx.roster.people.get(id) {
        Some(p) => routing::online(
            &p.working_hours,
            p.timezone,
            (ctx.presence)(id).as_ref(),
            now,
        ),
        // Unreachable with a validated roster; an unknown person is never online.
        None => Online {
            online: false,
            reason: Reason::OutsideHours {
                tz: ctx.roster.timezone,
            },
        },
    })
}

/// The people `target` means at `now`, in paging order, without duplicates.
/// `paged` is who was already paged in this round (for `next`); people the
/// roster does not know are left out.
pub fn resolve(
    target: &Target,
    ctx: &RouteContext<'_>,
    paged: &[String],
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut people: Vec<String> = match target {
        Target::Nearest => match ctx.assignee {
            Some(a) => vec![a.to_string()],
            None => decision(ctx, now).picked.into_iter().collect(),
        },
        Target::Next => next_after(&order(ctx, now), paged).into_iter().collect(),
        Target::Team => team(ctx, now),
        Target::TeamLead => team_lead(ctx).into_iter().collect(),
        Target::Person(id) => vec![id.clone()],
        Target::Schedule(id) => on_call(ctx, id, now).into_iter().collect(),
    };
    people.retain(|p| ctx.roster.people.contains_key(p));
    people
}

/// The project team's members and lead, in proximity order.
fn team(ctx: &RouteContext<'_>, now: DateTime<Utc>) -> Vec<String> {
    let Some(team) = ctx
        .roster
        .projects
        .get(ctx.project)
        .and_then(|p| ctx.roster.teams.get(&p.team))
    else {
        return Vec::new();
    };
    let mut order = order(ctx, now);
    order.retain(|p| *p == team.lead || team.members.contains(p));
    order
}

fn team_lead(ctx: &RouteContext<'_>) -> Option<String> {
    let project = ctx.roster.projects.get(ctx.project)?;
    Some(ctx.roster.teams.get(&project.team)?.lead.clone())
}

/// A target as written in YAML: `nearest`, `next`, `team`, `team_lead`,
/// `person:<id>`, `schedule:<id>`.
pub fn label(target: &Target) -> String {
    match target {
        Target::Nearest => "nearest".into(),
        Target::Next => "next".into(),
        Target::Team => "team".into(),
        Target::TeamLead => "team_lead".into(),
        Target::Person(id) => format!("person:{id}"),
        Target::Schedule(id) => format!("schedule:{id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::fixture::{DAY, NIGHT, marks, roster, utc};
    use crate::routing::{FirstPage, Status};

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// Resolves `target` for `project` at `at` with `offline` people marked offline.
    fn check(
        project: &str,
        target: Target,
        paged: &[&str],
        at: &str,
        offline: &[&str],
        expected: &[&str],
    ) {
        let roster = roster();
        let list: Vec<_> = offline
            .iter()
            .map(|p| (*p, Status::Offline, "2030-01-01T00:00:00Z"))
            .collect();
        let presence = marks(&list);
        let ctx = RouteContext {
            roster: &roster,
            project,
            presence: &presence,
            client_reported: false,
            assignee: None,
            notify: &yaml_rules,
            overrides: &[],
        };
        let got = resolve(&target, &ctx, &names(paged), utc(at));
        assert_eq!(
            got,
            names(expected),
            "{} for {project} at {at}, paged {paged:?}, offline {offline:?}",
            label(&target)
        );
    }

    #[test]
    fn each_target_kind() {
        use Target::*;
        let s = |x: &str| x.to_string();
        type Case<'a> = (
            &'a str,
            Target,
            &'a [&'a str],
            &'a str,
            &'a [&'a str],
            &'a [&'a str],
        );
        let cases: Vec<Case> = vec![
            // nearest: the on-call person when online.
            ("shop", Nearest, &[], DAY, &[], &["oc"]),
            // ...else the first online in proximity order.
            ("shop", Nearest, &[], DAY, &["oc"], &["r1"]),
            (
                "shop",
                Nearest,
                &[],
                DAY,
                &["oc", "r1", "m1", "m2"],
                &["lead"],
            ),
            // Nobody online: the first in order.
            ("shop", Nearest, &[], NIGHT, &[], &["oc"]),
            // No schedule: responders come first.
            ("blog", Nearest, &[], DAY, &[], &["m2"]),
            // next: first not yet paged, regardless of presence.
            ("shop", Next, &[], DAY, &[], &["oc"]),
            ("shop", Next, &["oc"], DAY, &[], &["r1"]),
            ("shop", Next, &["r1"], DAY, &[], &["oc"]),
            ("shop", Next, &["oc", "r1", "m1"], NIGHT, &[], &["m2"]),
            (
                "shop",
                Next,
                &["oc", "r1", "m1", "m2", "lead"],
                DAY,
                &[],
                &[],
            ),
            // team: members and lead in proximity order.
            (
                "shop",
                Team,
                &[],
                DAY,
                &[],
                &["oc", "r1", "m1", "m2", "lead"],
            ),
            (
                "blog",
                Team,
                &[],
                DAY,
                &[],
                &["m2", "m1", "oc", "r1", "lead"],
            ),
            ("shop", TeamLead, &[], NIGHT, &[], &["lead"]),
            ("shop", Person(s("ext")), &[], DAY, &[], &["ext"]),
            ("shop", Person(s("ghost")), &[], DAY, &[], &[]),
            // schedule: the rotation, or an override during its interval.
            ("shop", Schedule(s("night")), &[], DAY, &[], &["ext"]),
            (
                "shop",
                Schedule(s("night")),
                &[],
                "2026-11-25T11:30:00Z",
                &[],
                &["lead"],
            ),
            (
                "shop",
                Schedule(s("night")),
                &[],
                "2026-11-30T09:00:00Z",
                &[],
                &["m2"],
            ),
            // Before the rotation starts nobody is on call.
            (
                "shop",
                Schedule(s("night")),
                &[],
                "2026-11-01T09:00:00Z",
                &[],
                &[],
            ),
            ("shop", Schedule(s("primary")), &[], NIGHT, &[], &["oc"]),
            // An unknown project resolves relative targets to nobody.
            ("gone", Nearest, &[], DAY, &[], &[]),
            ("gone", Team, &[], DAY, &[], &[]),
            ("gone", TeamLead, &[], DAY, &[], &[]),
            ("gone", Person(s("r1")), &[], DAY, &[], &["r1"]),
        ];
        for (project, target, paged, at, offline, expected) in cases {
            check(project, target, paged, at, offline, expected);
        }
    }

    #[test]
    fn decision_explains_the_pick() {
        let roster = roster();
        let presence = marks(&[("m1", Status::Online, "2026-11-25T23:00:00Z")]);
        let ctx = RouteContext {
            roster: &roster,
            project: "shop",
            presence: &presence,
            client_reported: true,
            assignee: None,
            notify: &yaml_rules,
            overrides: &[],
        };
        let cases: &[(&str, Option<&str>, FirstPage)] = &[
            (DAY, Some("oc"), FirstPage::Normal),
            // At night only m1's online mark counts.
            (NIGHT, Some("m1"), FirstPage::Normal),
            // After the mark expires, nobody: first in order, by phone.
            ("2026-11-25T23:00:00Z", Some("oc"), FirstPage::PhoneCall),
        ];
        for &(at, picked, first_page) in cases {
            let d = decision(&ctx, utc(at));
            assert_eq!(
                (d.picked.as_deref(), d.first_page),
                (picked, first_page),
                "at {at}"
            );
            let order: Vec<&str> = d.candidates.iter().map(|c| c.person.as_str()).collect();
            assert_eq!(order, ["oc", "r1", "m1", "m2", "lead"], "at {at}");
        }
    }

    #[test]
    fn labels_match_the_yaml() {
        let cases = [
            (Target::Nearest, "nearest"),
            (Target::Next, "next"),
            (Target::Team, "team"),
            (Target::TeamLead, "team_lead"),
            (Target::Person("ann".into()), "person:ann"),
            (Target::Schedule("pri".into()), "schedule:pri"),
        ];
        for (target, expected) in cases {
            assert_eq!(label(&target), expected);
        }
    }
}

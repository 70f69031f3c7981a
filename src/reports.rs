//! Reports: the figures of `GET /api/v1/reports` and `tocsin report`, per
//! project, client, team or person, from the rows the store reads in one
//! query (`Rows`). Owns the range rules, the grouping, the percentiles
//! (nearest rank) and what counts as a night wake-up (a page sent outside
//! the person's working hours, in their own zone, by `routing::hours`).
//! Invariant: pure — no SQL, no HTTP, no clock; `as_of` is a parameter.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use crate::config::Roster;

/// The longest range a report covers.
pub const MAX_RANGE_DAYS: i64 = 366;
/// The range when none is given: the last 30 days.
pub const DEFAULT_DAYS: i64 = 30;

/// What the figures are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Project,
    Client,
    Team,
    Person,
}

impl By {
    pub fn as_str(self) -> &'static str {
        match self {
            By::Project => "project",
            By::Client => "client",
            By::Team => "team",
            By::Person => "person",
        }
    }
}

impl FromStr for By {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "project" => Ok(By::Project),
            "client" => Ok(By::Client),
            "team" => Ok(By::Team),
            "person" => Ok(By::Person),
            _ => Err(format!("{s:?} is not one of project, client, team, person")),
        }
    }
}

/// The half-open range `[from, to)` a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Range {
    /// The range asked for, defaults filled in from `now` (`to`: now;
    /// `from`: 30 days before `to`). Err: the field at fault and why.
    pub fn new(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Range, (&'static str, String)> {
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - Duration::days(DEFAULT_DAYS));
        if to <= from {
            return Err(("to", "must be after from".into()));
        }
        if to - from > Duration::days(MAX_RANGE_DAYS) {
            return Err(("to", format!("at most {MAX_RANGE_DAYS} days after from")));
        }
        Ok(Range { from, to })
    }

    /// The instant open items are counted at: the end of the range, or now
    /// if the range runs on into the future.
    pub fn as_of(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.to.min(now)
    }
}

/// An incident opened (arrived) in the range.
#[derive(Debug, Clone)]
pub struct IncidentRow {
    pub project: String,
    pub client: String,
    pub assignee: Option<String>,
    /// The alert's own start.
    pub started_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A page sent (or bundled into one sent) in the range.
#[derive(Debug, Clone)]
pub struct PageRow {
    pub project: Option<String>,
    pub client: Option<String>,
    pub person: Option<String>,
    pub channel: String,
    pub sent_at: DateTime<Utc>,
}

/// A postmortem due in the range.
#[derive(Debug, Clone)]
pub struct PostmortemRow {
    pub project: String,
    pub client: String,
    pub author: String,
    pub due_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
}

/// An action item open at `as_of`.
#[derive(Debug, Clone)]
pub struct ActionRow {
    pub project: String,
    pub client: String,
    pub assignee: String,
    pub deadline: DateTime<Utc>,
}

/// What the store reads for one report.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub incidents: Vec<IncidentRow>,
    pub pages: Vec<PageRow>,
    pub postmortems: Vec<PostmortemRow>,
    pub actions: Vec<ActionRow>,
}

/// p50 and p90 of a duration, in seconds; `None` with no sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spread {
    pub p50: Option<i64>,
    pub p90: Option<i64>,
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Group {
    pub key: String,
    pub incidents: u64,
    pub acknowledged: u64,
    pub resolved: u64,
    pub mtta: Spread,
    pub mttr: Spread,
    /// Pages by channel.
    pub pages: BTreeMap<String, u64>,
    pub night_pages: u64,
    pub postmortems_due: u64,
    pub postmortems_overdue: u64,
    pub actions_open: u64,
    pub actions_overdue: u64,
}

/// The key of rows that name no group (a page to no person, a project no
/// longer in the roster when grouping by team).
const NONE: &str = "-";

/// The `p`th percentile (nearest rank) of `sorted`, ascending.
pub fn percentile(sorted: &[i64], p: u64) -> Option<i64> {
    let n = sorted.len() as u64;
    if n == 0 {
        return None;
    }
    let rank = (p * n).div_ceil(100).max(1);
    sorted.get((rank - 1) as usize).copied()
}

fn spread(mut samples: Vec<i64>) -> Spread {
    samples.sort_unstable();
    Spread {
        p50: percentile(&samples, 50),
        p90: percentile(&samples, 90),
    }
}

/// MTTA and MTTR over every incident of `rows`, whatever its group.
pub fn overall(rows: &Rows) -> (Spread, Spread) {
    let since = |i: &IncidentRow, at: DateTime<Utc>| (at - i.started_at).num_seconds().max(0);
    let acks = rows
        .incidents
        .iter()
        .filter_map(|i| Some(since(i, i.acknowledged_at?)));
    let fixes = rows
        .incidents
        .iter()
        .filter_map(|i| Some(since(i, i.resolved_at?)));
    (spread(acks.collect()), spread(fixes.collect()))
}

/// Whether a page sent at `at` to `person` woke them: outside their working
/// hours in their own zone. Unknown people are not counted.
pub fn night(roster: &Roster, person: &str, at: DateTime<Utc>) -> bool {
    roster
        .people
        .get(person)
        .is_some_and(|p| !p.working_hours.contains(p.timezone, at))
}

/// The group a project's row belongs to (`person` is the row's person).
fn key(roster: &Roster, by: By, project: &str, client: &str, person: Option<&str>) -> String {
    let k = match by {
        By::Project => Some(project),
        By::Client => Some(client),
        By::Team => roster.projects.get(project).map(|p| p.team.as_str()),
        By::Person => person,
    };
    k.unwrap_or(NONE).to_string()
}

fn group(groups: &mut BTreeMap<String, Group>, k: String) -> &mut Group {
    groups.entry(k.clone()).or_insert_with(|| Group {
        key: k,
        ..Group::default()
    })
}

/// The figures of each group, by key.
pub fn build(rows: &Rows, by: By, roster: &Roster, as_of: DateTime<Utc>) -> Vec<Group> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut times: BTreeMap<String, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    for i in &rows.incidents {
        let k = key(roster, by, &i.project, &i.client, i.assignee.as_deref());
        if by == By::Person && i.assignee.is_none() {
            continue;
        }
        let g = group(&mut groups, k.clone());
        g.incidents += 1;
        g.acknowledged += u64::from(i.acknowledged_at.is_some());
        g.resolved += u64::from(i.resolved_at.is_some());
        let t = times.entry(k).or_default();
        let since = |at: DateTime<Utc>| (at - i.started_at).num_seconds().max(0);
        t.0.extend(i.acknowledged_at.map(since));
        t.1.extend(i.resolved_at.map(since));
    }
    for p in &rows.pages {
        let (project, client) = (p.project.as_deref(), p.client.as_deref());
        let k = key(
            roster,
            by,
            project.unwrap_or(NONE),
            client.unwrap_or(NONE),
            p.person.as_deref(),
        );
        let woke = p
            .person
            .as_deref()
            .is_some_and(|who| night(roster, who, p.sent_at));
        let g = group(&mut groups, k);
        *g.pages.entry(p.channel.clone()).or_default() += 1;
        g.night_pages += u64::from(woke);
    }
    for pm in &rows.postmortems {
        let g = group(
            &mut groups,
            key(roster, by, &pm.project, &pm.client, Some(&pm.author)),
        );
        g.postmortems_due += 1;
        let late = pm.due_at < as_of && pm.approved_at.is_none_or(|a| a > pm.due_at);
        g.postmortems_overdue += u64::from(late);
    }
    for a in &rows.actions {
        let g = group(
            &mut groups,
            key(roster, by, &a.project, &a.client, Some(&a.assignee)),
        );
        g.actions_open += 1;
        g.actions_overdue += u64::from(a.deadline < as_of);
    }
    for (k, (acks, fixes)) in times {
        if let Some(g) = groups.get_mut(&k) {
            g.mtta = spread(acks);
            g.mttr = spread(fixes);
        }
    }
    groups.into_values().collect()
}

#[cfg(test)]
#[path = "reports_tests.rs"]
mod tests;

//! A one-off window as people ask for it (the API's JSON, the web form):
//! the scope, label matchers, times as typed, a reason. Parsed and checked
//! into a [`NewWindow`] in one place for every door. Also the list every
//! door shows: the configured windows' current or next occurrence, then the
//! stored ones. Pure: `now` is a parameter.

use chrono::{DateTime, Utc};

use super::{Invalid, NewWindow, Window, check, configured, occurrence};
use crate::config::{ClientReports, Roster, Scope};
use crate::duration::Span;
use crate::ingest::matcher::Matcher;

/// Longest `reason`, in characters.
pub const REASON_MAX: usize = 500;
/// Most label matchers on one window.
pub const MATCHERS_MAX: usize = 20;

/// A window as asked for; each field as typed.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub project: Option<String>,
    pub client: Option<String>,
    pub integration: Option<String>,
    pub matchers: Vec<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// A duration from `from` (`2h`), instead of `to`.
    pub duration: Option<String>,
    pub reason: Option<String>,
    pub client_reports: Option<String>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        reason: reason.into(),
    }
}

fn scope(r: &Request) -> Result<Scope, Invalid> {
    match (&r.project, &r.client, &r.integration) {
        (Some(p), None, None) => Ok(Scope::Project(p.clone())),
        (None, Some(c), None) => Ok(Scope::Client(c.clone())),
        (None, None, Some(i)) => Ok(Scope::Integration(i.clone())),
        (None, None, None) => Err(invalid(
            "project",
            "give the window's scope: project, client or integration",
        )),
        _ => Err(invalid(
            "project",
            "give one of project, client or integration, not several",
        )),
    }
}

fn time(tz: chrono_tz::Tz, field: &'static str, s: &str) -> Result<DateTime<Utc>, Invalid> {
    crate::when::parse(s, tz).map_err(|e| invalid(field, e))
}

/// The request as a window by `by`, or the first bad field. A time without
/// an offset is read in `tz`: the configuration's zone for the API and the
/// CLI, the viewer's on the web page (which shows times in it).
pub fn parse(
    roster: &Roster,
    r: &Request,
    by: &str,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> Result<NewWindow, Invalid> {
    let scope = scope(r)?;
    if r.matchers.len() > MATCHERS_MAX {
        return Err(invalid("matchers", format!("at most {MATCHERS_MAX}")));
    }
    let matchers = r
        .matchers
        .iter()
        .map(|m| Matcher::parse(m).map_err(|e| invalid("matchers", e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let from = match &r.from {
        Some(s) => time(tz, "from", s)?,
        None => now,
    };
    let to = match (&r.to, &r.duration) {
        (Some(s), None) => time(tz, "to", s)?,
        (None, Some(d)) => from + Span::parse(d).map_err(|e| invalid("for", e))?.to_chrono(),
        (Some(_), Some(_)) => return Err(invalid("to", "give to or for, not both")),
        (None, None) => return Err(invalid("to", "required (or for, a duration)")),
    };
    let reason = r.reason.as_deref().map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        return Err(invalid("reason", "required: say why pages are held"));
    }
    if reason.chars().count() > REASON_MAX {
        return Err(invalid(
            "reason",
            format!("longer than {REASON_MAX} characters"),
        ));
    }
    let client_reports = match &r.client_reports {
        Some(c) => c
            .parse::<ClientReports>()
            .map_err(|e| invalid("client_reports", e))?,
        None => ClientReports::Page,
    };
    let w = NewWindow {
        scope,
        matchers,
        from,
        to,
        reason: reason.to_string(),
        client_reports,
        created_by: by.to_string(),
    };
    // An end worked out from `for` is refused as `for`: that is what was given.
    check(roster, &w, now).map_err(|e| match (&r.duration, e.field) {
        (Some(_), "to") => Invalid { field: "for", ..e },
        _ => e,
    })?;
    Ok(w)
}

/// Every window to show at `now`: each configured one's current (else
/// next) occurrence, then the stored ones as given.
pub fn listed(roster: &Roster, stored: Vec<Window>, now: DateTime<Utc>) -> Vec<Window> {
    let mut all: Vec<Window> = roster
        .maintenance
        .values()
        .filter_map(|m| {
            let (from, to) = occurrence(m, now).or_else(|| {
                let from = m.cron.next_after(m.timezone, now)?;
                Some((from, from + m.duration.to_chrono()))
            })?;
            Some(configured(m, from, to))
        })
        .collect();
    all.extend(stored);
    all
}

/// The scope as (kind, id): `("project", "shop")`.
pub fn scope_parts(scope: &Scope) -> (&'static str, &str) {
    match scope {
        Scope::Project(p) => ("project", p),
        Scope::Client(c) => ("client", c),
        Scope::Integration(i) => ("integration", i),
    }
}

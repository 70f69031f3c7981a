//! Validation of the `maintenance:` section: recurring windows (cron +
//! duration in a zone) over a project, a client or an integration,
//! optionally narrowed by label matchers. Checked after the roster's other
//! sections, whose ids it references.

use serde_saphyr::Spanned;

use super::context::Ctx;
use super::model::{ClientReports, Maintenance, Roster, Scope};
use super::raw;
use super::validate::{required, span, tz, valid_id};
use crate::duration::Span;
use crate::ingest::matcher::Matcher;
use crate::routing::Handoff;

/// Adds every valid window of `windows` to `r.maintenance`, reporting the rest.
pub fn windows(ctx: &mut Ctx<'_>, windows: &[Spanned<raw::Maintenance>], r: &mut Roster) {
    for w in windows {
        let id = &w.value.id;
        if !valid_id(&id.value) {
            ctx.err(
                id,
                format!(
                    "maintenance id {:?}: lower-case letters, digits, - _ . (at most 64)",
                    id.value
                ),
            );
            continue;
        }
        if r.maintenance.contains_key(&id.value) {
            ctx.err(id, format!("duplicate maintenance id {:?}", id.value));
            continue;
        }
        if let Some(m) = window(ctx, w, r) {
            r.maintenance.insert(m.id.clone(), m);
        }
    }
}

fn window(ctx: &mut Ctx<'_>, w: &Spanned<raw::Maintenance>, r: &Roster) -> Option<Maintenance> {
    let v = &w.value;
    let owner = format!("maintenance {:?}", v.id.value);
    let scope = scope(ctx, w, &owner, r);
    let mut matchers = Vec::new();
    let mut ok = true;
    for m in &v.matchers {
        match Matcher::parse(&m.value) {
            Ok(x) => matchers.push(x),
            Err(e) => {
                ctx.err(m, format!("{owner} matcher: {e}"));
                ok = false;
            }
        }
    }
    let cron = required(ctx, w, &owner, "cron", v.cron.as_ref()).and_then(|c| {
        Handoff::parse(&c.value)
            .map_err(|e| ctx.err(c, format!("{owner} cron: {e}")))
            .ok()
    });
    let duration = required(ctx, w, &owner, "duration", v.duration.as_ref()).and_then(|d| {
        let max = r.limits.maintenance_max;
        let s = span(ctx, &format!("{owner} duration"), Some(d), max);
        if s.to_chrono() > max.to_chrono() {
            ctx.err(
                d,
                format!("{owner} duration {s} is longer than limits.maintenance_max ({max})"),
            );
            return None;
        }
        Some(s)
    });
    let timezone = match &v.timezone {
        Some(s) => tz(ctx, s)?,
        None => r.timezone,
    };
    let client_reports = match &v.client_reports {
        Some(c) => match c.value.parse::<ClientReports>() {
            Ok(x) => x,
            Err(e) => {
                ctx.err(c, format!("{owner} client_reports: {e}"));
                return None;
            }
        },
        None => ClientReports::Page,
    };
    let reason = ctx
        .opt_text(v.reason.as_ref())
        .unwrap_or_else(|| "maintenance".to_string());
    let window = Maintenance {
        id: v.id.value.clone(),
        scope: scope?,
        matchers,
        cron: cron?,
        timezone,
        duration: duration?,
        reason,
        client_reports,
    };
    ok.then_some(window)
}

/// Exactly one of project, client and integration, naming a known one.
fn scope(
    ctx: &mut Ctx<'_>,
    w: &Spanned<raw::Maintenance>,
    owner: &str,
    r: &Roster,
) -> Option<Scope> {
    let v = &w.value;
    let given: Vec<(&raw::S, &str)> = [
        (v.project.as_ref(), "project"),
        (v.client.as_ref(), "client"),
        (v.integration.as_ref(), "integration"),
    ]
    .into_iter()
    .filter_map(|(s, k)| s.map(|s| (s, k)))
    .collect();
    let (s, kind) = match given.as_slice() {
        [one] => *one,
        [] => {
            ctx.err(
                w,
                format!("{owner} needs one of project, client or integration"),
            );
            return None;
        }
        [_, (second, _), ..] => {
            ctx.err(
                *second,
                format!("{owner}: give one of project, client or integration, not several"),
            );
            return None;
        }
    };
    let known = match kind {
        "project" => r.projects.contains_key(&s.value),
        "client" => r.clients.contains_key(&s.value),
        _ => r.integrations.contains_key(&s.value),
    };
    if !known {
        ctx.err(s, format!("{owner} names unknown {kind} {:?}", s.value));
        return None;
    }
    let id = s.value.clone();
    Some(match kind {
        "project" => Scope::Project(id),
        "client" => Scope::Client(id),
        _ => Scope::Integration(id),
    })
}

/// The default of `limits.maintenance_max`.
pub const DEFAULT_MAX: Span = Span::from_secs(7 * 86_400);

#[cfg(test)]
mod tests {
    fn check(section: &str, expected: Result<(), &str>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tocsin.yaml");
        let yaml = format!(
            "{}\nmaintenance:\n{section}",
            crate::escalation::fixture::ROSTER
        );
        std::fs::write(&path, yaml).expect("write");
        match (crate::config::load_with_env(&path, &|_| None), expected) {
            (Ok(r), Ok(())) => assert_eq!(r.maintenance.len(), 1, "{section}"),
            (Err(e), Err(want)) => {
                let all = e.to_string();
                assert!(all.contains(want), "{section}: {all}");
            }
            (Ok(_), Err(want)) => panic!("{section}: accepted, expected {want:?}"),
            (Err(e), Ok(())) => panic!("{section}: {e}"),
        }
    }

    #[test]
    fn windows_are_checked() {
        let ok = "  - {id: backup, project: shop, cron: \"0 2 * * *\", duration: 1h}";
        check(ok, Ok(()));
        for (section, error) in [
            (
                "  - {id: b, cron: \"0 2 * * *\", duration: 1h}",
                "needs one of project, client or integration",
            ),
            (
                "  - {id: b, project: shop, client: acme, cron: \"0 2 * * *\", duration: 1h}",
                "not several",
            ),
            (
                "  - {id: b, project: moon, cron: \"0 2 * * *\", duration: 1h}",
                "unknown project \"moon\"",
            ),
            (
                "  - {id: b, project: shop, cron: \"0 25 * * *\", duration: 1h}",
                "cron",
            ),
            (
                "  - {id: b, project: shop, cron: \"0 2 * * *\", duration: 8d}",
                "longer than limits.maintenance_max",
            ),
            (
                "  - {id: b, project: shop, cron: \"0 2 * * *\"}",
                "missing duration",
            ),
            (
                "  - {id: b, project: shop, cron: \"0 2 * * *\", duration: 1h, matchers: [\"job\"]}",
                "matcher",
            ),
            (
                "  - {id: b, project: shop, cron: \"0 2 * * *\", duration: 1h, client_reports: drop}",
                "not page or hold",
            ),
            (
                "  - {id: b, project: shop, cron: \"0 2 * * *\", duration: 1h, timezone: Mars/Base}",
                "unknown time zone",
            ),
            (
                "  - {id: b, project: shop, cron: \"0 2 * * *\", duration: 1h}\n  - {id: b, client: acme, cron: \"0 3 * * *\", duration: 1h}",
                "duplicate maintenance id \"b\"",
            ),
            (
                "  - {id: \"Nightly Backup\", project: shop, cron: \"0 2 * * *\", duration: 1h}",
                "maintenance id",
            ),
        ] {
            check(section, Err(error));
        }
    }
}

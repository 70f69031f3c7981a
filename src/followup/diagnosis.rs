//! The guide's step 2, the initial diagnosis, as every door takes it: the
//! field rules ([`check`]) and recording it with its reminders
//! ([`diagnose`]). The JSON API and the web UI both call these.

use super::reminders;
use crate::escalation::paging::Ctx;
use crate::incident::apply::{self, ActError};
use crate::incident::{Actor, Diagnosis, Incident, Repo};
use crate::limits::{self, Cap};

/// A diagnosis as a person sent it, before its checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    pub layer: Option<String>,
    pub reproducible: Option<bool>,
    pub serious: Option<bool>,
    pub serious_reason: Option<String>,
    pub severity: Option<String>,
    pub provider_ticket: Option<String>,
}

/// Which field is wrong and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

fn bad(field: &'static str, reason: impl Into<String>) -> FieldError {
    FieldError {
        field,
        reason: reason.into(),
    }
}

/// A text field, trimmed; present but blank, or over `cap`, is refused.
fn text(field: &'static str, v: Option<String>, cap: Cap) -> Result<Option<String>, FieldError> {
    match v.map(|s| s.trim().to_string()) {
        Some(s) if s.is_empty() => Err(bad(field, "must not be empty")),
        Some(s) => cap.check(&s).map(|()| Some(s)).map_err(|r| bad(field, r)),
        None => Ok(None),
    }
}

/// The diagnosis to record, or the first wrong field: at least one field,
/// a known layer and severity, and a reason with `serious: true`.
pub fn check(s: Sent) -> Result<Diagnosis, FieldError> {
    let d =
        Diagnosis {
            layer: s
                .layer
                .map(|l| l.parse())
                .transpose()
                .map_err(|e: String| bad("layer", e))?,
            reproducible: s.reproducible,
            serious: s.serious,
            serious_reason: text("serious_reason", s.serious_reason, limits::REASON)?,
            severity: s.severity.map(|v| v.parse()).transpose().map_err(
                |e: crate::ingest::alert::UnknownSeverity| bad("severity", e.to_string()),
            )?,
            provider_ticket: text(
                "provider_ticket",
                s.provider_ticket,
                limits::PROVIDER_TICKET,
            )?,
        };
    let empty = d.layer.is_none()
        && d.reproducible.is_none()
        && d.serious.is_none()
        && d.serious_reason.is_none()
        && d.severity.is_none()
        && d.provider_ticket.is_none();
    if empty {
        return Err(bad(
            "body",
            "give at least one of layer, reproducible, serious, serious_reason, severity, provider_ticket",
        ));
    }
    if d.serious == Some(true) && d.serious_reason.is_none() {
        return Err(bad(
            "serious_reason",
            "required with serious: true (long outage, data loss, reputational, ...)",
        ));
    }
    Ok(d)
}

/// Records the diagnosis, then arms or cancels the first-response reminders.
pub fn diagnose(
    repo: &mut dyn Repo,
    ctx: &Ctx<'_>,
    id: i64,
    d: &Diagnosis,
    actor: &Actor,
) -> Result<Incident, ActError> {
    let before = repo.get(id)?;
    apply::diagnose(repo, id, d, actor, ctx.now)?;
    reminders::after_diagnosis(repo, ctx, &before, d)?;
    Ok(repo.get(id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_table() {
        fn check_one(s: Sent, expected: Result<(), &str>) {
            let got = check(s.clone()).map(|_| ()).map_err(|e| e.field);
            assert_eq!(got, expected, "{s:?}");
        }
        let serious = |reason: Option<&str>| Sent {
            serious: Some(true),
            serious_reason: reason.map(str::to_string),
            ..Sent::default()
        };
        check_one(Sent::default(), Err("body"));
        check_one(
            Sent {
                layer: Some("third_party".into()),
                ..Sent::default()
            },
            Ok(()),
        );
        check_one(
            Sent {
                layer: Some("moon".into()),
                ..Sent::default()
            },
            Err("layer"),
        );
        check_one(
            Sent {
                severity: Some("meh".into()),
                ..Sent::default()
            },
            Err("severity"),
        );
        check_one(serious(None), Err("serious_reason"));
        check_one(serious(Some("  ")), Err("serious_reason"));
        check_one(serious(Some("data loss")), Ok(()));
        check_one(
            Sent {
                provider_ticket: Some("x".repeat(201)),
                ..Sent::default()
            },
            Err("provider_ticket"),
        );
    }
}

//! Self-service: a person's presence mark ("I'm online for 2h") and notify
//! ladder, set by themselves, their team lead or an admin. What a valid
//! mark or ladder is and who may set it; the doors (JSON API, web UI) store
//! the result. Pure: `now` is a parameter; knows no HTTP or SQL.

use chrono::{DateTime, Utc};

use crate::config::{MAX_NOTIFY_RULES, NotifyRule, Person, Roster};
use crate::duration::Span;
use crate::routing::{PresenceMark, Status};

/// Why a mark or a ladder was refused; nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelfError {
    /// Bad input, naming the field.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("{0}")]
    Forbidden(String),
    /// An unknown person (what, e.g. `person "bob"`).
    #[error("{0} not found")]
    NotFound(String),
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SelfError {
    SelfError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// May `caller` set `target`'s presence and notify rules? Themselves, an
/// admin, or the lead of a team `target` belongs to.
pub fn may_set(roster: &Roster, caller: &str, target: &str) -> bool {
    caller == target
        || roster.is_admin(caller)
        || roster
            .teams
            .values()
            .any(|t| t.lead == caller && t.members.iter().any(|m| m == target))
}

/// `target` as a person `caller` may manage; `what` words the refusal
/// ("set the presence of bob").
pub fn target<'r>(
    roster: &'r Roster,
    caller: &str,
    target: &str,
    what: &str,
) -> Result<&'r Person, SelfError> {
    let p = roster
        .people
        .get(target)
        .ok_or_else(|| SelfError::NotFound(format!("person {target:?}")))?;
    if !may_set(roster, caller, target) {
        return Err(SelfError::Forbidden(format!(
            "{caller} may not {what} (only themselves, their team lead or an admin)"
        )));
    }
    Ok(p)
}

/// A presence mark from `status` (online|offline) and an optional `ttl`
/// (`2h`; none: until cleared), no longer than `limits.presence_max_ttl`.
pub fn mark(
    roster: &Roster,
    status: Option<&str>,
    ttl: Option<&str>,
    now: DateTime<Utc>,
) -> Result<PresenceMark, SelfError> {
    let status = match status {
        Some("online") => Status::Online,
        Some("offline") => Status::Offline,
        Some(other) => {
            return Err(invalid(
                "status",
                format!("{other:?} is not online or offline"),
            ));
        }
        None => return Err(invalid("status", "required: online or offline")),
    };
    let until = match ttl {
        None => PresenceMark::until_cleared(),
        Some(text) => {
            let ttl = Span::parse(text).map_err(|e| invalid("ttl", e))?;
            let max = roster.limits.presence_max_ttl;
            if ttl > max {
                return Err(invalid(
                    "ttl",
                    format!("{ttl} is longer than the maximum {max} (limits.presence_max_ttl)"),
                ));
            }
            now + ttl.to_chrono()
        }
    };
    Ok(PresenceMark { status, until })
}

/// A notify ladder for `person`: 1 to [`MAX_NOTIFY_RULES`] rungs of
/// (channels, after), each checked by [`NotifyRule::parse`]; an error names
/// `rules[i].key`.
pub fn ladder(
    person: &Person,
    rungs: &[(Vec<String>, Option<String>)],
) -> Result<Vec<NotifyRule>, SelfError> {
    if rungs.is_empty() || rungs.len() > MAX_NOTIFY_RULES {
        return Err(invalid(
            "rules",
            format!("give 1 to {MAX_NOTIFY_RULES} rules"),
        ));
    }
    let rules = rungs
        .iter()
        .enumerate()
        .map(|(i, (via, after))| {
            NotifyRule::parse(person, via, after.as_deref())
                .map_err(|(key, why)| invalid(format!("rules[{i}].{key}"), why))
        })
        .collect::<Result<Vec<_>, _>>()?;
    NotifyRule::check_ladder(&rules)
        .map_err(|(i, why)| invalid(format!("rules[{i}].after"), why))?;
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::fixture::{DAY, roster, utc};

    #[test]
    fn who_may_set_whose() {
        let r = roster();
        fn check(r: &Roster, caller: &str, target: &str, ok: bool) {
            assert_eq!(may_set(r, caller, target), ok, "{caller} → {target}");
        }
        check(&r, "oc", "oc", true);
        check(&r, "lead", "oc", true);
        check(&r, "oc", "r1", false);
        check(&r, "lead", "ext", false);
        assert!(matches!(
            target(&r, "oc", "nobody", "x"),
            Err(SelfError::NotFound(_))
        ));
        assert_eq!(
            target(&r, "oc", "r1", "set the presence of r1").map(|p| p.id.clone()),
            Err(SelfError::Forbidden(
                "oc may not set the presence of r1 (only themselves, their team lead or an admin)"
                    .into()
            ))
        );
    }

    #[test]
    fn marks_table() {
        let (r, now) = (roster(), utc(DAY));
        fn check(
            r: &Roster,
            now: DateTime<Utc>,
            status: Option<&str>,
            ttl: Option<&str>,
            expected: Result<(Status, DateTime<Utc>), &str>,
        ) {
            let got = mark(r, status, ttl, now)
                .map(|m| (m.status, m.until))
                .map_err(|e| match e {
                    SelfError::Invalid { field, .. } => field,
                    other => other.to_string(),
                });
            assert_eq!(got, expected.map_err(str::to_string), "{status:?} {ttl:?}");
        }
        let two_hours = now + chrono::Duration::hours(2);
        check(
            &r,
            now,
            Some("online"),
            Some("2h"),
            Ok((Status::Online, two_hours)),
        );
        check(
            &r,
            now,
            Some("offline"),
            None,
            Ok((Status::Offline, PresenceMark::until_cleared())),
        );
        check(&r, now, None, Some("2h"), Err("status"));
        check(&r, now, Some("away"), None, Err("status"));
        check(&r, now, Some("online"), Some("soon"), Err("ttl"));
        check(&r, now, Some("online"), Some("8d"), Err("ttl"));
    }

    #[test]
    fn ladders_table() {
        let r = roster();
        let r1 = &r.people["r1"];
        fn rung(via: &[&str], after: Option<&str>) -> (Vec<String>, Option<String>) {
            (
                via.iter().map(|s| s.to_string()).collect(),
                after.map(str::to_string),
            )
        }
        fn check(
            p: &Person,
            rungs: &[(Vec<String>, Option<String>)],
            expected: Result<usize, &str>,
        ) {
            let got = ladder(p, rungs).map(|l| l.len()).map_err(|e| match e {
                SelfError::Invalid { field, .. } => field,
                other => other.to_string(),
            });
            assert_eq!(got, expected.map_err(str::to_string), "{rungs:?}");
        }
        check(
            r1,
            &[rung(&["email"], None), rung(&["sms", "voice"], Some("2m"))],
            Ok(2),
        );
        check(r1, &[], Err("rules"));
        check(r1, &vec![rung(&["sms"], None); 11], Err("rules"));
        check(
            r1,
            &[rung(&["sms"], None), rung(&["chat"], None)],
            Err("rules[1].via"),
        );
        check(r1, &[rung(&["sms"], Some("later"))], Err("rules[0].after"));
        // A first rung later than at once would hold back every page.
        check(r1, &[rung(&["sms"], Some("45m"))], Err("rules[0].after"));
        check(
            r1,
            &[
                rung(&["email"], None),
                rung(&["sms"], Some("2m")),
                rung(&["voice"], Some("1m")),
            ],
            Err("rules[2].after"),
        );
        check(
            r1,
            &[rung(&["email"], Some("0s")), rung(&["sms"], Some("0s"))],
            Ok(2),
        );
    }
}

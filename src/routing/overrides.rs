//! Overrides stored in the database (created over the API, audited) and
//! their merge with a schedule's YAML overrides into the one list a
//! [`Rotation`](super::Rotation) reads.
//!
//! Owns the precedence rule: YAML overrides first in the order written,
//! then the stored ones by creation (oldest first), so where they overlap
//! the most recently created wins. Must not read the clock or the store.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::schedule::Override;

/// One override as stored, with who created (and maybe deleted) it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredOverride {
    pub id: i64,
    pub schedule: String,
    /// Person on call during `[from, to)`.
    pub person: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub deleted_by: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl StoredOverride {
    /// The interval the rotation reads.
    pub fn as_override(&self) -> Override {
        Override {
            person: self.person.clone(),
            from: self.from,
            to: self.to,
        }
    }
}

/// A new override, before the store gives it an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOverride {
    pub schedule: String,
    pub person: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub reason: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// The overrides of `schedule` in precedence order (the last wins): `yaml`
/// as written, then the live stored ones of that schedule by creation.
pub fn merge(yaml: &[Override], stored: &[StoredOverride], schedule: &str) -> Vec<Override> {
    let mut mine: Vec<&StoredOverride> = stored
        .iter()
        .filter(|o| o.schedule == schedule && o.deleted_at.is_none())
        .collect();
    mine.sort_by_key(|o| (o.created_at, o.id));
    yaml.iter()
        .cloned()
        .chain(mine.into_iter().map(StoredOverride::as_override))
        .collect()
}

/// The stored override of `schedule` in force at `t`, if any: the most
/// recently created one covering it (stored ones win over YAML ones).
pub fn in_force<'a>(
    stored: &'a [StoredOverride],
    schedule: &str,
    t: DateTime<Utc>,
) -> Option<&'a StoredOverride> {
    stored
        .iter()
        .filter(|o| o.schedule == schedule && o.deleted_at.is_none())
        .filter(|o| o.from <= t && t < o.to)
        .max_by_key(|o| (o.created_at, o.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 11, 25, h, 0, 0)
            .single()
            .expect("valid")
    }

    fn stored(
        id: i64,
        schedule: &str,
        person: &str,
        created: u32,
        deleted: bool,
    ) -> StoredOverride {
        StoredOverride {
            id,
            schedule: schedule.into(),
            person: person.into(),
            from: at(10),
            to: at(12),
            reason: None,
            created_by: person.into(),
            created_at: at(created),
            deleted_by: deleted.then(|| "alice".into()),
            deleted_at: deleted.then(|| at(created + 1)),
        }
    }

    fn check(stored: &[StoredOverride], expected: &[&str]) {
        let yaml = [Override {
            person: "yaml".into(),
            from: at(10),
            to: at(12),
        }];
        let got: Vec<String> = merge(&yaml, stored, "pri")
            .into_iter()
            .map(|o| o.person)
            .collect();
        assert_eq!(got, expected, "{stored:?}");
    }

    #[test]
    fn yaml_first_then_stored_by_creation_without_deleted_or_foreign() {
        check(&[], &["yaml"]);
        // Created later wins: listed later, whatever the id order.
        check(
            &[
                stored(2, "pri", "bob", 5, false),
                stored(1, "pri", "dave", 3, false),
            ],
            &["yaml", "dave", "bob"],
        );
        // Same instant: the higher id was created last.
        check(
            &[
                stored(4, "pri", "bob", 3, false),
                stored(3, "pri", "dave", 3, false),
            ],
            &["yaml", "dave", "bob"],
        );
        check(&[stored(1, "pri", "bob", 3, true)], &["yaml"]);
        check(&[stored(1, "other", "bob", 3, false)], &["yaml"]);
    }

    #[test]
    fn the_override_in_force_is_the_latest_covering_one() {
        let list = [
            stored(1, "pri", "bob", 5, false),
            stored(2, "pri", "dave", 3, false),
            stored(3, "pri", "erin", 7, true),
            stored(4, "other", "fay", 9, false),
        ];
        let who = |t: u32| in_force(&list, "pri", at(t)).map(|o| o.person.as_str());
        assert_eq!(
            [who(9), who(10), who(11), who(12)],
            [None, Some("bob"), Some("bob"), None]
        );
        assert_eq!(in_force(&list[1..2], "pri", at(10)).map(|o| o.id), Some(2));
    }
}

//! Presence: whether a person is online at an instant, and why.
//!
//! Owns SPEC rule 2 of "Nearest responder": an unexpired `online` mark wins;
//! otherwise an unexpired `offline` mark wins; otherwise working hours in the
//! person's own time zone decide. Must not store marks or read the clock.

use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize, Serializer};

use crate::routing::hours::WorkingHours;

/// The state a presence mark asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Reachable regardless of working hours.
    Online,
    /// Unreachable regardless of working hours.
    Offline,
}

/// A mark set through the API or CLI; it holds while `t < until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceMark {
    /// What the mark asserts.
    pub status: Status,
    /// First instant at which the mark no longer holds.
    pub until: DateTime<Utc>,
}

impl PresenceMark {
    /// The `until` of a mark set without a duration: it holds until it is
    /// cleared or replaced.
    pub fn until_cleared() -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Whether the mark holds until cleared rather than for a time.
    pub fn is_open_ended(&self) -> bool {
        self.until >= Self::until_cleared()
    }

    /// Whether the mark still holds at `t` (a mark expiring exactly at `t` does not).
    pub fn holds_at(&self, t: DateTime<Utc>) -> bool {
        t < self.until
    }
}

/// Why a person counts as online or offline. Serializes as its sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// An unexpired `online` mark.
    OnlineMark {
        /// When the mark expires.
        until: DateTime<Utc>,
        /// The person's zone, in which the sentence gives `until`.
        tz: Tz,
    },
    /// An unexpired `offline` mark.
    OfflineMark {
        /// When the mark expires.
        until: DateTime<Utc>,
        /// The person's zone, in which the sentence gives `until`.
        tz: Tz,
    },
    /// No mark applies and the instant is inside working hours.
    InsideHours {
        /// The person's time zone the hours were read in.
        tz: Tz,
    },
    /// No mark applies and the instant is outside working hours.
    OutsideHours {
        /// The person's time zone the hours were read in.
        tz: Tz,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::OnlineMark { until, tz } => {
                write!(f, "presence mark online until {}", Until(*until, *tz))
            }
            Reason::OfflineMark { until, tz } => {
                write!(f, "presence mark offline until {}", Until(*until, *tz))
            }
            Reason::InsideHours { tz } => write!(f, "inside working hours ({tz})"),
            Reason::OutsideHours { tz } => write!(f, "outside working hours ({tz})"),
        }
    }
}

/// A mark's end as its person reads it: `Wed 25 Nov 19:00 CET` in their
/// own zone, or `cleared` for a mark set without a duration.
struct Until(DateTime<Utc>, Tz);

impl fmt::Display for Until {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Until(until, tz) = *self;
        if until >= PresenceMark::until_cleared() {
            return f.write_str("cleared");
        }
        f.write_str(&crate::when::local(until, tz))
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The verdict of [`online`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Online {
    /// Whether the person counts as online.
    pub online: bool,
    /// The rule that decided it.
    pub reason: Reason,
}

/// Decides whether a person with `hours` in `tz` and their latest `mark` is online at `t`.
pub fn online(
    hours: &WorkingHours,
    tz: Tz,
    mark: Option<&PresenceMark>,
    t: DateTime<Utc>,
) -> Online {
    match mark.filter(|m| m.holds_at(t)) {
        Some(PresenceMark {
            status: Status::Online,
            until,
        }) => Online {
            online: true,
            reason: Reason::OnlineMark { until: *until, tz },
        },
        Some(PresenceMark {
            status: Status::Offline,
            until,
        }) => Online {
            online: false,
            reason: Reason::OfflineMark { until: *until, tz },
        },
        None if hours.contains(tz, t) => Online {
            online: true,
            reason: Reason::InsideHours { tz },
        },
        None => Online {
            online: false,
            reason: Reason::OutsideHours { tz },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test timestamps are valid RFC 3339")
            .to_utc()
    }

    fn check(mark: Option<(Status, &str)>, at: &str, expected: (bool, &str)) {
        let hours = WorkingHours::parse(&["mon-fri 09:00-18:00"]).expect("valid hours");
        let mark = mark.map(|(status, until)| PresenceMark {
            status,
            until: utc(until),
        });
        let got = online(&hours, Berlin, mark.as_ref(), utc(at));
        assert_eq!(
            (got.online, got.reason.to_string().as_str()),
            expected,
            "mark {mark:?} at {at}"
        );
    }

    #[test]
    fn marks_and_hours() {
        use Status::*;
        // 2026-11-25 is a Wednesday; Berlin is UTC+1 then, so hours are 08:00Z-17:00Z.
        let inside = "2026-11-25T10:00:00Z";
        let outside = "2026-11-25T20:00:00Z";
        type Case<'a> = (Option<(Status, &'a str)>, &'a str, (bool, &'a str));
        let cases: &[Case] = &[
            (None, inside, (true, "inside working hours (Europe/Berlin)")),
            (
                None,
                outside,
                (false, "outside working hours (Europe/Berlin)"),
            ),
            // An online mark beats hours.
            (
                Some((Online, "2026-11-25T21:00:00Z")),
                outside,
                (true, "presence mark online until Wed 25 Nov 22:00 CET"),
            ),
            // An offline mark during hours.
            (
                Some((Offline, "2026-11-25T18:00:00Z")),
                inside,
                (false, "presence mark offline until Wed 25 Nov 19:00 CET"),
            ),
            // Expiring exactly at t: expired, hours decide.
            (
                Some((Offline, inside)),
                inside,
                (true, "inside working hours (Europe/Berlin)"),
            ),
            (
                Some((Online, outside)),
                outside,
                (false, "outside working hours (Europe/Berlin)"),
            ),
            // One second before expiry it still holds.
            (
                Some((Online, "2026-11-25T20:00:01Z")),
                outside,
                (true, "presence mark online until Wed 25 Nov 21:00 CET"),
            ),
            // A mark set without a duration holds until cleared.
            (
                Some((Offline, "9999-12-31T23:59:59Z")),
                inside,
                (false, "presence mark offline until cleared"),
            ),
            // Long expired marks are ignored.
            (
                Some((Offline, "2026-11-20T00:00:00Z")),
                inside,
                (true, "inside working hours (Europe/Berlin)"),
            ),
        ];
        for &(mark, at, expected) in cases {
            check(mark, at, expected);
        }
    }

    #[test]
    fn reason_serializes_as_its_sentence() {
        let reason = Reason::OnlineMark {
            until: utc("2026-11-25T18:00:00Z"),
            tz: chrono_tz::America::New_York,
        };
        assert_eq!(
            serde_json::to_string(&reason).expect("serializable"),
            "\"presence mark online until Wed 25 Nov 13:00 EST\""
        );
    }
}

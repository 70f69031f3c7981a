//! On-call rotations: who holds the pager at an instant, and the shifts over
//! a window.
//!
//! Owns the rotation semantics: at `start` the first member is on call, each
//! hand-off instant strictly after `start` passes to the next member
//! (cycling), overrides win for their `[from, to)` interval (the latest
//! listed wins where they overlap; they apply before `start` too). Must not
//! read the clock, parse YAML or know about presence.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::routing::handoff::Handoff;

/// A rotation, in its own time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// Time zone the hand-off expression is read in.
    pub tz: Tz,
    /// Members in rotation order; an empty list means nobody is ever on call
    /// (except through overrides).
    pub members: Vec<String>,
    /// When the pager passes to the next member.
    pub handoff: Handoff,
    /// When `members[0]` goes on call; before it the rotation has nobody.
    pub start: DateTime<Utc>,
    /// Temporary replacements.
    pub overrides: Vec<Override>,
}

/// Someone covering `[from, to)` instead of the rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Override {
    /// Person on call during the override.
    pub person: String,
    /// First instant covered.
    pub from: DateTime<Utc>,
    /// First instant no longer covered; an override with `to <= from` covers nothing.
    pub to: DateTime<Utc>,
}

/// One stretch of one person holding the pager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shift {
    /// Person on call.
    pub person: String,
    /// First instant of the shift.
    pub start: DateTime<Utc>,
    /// First instant after the shift; `DateTime::<Utc>::MAX_UTC` when no change ever comes.
    pub end: DateTime<Utc>,
    /// Whether an override, not the rotation, put the person on call.
    pub is_override: bool,
}

/// A rotation stretch: the member index and its bounds.
struct Stretch {
    member: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    known_at_end: Option<Known>,
}

/// The number of hand-offs in `(start, at]`, remembered to avoid recounting.
#[derive(Debug, Clone, Copy)]
struct Known {
    at: DateTime<Utc>,
    handoffs: u64,
}

impl Rotation {
    /// The shift containing `t`, bounded by hand-offs to someone else and override edges.
    pub fn on_call(&self, t: DateTime<Utc>) -> Option<Shift> {
        self.shift_at(t, &self.override_segments(), None).0
    }

    /// Contiguous shifts covering `[from, to)` where someone is on call, clipped to the
    /// window and merged when the same person continues.
    pub fn shifts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
        let overrides = self.override_segments();
        let mut out: Vec<Shift> = Vec::new();
        let mut cursor = from;
        let mut known = None;
        while cursor < to {
            let (shift, next_known) = self.shift_at(cursor, &overrides, known);
            known = next_known.or(known);
            let Some(shift) = shift else {
                match self.next_coverage_after(cursor, &overrides) {
                    Some(next) => {
                        cursor = next;
                        continue;
                    }
                    None => break,
                }
            };
            let end = shift.end.min(to);
            if end <= cursor {
                break; // unreachable: the shift contains the cursor
            }
            match out.last_mut() {
                Some(last)
                    if last.end == cursor
                        && last.person == shift.person
                        && last.is_override == shift.is_override =>
                {
                    last.end = end;
                }
                _ => out.push(Shift {
                    start: cursor,
                    end,
                    ..shift
                }),
            }
            cursor = end;
        }
        out
    }

    /// The shifts overlapping `[from, to)` as a calendar shows them: like
    /// [`Rotation::shifts`], but the shift in progress at `from` keeps its
    /// real start (the hand-off that began it, or its override's start), and
    /// the one still running at `to` its real end (its hand-off, not the
    /// instant the window happened to stop), so each is the same event
    /// whenever it is looked at. A shift without end (one member) stays cut.
    pub fn shifts_overlapping(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
        let mut out = self.shifts(from, to);
        if let (Some(first), Some(current)) = (out.first_mut(), self.on_call(from))
            && first.start == from
            && first.person == current.person
            && first.is_override == current.is_override
        {
            first.start = current.start;
        }
        if let Some(last) = out.last_mut()
            && last.end == to
            && let Some(running) = self.on_call(to - chrono::TimeDelta::milliseconds(1))
            && running.person == last.person
            && running.is_override == last.is_override
            && running.end > to
            && running.end < DateTime::<Utc>::MAX_UTC
        {
            last.end = running.end;
        }
        out
    }

    /// The next rotation hand-off strictly after `t` (overrides aside; a hand-off to the
    /// same person still counts). Before `start`, the first hand-off after `start`.
    pub fn next_handoff(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.handoff.next_after(self.tz, t.max(self.start))
    }

    /// The shift containing `t` given the flattened overrides; `known` (a count of
    /// hand-offs at an earlier instant) saves counting from `start` again.
    fn shift_at(
        &self,
        t: DateTime<Utc>,
        overrides: &[Shift],
        known: Option<Known>,
    ) -> (Option<Shift>, Option<Known>) {
        if let Some(o) = overrides.iter().find(|o| o.start <= t && t < o.end) {
            return (Some(o.clone()), None);
        }
        let Some(stretch) = self.stretch_at(t, known) else {
            return (None, None);
        };
        let start = overrides
            .iter()
            .map(|o| o.end)
            .filter(|&e| e <= t)
            .fold(stretch.start, DateTime::max);
        let end = overrides
            .iter()
            .map(|o| o.start)
            .filter(|&s| s > t)
            .fold(stretch.end, DateTime::min);
        let shift = Shift {
            person: self.members[stretch.member].clone(),
            start,
            end,
            is_override: false,
        };
        (Some(shift), stretch.known_at_end)
    }

    /// The rotation's member at `t` with the stretch of that member, ignoring overrides.
    fn stretch_at(&self, t: DateTime<Utc>, known: Option<Known>) -> Option<Stretch> {
        if self.members.is_empty() || t < self.start {
            return None;
        }
        let len = self.members.len() as u64;
        let n = match known.filter(|k| self.start <= k.at && k.at <= t) {
            Some(k) => k.handoffs + self.handoff.count_between(self.tz, k.at, t),
            None => self.handoff.count_between(self.tz, self.start, t),
        };
        let member = (n % len) as usize;
        let person = &self.members[member];
        if self.members.iter().all(|m| m == person) {
            return Some(Stretch {
                member,
                start: self.start,
                end: DateTime::<Utc>::MAX_UTC,
                known_at_end: None,
            });
        }
        let same = |k: u64| self.members[(k % len) as usize] == *person;
        // Walk back over hand-offs to the same person (at most len - 1 of them).
        let (mut k, mut start) = (n, self.start);
        if n > 0 {
            start = self
                .handoff
                .last_at_or_before(self.tz, t)
                .unwrap_or(self.start);
        }
        while k > 0 && same(k - 1) {
            k -= 1;
            start = match k {
                0 => self.start,
                _ => self
                    .handoff
                    .last_at_or_before(self.tz, start - TimeDelta::seconds(1))
                    .unwrap_or(self.start),
            };
        }
        // Walk forward the same way.
        let (mut k, mut end) = (n, self.handoff.next_after(self.tz, t));
        while let Some(e) = end {
            if !same(k + 1) {
                break;
            }
            k += 1;
            end = self.handoff.next_after(self.tz, e);
        }
        Some(Stretch {
            member,
            start,
            end: end.unwrap_or(DateTime::<Utc>::MAX_UTC),
            known_at_end: end.map(|at| Known {
                at,
                handoffs: k + 1,
            }),
        })
    }

    /// Overrides flattened to non-overlapping shifts, latest listed winning, sorted.
    fn override_segments(&self) -> Vec<Shift> {
        let valid: Vec<&Override> = self.overrides.iter().filter(|o| o.from < o.to).collect();
        let mut edges: Vec<DateTime<Utc>> = valid.iter().flat_map(|o| [o.from, o.to]).collect();
        edges.sort();
        edges.dedup();
        let mut out: Vec<Shift> = Vec::new();
        for w in edges.windows(2) {
            let (a, b) = (w[0], w[1]);
            let Some(winner) = valid.iter().rev().find(|o| o.from <= a && b <= o.to) else {
                continue;
            };
            match out.last_mut() {
                Some(last) if last.end == a && last.person == winner.person => last.end = b,
                _ => out.push(Shift {
                    person: winner.person.clone(),
                    start: a,
                    end: b,
                    is_override: true,
                }),
            }
        }
        out
    }

    /// The first instant after `t` at which somebody is on call, when nobody is at `t`.
    fn next_coverage_after(&self, t: DateTime<Utc>, overrides: &[Shift]) -> Option<DateTime<Utc>> {
        let rotation = (!self.members.is_empty() && self.start > t).then_some(self.start);
        let overrides = overrides.iter().map(|o| o.start).filter(|&s| s > t).min();
        rotation.into_iter().chain(overrides).min()
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;

//! Channels for one page: which fire at once and which later (a person's
//! `notify` ladder), which next after a permanent failure, and how long to
//! wait before retrying a transient one.
//!
//! Owns SPEC "a permanent failure falls back to the next channel" and the
//! outbox's retry schedule. Must not send anything, sleep or draw random
//! numbers: the caller supplies the jitter.

use std::time::Duration;

use crate::config::{ChannelType, Person};

/// Attempts after which a transient failure counts as permanent.
pub const MAX_ATTEMPTS: u32 = 8;

/// First retry delay.
const BASE: Duration = Duration::from_secs(5);
/// No retry waits longer than this.
const CAP: Duration = Duration::from_secs(300);

/// Whether `person` has the address `channel` needs (a phone for SMS and
/// voice, an email address, a chat handle).
pub fn can_receive(person: &Person, channel: ChannelType) -> bool {
    match channel {
        ChannelType::Sms | ChannelType::Voice => person.phone.is_some(),
        ChannelType::Email => person.email.is_some(),
        ChannelType::Chat => person.chat.is_some(),
        ChannelType::Push => person.ntfy_topic.is_some(),
    }
}

/// The channels of a fresh page, in fallback order: `voice` first when
/// `call_first` (and the person has a phone), then the step's `via` in order,
/// each only if the person can receive it. When none of those is possible,
/// the person's own first channel, so that a page never goes nowhere.
pub fn page_channels(person: &Person, via: &[ChannelType], call_first: bool) -> Vec<ChannelType> {
    let first = call_first.then_some(ChannelType::Voice);
    let mut out: Vec<ChannelType> = Vec::new();
    for ch in first.into_iter().chain(via.iter().copied()) {
        if can_receive(person, ch) && !out.contains(&ch) {
            out.push(ch);
        }
    }
    if out.is_empty() {
        out.extend(next_channel(person, &[], &[]));
    }
    out
}

/// Every channel a step fires for `person`: the channels at once (see
/// [`page_channels`]) and the later rungs of the person's `notify` ladder
/// (`rules`: set over the API, else their YAML one). A step with `via` fires exactly those; one without follows the
/// person's rules (none: their first channel). A channel fires once per
/// step, at its earliest rung.
pub fn page_plan(
    person: &Person,
    rules: &[crate::config::NotifyRule],
    via: &[ChannelType],
    call_first: bool,
) -> (Vec<ChannelType>, Vec<Later>) {
    if !via.is_empty() || rules.is_empty() {
        return (page_channels(person, via, call_first), Vec::new());
    }
    let now_rules: Vec<ChannelType> = rules
        .iter()
        .filter(|r| r.after_secs == 0)
        .flat_map(|r| r.via.iter().copied())
        .collect();
    let mut at_once = if now_rules.is_empty() {
        // The first rung is later; nobody online still means a call now.
        let call = call_first && can_receive(person, ChannelType::Voice);
        call.then_some(ChannelType::Voice).into_iter().collect()
    } else {
        page_channels(person, &now_rules, call_first)
    };
    let mut used = at_once.clone();
    let mut ladder: Vec<&crate::config::NotifyRule> =
        rules.iter().filter(|r| r.after_secs > 0).collect();
    ladder.sort_by_key(|r| r.after_secs);
    let mut later: Vec<Later> = Vec::new();
    for r in ladder {
        let channels: Vec<ChannelType> = r
            .via
            .iter()
            .copied()
            .filter(|c| can_receive(person, *c) && !used.contains(c))
            .collect();
        if channels.is_empty() {
            continue;
        }
        used.extend(&channels);
        match later.iter_mut().find(|l| l.after_secs == r.after_secs) {
            Some(l) => l.channels.extend(channels),
            None => later.push(Later {
                after_secs: r.after_secs,
                channels,
            }),
        }
    }
    if at_once.is_empty() && later.is_empty() {
        at_once.extend(next_channel(person, &[], &[]));
    }
    (at_once, later)
}

/// A later rung of a person's notify ladder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Later {
    /// Seconds after the step reached the person.
    pub after_secs: u64,
    pub channels: Vec<ChannelType>,
}

/// The channel to try after a permanent failure, given every channel `tried`
/// so far: the rest of the step's `via`, then the person's own `channels`
/// order, skipping channels tried or unreachable. `None` when all are spent.
pub fn next_channel(
    person: &Person,
    tried: &[ChannelType],
    step_via: &[ChannelType],
) -> Option<ChannelType> {
    step_via
        .iter()
        .chain(person.channels.iter())
        .copied()
        .find(|ch| !tried.contains(ch) && can_receive(person, *ch))
}

/// Delay before retrying after the `attempt`-th transient failure (1-based;
/// 0 counts as 1): 5 s doubling per attempt, ±20 % by `jitter` (0 → −20 %,
/// 0.5 → none, 1 → +20 %; out-of-range values are clamped, NaN is 0.5), never
/// more than 5 minutes.
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    let base = BASE.saturating_mul(1 << doublings).min(CAP);
    let jitter = if jitter.is_nan() {
        0.5
    } else {
        jitter.clamp(0.0, 1.0)
    };
    base.mul_f64(0.8 + 0.4 * jitter).min(CAP)
}

/// Whether a channel that has failed transiently `attempts` times is given up
/// on (and treated as a permanent failure).
pub fn gives_up(attempts: u32) -> bool {
    attempts >= MAX_ATTEMPTS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::fixture::person;
    use ChannelType::*;

    #[test]
    fn page_channels_filter_and_order() {
        fn check(contacts: &str, via: &[ChannelType], call_first: bool, expected: &[ChannelType]) {
            let p = person("p", contacts);
            assert_eq!(
                page_channels(&p, via, call_first),
                expected,
                "{contacts} via {via:?} call_first {call_first}"
            );
        }
        check("pec", &[Chat, Sms], false, &[Chat, Sms]);
        check("pec", &[Sms, Chat], false, &[Sms, Chat]);
        // Lacking a chat handle: chat is filtered out, nothing else is added.
        check("pe", &[Chat, Sms], false, &[Sms]);
        check("e", &[Chat, Sms, Email], false, &[Email]);
        // Nothing of the step is reachable: the person's own first channel.
        check("e", &[Sms, Voice], false, &[Email]);
        check("c", &[Voice], false, &[Chat]);
        // Nobody online: voice first, then the step's channels, no duplicate.
        check("pec", &[Chat, Sms], true, &[Voice, Chat, Sms]);
        check("pec", &[Sms, Voice], true, &[Voice, Sms]);
        // No phone: no call.
        check("ec", &[Chat], true, &[Chat]);
        check("pec", &[Chat, Chat], false, &[Chat]);
    }

    #[test]
    fn fallback_order() {
        fn check(
            contacts: &str,
            tried: &[ChannelType],
            via: &[ChannelType],
            expected: Option<ChannelType>,
        ) {
            let p = person("p", contacts);
            assert_eq!(
                next_channel(&p, tried, via),
                expected,
                "{contacts} tried {tried:?} via {via:?}"
            );
        }
        // fixture people list their own channels as chat, sms, voice, email (those they have).
        check("pec", &[Sms], &[Sms, Voice], Some(Voice));
        check("pec", &[Sms, Voice], &[Sms, Voice], Some(Chat));
        check("pec", &[Sms, Voice, Chat], &[Sms, Voice], Some(Email));
        check("pec", &[Sms, Voice, Chat, Email], &[Sms, Voice], None);
        // Step channels the person cannot receive are skipped.
        check("e", &[], &[Sms, Voice], Some(Email));
        check("pe", &[Email], &[Chat, Email], Some(Sms));
        check("c", &[Chat], &[Chat, Sms], None);
        // Tried channels stay skipped in the person's order too.
        check("pc", &[Chat, Sms], &[Chat], Some(Voice));
    }

    #[test]
    fn backoff_doubles_from_five_seconds_up_to_the_cap() {
        let cases: &[(u32, u64)] = &[
            (0, 5),
            (1, 5),
            (2, 10),
            (3, 20),
            (4, 40),
            (5, 80),
            (6, 160),
            (7, 300),
            (8, 300),
            (u32::MAX, 300),
        ];
        for &(attempt, secs) in cases {
            assert_eq!(
                backoff(attempt, 0.5),
                Duration::from_secs(secs),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn backoff_jitter_bounds() {
        let ms = |d: Duration| d.as_millis();
        let cases: &[(u32, f64, u128)] = &[
            (1, 0.0, 4_000),
            (1, 1.0, 6_000),
            (1, 0.25, 4_500),
            (1, -3.0, 4_000),
            (1, 7.0, 6_000),
            (1, f64::NAN, 5_000),
            (4, 0.0, 32_000),
            (4, 1.0, 48_000),
            // At the cap jitter can only shorten the wait.
            (7, 0.0, 240_000),
            (7, 1.0, 300_000),
            (30, 1.0, 300_000),
        ];
        for &(attempt, jitter, expected) in cases {
            assert_eq!(
                ms(backoff(attempt, jitter)),
                expected,
                "attempt {attempt} jitter {jitter}"
            );
        }
        for attempt in 0..40 {
            for j in 0..=10 {
                let d = backoff(attempt, f64::from(j) / 10.0);
                assert!(
                    d >= Duration::from_secs(4) && d <= CAP,
                    "attempt {attempt}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn transient_failures_give_up_after_max_attempts() {
        let cases: &[(u32, bool)] = &[(0, false), (1, false), (7, false), (8, true), (9, true)];
        for &(attempts, expected) in cases {
            assert_eq!(gives_up(attempts), expected, "attempts {attempts}");
        }
    }
}

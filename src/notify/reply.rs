//! The SMS reply grammar (SPEC "Escalation and notification", PROTOCOLS §3g).
//!
//! Owns: turning a reply body into a [`Reply`]. Must not: look up incidents
//! or people (a bare `ack` leaves the incident to the caller, who resolves it
//! only when exactly one incident is paged to that person), send replies, or
//! panic on any input.

use crate::notify::Action;

/// Longest body worth parsing; anything longer is chatter, not a command.
const MAX_LEN: usize = 64;

/// What an inbound SMS asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Act on an incident; `None` when the number was omitted.
    Command {
        /// What to do.
        action: Action,
        /// The incident number, if given.
        incident: Option<u64>,
    },
    /// STOP and friends: Twilio has blocked this sender for the person.
    OptOut,
    /// START and friends: Twilio has lifted the block.
    OptIn,
    /// HELP/INFO: Twilio auto-replies; nothing to do but record it.
    Help,
    /// Anything else.
    Unknown,
}

/// Parses a reply body: case-insensitive, tolerant of surrounding and inner
/// whitespace. `ack 42`, `a42`, `A #42`, `42` and `#42` acknowledge; `res 42`,
/// `r42`, `resolve 42` resolve; `esc 42`, `e42` escalate; a verb alone omits
/// the number. Opt-out words count only as the whole message.
pub fn parse(body: &str) -> Reply {
    let body = body.trim();
    if body.is_empty() || body.len() > MAX_LEN {
        return Reply::Unknown;
    }
    let lower = body.to_lowercase();
    if let Some(keyword) = keyword(&lower) {
        return keyword;
    }
    command(&lower).unwrap_or(Reply::Unknown)
}

fn keyword(word: &str) -> Option<Reply> {
    match word {
        "stop" | "stopall" | "unsubscribe" | "cancel" | "end" | "quit" | "revoke" | "optout" => {
            Some(Reply::OptOut)
        }
        "start" | "yes" | "unstop" => Some(Reply::OptIn),
        "help" | "info" => Some(Reply::Help),
        _ => None,
    }
}

fn command(text: &str) -> Option<Reply> {
    // A friendly full stop or exclamation mark is not a different command.
    let text = text.trim_end_matches(['.', '!']).trim_end();
    let verb_len = text
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(text.len());
    let (verb, rest) = text.split_at(verb_len);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('#').unwrap_or(rest).trim_start();
    let action = match verb {
        "" | "a" | "ack" | "acknowledge" => Action::Ack,
        "r" | "res" | "resolve" => Action::Resolve,
        "e" | "esc" | "escalate" => Action::Escalate,
        _ => return None,
    };
    let incident = if rest.is_empty() {
        None
    } else if rest.bytes().all(|b| b.is_ascii_digit()) {
        // Overflow is not a number we ever issued.
        Some(rest.parse::<u64>().ok()?)
    } else {
        return None;
    };
    if verb.is_empty() && incident.is_none() {
        return None;
    }
    Some(Reply::Command { action, incident })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(action: Action, incident: Option<u64>) -> Reply {
        Reply::Command { action, incident }
    }

    fn check(body: &str, expected: Reply) {
        assert_eq!(parse(body), expected, "{body:?}");
    }

    #[test]
    fn commands() {
        use Action::*;
        let table = [
            ("ack 42", cmd(Ack, Some(42))),
            ("ACK 42", cmd(Ack, Some(42))),
            ("Ack42", cmd(Ack, Some(42))),
            ("a42", cmd(Ack, Some(42))),
            ("a 42", cmd(Ack, Some(42))),
            ("  a   42  ", cmd(Ack, Some(42))),
            ("\ta\n42\r\n", cmd(Ack, Some(42))),
            ("42", cmd(Ack, Some(42))),
            (" 7 ", cmd(Ack, Some(7))),
            ("#42", cmd(Ack, Some(42))),
            ("ack #42", cmd(Ack, Some(42))),
            ("ack# 42", cmd(Ack, Some(42))),
            ("a#42", cmd(Ack, Some(42))),
            ("acknowledge 42", cmd(Ack, Some(42))),
            ("ack 42.", cmd(Ack, Some(42))),
            ("ack!", cmd(Ack, None)),
            ("ack", cmd(Ack, None)),
            ("A", cmd(Ack, None)),
            ("res 42", cmd(Resolve, Some(42))),
            ("r42", cmd(Resolve, Some(42))),
            ("R 42", cmd(Resolve, Some(42))),
            ("resolve 42", cmd(Resolve, Some(42))),
            ("res #42", cmd(Resolve, Some(42))),
            ("res", cmd(Resolve, None)),
            ("r", cmd(Resolve, None)),
            ("esc 42", cmd(Escalate, Some(42))),
            ("e42", cmd(Escalate, Some(42))),
            ("ESCALATE 42", cmd(Escalate, Some(42))),
            ("esc", cmd(Escalate, None)),
            ("e", cmd(Escalate, None)),
            ("ack 0", cmd(Ack, Some(0))),
            ("18446744073709551615", cmd(Ack, Some(u64::MAX))),
        ];
        for (body, expected) in table {
            check(body, expected);
        }
    }

    #[test]
    fn keywords() {
        for word in [
            "STOP",
            "stop",
            " Stop ",
            "STOPALL",
            "unsubscribe",
            "Cancel",
            "END",
            "quit",
            "REVOKE",
            "optout",
        ] {
            check(word, Reply::OptOut);
        }
        for word in ["START", "yes", "Unstop"] {
            check(word, Reply::OptIn);
        }
        for word in ["HELP", "info"] {
            check(word, Reply::Help);
        }
    }

    #[test]
    fn unknown() {
        let table = [
            "",
            "   ",
            "stop please",
            "please stop",
            "stop 42",
            "help me",
            "ok",
            "thanks",
            "ack 42 thanks",
            "ack 4 2",
            "ack -42",
            "ack +42",
            "ack 42x",
            "acked 42",
            "x42",
            "#",
            "##42",
            "ack ##42",
            "18446744073709551616",
            "ack 99999999999999999999999999999",
            "ack ４２",
            "🔥",
            "a\u{0}42",
        ];
        for body in table {
            check(body, Reply::Unknown);
        }
        check(&"a".repeat(10_000), Reply::Unknown);
        check(&format!("ack {}", "9".repeat(100)), Reply::Unknown);
    }
}

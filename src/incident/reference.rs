//! The per-client incident reference (`ACME-7`): how a client's channel and
//! the client itself name an incident. Each client counts its own incidents
//! (1, 2, 3…), so no client learns the global number, which would tell it
//! how many incidents the others had. The store assigns the sequence; this
//! module only spells and reads references. Pure.

/// How an API path or a CLI argument names an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// The global number (`42`, `#42`), for responders.
    Number(i64),
    /// A client's reference, upper-cased (`ACME-7`).
    Reference { prefix: String, seq: i64 },
}

impl Key {
    /// `42`, `#42`, `ACME-7` or `acme-7`; None for anything else.
    pub fn parse(s: &str) -> Option<Key> {
        let s = s.trim();
        if let Some(n) = positive(s.strip_prefix('#').unwrap_or(s)) {
            return Some(Key::Number(n));
        }
        let (p, n) = s.rsplit_once('-')?;
        let p = p.to_ascii_uppercase();
        let ok = !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        Some(Key::Reference {
            prefix: ok.then_some(p)?,
            seq: positive(n)?,
        })
    }
}

/// Digits only (no sign, no spaces), above zero.
fn positive(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok().filter(|n| *n > 0)
}

/// A client's prefix: its id upper-cased, anything but a letter or digit
/// as `-` (configuration refuses two clients with one prefix).
pub use crate::config::reference_prefix as prefix;

/// `ACME-7`.
pub fn format(prefix: &str, seq: i64) -> String {
    format!("{prefix}-{seq}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(p: &str, seq: i64) -> Option<Key> {
        Some(Key::Reference {
            prefix: p.into(),
            seq,
        })
    }

    #[test]
    fn keys() {
        for (input, expected) in [
            ("42", Some(Key::Number(42))),
            ("#7", Some(Key::Number(7))),
            (" 3 ", Some(Key::Number(3))),
            ("ACME-7", reference("ACME", 7)),
            ("acme-7", reference("ACME", 7)),
            ("big-co-12", reference("BIG-CO", 12)),
            ("0", None),
            ("-1", None),
            ("+5", None),
            ("ACME-0", None),
            ("ACME-", None),
            ("ACME-+7", None),
            ("ACME", None),
            ("AC ME-7", None),
            ("ACMÉ-7", None),
            ("", None),
        ] {
            assert_eq!(Key::parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn prefixes() {
        for (client, expected) in [
            ("acme", "ACME"),
            ("big-co", "BIG-CO"),
            ("big_co", "BIG-CO"),
            ("shop.de", "SHOP-DE"),
            ("42", "42"),
        ] {
            assert_eq!(prefix(client), expected, "{client}");
            let r = format(&prefix(client), 7);
            assert_eq!(Key::parse(&r), reference(expected, 7), "{r}");
        }
    }
}

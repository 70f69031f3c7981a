//! Human durations as ops write them in YAML and the API: `30s`, `5m`,
//! `1h30m`, `2d`. One parser for config, presence TTLs and CLI flags.

use std::fmt;

/// A strictly positive duration with second precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(u64);

impl Span {
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("empty duration (expected e.g. 30s, 5m, 1h30m, 2d)".into());
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        for ch in s.chars() {
            if ch.is_ascii_digit() {
                digits.push(ch);
                continue;
            }
            let unit = match ch {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => {
                    return Err(format!(
                        "invalid duration {s:?}: unknown unit {ch:?} (use s, m, h, d, w)"
                    ));
                }
            };
            if digits.is_empty() {
                return Err(format!(
                    "invalid duration {s:?}: a number must come before {ch:?}"
                ));
            }
            let n: u64 = digits
                .parse()
                .map_err(|_| format!("invalid duration {s:?}: number too large"))?;
            digits.clear();
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("invalid duration {s:?}: too large"))?;
        }
        if !digits.is_empty() {
            return Err(format!(
                "invalid duration {s:?}: missing unit after {digits} (e.g. {digits}s or {digits}m)"
            ));
        }
        if total == 0 {
            return Err(format!("invalid duration {s:?}: must be longer than zero"));
        }
        if total > 10 * 365 * 86_400 {
            return Err(format!("invalid duration {s:?}: longer than ten years"));
        }
        Ok(Self(total))
    }

    /// Seconds of a duration that may be zero (`0s`, `0m`, `0`): a
    /// notify rule's `after`.
    pub fn parse_secs_or_zero(input: &str) -> Result<u64, String> {
        let t = input.trim();
        if !t.is_empty()
            && t.trim_end_matches(['s', 'm', 'h', 'd', 'w'])
                .chars()
                .all(|c| c == '0')
            && t.starts_with('0')
        {
            return Ok(0);
        }
        Self::parse(t).map(Self::as_secs)
    }

    pub const fn as_secs(self) -> u64 {
        self.0
    }

    pub fn to_chrono(self) -> chrono::Duration {
        // Bounded to ten years by `parse`, so the cast cannot overflow.
        chrono::Duration::seconds(self.0 as i64)
    }

    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        for (unit, secs) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if rest >= secs {
                write!(f, "{}{unit}", rest / secs)?;
                rest %= secs;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<u64, &str>) {
        let got = Span::parse(input).map(Span::as_secs);
        match (got, expected) {
            (Ok(g), Ok(e)) => assert_eq!(g, e, "{input}"),
            (Err(g), Err(e)) => assert!(g.contains(e), "{input}: {g:?} should contain {e:?}"),
            (g, e) => panic!("{input}: got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn parses_and_rejects() {
        check("30s", Ok(30));
        check("5m", Ok(300));
        check("1h30m", Ok(5400));
        check("2d", Ok(172_800));
        check("1w", Ok(604_800));
        check(" 10m ", Ok(600));
        check("", Err("empty"));
        check("10", Err("missing unit"));
        check("m", Err("a number must come before"));
        check("5x", Err("unknown unit"));
        check("0s", Err("longer than zero"));
        check("-5m", Err("unknown unit"));
        check("99999999999999999999s", Err("too large"));
        check("100000w", Err("ten years"));
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(Span::from_secs(5400).to_string(), "1h30m");
        assert_eq!(Span::from_secs(30).to_string(), "30s");
    }
}

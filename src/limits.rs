//! Caps on every key and free-text field tocsin accepts, in one place: the
//! wire parsers (`ingest`), the HTTP handlers and the follow-up rules check
//! against these, and README's "Limits" table lists them.
//!
//! Keys and what machines send are capped in bytes (what they cost in memory
//! and on disk); what people write is capped in characters (what they see).
//! Pure: no I/O, no HTTP; a refusal is a reason the caller files under its
//! own field name.

use std::collections::BTreeMap;

/// A size limit on one text field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// At most this many bytes of UTF-8.
    Bytes(usize),
    /// At most this many characters.
    Chars(usize),
}

impl Cap {
    /// `Err(reason)` when `value` is over the cap.
    pub fn check(self, value: &str) -> Result<(), String> {
        match self {
            Cap::Bytes(max) if value.len() > max => Err(format!("longer than {max} bytes")),
            Cap::Chars(max) if value.chars().count() > max => {
                Err(format!("longer than {max} characters"))
            }
            _ => Ok(()),
        }
    }

    /// What a person wrote, trimmed: present and within the cap (a note,
    /// a status update); `Err(reason)` otherwise.
    pub fn required(self, value: &str) -> Result<String, String> {
        let v = value.trim();
        if v.is_empty() {
            return Err("must not be empty".into());
        }
        self.check(v)?;
        Ok(v.to_string())
    }

    /// The number, in the cap's unit.
    pub const fn max(self) -> usize {
        match self {
            Cap::Bytes(max) | Cap::Chars(max) => max,
        }
    }

    /// The unit's name, plural.
    pub fn unit(self) -> &'static str {
        match self {
            Cap::Bytes(_) => "bytes",
            Cap::Chars(_) => "characters",
        }
    }
}

/// Alertmanager/Grafana `groupKey`.
pub const GROUP_KEY: Cap = Cap::Bytes(8 * 1024);
/// An alert's identity: `fingerprint`, `dedup_key`, `incident_key` (PagerDuty's limit).
pub const DEDUP_KEY: Cap = Cap::Chars(255);
/// Labels of one alert.
pub const LABELS: usize = 128;
/// Annotations of one alert.
pub const ANNOTATIONS: usize = 128;
/// A label or annotation name.
pub const NAME: Cap = Cap::Bytes(256);
/// A label value (and the Events fields that become labels: `source`, `component`…).
pub const LABEL_VALUE: Cap = Cap::Bytes(4 * 1024);
/// An annotation value (descriptions may be long).
pub const ANNOTATION_VALUE: Cap = Cap::Bytes(16 * 1024);
/// Structured extras (`custom_details`, `details`, Grafana `values`), as JSON.
pub const DETAILS: Cap = Cap::Bytes(64 * 1024);
/// Summaries and descriptions of alerts and client reports (PagerDuty's limit).
pub const SUMMARY: Cap = Cap::Chars(1024);
/// Notes on actions and status updates to a client.
pub const NOTE: Cap = Cap::Chars(2000);
/// The third-party ticket reference of a diagnosis.
pub const PROVIDER_TICKET: Cap = Cap::Chars(200);
/// Why an incident is serious.
pub const REASON: Cap = Cap::Chars(2000);
/// Postmortem and action item titles (a postmortem's starts as its incident's summary).
pub const TITLE: Cap = Cap::Chars(1024);
/// One postmortem section (its pre-filled draft included).
pub const SECTION: Cap = Cap::Chars(50_000);
/// A link's address or text; a longer link is dropped, never the alert.
pub const LINK: Cap = Cap::Bytes(8 * 1024);
/// Links kept of one alert; the ones past it are dropped, never the alert.
pub const LINKS: usize = 32;

/// A PagerDuty event body (PagerDuty's own limit; 413 above).
pub const EVENT_BODY_BYTES: usize = 512 * 1024;

/// Items in one page of a list when `limit` is not given.
pub const PAGE_DEFAULT: usize = 100;
/// The largest `limit` of a list.
pub const PAGE_MAX: usize = 500;

/// Checks a label or annotation map: at most `count` entries, names within
/// [`NAME`], values within `value`. `Err((name, reason))` names the entry
/// whose value is too long; `None` for too many entries or a too long name
/// (which is not worth echoing).
pub fn pairs(
    map: &BTreeMap<String, String>,
    count: usize,
    value: Cap,
) -> Result<(), (Option<&str>, String)> {
    if map.len() > count {
        return Err((None, format!("more than {count} entries")));
    }
    for (name, v) in map {
        NAME.check(name)
            .map_err(|reason| (None, format!("a name is {reason}")))?;
        value
            .check(v)
            .map_err(|reason| (Some(name.as_str()), reason))?;
    }
    Ok(())
}

/// Checks a JSON value against a byte cap on its compact text.
pub fn json(value: &serde_json::Value, cap: Cap) -> Result<(), String> {
    let mut counter = Counter(0);
    // Writing to a counter cannot fail; a failure would only undercount.
    let _ = serde_json::to_writer(&mut counter, value);
    match cap {
        Cap::Bytes(max) | Cap::Chars(max) if counter.0 > max => {
            Err(format!("larger than {max} bytes of JSON"))
        }
        _ => Ok(()),
    }
}

/// Counts what is written, keeps nothing.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn caps() {
        fn check(cap: Cap, value: &str, expected: Result<(), &str>) {
            assert_eq!(
                cap.check(value),
                expected.map_err(String::from),
                "{value:?}"
            );
        }
        check(Cap::Bytes(3), "abc", Ok(()));
        check(Cap::Bytes(3), "abcd", Err("longer than 3 bytes"));
        check(Cap::Bytes(3), "éé", Err("longer than 3 bytes"));
        check(Cap::Chars(3), "ééé", Ok(()));
        check(Cap::Chars(3), "éééé", Err("longer than 3 characters"));
        check(Cap::Chars(0), "", Ok(()));
    }

    #[test]
    fn label_maps() {
        fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }
        fn check(m: &[(&str, &str)], expected: Result<(), (Option<&str>, &str)>) {
            let m = map(m);
            let got = pairs(&m, 2, Cap::Bytes(4));
            assert_eq!(got, expected.map_err(|(k, r)| (k, r.to_string())), "{m:?}");
        }
        check(&[("a", "1234"), ("b", "")], Ok(()));
        check(
            &[("a", "1"), ("b", "2"), ("c", "3")],
            Err((None, "more than 2 entries")),
        );
        check(&[("a", "12345")], Err((Some("a"), "longer than 4 bytes")));
        let long = "n".repeat(NAME.max() + 1);
        check(
            &[(long.as_str(), "1")],
            Err((None, "a name is longer than 256 bytes")),
        );
    }

    /// README's table says what the code enforces.
    #[test]
    fn the_readme_lists_every_cap() {
        let readme = include_str!("../README.md");
        let table = readme
            .split("## Limits")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap_or_default();
        let caps = [
            GROUP_KEY,
            DEDUP_KEY,
            NAME,
            LABEL_VALUE,
            ANNOTATION_VALUE,
            SUMMARY,
            NOTE,
            PROVIDER_TICKET,
            REASON,
            TITLE,
            SECTION,
            LINK,
        ];
        for cap in caps {
            let words = format!("{} {}", cap.max(), cap.unit());
            assert!(table.contains(&words), "README's Limits lack {words:?}");
        }
        let details = format!("{} bytes of JSON", DETAILS.max());
        assert!(table.contains(&details), "README's Limits lack {details:?}");
        for count in [LABELS, ANNOTATIONS, LINKS] {
            assert!(table.contains(&format!("{count}")), "{count}");
        }
    }

    #[test]
    fn json_size() {
        fn check(v: serde_json::Value, max: usize, ok: bool) {
            assert_eq!(json(&v, Cap::Bytes(max)).is_ok(), ok, "{v} within {max}");
        }
        check(json!({"a": 1}), 7, true);
        check(json!({"a": 1}), 6, false);
        check(json!(null), 4, true);
        check(json!(["x".repeat(100)]), 100, false);
    }
}

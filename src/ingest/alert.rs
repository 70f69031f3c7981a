//! The normalized alert every source produces, and the small vocabulary around it.
//!
//! Owns `Alert`, `Severity`, `AlertStatus`, `Source`, `Link`, summary derivation and the
//! timestamp parsing shared by the wire formats. Knows no wire format itself.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

/// Longest summary kept, in characters (PagerDuty's limit, applied to every source).
pub const MAX_SUMMARY_CHARS: usize = crate::limits::SUMMARY.max();

/// How bad an alert is. Declaration order is severity order: `Critical` sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Pages now.
    Critical,
    /// Serious but not an emergency.
    Major,
    /// A warning.
    Minor,
    /// Informational.
    Info,
}

impl Severity {
    /// Canonical lower-case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Major => "major",
            Self::Minor => "minor",
            Self::Info => "info",
        }
    }

    /// Maps the words monitoring tools put in a `severity`/`priority` label,
    /// case-insensitively; `None` for anything unrecognized.
    pub fn from_label(label: &str) -> Option<Self> {
        match label.trim().to_ascii_lowercase().as_str() {
            "critical" | "page" | "p1" | "fatal" | "emergency" => Some(Self::Critical),
            "error" | "major" | "high" | "p2" => Some(Self::Major),
            "warning" | "warn" | "minor" | "medium" | "p3" => Some(Self::Minor),
            "info" | "low" | "none" | "p4" | "p5" => Some(Self::Info),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of `critical`, `major`, `minor`, `info`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?} (expected critical, major, minor or info)")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;

    /// Parses the canonical names only (case-insensitive); use
    /// [`Severity::from_label`] for free-form monitoring labels.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Ok(Self::Critical),
            "major" => Ok(Self::Major),
            "minor" => Ok(Self::Minor),
            "info" => Ok(Self::Info),
            _ => Err(UnknownSeverity(s.to_string())),
        }
    }
}

/// Whether the condition is still present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The condition holds.
    Firing,
    /// The condition has cleared.
    Resolved,
}

impl AlertStatus {
    /// Wire name (`firing` / `resolved`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }

    /// Parses the exact wire names used by Alertmanager and Grafana.
    pub fn from_wire(s: &str) -> Option<Self> {
        match s {
            "firing" => Some(Self::Firing),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which integration kind produced an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Prometheus Alertmanager webhook v4.
    Alertmanager,
    /// Grafana Alerting webhook contact point.
    Grafana,
    /// PagerDuty Events API v2.
    EventsV2,
    /// Legacy PagerDuty Events API v1.
    EventsV1,
    /// A client report through the trigger endpoint.
    Trigger,
    /// A missed heartbeat.
    Heartbeat,
}

impl Source {
    /// Stable snake_case name, usable as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alertmanager => "alertmanager",
            Self::Grafana => "grafana",
            Self::EventsV2 => "events_v2",
            Self::EventsV1 => "events_v1",
            Self::Trigger => "trigger",
            Self::Heartbeat => "heartbeat",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hyperlink shown with the incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Target URL, as received.
    pub href: String,
    /// Label; the href itself when the sender gave none.
    pub text: String,
}

impl Link {
    /// A link, or `None` when `href` is empty (senders use `""` for "no URL")
    /// or it or its text is over [`crate::limits::LINK`]: a decoration never
    /// costs a page.
    pub fn new(href: &str, text: &str) -> Option<Self> {
        let href = href.trim();
        let cap = crate::limits::LINK;
        if href.is_empty() || cap.check(href).is_err() || cap.check(text).is_err() {
            return None;
        }
        let text = if text.trim().is_empty() { href } else { text };
        Some(Self {
            href: href.to_string(),
            text: text.to_string(),
        })
    }
}

/// One alert, normalized from any source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Integration kind it came from.
    pub source: Source,
    /// Identity across firing → resolved: the fingerprint for Alertmanager/Grafana,
    /// the `dedup_key`/`incident_key` for events.
    pub dedup_key: String,
    /// Alertmanager/Grafana `groupKey`; `None` for events.
    pub group_key: Option<String>,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// One line for humans, at most [`MAX_SUMMARY_CHARS`] characters.
    pub summary: String,
    /// Severity when the sender stated a recognizable one.
    pub severity: Option<Severity>,
    /// Labels routing rules match on.
    pub labels: BTreeMap<String, String>,
    /// Free-text annotations.
    pub annotations: BTreeMap<String, String>,
    /// Links to graphs, dashboards, runbooks.
    pub links: Vec<Link>,
    /// When the condition started, if the sender said.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ended (resolved alerts only).
    pub ends_at: Option<DateTime<Utc>>,
    /// Source-specific extras (an object; `{}` when none).
    pub details: serde_json::Value,
}

/// The summary of a label-based alert: annotation `summary`, else `description`, else
/// `alertname` on `instance`, else the rendered label set; truncated.
pub fn summarize(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> String {
    let non_empty = |map: &BTreeMap<String, String>, key: &str| {
        map.get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let from_labels = || match (
        non_empty(labels, "alertname"),
        non_empty(labels, "instance"),
    ) {
        (Some(name), Some(instance)) => format!("{name} on {instance}"),
        (Some(name), None) => name,
        (None, _) => render_labels(labels),
    };
    let summary = non_empty(annotations, "summary")
        .or_else(|| non_empty(annotations, "description"))
        .unwrap_or_else(from_labels);
    truncate_chars(&summary, MAX_SUMMARY_CHARS)
}

/// `{a="1", b="2"}` — how Alertmanager prints a label set.
pub fn render_labels(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// The first `max` characters of `s` (never splits a character).
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => s[..cut].to_string(),
        None => s.to_string(),
    }
}

/// Parses an RFC 3339 / ISO 8601 timestamp with any offset (`Z`, `+02:00`, `+0000`) to UTC.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Like [`parse_timestamp`], but Go's zero time (`0001-01-01T00:00:00Z`, which Alertmanager
/// sends as `endsAt` of every firing alert) and the empty string mean "no time".
/// `Err(())` when the text is not a timestamp at all.
pub(crate) fn parse_go_time(s: &str) -> Result<Option<DateTime<Utc>>, ()> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    let t = parse_timestamp(s).ok_or(())?;
    Ok((t.year() > 1).then_some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn severity_from_label() {
        fn check(input: &str, expected: Option<Severity>) {
            assert_eq!(Severity::from_label(input), expected, "{input:?}");
        }
        use Severity::*;
        for word in ["critical", "PAGE", "p1", "Fatal", "emergency"] {
            check(word, Some(Critical));
        }
        for word in ["error", "Major", "high", "P2"] {
            check(word, Some(Major));
        }
        for word in ["warning", "WARN", "minor", "medium", "p3"] {
            check(word, Some(Minor));
        }
        for word in ["info", "low", "none", "p4", "P5", " info "] {
            check(word, Some(Info));
        }
        for word in ["", "p0", "disaster", "crit"] {
            check(word, None);
        }
    }

    #[test]
    fn severity_from_str_and_display() {
        fn check(input: &str, expected: Result<Severity, UnknownSeverity>) {
            assert_eq!(input.parse::<Severity>(), expected, "{input:?}");
        }
        check("critical", Ok(Severity::Critical));
        check("MAJOR", Ok(Severity::Major));
        check("minor", Ok(Severity::Minor));
        check("info", Ok(Severity::Info));
        check("warning", Err(UnknownSeverity("warning".into())));
        for s in [
            Severity::Critical,
            Severity::Major,
            Severity::Minor,
            Severity::Info,
        ] {
            assert_eq!(s.to_string().parse::<Severity>(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
        assert!(Severity::Critical < Severity::Info);
    }

    #[test]
    fn summary_fallbacks() {
        fn check(labels: &[(&str, &str)], annotations: &[(&str, &str)], expected: &str) {
            assert_eq!(summarize(&map(labels), &map(annotations)), expected);
        }
        let labels = [("alertname", "DiskFull"), ("instance", "a")];
        check(
            &labels,
            &[("summary", "disk full"), ("description", "d")],
            "disk full",
        );
        check(
            &labels,
            &[("summary", " "), ("description", "long text")],
            "long text",
        );
        check(&labels, &[], "DiskFull on a");
        check(&[("alertname", "DiskFull")], &[], "DiskFull");
        check(
            &[("job", "node"), ("x", "y")],
            &[],
            r#"{job="node", x="y"}"#,
        );
    }

    #[test]
    fn summary_truncated_on_char_boundary() {
        let long = "é".repeat(MAX_SUMMARY_CHARS + 10);
        let got = summarize(&map(&[]), &map(&[("summary", &long)]));
        assert_eq!(got.chars().count(), MAX_SUMMARY_CHARS);
        assert_eq!(truncate_chars("abc", 2), "ab");
        assert_eq!(truncate_chars("abc", 5), "abc");
    }

    #[test]
    fn timestamps() {
        fn check(input: &str, expected: Option<&str>) {
            let want = expected.and_then(|e| e.parse::<DateTime<Utc>>().ok());
            assert_eq!(parse_timestamp(input), want, "{input:?}");
        }
        check(
            "2026-11-24T21:18:48.543457853Z",
            Some("2026-11-24T21:18:48.543457853Z"),
        );
        check("2026-11-24T23:18:48+02:00", Some("2026-11-24T21:18:48Z"));
        check(
            "2015-07-17T08:42:58.315+0000",
            Some("2015-07-17T08:42:58.315Z"),
        );
        check("yesterday", None);
        check("", None);
        assert_eq!(parse_go_time("0001-01-01T00:00:00Z"), Ok(None));
        assert_eq!(parse_go_time(""), Ok(None));
        assert_eq!(parse_go_time("nope"), Err(()));
        assert!(matches!(parse_go_time("2026-01-01T00:00:00Z"), Ok(Some(_))));
    }

    #[test]
    fn links_skip_empty_href() {
        assert_eq!(Link::new("", "Source"), None);
        let link = Link::new("http://x", "");
        assert_eq!(link.map(|l| l.text), Some("http://x".to_string()));
        let long = format!("http://x/{}", "a".repeat(crate::limits::LINK.max()));
        assert_eq!(Link::new(&long, "Source"), None, "dropped, not kept");
        assert_eq!(Link::new("http://x", &long), None);
    }
}

//! Grafana Alerting webhook contact point (`version: "1"`, PROTOCOLS §2) → [`Webhook`],
//! and its optional HMAC-SHA256 body signature.
//!
//! The payload is Alertmanager's skeleton plus a few fields, so parsing is delegated to
//! `alertmanager::parse_flavor`; per-alert extras (`values`, `valueString`, `silenceURL`,
//! `imageURL`, `orgId`) land in `Alert::details`, `dashboardURL`/`panelURL` in `links`.
//! Pure: the replay window of a signed timestamp is checked against a `now` parameter.
//! Grafana's legacy (pre-unified-alerting) webhook has no `version` and is rejected.

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::ingest::IngestError;
use crate::ingest::alert::Source;
use crate::ingest::alertmanager::{self, Webhook};

/// The payload `version` Grafana Alerting sends.
pub const VERSION: &str = "1";

/// Default header carrying the signature (the name is configurable in Grafana).
pub const SIGNATURE_HEADER: &str = "X-Grafana-Alerting-Signature";

/// Grafana's top-level additions to the Alertmanager skeleton.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GrafanaInfo {
    /// Organization id.
    pub org_id: Option<i64>,
    /// `alerting` when any alert fires, else `ok`.
    pub state: Option<String>,
    /// Rendered title, e.g. `[FIRING:2] …`.
    pub title: Option<String>,
    /// Rendered message.
    pub message: Option<String>,
}

/// Parses a Grafana Alerting webhook body (version "1").
pub fn parse(body: &[u8]) -> Result<Webhook, IngestError> {
    alertmanager::parse_flavor(body, VERSION, Source::Grafana)
}

/// How far a signed timestamp may be from the daemon's clock.
pub const MAX_SKEW: TimeDelta = TimeDelta::minutes(5);

/// Why a signed webhook is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature, or not the HMAC of this body.
    #[error("X-Grafana-Alerting-Signature does not match the body")]
    Mismatch,
    /// Grafana sent no timestamp header: a signature alone could be replayed forever.
    #[error(
        "X-Grafana-Alerting-Timestamp is missing: set it as the HMAC timestamp header in Grafana"
    )]
    NoTimestamp,
    /// The timestamp is not Unix seconds.
    #[error("X-Grafana-Alerting-Timestamp is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is more than [`MAX_SKEW`] off `now`: a replay, or a wrong clock.
    #[error("X-Grafana-Alerting-Timestamp is more than 5 minutes off this server's clock")]
    Stale,
}

/// Checks a signed request: the signature must cover `<timestamp>:<body>` and the
/// timestamp must lie within [`MAX_SKEW`] of `now`, so a captured request cannot be
/// replayed later.
pub fn check(
    secret: &[u8],
    body: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let Some(ts) = timestamp else {
        return Err(SignatureError::NoTimestamp);
    };
    if !verify_signature(secret, body, signature, Some(ts)) {
        return Err(SignatureError::Mismatch);
    }
    let Some(sent) = ts
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
    else {
        return Err(SignatureError::BadTimestamp);
    };
    if (now - sent).abs() > MAX_SKEW {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// Checks the signature header: lower-case hex HMAC-SHA256(secret, body), or of
/// `<timestamp>:<body>` when Grafana is configured with a timestamp header. Hex case is not
/// significant; comparison is constant-time. A missing header never verifies.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
    timestamp: Option<&str>,
) -> bool {
    let Some(given) = header.and_then(|h| hex::decode(h.trim()).ok()) else {
        return false;
    };
    // ct_eq on slices of different lengths is false, also in constant time.
    digest(secret, body, timestamp).ct_eq(&given).into()
}

/// The signature Grafana would send (lower-case hex); for tests and tooling.
pub fn sign(secret: &[u8], body: &[u8], timestamp: Option<&str>) -> String {
    hex::encode(digest(secret, body, timestamp))
}

fn digest(secret: &[u8], body: &[u8], timestamp: Option<&str>) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    if let Some(ts) = timestamp {
        mac.update(ts.as_bytes());
        mac.update(b":");
    }
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::alert::{AlertStatus, Link, Severity};
    use serde_json::json;

    const SAMPLE: &str = include_str!("testdata/grafana.json");

    #[test]
    fn sample_payload() {
        let w = match parse(SAMPLE.as_bytes()) {
            Ok(w) => w,
            Err(e) => panic!("sample rejected: {e}"),
        };
        assert_eq!(w.source, Source::Grafana);
        assert_eq!(w.status, AlertStatus::Firing);
        let info = GrafanaInfo {
            org_id: Some(1),
            state: Some("alerting".into()),
            title: Some("[FIRING:1, RESOLVED:1] High CPU Infra".into()),
            message: Some("**Firing**\n\nValue: B=44.2, C=1\n".into()),
        };
        assert_eq!(w.grafana, Some(info));
        let firing = &w.alerts[0];
        assert_eq!(firing.source, Source::Grafana);
        assert_eq!(
            firing.severity,
            Some(Severity::Major),
            "\"high\" maps to major"
        );
        assert_eq!(firing.summary, "CPU above 90%");
        assert_eq!(firing.starts_at, "2026-11-24T21:18:48Z".parse().ok());
        let texts: Vec<&str> = firing.links.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["Source", "Runbook", "Dashboard", "Panel"]);
        assert_eq!(
            firing.links[3],
            Link {
                href: "https://grafana.example/d/dash1?viewPanel=3".into(),
                text: "Panel".into()
            }
        );
        let details = json!({
            "values": {"B": 44.2, "C": 1},
            "valueString": "[ var='B' labels={instance=web-1} value=44.2 ]",
            "silenceURL": "https://grafana.example/alerting/silence/new?alertmanager=grafana",
            "orgId": 1,
        });
        assert_eq!(firing.details, details);
        let resolved = &w.alerts[1];
        assert_eq!(resolved.status, AlertStatus::Resolved);
        assert_eq!(
            (resolved.links.len(), resolved.details.clone()),
            (0, json!({})),
            "empty extras dropped"
        );
    }

    #[test]
    fn alertmanager_version_is_rejected() {
        let body = SAMPLE.replace(r#""version": "1""#, r#""version": "4""#);
        assert_eq!(
            parse(body.as_bytes()).err().map(|e| e.field),
            Some("version".to_string())
        );
        let legacy = br#"{"ruleName":"x","state":"alerting","evalMatches":[]}"#;
        assert_eq!(
            parse(legacy).err().map(|e| e.field),
            Some("version".to_string())
        );
    }

    #[test]
    fn signatures() {
        let secret = b"s3cr3t";
        let body = SAMPLE.as_bytes();
        let plain = sign(secret, body, None);
        let stamped = sign(secret, body, Some("1767225600"));
        fn check(header: Option<&str>, ts: Option<&str>, body: &[u8], expected: bool) {
            assert_eq!(
                verify_signature(b"s3cr3t", body, header, ts),
                expected,
                "{header:?} {ts:?}"
            );
        }
        check(Some(&plain), None, body, true);
        check(Some(&plain.to_uppercase()), None, body, true);
        check(Some(&stamped), Some("1767225600"), body, true);
        check(Some(&stamped), None, body, false);
        check(Some(&plain), Some("1767225600"), body, false);
        check(Some(&stamped), Some("1767225601"), body, false);
        check(Some(&plain), None, b"tampered", false);
        check(Some(&plain[..62]), None, body, false);
        check(Some("not hex"), None, body, false);
        check(Some(""), None, body, false);
        check(None, None, body, false);
        assert!(!verify_signature(b"other", body, Some(&plain), None));
    }

    #[test]
    fn known_vector() {
        // The well-known HMAC-SHA256 example ("key", "The quick brown fox …").
        let sig = sign(b"key", b"The quick brown fox jumps over the lazy dog", None);
        assert_eq!(
            sig,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        let stamped = sign(b"key", b"dog", Some("12"));
        assert_eq!(stamped, sign(b"key", b"12:dog", None));
    }

    #[test]
    fn signed_timestamps_must_be_fresh() {
        let now = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        fn check_at(
            ts: Option<&str>,
            signed_with: Option<&str>,
            now: DateTime<Utc>,
        ) -> Result<(), SignatureError> {
            let sig = sign(b"k", b"body", signed_with);
            check(b"k", b"body", Some(&sig), ts, now)
        }
        use SignatureError::*;
        let cases: [(Option<&str>, Result<(), SignatureError>); 10] = [
            (Some("1767225600"), Ok(())),
            (Some("1767225300"), Ok(())),
            (Some("1767225900"), Ok(())),
            (Some(" 1767225600 "), Ok(())),
            (Some("1767225299"), Err(Stale)),
            (Some("1767225901"), Err(Stale)),
            (Some("1704067200"), Err(Stale)), // two years old
            (Some("4102444800"), Err(Stale)), // 2100
            (Some("soon"), Err(BadTimestamp)),
            (Some("99999999999999999"), Err(BadTimestamp)),
        ];
        for (ts, expected) in cases {
            assert_eq!(check_at(ts, ts, now), expected, "{ts:?}");
        }
        assert_eq!(check_at(None, None, now), Err(NoTimestamp), "unsigned time");
        assert_eq!(
            check_at(Some("1767225600"), Some("1767225601"), now),
            Err(Mismatch),
            "the time is covered by the signature"
        );
        assert_eq!(
            check(b"k", b"body", None, Some("1767225600"), now),
            Err(Mismatch)
        );
    }
}

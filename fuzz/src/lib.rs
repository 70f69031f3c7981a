//! What the fuzz targets share: how one input is cut into fields, and what
//! must hold for anything a parser accepts.
//!
//! Each target hands the fuzzer's bytes to a tocsin parser as the daemon
//! would and asserts what is true for every input: no panic, a refusal that
//! names its field, and alert text that stays one line on its way into a
//! page. A target never does I/O.
#![forbid(unsafe_code)]

use std::borrow::Cow;

use tocsin::ingest::alert::{self, Alert};
use tocsin::ingest::{IngestError, Webhook, alertmanager};
use tocsin::notify::{message, sms_segments};

/// Separates the fields of one input. 0xFF never occurs in UTF-8, so a test
/// fixture (a JSON body, an SMS text) is a whole first field as it stands.
pub const SEP: u8 = 0xff;

/// The first `N` fields of `data`, cut at [`SEP`]: the first is always
/// present, a missing one is `None`, and the last takes the rest.
pub fn fields<const N: usize>(data: &[u8]) -> [Option<&[u8]>; N] {
    let mut out = [None; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        match rest.iter().position(|&b| b == SEP) {
            Some(at) if i + 1 < N => {
                *slot = Some(&rest[..at]);
                rest = &rest[at + 1..];
            }
            _ => {
                *slot = Some(rest);
                break;
            }
        }
    }
    out
}

/// Text as the daemon would see it after decoding: invalid UTF-8 replaced.
pub fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// A header value: only valid UTF-8 gets past `HeaderValue::to_str`.
pub fn header(bytes: Option<&[u8]>) -> Option<&str> {
    bytes.and_then(|b| std::str::from_utf8(b).ok())
}

/// A refused webhook is a 400 that names a field.
pub fn check_refusal(e: &IngestError) {
    assert!(!e.field.is_empty(), "refusal names no field: {e:?}");
    assert!(!e.reason.is_empty(), "refusal gives no reason: {e:?}");
}

/// What holds for every accepted Alertmanager or Grafana notification.
pub fn check_webhook(w: &Webhook) {
    assert!(!w.group_key.is_empty());
    let key = alertmanager::idempotency_key(w);
    assert!(key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()));
    for a in &w.alerts {
        assert_eq!(a.source, w.source);
        assert!(!a.dedup_key.is_empty(), "alert without identity: {a:?}");
        check_alert(a);
    }
}

/// What holds for every accepted alert, whatever sent it: a bounded
/// summary, and alert text that enters a page as one line within its cut.
pub fn check_alert(a: &Alert) {
    assert!(a.summary.chars().count() <= alert::MAX_SUMMARY_CHARS);
    check_page_text(&a.summary);
    for link in &a.links {
        assert!(!link.href.trim().is_empty(), "empty link kept: {link:?}");
    }
}

/// Alert-provided text as a page shows it: one line, no bidi controls, cut
/// at a whole character, counted in at least one SMS segment.
pub fn check_page_text(raw: &str) {
    let line = message::one_line(raw);
    let breaks_line = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    assert!(!line.chars().any(breaks_line), "{line:?}");
    assert_eq!(line.trim_matches(' '), line, "untrimmed: {line:?}");
    let cut = sms_segments::cut(&line, 90);
    assert!(line.starts_with(cut) && cut.chars().count() <= 90);
    assert!(sms_segments::segments(&line) >= 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(data: &[u8], expected: [Option<&[u8]>; 3]) {
        assert_eq!(fields::<3>(data), expected, "{data:?}");
    }

    #[test]
    fn cuts_fields() {
        check(b"", [Some(b""), None, None]);
        check(b"{}", [Some(b"{}"), None, None]);
        check(b"a\xffb", [Some(b"a"), Some(b"b"), None]);
        check(
            b"a\xffb\xffc\xffd",
            [Some(b"a"), Some(b"b"), Some(b"c\xffd")],
        );
        check(b"\xff\xff", [Some(b""), Some(b""), Some(b"")]);
    }
}

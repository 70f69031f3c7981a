//! Shared HTTP failure classification for the Twilio and chat senders.
//!
//! Owns: mapping transport errors and `Retry-After` onto [`SendError`].
//! Must not: leak URLs into reasons (chat webhook URLs and Telegram paths
//! carry credentials).

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::notify::SendError;

/// Longest piece of a provider's response body quoted in a reason.
const MAX_QUOTE: usize = 200;

/// Classifies a failed exchange that produced no HTTP status.
pub(crate) fn transport(err: reqwest::Error) -> SendError {
    let err = err.without_url();
    let reason = chain(&err);
    if err.is_builder() || err.is_redirect() {
        SendError::Permanent { code: None, reason }
    } else if err.is_connect() {
        // The connection was never established, so the request never left.
        SendError::Transient {
            retry_after: None,
            ambiguous: false,
            reason,
        }
    } else {
        // Timed out or dropped after sending: the provider may have acted.
        SendError::Transient {
            retry_after: None,
            ambiguous: true,
            reason,
        }
    }
}

fn chain(err: &reqwest::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// `Retry-After` in seconds (integer or fractional); HTTP dates are ignored
/// because this module does not read the clock.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?;
    seconds(text.trim())
}

/// A non-negative, finite number of seconds.
pub(crate) fn seconds(text: &str) -> Option<Duration> {
    let secs: f64 = text.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// A non-2xx answer of a JSON/HTTP vendor (ntfy, Telnyx): 429 and 5xx are
/// worth retrying (a 5xx may have been acted on), anything else is a refusal
/// that the same request will meet again. `code` is the vendor's own error
/// code when its body names one, else the HTTP status.
pub(crate) fn http_failure(
    reason: String,
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    code: Option<u32>,
) -> SendError {
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        SendError::Transient {
            retry_after,
            ambiguous: false,
            reason,
        }
    } else if status.is_server_error() {
        SendError::Transient {
            retry_after,
            ambiguous: true,
            reason,
        }
    } else {
        SendError::Permanent {
            code: code.or(Some(u32::from(status.as_u16()))),
            reason,
        }
    }
}

/// A provider's body, shortened for a log line.
pub(crate) fn quote(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(MAX_QUOTE) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_table() {
        fn check(input: &str, expected: Option<Duration>) {
            assert_eq!(seconds(input), expected, "{input:?}");
        }
        check("0", Some(Duration::ZERO));
        check("30", Some(Duration::from_secs(30)));
        check("1.5", Some(Duration::from_millis(1500)));
        check("-1", None);
        check("NaN", None);
        check("inf", None);
        check("Wed, 21 Oct 2015 07:28:00 GMT", None);
        check("", None);
    }

    #[test]
    fn http_failure_table() {
        use reqwest::StatusCode;
        fn check(status: u16, code: Option<u32>, retry: bool, kept: Option<u32>) {
            let status = StatusCode::from_u16(status).expect("status");
            match http_failure("r".into(), status, None, code) {
                SendError::Transient { .. } => assert!(retry, "{status} retried"),
                SendError::Permanent { code, .. } => {
                    assert!(!retry, "{status} refused");
                    assert_eq!(code, kept, "{status}");
                }
            }
        }
        check(429, None, true, None);
        check(500, None, true, None);
        check(503, Some(90015), true, None);
        // A refusal keeps the vendor's code, else the HTTP status.
        check(400, Some(40310), false, Some(40310));
        check(422, None, false, Some(422));
        check(401, None, false, Some(401));
        check(404, None, false, Some(404));
    }

    #[test]
    fn quote_table() {
        fn check(input: &str, expected: &str) {
            assert_eq!(quote(input), expected);
        }
        check(" short \n", "short");
        check(&"é".repeat(300), &format!("{}…", "é".repeat(200)));
    }
}

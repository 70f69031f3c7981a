//! Field extraction shared by the PagerDuty-style event formats (v2, v1, change events).
//!
//! Owns the collect-every-error `Checker` and the exact wording of PagerDuty's validation
//! messages (`'payload.source' is missing or blank`). Knows no particular event format.

use serde_json::{Map, Value};

use crate::ingest::alert::Link;
use crate::ingest::events_v2::EventsError;
use crate::limits::{self, Cap};

/// A JSON object, or `EventsError::Malformed` for anything else (PagerDuty answers
/// "Unrecognized object" for both bad JSON and non-object JSON).
pub(crate) fn object(body: &[u8]) -> Result<Map<String, Value>, EventsError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(EventsError::Malformed),
    }
}

/// Collects every validation error of one event, in field order.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    errors: Vec<String>,
}

impl Checker {
    /// Records a message verbatim.
    pub(crate) fn push(&mut self, message: String) {
        self.errors.push(message);
    }

    /// Records that `path` is absent, null or blank.
    pub(crate) fn missing(&mut self, path: &str) {
        self.push(format!("'{path}' is missing or blank"));
    }

    /// A required string; `None` (with an error recorded) when absent, blank or not a string.
    pub(crate) fn required(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<String> {
        let value = self.optional(obj, key, path);
        if value.is_none() && !matches!(obj.get(key), Some(v) if !v.is_string() && !v.is_null()) {
            self.missing(path);
        }
        value
    }

    /// An optional string; blank counts as absent, a non-string is an error.
    pub(crate) fn optional(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.push(format!("'{path}' is invalid (must be a string)"));
                None
            }
        }
    }

    /// Records an error when `value` is over `cap`.
    pub(crate) fn cap(&mut self, value: Option<&str>, path: &str, cap: Cap) {
        if value.is_some_and(|v| cap.check(v).is_err()) {
            self.push(format!(
                "'{path}' is too long (maximum is {} {})",
                cap.max(),
                cap.unit()
            ));
        }
    }

    /// Records an error when the JSON `value` is larger than `cap`.
    pub(crate) fn json_cap(&mut self, value: Option<&Value>, path: &str, cap: Cap) {
        if value.is_some_and(|v| limits::json(v, cap).is_err()) {
            self.push(format!(
                "'{path}' is too large (maximum is {} bytes of JSON)",
                cap.max()
            ));
        }
    }

    /// A nested object; records "missing" or "must be an object" otherwise.
    pub(crate) fn object<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
    ) -> Option<&'a Map<String, Value>> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                self.missing(key);
                None
            }
            Some(Value::Object(map)) => Some(map),
            Some(_) => {
                self.push(format!("'{key}' is invalid (must be an object)"));
                None
            }
        }
    }

    /// The collected messages.
    pub(crate) fn into_errors(self) -> Vec<String> {
        self.errors
    }
}

/// `links: [{href, text}]`; malformed entries and those past [`limits::LINKS`] are
/// skipped — decorations never cost a page.
pub(crate) fn links(obj: &Map<String, Value>, key: &str) -> Vec<Link> {
    let Some(Value::Array(items)) = obj.get(key) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let href = item.get("href")?.as_str()?;
            let text = item.get("text").and_then(Value::as_str).unwrap_or_default();
            Link::new(href, text)
        })
        .take(limits::LINKS)
        .collect()
}

/// A string field without validation (for cosmetic fields like `client`).
pub(crate) fn text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
}

//! `ApiError`: the one place where failures become status codes. Handlers
//! stay parse → call → map; the cause is logged once and never leaked.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 naming the field and the reason.
    #[error("{field}: {reason}")]
    BadRequest { field: String, reason: String },
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    /// 409 with the current state, e.g. resolving a resolved incident.
    #[error("{0}")]
    Conflict(String),
    /// 409: the action is not legal in the incident's current state.
    #[error("incident {id} is {state}")]
    IllegalTransition { id: i64, state: String },
    /// 408: the request body did not arrive in time (`server.body_timeout`).
    #[error("request body too slow")]
    TooSlow,
    /// 413: the request body is over `server.max_body_bytes`.
    #[error("request body too large")]
    TooLarge,
    /// 503: nothing was stored; the sender should retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// A JSON request body as `T`. A refusal names the field at fault (`text`,
/// `rules[1].after`), not the body as a whole: `missing`, `unknown field`
/// or what the value should have been.
pub fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    // Trailing text after the value, as `serde_json::from_slice` refuses it.
    let not_json = |e: serde_json::Error| ApiError::bad("body", format!("not valid JSON: {e}"));
    let (path, inner) = match parsed {
        Ok(v) => return de.end().map(|()| v).map_err(not_json),
        Err(e) => (e.path().to_string(), e.into_inner()),
    };
    if !inner.is_data() {
        // Not JSON at all, or cut short: where it broke is the help.
        return Err(not_json(inner));
    }
    Err(data_error(&path, &inner))
}

/// A body that is JSON but not the shape asked for, named by its field.
fn data_error(path: &str, inner: &serde_json::Error) -> ApiError {
    let msg = inner.to_string();
    // serde_json appends the position; with the field named it is noise.
    let msg = msg
        .rsplit_once(" at line ")
        .map_or(msg.as_str(), |(m, _)| m);
    let under = |name: &str| match path {
        "." => name.to_string(),
        p => format!("{p}.{name}"),
    };
    if let Some(name) = between(msg, "missing field `", "`") {
        return ApiError::bad(under(name), "missing");
    }
    if msg.starts_with("unknown field `") {
        let reason = match msg.split_once(", expected ") {
            Some((_, e)) => format!("unknown field; expected {e}"),
            None => "unknown field".to_string(),
        };
        // The path already ends at the unknown key.
        return ApiError::bad(path, reason);
    }
    let field = if path == "." { "body" } else { path };
    ApiError::bad(field, msg)
}

/// The text of `s` between the first `open` and the next `close`.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let rest = &s[s.find(open)? + open.len()..];
    Some(&rest[..rest.find(close)?])
}

impl ApiError {
    pub fn bad(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::BadRequest {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("resource".into()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            ApiError::BadRequest { field, reason } => (
                StatusCode::BAD_REQUEST,
                json!({"error": format!("{field}: {reason}"), "field": field, "reason": reason}),
            ),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, json!({"error": m})),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, json!({"error": m})),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                json!({"error": format!("{what} not found")}),
            ),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, json!({"error": m})),
            ApiError::IllegalTransition { id, state } => (
                StatusCode::CONFLICT,
                json!({"error": format!("incident {id} is {state}"), "state": state}),
            ),
            ApiError::TooSlow => (
                StatusCode::REQUEST_TIMEOUT,
                json!({"error": "request body too slow"}),
            ),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "request body too large (server.max_body_bytes)"}),
            ),
            ApiError::Unavailable(cause) => {
                tracing::error!(cause = %cause, "store unavailable; answering 503");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "store unavailable: nothing was stored, retry later"}),
                )
            }
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Update {
        text: String,
        rules: Option<Vec<Rule>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Rule {
        after: u64,
    }

    fn refusal(body: &str) -> (String, String) {
        match json_body::<Update>(body.as_bytes()) {
            Err(ApiError::BadRequest { field, reason }) => (field, reason),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn a_refused_body_names_the_field_at_fault() {
        let cases = [
            (
                r#"{"text":5}"#,
                ("text", "invalid type: integer `5`, expected a string"),
            ),
            (r#"{}"#, ("text", "missing")),
            (
                r#"{"txt":"x"}"#,
                ("txt", "unknown field; expected `text` or `rules`"),
            ),
            (
                r#"{"text":"x","rules":[{"after":1},{"after":"2m"}]}"#,
                (
                    "rules[1].after",
                    "invalid type: string \"2m\", expected u64",
                ),
            ),
            (
                r#"{"text":"x","rules":[{}]}"#,
                ("rules[0].after", "missing"),
            ),
        ];
        for (body, (field, reason)) in cases {
            assert_eq!(refusal(body), (field.into(), reason.into()), "{body}");
        }
        // Not JSON, or more after it: the body, and where it broke.
        for body in ["nojson", r#"{"text":"x"} {}"#, r#"{"text":"#] {
            let (field, reason) = refusal(body);
            assert_eq!(field, "body");
            assert!(reason.starts_with("not valid JSON: "), "{body}: {reason}");
            assert!(reason.contains(" at line 1 column "), "{body}: {reason}");
        }
        assert_eq!(
            json_body::<Update>(br#"{"text":"ok"}"#)
                .map(|u| u.text)
                .ok(),
            Some("ok".to_string())
        );
    }
}

//! The Twilio REST client (PROTOCOLS §3a, §3b): send SMS, place calls, and
//! look either up again to reconcile after a crash.
//!
//! Owns: request shapes, Basic auth, and the classification of Twilio's
//! answers into [`SendError`]. Must not: retry (the outbox decides), read
//! the clock, or put the auth token anywhere but the Authorization header.

mod status;

use std::fmt;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::notify::SendError;
use crate::notify::classify;

pub use status::{Outcome, StatusKind, StatusUpdate, furthest, outcome, status_update};

const API_VERSION: &str = "2010-04-01";
/// Call progress events we subscribe to, one `StatusCallbackEvent` each.
const CALL_EVENTS: [&str; 4] = ["initiated", "ringing", "answered", "completed"];
/// Twilio's error code for "too many requests": never processed, safe to retry.
const TOO_MANY_REQUESTS: u32 = 20429;
/// Twilio's bounds on `ValidityPeriod`, in seconds.
const VALIDITY_RANGE: (u32, u32) = (1, 36_000);

/// Who messages and calls appear to come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    /// A Twilio phone number in E.164.
    Number(String),
    /// A Messaging Service (`MG…`) that picks a number from its pool; SMS only.
    MessagingServiceSid(String),
}

/// What a call plays once answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallContent {
    /// Inline TwiML (≤ 4000 characters).
    Twiml(String),
    /// A URL Twilio fetches TwiML from (POST).
    Url(String),
}

/// Twilio's id for a created message (`SM…`) or call (`CA…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderId(String);

impl ProviderId {
    /// The id as Twilio spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client for one Twilio account.
#[derive(Clone)]
pub struct TwilioClient {
    base: String,
    account_sid: String,
    auth_token: String,
    from: Sender,
    http: reqwest::Client,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("base", &self.base)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("from", &self.from)
            .finish()
    }
}

impl TwilioClient {
    /// A client talking to `base_url` (`https://api.twilio.com` in
    /// production, a local fake in tests). Timeouts are `http`'s.
    pub fn new(
        base_url: impl Into<String>,
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
        from: Sender,
        http: reqwest::Client,
    ) -> Self {
        let base = base_url.into().trim_end_matches('/').to_owned();
        TwilioClient {
            base,
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            from,
            http,
        }
    }

    /// Creates an SMS. `validity_secs` is clamped to Twilio's 1–36000 s; set
    /// it short for pages so a stale one is dropped rather than delivered late.
    pub async fn send_sms(
        &self,
        to: &str,
        body: &str,
        status_callback: Option<&str>,
        validity_secs: Option<u32>,
    ) -> Result<ProviderId, SendError> {
        let mut form = vec![("To", to.to_owned())];
        form.push(match &self.from {
            Sender::Number(number) => ("From", number.clone()),
            Sender::MessagingServiceSid(sid) => ("MessagingServiceSid", sid.clone()),
        });
        form.push(("Body", body.to_owned()));
        if let Some(url) = status_callback {
            form.push(("StatusCallback", url.to_owned()));
        }
        if let Some(secs) = validity_secs {
            let (low, high) = VALIDITY_RANGE;
            form.push(("ValidityPeriod", secs.clamp(low, high).to_string()));
        }
        self.create("Messages.json", &form).await
    }

    /// Places a call. Needs a [`Sender::Number`]: Messaging Services cannot call.
    pub async fn place_call(
        &self,
        to: &str,
        content: &CallContent,
        status_callback: Option<&str>,
        timeout_secs: Option<u32>,
    ) -> Result<ProviderId, SendError> {
        let Sender::Number(from) = &self.from else {
            return Err(SendError::Permanent {
                code: None,
                reason: "voice calls need a From number, not a Messaging Service".into(),
            });
        };
        let mut form = vec![("To", to.to_owned()), ("From", from.clone())];
        form.push(match content {
            CallContent::Twiml(twiml) => ("Twiml", twiml.clone()),
            CallContent::Url(url) => ("Url", url.clone()),
        });
        if let Some(url) = status_callback {
            form.push(("StatusCallback", url.to_owned()));
            form.push(("StatusCallbackMethod", "POST".to_owned()));
            form.extend(CALL_EVENTS.map(|event| ("StatusCallbackEvent", event.to_owned())));
        }
        if let Some(secs) = timeout_secs {
            form.push(("Timeout", secs.to_string()));
        }
        self.create("Calls.json", &form).await
    }

    /// The current status of a message, to reconcile after a crash.
    pub async fn lookup_message(&self, sid: &str) -> Result<StatusUpdate, SendError> {
        self.lookup("Messages", sid, StatusKind::Message).await
    }

    /// The current status of a call, to reconcile after a crash.
    pub async fn lookup_call(&self, sid: &str) -> Result<StatusUpdate, SendError> {
        self.lookup("Calls", sid, StatusKind::Call).await
    }

    async fn create(
        &self,
        resource: &str,
        form: &[(&str, String)],
    ) -> Result<ProviderId, SendError> {
        let url = format!("{}/{resource}", self.account_url()?);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = self
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        let json = self.exchange(request).await?;
        match json.get("sid").and_then(Value::as_str) {
            Some(sid) if !sid.is_empty() => Ok(ProviderId(sid.to_owned())),
            // Twilio said yes but we cannot tell to what: it may well be sent.
            _ => Err(SendError::Transient {
                retry_after: None,
                ambiguous: true,
                reason: "Twilio accepted the request but returned no sid".into(),
            }),
        }
    }

    async fn lookup(
        &self,
        resource: &str,
        sid: &str,
        kind: StatusKind,
    ) -> Result<StatusUpdate, SendError> {
        let url = format!(
            "{}/{resource}/{}.json",
            self.account_url()?,
            path_segment(sid)?
        );
        let json = self.exchange(self.http.get(url)).await?;
        let text = |field: &str| json.get(field).and_then(Value::as_str).map(str::to_owned);
        let status = text("status").ok_or_else(|| SendError::Transient {
            retry_after: None,
            ambiguous: false,
            reason: "Twilio returned a resource without a status".into(),
        })?;
        Ok(StatusUpdate {
            sid: text("sid").unwrap_or_else(|| sid.to_owned()),
            kind,
            status: status.to_ascii_lowercase(),
            error_code: json.get("error_code").and_then(number),
            answered_by: text("answered_by"),
        })
    }

    fn account_url(&self) -> Result<String, SendError> {
        let sid = path_segment(&self.account_sid)?;
        Ok(format!("{}/{API_VERSION}/Accounts/{sid}", self.base))
    }

    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Value, SendError> {
        let response = request
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .send()
            .await
            .map_err(classify::transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(classify::transport)?;
        if !status.is_success() {
            return Err(classify_failure(status, &headers, &body));
        }
        serde_json::from_str(&body).map_err(|e| SendError::Transient {
            retry_after: None,
            ambiguous: true,
            reason: format!("unreadable Twilio success body: {e}"),
        })
    }
}

/// Twilio ids are alphanumeric; anything else would reshape the URL path.
fn path_segment(sid: &str) -> Result<&str, SendError> {
    if !sid.is_empty() && sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(sid)
    } else {
        Err(SendError::Permanent {
            code: None,
            reason: format!("not a Twilio SID: {sid:?}"),
        })
    }
}

/// A JSON number or numeric string as a u32 (Twilio uses both for codes).
fn number(value: &Value) -> Option<u32> {
    match value {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Maps a non-2xx answer per PROTOCOLS §3a.
fn classify_failure(status: StatusCode, headers: &HeaderMap, body: &str) -> SendError {
    let json: Option<Value> = serde_json::from_str(body).ok();
    let code = json.as_ref().and_then(|j| j.get("code")).and_then(number);
    let message = json
        .as_ref()
        .and_then(|j| j.get("message"))
        .and_then(Value::as_str)
        .map_or_else(|| classify::quote(body), str::to_owned);
    let reason = format!("Twilio HTTP {}: {message}", status.as_u16());
    let retry_after = classify::retry_after(headers);
    if status == StatusCode::TOO_MANY_REQUESTS || code == Some(TOO_MANY_REQUESTS) {
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
        SendError::Permanent { code, reason }
    }
}

#[cfg(test)]
mod tests;

//! The Telnyx REST client (API v2): SMS through `POST /v2/messages`, calls
//! through Call Control (`POST /v2/calls`, then commands on the call:
//! `gather_using_speak`, `speak`, `hangup`), Bearer API key auth.
//!
//! Owns: request shapes and the reading of Telnyx's answers into
//! [`SendError`] (its `errors[0].code` kept, so a refused number says why).
//! Must not: retry (the outbox decides), read the clock, or put the API key
//! anywhere but the Authorization header.

pub mod webhook;

use std::fmt;

use serde_json::{Value, json};

use super::notifier::{Notifier, SendFuture};
use super::{SendError, classify};
use crate::incident::OutboxRow;
use webhook::CallState;

/// Voice and language of everything tocsin says on a call.
const VOICE: &str = "female";
const LANGUAGE: &str = "en-US";

/// A client for one Telnyx account.
#[derive(Clone)]
pub struct TelnyxClient {
    base: String,
    api_key: String,
    from: String,
    messaging_profile_id: Option<String>,
    connection_id: Option<String>,
    http: reqwest::Client,
}

impl fmt::Debug for TelnyxClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelnyxClient")
            .field("base", &self.base)
            .field("api_key", &"<redacted>")
            .field("from", &self.from)
            .finish()
    }
}

impl TelnyxClient {
    /// A client of the account `t` describes (`base_url`: a local fake in tests).
    pub fn new(t: &crate::config::Telnyx, http: reqwest::Client) -> Self {
        TelnyxClient {
            base: t.base_url.as_str().trim_end_matches('/').to_owned(),
            api_key: t.api_key.expose().to_owned(),
            from: t.from.clone(),
            messaging_profile_id: t.messaging_profile_id.clone(),
            connection_id: t.connection_id.clone(),
            http,
        }
    }

    /// Sends an SMS; delivery reports go to `webhook_url` (none without
    /// one: a reply to a reply needs no report). Returns the message id.
    pub async fn send_sms(
        &self,
        to: &str,
        text: &str,
        webhook_url: Option<&str>,
    ) -> Result<String, SendError> {
        let mut body = json!({
            "from": self.from,
            "to": to,
            "text": text,
            "use_profile_webhooks": false,
        });
        if let Some(url) = webhook_url {
            body["webhook_url"] = json!(url);
        }
        if let Some(profile) = &self.messaging_profile_id {
            body["messaging_profile_id"] = json!(profile);
        }
        let answer = self.post("/v2/messages", &body).await?;
        id_of(&answer, "id")
    }

    /// Dials `to`; the call's events go to `webhook_url` carrying `state`.
    /// Returns the call's `call_control_id`.
    pub async fn dial(
        &self,
        to: &str,
        webhook_url: &str,
        state: &CallState,
        timeout_secs: u32,
    ) -> Result<String, SendError> {
        let Some(connection) = &self.connection_id else {
            return Err(SendError::Permanent {
                code: None,
                reason: "Telnyx calls need connection_id (a Call Control application)".into(),
            });
        };
        let body = json!({
            "connection_id": connection,
            "to": to,
            "from": self.from,
            "webhook_url": webhook_url,
            "client_state": state.encode(),
            "timeout_secs": timeout_secs,
        });
        let answer = self.post("/v2/calls", &body).await?;
        id_of(&answer, "call_control_id")
    }

    /// Reads `say` and waits for one digit, 1 to 3.
    pub async fn gather(&self, call: &str, say: &str, state: &CallState) -> Result<(), SendError> {
        let body = json!({
            "payload": say,
            "voice": VOICE,
            "language": LANGUAGE,
            "minimum_digits": 1,
            "maximum_digits": 1,
            "valid_digits": "123",
            "maximum_tries": 2,
            "timeout_millis": 10_000,
            "client_state": state.encode(),
        });
        self.command(call, "gather_using_speak", &body).await
    }

    /// Says `text`; a `call.speak.ended` follows.
    pub async fn speak(&self, call: &str, text: &str) -> Result<(), SendError> {
        let body = json!({"payload": text, "voice": VOICE, "language": LANGUAGE});
        self.command(call, "speak", &body).await
    }

    /// Ends the call.
    pub async fn hangup(&self, call: &str) -> Result<(), SendError> {
        self.command(call, "hangup", &json!({})).await
    }

    async fn command(&self, call: &str, action: &str, body: &Value) -> Result<(), SendError> {
        let call: String = url::form_urlencoded::byte_serialize(call.as_bytes()).collect();
        self.post(&format!("/v2/calls/{call}/actions/{action}"), body)
            .await
            .map(drop)
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, SendError> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .await
            .map_err(classify::transport)?;
        let status = response.status();
        let retry_after = classify::retry_after(response.headers());
        let text = response.text().await.map_err(classify::transport)?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            let first = json.as_ref().and_then(|j| j["errors"].get(0)).cloned();
            let code = first.as_ref().and_then(|e| match &e["code"] {
                Value::String(s) => s.parse().ok(),
                Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                _ => None,
            });
            let said = first
                .as_ref()
                .and_then(|e| e["detail"].as_str().or(e["title"].as_str()))
                .map_or_else(|| classify::quote(&text), str::to_owned);
            let reason = format!("Telnyx HTTP {}: {said}", status.as_u16());
            return Err(classify::http_failure(reason, status, retry_after, code));
        }
        json.ok_or_else(|| SendError::Transient {
            retry_after: None,
            ambiguous: true,
            reason: "unreadable Telnyx success body".into(),
        })
    }
}

/// `data.<field>` of a success answer: without it we cannot tell what was sent.
fn id_of(answer: &Value, field: &str) -> Result<String, SendError> {
    match answer["data"][field].as_str() {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(SendError::Transient {
            retry_after: None,
            ambiguous: true,
            reason: format!("Telnyx accepted the request but returned no {field}"),
        }),
    }
}

/// SMS through Telnyx.
pub struct TelnyxSms {
    pub client: TelnyxClient,
    /// `{public_url}/telnyx/webhook`.
    pub webhook_url: String,
}

impl Notifier for TelnyxSms {
    fn provider(&self) -> &'static str {
        "telnyx"
    }
    fn send<'a>(&'a self, row: &'a OutboxRow) -> SendFuture<'a> {
        Box::pin(async move {
            let id = self
                .client
                .send_sms(&row.target, &row.body, Some(&self.webhook_url))
                .await?;
            Ok(Some(id))
        })
    }
}

/// Calls through Telnyx Call Control; the webhook reads the incident and
/// gathers the digit once the call is answered.
pub struct TelnyxVoice {
    pub client: TelnyxClient,
    pub webhook_url: String,
    pub ring_timeout_secs: u32,
}

impl Notifier for TelnyxVoice {
    fn provider(&self) -> &'static str {
        "telnyx"
    }
    fn send<'a>(&'a self, row: &'a OutboxRow) -> SendFuture<'a> {
        Box::pin(async move {
            let state = CallState {
                incident: row.incident.unwrap_or_default(),
                person: row.person.clone().unwrap_or_default(),
            };
            let id = self
                .client
                .dial(
                    &row.target,
                    &self.webhook_url,
                    &state,
                    self.ring_timeout_secs,
                )
                .await?;
            Ok(Some(id))
        })
    }
}

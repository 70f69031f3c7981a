//! Chat webhooks (PROTOCOLS §4): Slack, Mattermost, Telegram, Discord,
//! Microsoft Teams Workflows, and a generic signed JSON webhook.
//!
//! Owns: each provider's request shape and the reading of its answer into
//! [`SendError`]. Any non-2xx is never a delivery. Must not: retry (the
//! outbox decides), or let a webhook URL, bot token or secret reach a log
//! line (they are the credentials).

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::notify::{SendError, classify};

/// Header carrying the generic webhook's signature: `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Tocsin-Signature";

/// Telegram counts ≤ 4096 characters after entities are parsed.
const TELEGRAM_MAX: usize = 4000;
/// Discord rejects `content` over 2000 characters.
const DISCORD_MAX: usize = 2000;

/// Which chat provider a webhook URL (or API base) belongs to.
#[derive(Clone, PartialEq, Eq)]
pub enum ChatKind {
    /// Slack incoming webhook; answers 200 `ok`.
    Slack,
    /// Mattermost incoming webhook; answers 200.
    Mattermost,
    /// Telegram Bot API `sendMessage`; the URL is the API base.
    Telegram {
        /// The bot's token (a credential).
        bot_token: String,
        /// A numeric chat id or `@channelname`.
        chat_id: String,
    },
    /// Discord webhook; answers 204.
    Discord,
    /// Microsoft Teams Workflows webhook (Adaptive Card); answers 202.
    Teams,
    /// Any endpoint taking `{"text","title"}`, optionally HMAC-signed.
    Webhook {
        /// Key for [`SIGNATURE_HEADER`]; unsigned when `None`.
        secret: Option<String>,
    },
}

impl fmt::Debug for ChatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatKind::Telegram { chat_id, .. } => f
                .debug_struct("Telegram")
                .field("bot_token", &"<redacted>")
                .field("chat_id", chat_id)
                .finish(),
            ChatKind::Webhook { secret } => f
                .debug_struct("Webhook")
                .field("secret", &secret.as_ref().map(|_| "<redacted>"))
                .finish(),
            other => f.write_str(other.name()),
        }
    }
}

impl ChatKind {
    fn name(&self) -> &'static str {
        match self {
            ChatKind::Slack => "Slack",
            ChatKind::Mattermost => "Mattermost",
            ChatKind::Telegram { .. } => "Telegram",
            ChatKind::Discord => "Discord",
            ChatKind::Teams => "Teams",
            ChatKind::Webhook { .. } => "Webhook",
        }
    }
}

/// A fully built request, ready to POST.
#[derive(Clone, PartialEq, Eq)]
pub struct ChatRequest {
    /// Where to POST (a credential for most providers).
    pub url: String,
    /// Headers to send, `Content-Type` included.
    pub headers: Vec<(&'static str, String)>,
    /// The exact JSON bytes (what the generic webhook signature covers).
    pub body: Vec<u8>,
}

impl fmt::Debug for ChatRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatRequest")
            .field("url", &"<redacted>")
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// Builds the request for `kind`. `url_or_base` is the webhook URL, or for
/// Telegram the API base (`https://api.telegram.org`).
pub fn build_request(
    kind: &ChatKind,
    url_or_base: &str,
    text: &str,
    title: Option<&str>,
) -> ChatRequest {
    let mut url = url_or_base.to_owned();
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
    let body = match kind {
        ChatKind::Slack => json!({ "text": slack_text(text, title) }),
        ChatKind::Mattermost => json!({ "text": markdown_text(text, title) }),
        ChatKind::Discord => json!({
            "content": truncate(&markdown_text(text, title), DISCORD_MAX),
            // Alert text must never ping @everyone or a role.
            "allowed_mentions": { "parse": [] },
        }),
        ChatKind::Telegram { bot_token, chat_id } => {
            url = format!(
                "{}/bot{bot_token}/sendMessage",
                url_or_base.trim_end_matches('/')
            );
            json!({
                "chat_id": telegram_chat_id(chat_id),
                "text": telegram_text(text, title),
                "parse_mode": "HTML",
                "disable_web_page_preview": true,
            })
        }
        ChatKind::Teams => teams_card(text, title),
        ChatKind::Webhook { .. } => json!({ "text": text, "title": title }),
    };
    let body = body.to_string().into_bytes();
    if let ChatKind::Webhook {
        secret: Some(secret),
    } = kind
    {
        headers.push((SIGNATURE_HEADER, signature(secret, &body)));
    }
    ChatRequest { url, headers, body }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts one message and reads the provider's answer.
pub async fn send(
    http: &reqwest::Client,
    kind: &ChatKind,
    url_or_base: &str,
    text: &str,
    title: Option<&str>,
) -> Result<(), SendError> {
    let request = build_request(kind, url_or_base, text, title);
    let mut builder = http.post(&request.url).body(request.body);
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await.map_err(classify::transport)?;
    let status = response.status();
    let retry_after = classify::retry_after(response.headers());
    let body = response.text().await.map_err(classify::transport)?;
    classify_response(kind, status, retry_after, &body)
}

/// Reads a provider's answer; only the success each provider promises counts.
fn classify_response(
    kind: &ChatKind,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> Result<(), SendError> {
    if let ChatKind::Telegram { .. } = kind {
        return telegram_response(status, retry_after, body);
    }
    let reason = format!(
        "{} HTTP {}: {}",
        kind.name(),
        status.as_u16(),
        classify::quote(body)
    );
    if status.is_success() {
        let ok = match kind {
            ChatKind::Slack => status == StatusCode::OK && body.trim() == "ok",
            ChatKind::Mattermost => status == StatusCode::OK,
            _ => true,
        };
        // Something other than the provider answered (a proxy, a wrong URL).
        return if ok {
            Ok(())
        } else {
            Err(SendError::Permanent {
                code: Some(status.as_u16().into()),
                reason,
            })
        };
    }
    Err(failure(status.as_u16().into(), retry_after, reason))
}

fn telegram_response(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> Result<(), SendError> {
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if status.is_success() && json.get("ok") == Some(&Value::Bool(true)) {
        return Ok(());
    }
    let description = json
        .get("description")
        .and_then(Value::as_str)
        .map_or_else(|| classify::quote(body), str::to_owned);
    let reason = format!("Telegram HTTP {}: {description}", status.as_u16());
    if status.is_success() {
        // A 2xx without `ok: true`: the message may well have been posted.
        return Err(SendError::Transient {
            retry_after: None,
            ambiguous: true,
            reason,
        });
    }
    let code = json
        .get("error_code")
        .and_then(Value::as_u64)
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(status.as_u16().into());
    let json_retry = json
        .pointer("/parameters/retry_after")
        .and_then(Value::as_u64)
        .map(Duration::from_secs);
    Err(failure(code, json_retry.or(retry_after), reason))
}

fn failure(code: u32, retry_after: Option<Duration>, reason: String) -> SendError {
    match code {
        429 => SendError::Transient {
            retry_after,
            ambiguous: false,
            reason,
        },
        408 | 500..=599 => SendError::Transient {
            retry_after,
            ambiguous: true,
            reason,
        },
        _ => SendError::Permanent {
            code: Some(code),
            reason,
        },
    }
}

/// Slack mrkdwn needs only `&`, `<` and `>` escaped.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn slack_text(text: &str, title: Option<&str>) -> String {
    match title {
        Some(title) => format!("*{}*\n{}", slack_escape(title), slack_escape(text)),
        None => slack_escape(text),
    }
}

fn markdown_text(text: &str, title: Option<&str>) -> String {
    match title {
        Some(title) => format!("**{title}**\n{text}"),
        None => text.to_owned(),
    }
}

fn telegram_text(text: &str, title: Option<&str>) -> String {
    let text = truncate(text, TELEGRAM_MAX);
    match title {
        Some(title) => format!(
            "<b>{}</b>\n{}",
            html_escape(&truncate(title, 256)),
            html_escape(&text)
        ),
        None => html_escape(&text),
    }
}

/// Telegram's HTML mode wants exactly `<`, `>` and `&` escaped.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Numeric ids go as numbers, `@channel` names as strings.
fn telegram_chat_id(chat_id: &str) -> Value {
    chat_id
        .trim()
        .parse::<i64>()
        .map_or_else(|_| Value::from(chat_id), Value::from)
}

fn teams_card(text: &str, title: Option<&str>) -> Value {
    let mut blocks = Vec::new();
    if let Some(title) = title {
        blocks.push(json!({ "type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true }));
    }
    blocks.push(json!({ "type": "TextBlock", "text": text, "wrap": true }));
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.2",
                "body": blocks,
            },
        }],
    })
}

/// At most `max` characters, the last one an ellipsis when cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((cut, _)) if text[cut..].chars().count() > 1 => format!("{}…", &text[..cut]),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;

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

use crate::notify::interactive::{mattermost, slack, telegram};
use crate::notify::{Action, SendError, classify};

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
    /// A Slack app: `chat.postMessage` with a bot token; the URL is the
    /// Web API base (`https://slack.com/api`). Answers `{"ok": true, "ts"}`.
    SlackApp {
        /// The bot token, `xoxb-…` (a credential).
        bot_token: String,
        /// The channel id posted to.
        channel: String,
    },
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
            ChatKind::SlackApp { channel, .. } => f
                .debug_struct("SlackApp")
                .field("bot_token", &"<redacted>")
                .field("channel", channel)
                .finish(),
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
            ChatKind::Slack | ChatKind::SlackApp { .. } => "Slack",
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

/// Acknowledge, Resolve and Escalate buttons under a message about an
/// incident (Slack apps, Mattermost, Telegram; other kinds ignore them).
#[derive(Debug, Clone, Copy)]
pub struct Buttons<'a> {
    /// The incident as the buttons name it ([`crate::notify::interactive::Offer`]).
    pub incident: &'a str,
    pub actions: &'a [Action],
    /// Mattermost: where a click posts, and the key signing its context.
    pub mattermost: Option<(&'a str, &'a [u8])>,
}

/// Builds the request for `kind`. `url_or_base` is the webhook URL, or for
/// Telegram the API base (`https://api.telegram.org`).
pub fn build_request(
    kind: &ChatKind,
    url_or_base: &str,
    text: &str,
    title: Option<&str>,
) -> ChatRequest {
    build_request_with(kind, url_or_base, None, text, title, None)
}

/// [`build_request`], with buttons when the kind has them.
///
/// `mention` (a person's configured chat handle) goes first; it is the one
/// part not escaped for Slack when it is one of Slack's own references
/// (`<@U0123ABCD>`), so Slack notifies the person while what an alert says
/// stays text.
pub fn build_request_with(
    kind: &ChatKind,
    url_or_base: &str,
    mention: Option<&str>,
    text: &str,
    title: Option<&str>,
    buttons: Option<Buttons<'_>>,
) -> ChatRequest {
    let slack_text = |text: &str, title: Option<&str>| slack_text(mention, text, title);
    // Mattermost pings a whole channel for `@channel`, `@all` or `@here`
    // anywhere in a post: what an alert says must not (a client's channel
    // least of all), so those words are broken; the mention is config's.
    let (quiet_text, quiet_title);
    let (text, title) = if matches!(kind, ChatKind::Mattermost) {
        quiet_text = quiet_mass_mentions(text);
        quiet_title = title.map(quiet_mass_mentions);
        (quiet_text.as_str(), quiet_title.as_deref())
    } else {
        (text, title)
    };
    let joined;
    let text = match mention {
        Some(m) if !matches!(kind, ChatKind::Slack | ChatKind::SlackApp { .. }) => {
            joined = format!("{m} {text}");
            joined.as_str()
        }
        _ => text,
    };
    let mut url = url_or_base.to_owned();
    let mut headers = vec![("Content-Type", "application/json".to_owned())];
    let body = match kind {
        ChatKind::Slack => json!({ "text": slack_text(text, title) }),
        ChatKind::SlackApp { bot_token, channel } => {
            url = format!("{}/chat.postMessage", url_or_base.trim_end_matches('/'));
            headers = vec![
                ("Content-Type", "application/json; charset=utf-8".to_owned()),
                ("Authorization", format!("Bearer {bot_token}")),
            ];
            let (incident, actions) =
                buttons.map_or((None, &[][..]), |b| (Some(b.incident), b.actions));
            slack::message(channel, None, &slack_text(text, title), incident, actions)
        }
        ChatKind::Mattermost => {
            let text = markdown_text(text, title);
            let mut body = json!({ "text": text });
            if let Some(Buttons {
                incident,
                actions,
                mattermost: Some((url, key)),
            }) = buttons
            {
                body["attachments"] = mattermost::attachments(key, url, incident, &text, actions);
            }
            body
        }
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
            let mut body = json!({
                "chat_id": telegram_chat_id(chat_id),
                "text": telegram_text(text, title),
                "parse_mode": "HTML",
                "disable_web_page_preview": true,
            });
            if let Some(b) = buttons {
                body["reply_markup"] = telegram::keyboard(b.incident, b.actions);
            }
            body
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

/// Posts one message and reads the provider's answer; returns the posted
/// message's id when the provider gives one (a Slack app's `ts`, Telegram's
/// `message_id`).
pub async fn send(
    http: &reqwest::Client,
    kind: &ChatKind,
    url_or_base: &str,
    mention: Option<&str>,
    text: &str,
    title: Option<&str>,
    buttons: Option<Buttons<'_>>,
) -> Result<Option<String>, SendError> {
    let request = build_request_with(kind, url_or_base, mention, text, title, buttons);
    let body = post(http, kind, request).await?;
    Ok(message_id(&body))
}

/// Posts `request` and reads the answer as [`send`] does; returns its body.
async fn post(
    http: &reqwest::Client,
    kind: &ChatKind,
    request: ChatRequest,
) -> Result<String, SendError> {
    let mut builder = http.post(&request.url).body(request.body);
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await.map_err(classify::transport)?;
    let status = response.status();
    let retry_after = classify::retry_after(response.headers());
    let body = response.text().await.map_err(classify::transport)?;
    classify_response(kind, status, retry_after, &body)?;
    Ok(body)
}

/// Calls one method of a chat platform's Web API with a JSON body: Slack's
/// `chat.update` (`url_or_base` is the API base), Telegram's
/// `editMessageText` and `answerCallbackQuery`, or a Slack `response_url`
/// (`method` empty: `url_or_base` is the whole URL).
pub async fn call(
    http: &reqwest::Client,
    kind: &ChatKind,
    url_or_base: &str,
    method: &str,
    body: &Value,
) -> Result<(), SendError> {
    let base = url_or_base.trim_end_matches('/');
    let mut headers = vec![("Content-Type", "application/json; charset=utf-8".to_owned())];
    let url = match kind {
        ChatKind::SlackApp { bot_token, .. } if !method.is_empty() => {
            headers.push(("Authorization", format!("Bearer {bot_token}")));
            format!("{base}/{method}")
        }
        ChatKind::Telegram { bot_token, .. } => format!("{base}/bot{bot_token}/{method}"),
        _ => url_or_base.to_owned(),
    };
    // A `response_url` answers 200 (`ok` or `{"ok":true}`): any 2xx will do.
    let kind = if method.is_empty() {
        &ChatKind::Webhook { secret: None }
    } else {
        kind
    };
    let request = ChatRequest {
        url,
        headers,
        body: body.to_string().into_bytes(),
    };
    post(http, kind, request).await.map(|_| ())
}

/// The id of a posted message in a provider's answer.
fn message_id(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    match (v.get("ts"), v.pointer("/result/message_id")) {
        (Some(Value::String(ts)), _) => Some(ts.clone()),
        (_, Some(Value::Number(id))) => Some(id.to_string()),
        _ => None,
    }
}

/// Reads a provider's answer; only the success each provider promises counts.
fn classify_response(
    kind: &ChatKind,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> Result<(), SendError> {
    match kind {
        ChatKind::Telegram { .. } => return telegram_response(status, retry_after, body),
        ChatKind::SlackApp { .. } => return slack_api_response(status, retry_after, body),
        _ => {}
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

/// Slack's Web API answers 200 with `ok` true or false, and 429 when rate
/// limited.
fn slack_api_response(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
) -> Result<(), SendError> {
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if status.is_success() && json.get("ok") == Some(&Value::Bool(true)) {
        return Ok(());
    }
    let error = json
        .get("error")
        .and_then(Value::as_str)
        .map_or_else(|| classify::quote(body), str::to_owned);
    let reason = format!("Slack HTTP {}: {error}", status.as_u16());
    let code = match error.as_str() {
        "ratelimited" => 429,
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => 503,
        _ if status.is_success() => 400,
        _ => status.as_u16().into(),
    };
    Err(failure(code, retry_after, reason))
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

fn slack_text(mention: Option<&str>, text: &str, title: Option<&str>) -> String {
    let text = match mention {
        Some(m) if slack_reference(m) => format!("{m} {}", slack_escape(text)),
        Some(m) => format!("{} {}", slack_escape(m), slack_escape(text)),
        None => slack_escape(text),
    };
    match title {
        Some(title) => format!("*{}*\n{text}", slack_escape(title)),
        None => text,
    }
}

/// One of Slack's own references, which Slack turns into a notification:
/// `<@U0123ABCD>`, `<!subteam^S0123>`, `<!here>`, `<!channel>`.
fn slack_reference(m: &str) -> bool {
    let Some(inner) = m.strip_prefix('<').and_then(|m| m.strip_suffix('>')) else {
        return false;
    };
    let id_ok = |id: &str| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric());
    match inner.strip_prefix('@') {
        Some(id) => id_ok(id),
        None => {
            inner == "!here"
                || inner == "!channel"
                || inner.strip_prefix("!subteam^").is_some_and(id_ok)
        }
    }
}

/// `@channel`, `@all` and `@here` (any case, as whole words) with a zero
/// width space after the `@`: they read the same and ping nobody.
fn quiet_mass_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let word_end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .unwrap_or(rest.len());
        // A sentence's full stop after it does not make it another word.
        let word = rest[..word_end].trim_end_matches(['.', '-', '_']);
        if ["channel", "all", "here"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w))
        {
            out.push('\u{200B}');
        }
    }
    out.push_str(rest);
    out
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

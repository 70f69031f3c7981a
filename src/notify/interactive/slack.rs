//! Slack: request signing v0 of `POST /slack/interactions`, the
//! `block_actions` payload a button click sends, and the Block Kit of a
//! message with buttons (`chat.postMessage`, `chat.update`).
//!
//! Signing: `X-Slack-Signature` is `v0=` + hex HMAC-SHA256(signing secret,
//! `v0:{X-Slack-Request-Timestamp}:{raw body}`); the timestamp must be
//! within five minutes of now. Must not: read the clock, or look into a
//! body before its signature checked out.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Click, Message, Refusal, label, parse_value, value};
use crate::notify::Action;

/// How far a request's timestamp may be from now (Slack's own advice).
pub const WINDOW_SECS: i64 = 5 * 60;
/// A section's text is at most 3000 characters.
const SECTION_MAX: usize = 3000;

/// `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`.
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a request against each signing secret in turn; returns the index
/// of the one that signed it. The timestamp is checked first: a stale
/// request is refused whatever its signature.
pub fn verify(
    secrets: &[&[u8]],
    timestamp: Option<&str>,
    given: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<usize, Refusal> {
    let (Some(timestamp), Some(given)) = (timestamp, given) else {
        return Err(Refusal::Unsigned);
    };
    let at: i64 = timestamp.trim().parse().map_err(|_| Refusal::Stale)?;
    if (now.timestamp() - at).abs() > WINDOW_SECS {
        return Err(Refusal::Stale);
    }
    secrets
        .iter()
        .position(|s| super::same(signature(s, timestamp, body).as_bytes(), given.as_bytes()))
        .ok_or(Refusal::BadSignature)
}

/// Reads a `block_actions` click from the form body (`payload=<json>`).
/// `None` for anything else (another interaction type, a foreign button).
pub fn parse(body: &[u8]) -> Option<Click> {
    let payload = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())?;
    let v: Value = serde_json::from_str(&payload).ok()?;
    if v["type"] != "block_actions" {
        return None;
    }
    let (incident, action) = parse_value(v.pointer("/actions/0/value")?.as_str()?)?;
    let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
    Some(Click {
        user: text("/user/id")?,
        incident,
        action,
        message: Message {
            channel: text("/container/channel_id").or_else(|| text("/channel/id"))?,
            id: text("/container/message_ts").or_else(|| text("/message/ts"))?,
            text: text("/message/text").unwrap_or_default(),
            reply_to: text("/response_url").unwrap_or_default(),
        },
    })
}

/// The blocks of a message: its text, then the buttons for `incident`.
pub fn blocks(text: &str, incident: Option<&str>, actions: &[Action]) -> Value {
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": cut(text, SECTION_MAX)},
    })];
    if let Some(id) = incident.filter(|_| !actions.is_empty()) {
        let elements: Vec<Value> = actions
            .iter()
            .map(|a| {
                let mut b = json!({
                    "type": "button",
                    "action_id": value(id, *a),
                    "text": {"type": "plain_text", "text": label(*a)},
                    "value": value(id, *a),
                });
                if *a == Action::Ack {
                    b["style"] = json!("primary");
                }
                b
            })
            .collect();
        blocks.push(json!({"type": "actions", "block_id": "tocsin", "elements": elements}));
    }
    Value::Array(blocks)
}

/// The body of `chat.postMessage` (`ts: None`) or `chat.update`.
pub fn message(
    channel: &str,
    ts: Option<&str>,
    text: &str,
    incident: Option<&str>,
    actions: &[Action],
) -> Value {
    let mut body = json!({
        "channel": channel,
        "text": text,
        "blocks": blocks(text, incident, actions),
    });
    if let Some(ts) = ts {
        body["ts"] = json!(ts);
    }
    body
}

/// An answer only the clicker sees, posted to the click's `response_url`.
pub fn ephemeral(text: &str) -> Value {
    json!({"response_type": "ephemeral", "replace_original": false, "text": text})
}

/// At most `max` characters, the last one an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((at, _)) if text[at..].chars().count() > 1 => format!("{}…", &text[..at]),
        _ => text.to_owned(),
    }
}

//! Telegram inline keyboards: the buttons under a bot's message, and the
//! `callback_query` update a click sends to the bot's webhook, checked by
//! the `X-Telegram-Bot-Api-Secret-Token` header (the `secret_token` given
//! to `setWebhook`). The clicker is told with `answerCallbackQuery`, the
//! message updated with `editMessageText`.
//!
//! Must not: read the clock, or look into an update before its secret
//! token checked out.

use serde_json::{Value, json};

use super::{Click, Message, Refusal, label, parse_value, value};
use crate::notify::Action;

/// The header carrying the webhook's secret token.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Which configured secret token the header matches (constant time).
pub fn verify(secrets: &[&[u8]], given: Option<&str>) -> Result<usize, Refusal> {
    let given = given.ok_or(Refusal::Unsigned)?;
    secrets
        .iter()
        .position(|s| super::same(s, given.as_bytes()))
        .ok_or(Refusal::BadSignature)
}

/// The `reply_markup` of a message about `incident` (`callback_data` is at
/// most 64 bytes: `escalate:` and an `i64` fit).
pub fn keyboard(incident: &str, actions: &[Action]) -> Value {
    // Telegram takes at most 64 bytes of callback data: a button whose
    // value is longer (a very long client id's reference) is left out.
    let row: Vec<Value> = actions
        .iter()
        .map(|a| (a, value(incident, *a)))
        .filter(|(_, v)| v.len() <= 64)
        .map(|(a, v)| json!({"text": label(*a), "callback_data": v}))
        .collect();
    json!({ "inline_keyboard": if row.is_empty() { vec![] } else { vec![row] } })
}

/// Reads a button click from an update; `None` for any other update (a
/// message to the bot, a foreign button).
pub fn parse(body: &[u8]) -> Option<Click> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let q = v.get("callback_query")?;
    // Telegram carries at most 64 bytes of callback data: longer is not ours.
    let data = q.get("data")?.as_str().filter(|d| d.len() <= 64)?;
    let (incident, action) = parse_value(data)?;
    let id = |p: &str| {
        q.pointer(p).and_then(|x| match x {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
    };
    Some(Click {
        user: id("/from/id")?,
        incident,
        action,
        message: Message {
            channel: id("/message/chat/id")?,
            id: id("/message/message_id")?,
            text: id("/message/text").unwrap_or_default(),
            reply_to: id("/id")?,
        },
    })
}

/// The `answerCallbackQuery` body: a short notice to the clicker only.
pub fn answer(click: &Click, text: &str) -> Value {
    json!({"callback_query_id": click.message.reply_to, "text": text})
}

/// The `editMessageText` body: the text gains `line`, the keyboard keeps
/// `actions`.
pub fn edit(click: &Click, line: &str, actions: &[Action]) -> Value {
    let text = format!("{}\n{line}", click.message.text);
    json!({
        "chat_id": chat_id(&click.message.channel),
        "message_id": click.message.id.parse::<i64>().unwrap_or_default(),
        "text": html_escape(&text),
        "parse_mode": "HTML",
        "reply_markup": keyboard(&click.incident, actions),
    })
}

fn chat_id(id: &str) -> Value {
    id.parse::<i64>()
        .map_or_else(|_| Value::from(id), Value::from)
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

//! Mattermost interactive message actions: each button's integration URL
//! points at `POST /mattermost/actions` with a context naming the incident
//! and the action (never a person: the clicker is the request's `user_id`),
//! signed with the daemon's link secret so a forged context is refused. The
//! answer updates the post and tells the clicker, only them, what happened.
//!
//! Must not: read the clock, or trust a context whose signature fails.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Click, Message, Refusal, label, parse_value, value};
use crate::notify::Action;

/// Keeps these tags distinct from any other use of the link secret.
const CONTEXT: &[u8] = b"tocsin-mattermost-v1";

/// The tag of one button's context: incident, action and the post's text.
pub fn sign(secret: &[u8], button: &str, text: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    for part in [CONTEXT, button.as_bytes(), text.as_bytes()] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// The attachment holding the buttons of a post about `incident`; each
/// button posts its signed context to `url`.
pub fn attachments(
    secret: &[u8],
    url: &str,
    incident: &str,
    text: &str,
    actions: &[Action],
) -> Value {
    if actions.is_empty() {
        return json!([]);
    }
    let buttons: Vec<Value> = actions
        .iter()
        .map(|a| {
            let button = value(incident, *a);
            json!({
                "id": label(*a).to_lowercase(),
                "name": label(*a),
                "integration": {
                    "url": url,
                    "context": {"button": button, "text": text, "sig": sign(secret, &button, text)},
                },
            })
        })
        .collect();
    json!([{ "actions": buttons }])
}

/// Reads a click (a JSON body) and checks its context's signature.
pub fn parse(secret: &[u8], body: &[u8]) -> Result<Click, Refusal> {
    let v: Value = serde_json::from_slice(body).map_err(|_| Refusal::Unsigned)?;
    let field = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let (Some(button), Some(sig)) = (field("/context/button"), field("/context/sig")) else {
        return Err(Refusal::Unsigned);
    };
    let text = field("/context/text").unwrap_or_default();
    if !super::same(sign(secret, &button, &text).as_bytes(), sig.as_bytes()) {
        return Err(Refusal::BadSignature);
    }
    let (incident, action) = parse_value(&button).ok_or(Refusal::BadSignature)?;
    Ok(Click {
        user: field("/user_id").ok_or(Refusal::Unsigned)?,
        incident,
        action,
        message: Message {
            channel: field("/channel_id").unwrap_or_default(),
            id: field("/post_id").unwrap_or_default(),
            text,
            reply_to: String::new(),
        },
    })
}

/// The answer that updates the post: its text gains `line`, its buttons
/// become `actions`.
pub fn update(secret: &[u8], url: &str, click: &Click, line: &str, actions: &[Action]) -> Value {
    let text = format!("{}\n{line}", click.message.text);
    json!({
        "update": {
            "message": text,
            "props": {"attachments": attachments(secret, url, &click.incident, &text, actions)},
        },
    })
}

/// An answer only the clicker sees; the post stays as it is.
pub fn ephemeral(note: &str) -> Value {
    json!({ "ephemeral_text": note })
}

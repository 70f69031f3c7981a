//! Telnyx webhooks (API v2): the Ed25519 signature over
//! `{telnyx-timestamp}|{raw body}` checked with the account's public key
//! and a five-minute window, and the events tocsin acts on, read into
//! Twilio's status words so that one delivery-report path serves both.
//!
//! Owns: the signature check and the event reading. Must not: read the
//! clock (`now` is a parameter), or treat anything but a gathered digit or
//! an SMS as an acknowledgement (a call that hangs up normally is none).

use base64::Engine as _;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde_json::Value;

/// Oldest (and most future) signed timestamp accepted, in seconds.
pub const WINDOW_SECS: i64 = 300;

/// Whether `signature` (base64, header `telnyx-signature-ed25519`) signs
/// `{timestamp}|{body}` under `public_key`, with `timestamp` (header
/// `telnyx-timestamp`, Unix seconds) within [`WINDOW_SECS`] of `now`.
pub fn verify(
    public_key: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> bool {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return false;
    };
    let Ok(at) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    if (now - at).abs() > WINDOW_SECS {
        return false;
    }
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.trim().as_bytes());
    signed.push(b'|');
    signed.extend_from_slice(body);
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&signed, &signature)
        .is_ok()
}

/// Whom a call is about, carried in Telnyx's `client_state` (base64 of
/// `incident:person`), which Telnyx hands back on every event of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallState {
    pub incident: i64,
    pub person: String,
}

impl CallState {
    /// The `client_state` value for this call.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.incident, self.person))
    }

    fn decode(text: &str) -> Option<CallState> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (incident, person) = raw.split_once(':')?;
        let incident = incident.parse().ok().filter(|n| *n > 0)?;
        (!person.is_empty()).then(|| CallState {
            incident,
            person: person.to_owned(),
        })
    }
}

/// What one webhook tells tocsin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An SMS to our number (`message.received`).
    Inbound {
        id: String,
        from: String,
        text: String,
    },
    /// A delivery report on our SMS or call: the provider id and the
    /// status in Twilio's words (`delivered`, `failed`, `no-answer`...).
    Status {
        id: String,
        status: String,
        error_code: Option<u32>,
    },
    /// The callee picked up: read the incident and gather a digit.
    Answered {
        id: String,
        state: Option<CallState>,
    },
    /// A digit (or none: `digits` empty) was gathered.
    Gathered {
        id: String,
        digits: String,
        state: Option<CallState>,
    },
    /// What we said after the digit is over: hang up.
    SpeakEnded { id: String },
    /// Anything else: accepted and ignored.
    Other,
}

/// Reads a webhook body; `None` when it is not a Telnyx event at all.
pub fn parse(body: &[u8]) -> Option<Event> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let data = json.get("data")?;
    let kind = data.get("event_type")?.as_str()?;
    let p = data.get("payload")?;
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let call = || text(p, "call_control_id").filter(|s| !s.is_empty());
    let state = || text(p, "client_state").and_then(|s| CallState::decode(&s));
    Some(match kind {
        "message.received" => Event::Inbound {
            id: text(p, "id")?,
            from: p.get("from").and_then(|f| text(f, "phone_number"))?,
            text: text(p, "text").unwrap_or_default(),
        },
        "message.sent" | "message.finalized" => {
            let to = p.get("to").and_then(|t| t.get(0))?;
            Event::Status {
                id: text(p, "id")?,
                status: message_status(&text(to, "status")?).to_owned(),
                error_code: p
                    .get("errors")
                    .and_then(|e| e.get(0))
                    .and_then(|e| e.get("code"))
                    .and_then(code),
            }
        }
        "call.initiated" => Event::Status {
            id: call()?,
            status: "initiated".into(),
            error_code: None,
        },
        "call.answered" => Event::Answered {
            id: call()?,
            state: state(),
        },
        "call.gather.ended" => Event::Gathered {
            id: call()?,
            digits: text(p, "digits").unwrap_or_default(),
            state: state(),
        },
        "call.speak.ended" => Event::SpeakEnded { id: call()? },
        "call.hangup" => Event::Status {
            id: call()?,
            status: hangup_status(&text(p, "hangup_cause").unwrap_or_default()).to_owned(),
            error_code: None,
        },
        _ => Event::Other,
    })
}

/// A Telnyx message status in Twilio's words (`delivery_unconfirmed`:
/// sent, the carrier never said more).
fn message_status(status: &str) -> &str {
    match status {
        "sending_failed" | "delivery_failed" => "failed",
        "delivery_unconfirmed" => "sent",
        "queued" | "sending" | "sent" | "delivered" => status,
        _ => "",
    }
}

/// A call's end in Twilio's words: only a normal clearing completed it.
fn hangup_status(cause: &str) -> &str {
    match cause {
        "normal_clearing" => "completed",
        "user_busy" => "busy",
        "timeout" | "no_answer" => "no-answer",
        "originator_cancel" => "canceled",
        _ => "failed",
    }
}

/// Telnyx gives error codes as strings ("40300") or numbers.
fn code(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

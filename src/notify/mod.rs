//! Outbound notification plumbing and the provider wire formats around it.
//!
//! Owns: Twilio webhook signatures ([`twilio_sig`]), the SMS reply grammar
//! ([`reply`]), signed acknowledge-link tokens ([`ack_token`]), TwiML
//! ([`twiml`]), the Twilio REST client and its status callbacks ([`twilio`]),
//! chat webhooks ([`chat`]) and their buttons ([`interactive`]), SMTP email ([`email`]), the words of every
//! message ([`message`]) and what an SMS costs ([`sms_segments`]). Every
//! provider failure is reported as one [`SendError`], shaped by what the
//! outbox does next: retry later, or give up on this channel and fall back
//! to the next.
//!
//! Must not: read the clock (`now` is a parameter), touch the store, decide
//! who gets paged, or treat anything but an explicit Digits/SMS/HTTP reply as
//! an acknowledgement (a completed call is not one: voicemail completes too).

pub mod ack_token;
pub mod chat;
mod classify;
pub mod email;
pub mod interactive;
pub mod message;
pub mod notifier;
pub mod ntfy;
pub mod reply;
pub mod sms_segments;
pub mod telnyx;
#[cfg(test)]
mod test_server;
pub mod twilio;
pub mod twilio_sig;
pub mod twiml;

use std::time::Duration;

pub use ack_token::{Claims, TokenError};
pub use chat::{ChatKind, ChatRequest};
pub use reply::Reply;
pub use twilio::{
    CallContent, Outcome, ProviderId, Sender, StatusKind, StatusUpdate, TwilioClient,
};

/// What a responder asked for, by SMS reply, keypad digit or acknowledge link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Stop paging; the responder is on it.
    Ack,
    /// The incident is over.
    Resolve,
    /// Page the next step now instead of waiting.
    Escalate,
}

/// Twilio error code: the recipient replied STOP; never retry until START.
pub const TWILIO_OPTED_OUT: u32 = 21610;
/// Twilio error code: `To` is not a mobile number; SMS cannot work, call instead.
pub const TWILIO_NOT_MOBILE: u32 = 21614;

/// Why a provider did not take a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later.
    #[error("transient provider failure{}: {reason}", if *.ambiguous { " (may have been sent)" } else { "" })]
    Transient {
        /// How long the provider asked us to wait, when it said.
        retry_after: Option<Duration>,
        /// The request may have been acted on (5xx, timeout, dropped
        /// connection): a retry can deliver twice.
        ambiguous: bool,
        /// Human-readable cause, free of credentials.
        reason: String,
    },
    /// Retrying the same request will not help: fall back to another channel.
    #[error("permanent provider failure{}: {reason}", .code.map(|c| format!(" (code {c})")).unwrap_or_default())]
    Permanent {
        /// Provider error code (Twilio's `code`; the HTTP status for chat).
        code: Option<u32>,
        /// Human-readable cause, free of credentials.
        reason: String,
    },
}

impl SendError {
    /// Whether this is a permanent failure with the given provider code.
    pub fn has_code(&self, wanted: u32) -> bool {
        matches!(self, SendError::Permanent { code: Some(c), .. } if *c == wanted)
    }

    /// The recipient opted out (Twilio 21610): flag the person, use another channel.
    pub fn is_opted_out(&self) -> bool {
        self.has_code(TWILIO_OPTED_OUT)
    }

    /// The number cannot receive SMS (Twilio 21614): fall back to voice.
    pub fn is_not_mobile(&self) -> bool {
        self.has_code(TWILIO_NOT_MOBILE)
    }
}

#[cfg(test)]
mod invariants {
    /// The wire-format modules stay pure: no network, no runtime, no clock.
    #[test]
    fn pure_modules_do_no_io_and_read_no_clock() {
        let sources = [
            ("twilio_sig.rs", include_str!("twilio_sig.rs")),
            ("reply.rs", include_str!("reply.rs")),
            ("ack_token.rs", include_str!("ack_token.rs")),
            ("twiml.rs", include_str!("twiml.rs")),
            ("twilio/status.rs", include_str!("twilio/status.rs")),
            ("sms_segments.rs", include_str!("sms_segments.rs")),
            ("message.rs", include_str!("message.rs")),
            ("telnyx/webhook.rs", include_str!("telnyx/webhook.rs")),
            ("interactive/mod.rs", include_str!("interactive/mod.rs")),
            ("interactive/slack.rs", include_str!("interactive/slack.rs")),
            (
                "interactive/mattermost.rs",
                include_str!("interactive/mattermost.rs"),
            ),
            (
                "interactive/telegram.rs",
                include_str!("interactive/telegram.rs"),
            ),
        ];
        let forbidden = [
            "reqwest",
            "tokio",
            "axum",
            "Utc::now",
            "SystemTime",
            "Instant::now",
            "std::fs",
            "std::net",
        ];
        for (file, source) in sources {
            for word in forbidden {
                assert!(!source.contains(word), "{file} mentions {word}");
            }
        }
    }
}

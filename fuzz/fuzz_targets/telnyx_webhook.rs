//! `POST /telnyx/webhook`: the JSON event and what the Ed25519 signature
//! check reads (`telnyx-timestamp`, `telnyx-signature-ed25519`).
//!
//! Input: `body 0xFF timestamp 0xFF signature`. A body Telnyx signed now
//! verifies; the same signature on another timestamp or too old does not;
//! an SMS it carries goes to the reply grammar as Twilio's do.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair};
use tocsin::notify::reply;
use tocsin::notify::telnyx::webhook::{self, Event, WINDOW_SECS};
use tocsin_fuzz::{fields, header};

/// The instant the daemon's clock reads.
const NOW: i64 = 1_764_000_000;

fuzz_target!(|data: &[u8]| {
    let [body, timestamp, signature] = fields::<3>(data);
    let body = body.unwrap_or_default();
    let key = Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).expect("seed");
    let public = key.public_key().as_ref().to_vec();

    webhook::verify(&public, header(timestamp), header(signature), body, NOW);
    if let Some(Event::Inbound { text, .. }) = webhook::parse(body) {
        reply::parse(&text);
    }
    // What Telnyx signs now verifies; moved in time or out of the window, not.
    let signed = |at: i64| {
        let mut message = format!("{at}|").into_bytes();
        message.extend_from_slice(body);
        base64::engine::general_purpose::STANDARD.encode(key.sign(&message))
    };
    let good = signed(NOW);
    let now = NOW.to_string();
    assert!(webhook::verify(&public, Some(&now), Some(&good), body, NOW));
    let later = (NOW + 1).to_string();
    assert!(!webhook::verify(
        &public,
        Some(&later),
        Some(&good),
        body,
        NOW
    ));
    let stale = NOW - WINDOW_SECS - 1;
    let old = signed(stale);
    assert!(!webhook::verify(
        &public,
        Some(&stale.to_string()),
        Some(&old),
        body,
        NOW
    ));
});

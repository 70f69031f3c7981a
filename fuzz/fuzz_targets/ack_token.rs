//! `GET /a/{token}`: the signed acknowledge link of an SMS.
//!
//! A token nobody signed stops at the tag check, so the input is tried
//! twice: as a token, and as a payload this target signs as tocsin does
//! (the format in `notify::ack_token`'s header), which reaches the decoder.
#![no_main]

use std::sync::Once;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use tocsin::notify::Action;
use tocsin::notify::ack_token::{self, Claims};
use tocsin_fuzz::text;

const SECRET: &[u8] = b"fuzz link secret";

fuzz_target!(|data: &[u8]| {
    static FORMAT: Once = Once::new();
    FORMAT.call_once(same_format_as_tocsin);
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    for token in [text(data).into_owned(), forge(data)] {
        if let Ok(claims) = ack_token::verify(SECRET, &token, now) {
            assert!(now < claims.expires, "{claims:?}");
            // Signed again, the claims read back as themselves.
            let again = ack_token::sign(SECRET, &claims);
            assert_eq!(ack_token::verify(SECRET, &again, now), Ok(claims));
        }
    }
});

/// `payload` signed as tocsin signs: base64url(payload || tag), the tag the
/// first 16 bytes of HMAC-SHA256(secret, "tocsin-ack-v1" || payload).
fn forge(payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("HMAC takes any key");
    mac.update(b"tocsin-ack-v1");
    mac.update(payload);
    let mut bytes = payload.to_vec();
    bytes.extend_from_slice(&mac.finalize().into_bytes()[..16]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Fails loudly if the format changed, rather than fuzzing only the tag check.
fn same_format_as_tocsin() {
    let claims = Claims {
        incident: 42,
        person: "alice".into(),
        action: Action::Ack,
        expires: DateTime::<Utc>::from_timestamp(1_900_000_000, 0).unwrap_or_default(),
    };
    let token = ack_token::sign(SECRET, &claims);
    let bytes = URL_SAFE_NO_PAD
        .decode(&token)
        .expect("tocsin signs base64url");
    let payload = &bytes[..bytes.len() - 16];
    assert_eq!(
        forge(payload),
        token,
        "the ack token format changed: update forge()"
    );
}

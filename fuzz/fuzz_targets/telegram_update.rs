//! `POST /telegram/webhook`: a bot update and its
//! `X-Telegram-Bot-Api-Secret-Token` header.
//!
//! Input: `body 0xFF secret token`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin::notify::interactive::{self, telegram};
use tocsin_fuzz::{fields, header};

const SECRET: &[u8] = b"telegram-secret-token";

fuzz_target!(|data: &[u8]| {
    let [body, token] = fields::<2>(data);
    let body = body.unwrap_or_default();
    // Only the configured token itself is accepted.
    if let Some(token) = header(token) {
        assert_eq!(
            telegram::verify(&[SECRET], Some(token)).is_ok(),
            token.as_bytes() == SECRET
        );
    }
    if let Some(click) = telegram::parse(body) {
        assert!(tocsin::incident::reference::Key::parse(&click.incident).is_some());
        let value = interactive::value(&click.incident, click.action);
        assert!(value.len() <= 64, "callback_data over 64 bytes: {value}");
        // Answering and editing never panic, whatever the ids were.
        let _ = telegram::answer(&click, "x");
        let _ = telegram::edit(
            &click,
            "x",
            &interactive::buttons(tocsin::incident::State::Triggered),
        );
    }
});

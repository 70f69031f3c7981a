//! `POST /twilio/sms`: the `Body` of a reply to a page (`ack 42`, `STOP`…).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin::notify::reply::{self, Reply};
use tocsin_fuzz::text;

fuzz_target!(|data: &[u8]| {
    let body = text(data);
    let parsed = reply::parse(&body);
    // Case does not matter (ASCII letters keep their neighbours cased, so
    // even a final sigma lowers the same way).
    assert_eq!(reply::parse(&body.to_ascii_uppercase()), parsed, "{body:?}");
    assert_eq!(reply::parse(&body.to_ascii_lowercase()), parsed, "{body:?}");
    // A number acted on is one the sender wrote.
    if let Reply::Command {
        incident: Some(n), ..
    } = parsed
    {
        assert!(body.contains(&n.to_string()), "{body:?} -> {n}");
    }
});

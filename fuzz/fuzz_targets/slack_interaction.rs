//! `POST /slack/interactions`: the form body Slack signs, with its
//! `X-Slack-Signature` and `X-Slack-Request-Timestamp` headers.
//!
//! Input: `body 0xFF signature 0xFF timestamp`.
#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use tocsin::notify::interactive::{self, slack};
use tocsin_fuzz::{fields, header};

const SECRET: &[u8] = b"slack-signing-secret";

fuzz_target!(|data: &[u8]| {
    let [body, signature, timestamp] = fields::<3>(data);
    let body = body.unwrap_or_default();
    let (signature, timestamp) = (header(signature), header(timestamp));
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();

    // Whatever the headers say, a request accepted carries a timestamp
    // within five minutes of now and the signature of it and the body.
    if slack::verify(&[SECRET], timestamp, signature, body, now).is_ok() {
        let ts = timestamp.unwrap_or_default();
        let secs: i64 = ts.trim().parse().unwrap_or(i64::MIN);
        assert!(
            (secs - now.timestamp()).abs() <= slack::WINDOW_SECS,
            "{ts:?}"
        );
        assert_eq!(Some(slack::signature(SECRET, ts, body).as_str()), signature);
    }
    // The signature Slack would send, fresh, always verifies.
    let fresh = now.timestamp().to_string();
    let good = slack::signature(SECRET, &fresh, body);
    assert_eq!(
        slack::verify(&[SECRET], Some(&fresh), Some(&good), body, now),
        Ok(0)
    );

    // A click names an incident by a positive number or a client's
    // reference, and its button value reads back as itself.
    if let Some(click) = slack::parse(body) {
        assert!(tocsin::incident::reference::Key::parse(&click.incident).is_some());
        let value = interactive::value(&click.incident, click.action);
        assert_eq!(
            interactive::parse_value(&value),
            Some((click.incident.clone(), click.action))
        );
    }
});

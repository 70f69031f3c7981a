//! `POST /api/v1/grafana`: the Grafana webhook body with its
//! `X-Grafana-Alerting-Signature` and `-Timestamp` headers (PROTOCOLS §2).
//!
//! Input: `body 0xFF signature 0xFF timestamp`.
#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use tocsin::ingest::grafana;
use tocsin_fuzz::{check_refusal, check_webhook, fields, header};

const SECRET: &[u8] = b"grafana-signing-secret";

fuzz_target!(|data: &[u8]| {
    let [body, signature, timestamp] = fields::<3>(data);
    let body = body.unwrap_or_default();
    let (signature, timestamp) = (header(signature), header(timestamp));

    // Whatever the headers say, checking them never panics, and the
    // signature Grafana would send always verifies, in either hex case.
    grafana::verify_signature(SECRET, body, signature, timestamp);
    let good = grafana::sign(SECRET, body, timestamp);
    assert!(grafana::verify_signature(
        SECRET,
        body,
        Some(&good),
        timestamp
    ));
    let upper = good.to_ascii_uppercase();
    assert!(grafana::verify_signature(
        SECRET,
        body,
        Some(&upper),
        timestamp
    ));
    // The whole check: a request it accepts carries a timestamp within
    // five minutes of now and the signature of that timestamp and body.
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    if grafana::check(SECRET, body, signature, timestamp, now).is_ok() {
        let ts = timestamp.unwrap_or_default();
        let secs: i64 = ts.trim().parse().unwrap_or(i64::MIN);
        assert!(
            (secs - now.timestamp()).abs() <= grafana::MAX_SKEW.num_seconds(),
            "{ts:?}"
        );
        assert!(grafana::verify_signature(
            SECRET, body, signature, timestamp
        ));
    }

    match grafana::parse(body) {
        Ok(webhook) => check_webhook(&webhook),
        Err(e) => check_refusal(&e),
    }
});

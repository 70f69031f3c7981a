//! `POST /api/v1/alertmanager`: the Alertmanager webhook body (PROTOCOLS §1).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin::ingest::alertmanager;
use tocsin_fuzz::{check_refusal, check_webhook};

fuzz_target!(|body: &[u8]| {
    match alertmanager::parse(body) {
        Ok(webhook) => check_webhook(&webhook),
        Err(e) => check_refusal(&e),
    }
});

//! `POST /twilio/sms` and `/twilio/voice`: the form body and what the
//! `X-Twilio-Signature` check reads (PROTOCOLS §3e).
//!
//! Input: `form body 0xFF URL 0xFF signature`. The URL is the configured
//! public URL with the request's path and query, which a caller controls.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use tocsin::notify::twilio_sig;
use tocsin_fuzz::{fields, header, text};

const TOKENS: [&str; 2] = ["primary-auth-token", "secondary-auth-token"];

fuzz_target!(|data: &[u8]| {
    let [body, url, signature] = fields::<3>(data);
    let body = body.unwrap_or_default();
    let url = text(url.unwrap_or(b"https://pager.example.com/twilio/sms"));
    let signature = header(signature);
    // As `SignedForm` decodes it.
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();

    twilio_sig::validate(&TOKENS, &url, &params, signature);
    twilio_sig::validate_json(&TOKENS, &url, body, signature);
    // What Twilio signs with either token is accepted.
    for token in TOKENS {
        let good = twilio_sig::expected_signature(token, &url, &params);
        assert!(
            twilio_sig::validate(&TOKENS, &url, &params, Some(&good)),
            "{url:?}"
        );
    }
    // A JSON body is accepted when the URL names its hash and is signed.
    if !url.contains(['#', '%', '+']) && !url.contains("bodySHA256") {
        let sep = if url.contains('?') { '&' } else { '?' };
        let hash = hex::encode(Sha256::digest(body));
        let signed_url = format!("{url}{sep}bodySHA256={hash}");
        let good = twilio_sig::expected_signature(TOKENS[0], &signed_url, &[]);
        assert!(
            twilio_sig::validate_json(&TOKENS, &signed_url, body, Some(&good)),
            "{signed_url:?}"
        );
    }
});

use ring::signature::{Ed25519KeyPair, KeyPair};

use super::*;

/// RFC 8032 §7.1, TEST 1: the Ed25519 key Telnyx-style signatures are checked with.
const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const EMPTY_SIGNATURE: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

fn key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&hex::decode(SEED).expect("hex")).expect("seed")
}

fn sign(timestamp: &str, body: &str) -> String {
    let signed = format!("{timestamp}|{body}");
    base64::engine::general_purpose::STANDARD.encode(key().sign(signed.as_bytes()))
}

#[test]
fn rfc8032_vector() {
    // The primitive: the published key pair and signature of the empty message.
    let public = hex::decode(PUBLIC).expect("hex");
    assert_eq!(key().public_key().as_ref(), public.as_slice());
    assert_eq!(hex::encode(key().sign(b"")), EMPTY_SIGNATURE);
    let signature = hex::decode(EMPTY_SIGNATURE).expect("hex");
    assert!(
        UnparsedPublicKey::new(&ED25519, &public)
            .verify(b"", &signature)
            .is_ok()
    );
}

#[test]
fn verify_table() {
    let public = hex::decode(PUBLIC).expect("hex");
    let body = r#"{"data":{"event_type":"message.received"}}"#;
    let now = 1_700_000_000;
    let good = sign("1700000000", body);
    fn check(
        public: &[u8],
        ts: Option<&str>,
        sig: Option<&str>,
        body: &str,
        now: i64,
        expected: bool,
    ) {
        assert_eq!(
            verify(public, ts, sig, body.as_bytes(), now),
            expected,
            "{ts:?} {sig:?} {body} at {now}"
        );
    }
    check(&public, Some("1700000000"), Some(&good), body, now, true);
    // Inside the window, either side.
    check(
        &public,
        Some("1700000000"),
        Some(&good),
        body,
        now + 300,
        true,
    );
    check(
        &public,
        Some("1700000000"),
        Some(&good),
        body,
        now - 300,
        true,
    );
    // Stale or from the future.
    check(
        &public,
        Some("1700000000"),
        Some(&good),
        body,
        now + 301,
        false,
    );
    check(
        &public,
        Some("1700000000"),
        Some(&good),
        body,
        now - 301,
        false,
    );
    // The timestamp is signed: another one breaks the signature.
    check(&public, Some("1700000001"), Some(&good), body, now, false);
    // One byte of the body changed.
    check(
        &public,
        Some("1700000000"),
        Some(&good),
        &body.replace("received", "receivee"),
        now,
        false,
    );
    // Another key.
    check(
        &[7u8; 32],
        Some("1700000000"),
        Some(&good),
        body,
        now,
        false,
    );
    check(&public, None, Some(&good), body, now, false);
    check(&public, Some("1700000000"), None, body, now, false);
    check(&public, Some("soon"), Some(&good), body, now, false);
    check(
        &public,
        Some("1700000000"),
        Some("not base64!"),
        body,
        now,
        false,
    );
    check(&public, Some("1700000000"), Some(""), body, now, false);
}

#[test]
fn parse_table() {
    fn check(body: &str, expected: Option<Event>) {
        assert_eq!(parse(body.as_bytes()), expected, "{body}");
    }
    let state = CallState {
        incident: 42,
        person: "bob".into(),
    };
    let event = |kind: &str, payload: &str| {
        format!(
            r#"{{"data":{{"record_type":"event","event_type":"{kind}","id":"e1","payload":{payload}}},"meta":{{"attempt":1}}}}"#
        )
    };
    check(
        &event(
            "message.received",
            r#"{"id":"m1","from":{"phone_number":"+4915110000002"},"to":[{"phone_number":"+15005550006"}],"text":"ack 42"}"#,
        ),
        Some(Event::Inbound {
            id: "m1".into(),
            from: "+4915110000002".into(),
            text: "ack 42".into(),
        }),
    );
    let status = |s: &str, errors: &str| {
        event(
            "message.finalized",
            &format!(
                r#"{{"id":"m2","to":[{{"phone_number":"+1","status":"{s}"}}],"errors":{errors}}}"#
            ),
        )
    };
    let report = |s: &str, code| {
        Some(Event::Status {
            id: "m2".into(),
            status: s.into(),
            error_code: code,
        })
    };
    check(&status("delivered", "[]"), report("delivered", None));
    check(
        &status("delivery_failed", r#"[{"code":"40002","title":"Blocked"}]"#),
        report("failed", Some(40002)),
    );
    check(
        &status("sending_failed", r#"[{"code":40310}]"#),
        report("failed", Some(40310)),
    );
    check(&status("delivery_unconfirmed", "[]"), report("sent", None));
    check(&status("mystery", "[]"), report("", None));
    let call = |kind: &str, extra: &str| {
        event(
            kind,
            &format!(
                r#"{{"call_control_id":"v3:c1","client_state":"{}"{extra}}}"#,
                state.encode()
            ),
        )
    };
    check(
        &call("call.answered", ""),
        Some(Event::Answered {
            id: "v3:c1".into(),
            state: Some(state.clone()),
        }),
    );
    check(
        &call("call.gather.ended", r#","digits":"1","status":"valid""#),
        Some(Event::Gathered {
            id: "v3:c1".into(),
            digits: "1".into(),
            state: Some(state.clone()),
        }),
    );
    let hangup = |cause: &str| call("call.hangup", &format!(r#","hangup_cause":"{cause}""#));
    let ended = |s: &str| {
        Some(Event::Status {
            id: "v3:c1".into(),
            status: s.into(),
            error_code: None,
        })
    };
    check(&hangup("normal_clearing"), ended("completed"));
    check(&hangup("user_busy"), ended("busy"));
    check(&hangup("timeout"), ended("no-answer"));
    check(&hangup("call_rejected"), ended("failed"));
    check(
        &call("call.speak.ended", ""),
        Some(Event::SpeakEnded { id: "v3:c1".into() }),
    );
    check(&call("call.dtmf.received", ""), Some(Event::Other));
    // A client_state tocsin did not write names nobody.
    check(
        &event(
            "call.answered",
            r#"{"call_control_id":"v3:c1","client_state":"Zm9v"}"#,
        ),
        Some(Event::Answered {
            id: "v3:c1".into(),
            state: None,
        }),
    );
    check(&event("call.answered", r#"{"call_control_id":""}"#), None);
    check(&event("message.received", r#"{"id":"m1"}"#), None);
    check("not json", None);
    check(r#"{"data":{}}"#, None);
}

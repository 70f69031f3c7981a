//! The failover lists, Telnyx and ntfy: what is read, and each error with
//! its position.

use super::super::{ConfigErrors, Provider, Roster, load_with_env};

/// People, one policy and one integration; `providers` and `extra` people
/// fields are appended by each case.
fn yaml(providers: &str, alice: &str) -> String {
    format!(
        r##"timezone: Europe/Berlin
providers:
{providers}
people:
  - id: alice
    phone: "+4915110000001"
{alice}
teams:
  - id: web
    lead: alice
    members: [alice]
clients:
  - id: acme
    channel: {{ type: log, name: "#acme" }}
projects:
  - id: shop
    client: acme
    team: web
escalation_policies:
  - id: default
    steps:
      - {{ notify: nearest, via: [sms], wait: 5m }}
integrations:
  - id: prom
    type: alertmanager
    token_sha256: 0000000000000000000000000000000000000000000000000000000000000000
    project: shop
"##
    )
}

fn env(k: &str) -> Option<String> {
    match k {
        "TWILIO_TOKEN" => Some("tw-secret".into()),
        "TELNYX_KEY" => Some("KEY0123".into()),
        "NTFY_TOKEN" => Some("tk_abc".into()),
        _ => None,
    }
}

fn load(text: &str) -> Result<Roster, ConfigErrors> {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("tocsin.yaml");
    std::fs::write(&main, text).expect("write");
    load_with_env(&main, &env)
}

const TWILIO: &str = r#"type: twilio
      account_sid: AC1
      auth_token: ${TWILIO_TOKEN}
      from: "+15005550006""#;
/// RFC 8032's first test key, base64.
const KEY: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

#[test]
fn lists_and_single_mappings() {
    let providers = format!(
        r#"  sms:
    - {TWILIO}
    - type: telnyx
      api_key: ${{TELNYX_KEY}}
      public_key: {KEY}
      from: "+15005550007"
  voice:
    type: telnyx
    api_key: ${{TELNYX_KEY}}
    public_key: {KEY}
    from: "+15005550007"
    connection_id: "1494404757140276705"
  push: {{ type: ntfy, base_url: "https://ntfy.example", token: "${{NTFY_TOKEN}}" }}"#
    );
    let r = load(&yaml(
        &providers,
        "    ntfy_topic: alice-pages\n    channels: [push, sms]",
    ))
    .expect("valid");
    assert!(matches!(
        r.providers.sms.as_slice(),
        [Provider::Twilio(_), Provider::Telnyx(_)]
    ));
    let [Provider::Telnyx(t)] = r.providers.voice.as_slice() else {
        panic!("voice: {:?}", r.providers.voice);
    };
    assert_eq!(t.api_key.expose(), "KEY0123");
    assert_eq!(t.public_key.len(), 32);
    assert_eq!(t.connection_id.as_deref(), Some("1494404757140276705"));
    assert_eq!(r.providers.telnyx().count(), 2);
    let push = r.providers.push.as_ref().expect("ntfy");
    assert_eq!(push.base_url.as_str(), "https://ntfy.example/");
    assert_eq!(push.token.as_ref().map(|t| t.expose()), Some("tk_abc"));
    let alice = &r.people["alice"];
    assert_eq!(alice.ntfy_topic.as_deref(), Some("alice-pages"));
    use crate::config::ChannelType::{Push, Sms};
    assert_eq!(alice.channels, [Push, Sms]);
}

/// Expects exactly these errors: (line, column, part of the message).
fn check(text: &str, expected: &[(u64, u64, &str)]) {
    let errors = match load(text) {
        Ok(_) => panic!("expected {expected:?}, got a valid config"),
        Err(e) => e.0,
    };
    let got: Vec<_> = errors
        .iter()
        .map(|e| (e.line, e.column, e.message.clone()))
        .collect();
    assert_eq!(got.len(), expected.len(), "got {got:#?}");
    for ((l, c, m), (el, ec, em)) in got.iter().zip(expected) {
        assert!(m.contains(em), "message {m:?} should contain {em:?}");
        assert_eq!((l, c), (el, ec), "position of {m:?}");
    }
}

#[test]
fn errors_name_the_entry_and_position() {
    check(
        &yaml(
            &format!(
                r#"  sms:
    - {TWILIO}
    - type: telnyx
      api_key: KEY-IN-THE-FILE
      public_key: not-a-key
      from: "0151""#
            ),
            "",
        ),
        &[
            (9, 16, "api_key must not be written in the file"),
            (
                10,
                19,
                "providers.sms[1].public_key must be the account's base64 Ed25519 public key",
            ),
            (11, 13, "providers.sms[1].from \"0151\" is not an E.164"),
        ],
    );
    check(
        &yaml("  sms:\n    - { type: pigeon }", ""),
        &[(
            4,
            15,
            "providers.sms[0]: unknown type \"pigeon\" (expected twilio, telnyx or log)",
        )],
    );
    check(
        &yaml("  sms: []", ""),
        &[(3, 8, "providers.sms lists no provider")],
    );
    check(
        &yaml("  push: { type: ntfy, token: tk_literal }", ""),
        &[(3, 30, "token must not be written in the file")],
    );
}

#[test]
fn push_needs_a_topic() {
    check(
        &yaml("  push: { type: ntfy }", "    channels: [push, sms]"),
        &[(7, 16, "channel push needs a ntfy_topic")],
    );
    check(
        &yaml(
            "  push: { type: ntfy }",
            "    notify: [{ via: [sms, push] }]",
        ),
        &[(7, 14, "alice has no address for push")],
    );
}

#[test]
fn push_needs_a_server() {
    check(
        &yaml(
            "  email: { type: log }",
            "    ntfy_topic: alice-pages\n    channels: [sms, push]",
        )
        .replace("via: [sms]", "via: [sms, push]"),
        &[
            (23, 39, "push needs providers.push (type: ntfy)"),
            (8, 21, "push needs providers.push (type: ntfy)"),
        ],
    );
}

//! Twilio webhooks (SMS replies, voice digits) and acknowledge links, signed
//! as Twilio signs them.

use chrono::Duration;
use serde_json::{Value, json};
use tocsin::notify::Action;
use tocsin::notify::twilio_sig::expected_signature;

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

const TWILIO_TOKEN: &str = "twilio-auth-token-0123456789";
const PUBLIC: &str = "https://tocsin.example";
const BOB_PHONE: &str = "+4915110000002";
const PROVIDERS: &str = r#"providers:
  sms:
    type: twilio
    account_sid: AC0123456789abcdef0123456789abcdef
    auth_token_file: twilio.token
    from: "+15005550006"
    base_url: http://127.0.0.1:9
"#;

async fn spawn() -> Daemon {
    spawn_with_files(&roster_yaml(PROVIDERS), &[("twilio.token", TWILIO_TOKEN)]).await
}

/// Opens an incident through Alertmanager; returns its number.
async fn open(d: &Daemon, name: &str) -> i64 {
    let payload = am_payload(name, vec![am_alert(name, "a", "firing")]);
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    body["outcome"]["opened"][0].as_i64().expect("opened")
}

async fn show(d: &Daemon, id: i64) -> Value {
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

async fn state(d: &Daemon, id: i64) -> String {
    show(d, id).await["incident"]["state"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// The last event a person caused (paging bookkeeping by `system` is skipped).
fn last_event(show: &Value) -> Value {
    show["timeline"]
        .as_array()
        .and_then(|t| {
            t.iter().rev().find(|e| {
                e["actor"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("person:"))
            })
        })
        .cloned()
        .unwrap_or(Value::Null)
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// POSTs `pairs` to `path` (with query) carrying `signature` (none: no header).
async fn post_form(
    d: &Daemon,
    path: &str,
    pairs: &[(&str, &str)],
    signature: Option<String>,
) -> (u16, String) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let mut req = d
        .http
        .post(d.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(s) = signature {
        req = req.header("X-Twilio-Signature", s);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.expect("body"))
}

/// Signed as Twilio signs it: over the public URL of `path`.
async fn post_signed(d: &Daemon, path: &str, pairs: &[(&str, &str)]) -> (u16, String) {
    let sig = expected_signature(TWILIO_TOKEN, &format!("{PUBLIC}{path}"), &params(pairs));
    post_form(d, path, pairs, Some(sig)).await
}

async fn sms_with_sid(d: &Daemon, from: &str, body: &str, sid: &str) -> (u16, String) {
    let pairs = [
        ("MessageSid", sid),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("From", from),
        ("To", "+15005550006"),
        ("Body", body),
        ("NumMedia", "0"),
    ];
    post_signed(d, "/twilio/sms", &pairs).await
}

/// With a fresh `MessageSid` (the daemon dedupes on it).
async fn sms(d: &Daemon, from: &str, body: &str) -> (u16, String) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    let sid = format!("SM{:032}", N.fetch_add(1, Ordering::SeqCst));
    sms_with_sid(d, from, body, &sid).await
}

#[tokio::test]
async fn alert_then_sms_ack_acknowledges_as_the_sender() {
    let d = spawn().await;
    let id = open(&d, "DiskFull").await;
    let (status, body) = sms(&d, BOB_PHONE, &format!("ack {id}")).await;
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!(
            "<Message>Incident {id} acknowledged. Reply res {id} when fixed.</Message>"
        )),
        "{body}"
    );
    let s = show(&d, id).await;
    assert_eq!(s["incident"]["state"], "acknowledged");
    assert_eq!(s["incident"]["assignee"], "bob");
    let ev = last_event(&s);
    assert_eq!(ev["kind"], "acknowledged");
    assert_eq!(ev["actor"], "person:bob");
    assert_eq!(ev["detail"]["how"], "sms");
    d.stop().await;
}

#[tokio::test]
async fn reply_grammar_variants() {
    // (reply, state after)
    fn cases(id: i64) -> Vec<(String, &'static str)> {
        vec![
            (format!("a{id}"), "acknowledged"),
            (format!("res {id}"), "resolved"),
        ]
    }
    let d = spawn().await;
    let first = open(&d, "First").await;
    for (reply, expected) in cases(first) {
        let (status, _) = sms(&d, BOB_PHONE, &reply).await;
        assert_eq!(status, 200);
        assert_eq!(state(&d, first).await, expected, "{reply}");
    }
    let second = open(&d, "Second").await;
    for (reply, expected) in [
        (format!("{second}"), "acknowledged"),
        (format!("r{second}"), "resolved"),
    ] {
        sms(&d, BOB_PHONE, &reply).await;
        assert_eq!(state(&d, second).await, expected, "{reply}");
    }
    // Resolving again explains the state instead of acting.
    let (_, body) = sms(&d, BOB_PHONE, &format!("ack {second}")).await;
    assert!(
        body.contains(&format!(
            "Incident {second} is resolved, so it cannot be acknowledged."
        )),
        "{body}"
    );
    let (_, body) = sms(&d, BOB_PHONE, "ack 999").await;
    assert!(body.contains("Incident 999 not found."), "{body}");
    let (_, body) = sms(&d, BOB_PHONE, "hello there").await;
    assert!(body.contains("Sorry, that was not understood."), "{body}");
    let (_, body) = sms(&d, BOB_PHONE, "HELP").await;
    assert!(body.contains("res 42"), "{body}");
    d.stop().await;
}

#[tokio::test]
async fn bare_ack_needs_exactly_one_paged_incident() {
    let d = spawn().await;
    let (_, body) = sms(&d, BOB_PHONE, "ack").await;
    assert!(body.contains("No open incident is paged to you"), "{body}");

    let one = open(&d, "One").await;
    // While bob is marked offline the next incident is paged to alice: not bob's.
    let r = d
        .http
        .put(d.url("/api/v1/presence/bob"))
        .bearer_auth(BOB_TOKEN)
        .json(&json!({"status": "offline", "ttl": "1m"}))
        .send()
        .await
        .expect("presence");
    assert_eq!(r.status(), 200);
    let other = open(&d, "Other").await;
    d.clock.advance(chrono::Duration::minutes(1));
    let (_, body) = sms(&d, BOB_PHONE, "ack").await;
    assert!(
        body.contains(&format!("Incident {one} acknowledged.")),
        "{body}"
    );
    assert_eq!(state(&d, one).await, "acknowledged");
    assert_eq!(state(&d, other).await, "triggered");

    let two = open(&d, "Second").await;
    let (_, body) = sms(&d, BOB_PHONE, "res").await;
    assert!(
        body.contains(&format!(
            "Several incidents are paged to you: {one}, {two}."
        )),
        "{body}"
    );
    assert_eq!(state(&d, one).await, "acknowledged");
    assert_eq!(state(&d, two).await, "triggered");

    // A bare ack means the one still paging, not one bob already holds.
    let (_, body) = sms(&d, BOB_PHONE, "ack").await;
    assert!(
        body.contains(&format!("Incident {two} acknowledged.")),
        "{body}"
    );
    // One paged to bob but taken by alice is not his to list or resolve.
    let three = open(&d, "Third").await;
    let r = d
        .http
        .post(d.url(&format!("/api/v1/incidents/{three}/acknowledge")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("ack");
    assert_eq!(r.status(), 200);
    let (_, body) = sms(&d, BOB_PHONE, "res").await;
    assert!(
        body.contains(&format!(
            "Several incidents are paged to you: {one}, {two}. Reply"
        )),
        "{body}"
    );
    let (_, body) = sms(&d, BOB_PHONE, &format!("res {one}")).await;
    assert!(body.contains("resolved"), "{body}");
    let (_, body) = sms(&d, BOB_PHONE, "res").await;
    assert!(
        body.contains(&format!("Incident {two} resolved.")),
        "{body}"
    );
    assert_eq!(state(&d, three).await, "acknowledged");
    d.stop().await;
}

#[tokio::test]
async fn unknown_sender_is_told_and_nothing_changes() {
    let d = spawn().await;
    let id = open(&d, "DiskFull").await;
    let (status, body) = sms(&d, "+4915199999999", &format!("ack {id}")).await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<Message>This number is not on the tocsin roster.</Message>"),
        "{body}"
    );
    assert_eq!(state(&d, id).await, "triggered");
    d.stop().await;
}

#[tokio::test]
async fn bad_signatures_are_refused_and_change_nothing() {
    let d = spawn().await;
    let id = open(&d, "DiskFull").await;
    let body = format!("ack {id}");
    let pairs = [
        ("MessageSid", "SM1"),
        ("From", BOB_PHONE),
        ("Body", body.as_str()),
    ];
    let p = params(&pairs);
    let forged = expected_signature("not-the-token", &format!("{PUBLIC}/twilio/sms"), &p);
    let http = expected_signature(TWILIO_TOKEN, "http://tocsin.example/twilio/sms", &p);
    let other_path = expected_signature(TWILIO_TOKEN, &format!("{PUBLIC}/twilio/voice"), &p);
    let other_body = expected_signature(
        TWILIO_TOKEN,
        &format!("{PUBLIC}/twilio/sms"),
        &params(&[
            ("MessageSid", "SM1"),
            ("From", BOB_PHONE),
            ("Body", "ack 999"),
        ]),
    );
    for (what, sig) in [
        ("forged", Some(forged)),
        ("missing", None),
        ("http instead of https", Some(http)),
        ("another path", Some(other_path)),
        ("another body", Some(other_body)),
        ("garbage", Some("!!".to_owned())),
    ] {
        let (status, _) = post_form(&d, "/twilio/sms", &pairs, sig).await;
        assert_eq!(status, 403, "{what}");
    }
    assert_eq!(state(&d, id).await, "triggered");
    let metrics = d.get("/metrics").await.text().await.expect("metrics");
    assert!(
        metrics.contains("tocsin_twilio_signature_failures_total 6"),
        "{metrics}"
    );
    d.stop().await;
}

#[tokio::test]
async fn default_port_in_the_signed_url_is_accepted() {
    let d = spawn().await;
    let id = open(&d, "DiskFull").await;
    let body = format!("ack {id}");
    let pairs = [
        ("MessageSid", "SM443"),
        ("From", BOB_PHONE),
        ("Body", body.as_str()),
    ];
    let sig = expected_signature(
        TWILIO_TOKEN,
        "https://tocsin.example:443/twilio/sms",
        &params(&pairs),
    );
    let (status, _) = post_form(&d, "/twilio/sms", &pairs, Some(sig)).await;
    assert_eq!(status, 200);
    assert_eq!(state(&d, id).await, "acknowledged");
    d.stop().await;
}

#[tokio::test]
async fn without_a_twilio_provider_the_webhooks_do_not_exist() {
    let d = spawn_daemon().await;
    let (status, _) = post_signed(&d, "/twilio/sms", &[("From", BOB_PHONE)]).await;
    assert_eq!(status, 404);
    let (status, _) = post_signed(&d, "/twilio/voice?incident=1&person=bob", &[]).await;
    assert_eq!(status, 404);
    d.stop().await;
}

#[tokio::test]
async fn a_repeated_message_sid_acts_once_and_answers_the_same() {
    let d = spawn().await;
    let id = open(&d, "DiskFull").await;
    let first = sms_with_sid(&d, BOB_PHONE, &format!("ack {id}"), "SMrepeat").await;
    let events = show(&d, id).await["timeline"]
        .as_array()
        .map_or(0, Vec::len);
    let again = sms_with_sid(&d, BOB_PHONE, &format!("ack {id}"), "SMrepeat").await;
    assert_eq!(first, again);
    let after = show(&d, id).await["timeline"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(events, after, "the redelivery appended nothing");
    // Same sid, different text: still the first answer, still nothing done.
    let third = sms_with_sid(&d, BOB_PHONE, &format!("res {id}"), "SMrepeat").await;
    assert_eq!(first, third);
    assert_eq!(state(&d, id).await, "acknowledged");
    d.stop().await;
}

#[tokio::test]
async fn stop_and_start_are_recorded() {
    let d = spawn().await;
    let id = open(&d, "DiskFull").await;
    let before = show(&d, id).await["timeline"]
        .as_array()
        .map_or(0, Vec::len);
    let opted = |d: &Daemon| {
        let store = d.state().store.clone();
        async move {
            store
                .transact(|repo| Ok(tocsin::incident::opted_out(repo, "bob")))
                .await
                .expect("query")
        }
    };
    assert!(!opted(&d).await);
    let (status, body) = sms(&d, BOB_PHONE, "STOP").await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#);
    assert!(opted(&d).await);
    let after = show(&d, id).await["timeline"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(before, after, "STOP touches no incident");
    let (_, body) = sms(&d, BOB_PHONE, "start").await;
    assert_eq!(body, r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#);
    assert!(!opted(&d).await);
    d.stop().await;
}

#[tokio::test]
async fn voice_reads_the_incident_then_acts_on_the_digit() {
    let d = spawn().await;
    let id = open(&d, "DiskFull").await;
    let path = format!("/twilio/voice?incident={id}&person=bob");
    let call = [
        ("CallSid", "CA1"),
        ("From", "+15005550006"),
        ("To", BOB_PHONE),
        ("CallStatus", "in-progress"),
    ];
    let (status, body) = post_signed(&d, &path, &call).await;
    assert_eq!(status, 200);
    assert!(body.contains("<Gather"), "{body}");
    assert!(
        body.contains(&format!(
            r#"action="https://tocsin.example/twilio/voice?incident={id}&amp;person=bob""#
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "tocsin incident {id} on project shop, severity critical: DiskFull on a. \
             Press 1 to acknowledge, 2 to escalate, 3 to resolve."
        )),
        "{body}"
    );
    // A completed call (voicemail too) is no acknowledgement.
    let done = [("CallSid", "CA1"), ("CallStatus", "completed")];
    post_signed(&d, &path, &done).await;
    assert_eq!(state(&d, id).await, "triggered");
    // A wrong digit asks again.
    let (_, body) = post_signed(&d, &path, &[("CallSid", "CA1"), ("Digits", "7")]).await;
    assert!(body.contains("<Gather"), "{body}");
    assert_eq!(state(&d, id).await, "triggered");

    let (_, body) = post_signed(&d, &path, &[("CallSid", "CA1"), ("Digits", "1")]).await;
    assert!(body.contains("Incident"), "{body}");
    assert!(body.contains("acknowledged"), "{body}");
    assert!(body.contains("<Hangup/>"), "{body}");
    let s = show(&d, id).await;
    assert_eq!(s["incident"]["state"], "acknowledged");
    assert_eq!(s["incident"]["assignee"], "bob");
    assert_eq!(last_event(&s)["detail"]["how"], "voice");

    let (_, body) = post_signed(&d, &path, &[("CallSid", "CA1"), ("Digits", "3")]).await;
    assert!(body.contains(&format!("Incident {id} resolved.")), "{body}");
    let s = show(&d, id).await;
    assert_eq!(s["incident"]["state"], "resolved");
    assert_eq!(last_event(&s)["detail"]["how"], "voice");
    d.stop().await;
}

#[tokio::test]
async fn escalate_by_sms_and_voice_is_recorded() {
    let d = spawn().await;
    let id = open(&d, "DiskFull").await;
    let (_, body) = sms(&d, BOB_PHONE, &format!("esc {id}")).await;
    assert!(body.contains(&format!("Incident {id} escalated")), "{body}");
    let ev = last_event(&show(&d, id).await);
    assert_eq!(
        (ev["kind"].clone(), ev["detail"]["how"].clone()),
        (json!("escalation requested"), json!("sms"))
    );
    let path = format!("/twilio/voice?incident={id}&person=bob");
    post_signed(&d, &path, &[("Digits", "2")]).await;
    let ev = last_event(&show(&d, id).await);
    assert_eq!(ev["detail"]["how"], "voice");
    d.stop().await;
}

#[tokio::test]
async fn a_replayed_keypress_acts_once_and_answers_the_same() {
    let d = spawn().await;
    let id = open(&d, "DiskFull").await;
    let path = format!("/twilio/voice?incident={id}&person=bob");
    let press = [("CallSid", "CAreplay"), ("Digits", "2")];
    let escalations = |s: &Value| {
        s["timeline"].as_array().map_or(0, |t| {
            t.iter()
                .filter(|e| e["kind"] == "escalation requested")
                .count()
        })
    };
    let first = post_signed(&d, &path, &press).await;
    assert!(first.1.contains("escalated"), "{}", first.1);
    let events = show(&d, id).await["timeline"]
        .as_array()
        .map_or(0, Vec::len);
    let again = post_signed(&d, &path, &press).await;
    assert_eq!(first, again, "the same answer");
    let s = show(&d, id).await;
    assert_eq!(escalations(&s), 1);
    assert_eq!(s["timeline"].as_array().map_or(0, Vec::len), events);
    // Acknowledge and resolve keypresses are applied once too.
    let ack = [("CallSid", "CAreplay"), ("Digits", "1")];
    let acked = post_signed(&d, &path, &ack).await;
    assert_eq!(state(&d, id).await, "acknowledged");
    let events = show(&d, id).await["timeline"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(post_signed(&d, &path, &ack).await, acked);
    let after = show(&d, id).await["timeline"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(events, after, "the replay appended nothing");
    d.stop().await;
}

fn link(d: &Daemon, id: i64, action: Action, expires: chrono::DateTime<chrono::Utc>) -> String {
    let public: url::Url = PUBLIC.parse().expect("url");
    let claims = tocsin::notify::ack_token::Claims {
        incident: id as u64,
        person: "bob".into(),
        action,
        expires,
    };
    let url = tocsin::notify::ack_token::url(&public, d.state().link_secret(), &claims);
    url.strip_prefix(PUBLIC).expect("public prefix").to_owned()
}

#[tokio::test]
async fn ack_link_get_shows_and_only_post_acts() {
    let d = spawn().await;
    let id = open(&d, "Disk<Full>").await;
    let path = link(&d, id, Action::Ack, t0() + Duration::hours(1));
    for _ in 0..3 {
        let r = d.get(&path).await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.expect("html");
        assert!(
            html.contains(&format!("Acknowledge incident {id}</button>")),
            "{html}"
        );
        assert!(html.contains("Disk&#60;Full&#62; on a"), "{html}");
        assert!(!html.contains("Disk<Full>"), "{html}");
        assert!(html.contains("triggered"), "{html}");
    }
    assert_eq!(state(&d, id).await, "triggered", "GET never acts");

    let r = d.http.post(d.url(&path)).send().await.expect("post");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    assert!(
        html.contains(&format!("Incident {id} acknowledged.")),
        "{html}"
    );
    let s = show(&d, id).await;
    assert_eq!(s["incident"]["state"], "acknowledged");
    assert_eq!(s["incident"]["assignee"], "bob");
    assert_eq!(last_event(&s)["detail"]["how"], "link");

    // Resolved meanwhile: the acknowledge link explains, with 409.
    let res = link(&d, id, Action::Resolve, t0() + Duration::hours(1));
    let r = d.http.post(d.url(&res)).send().await.expect("post");
    assert_eq!(r.status(), 200);
    let r = d.http.post(d.url(&path)).send().await.expect("post");
    assert_eq!(r.status(), 409);
    let html = r.text().await.expect("html");
    assert!(html.contains("is resolved"), "{html}");
    d.stop().await;
}

#[tokio::test]
async fn ack_link_refusals() {
    let d = spawn().await;
    let id = open(&d, "DiskFull").await;
    let path = link(&d, id, Action::Ack, t0() + Duration::minutes(30));
    // Flip one character of the signature.
    let mut tampered = path.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for method in ["GET", "POST"] {
        let req = d
            .http
            .request(method.parse().expect("method"), d.url(&tampered));
        let r = req.send().await.expect("request");
        assert_eq!(r.status(), 400, "{method}");
        assert!(
            r.text()
                .await
                .expect("html")
                .contains("This link is not valid.")
        );
    }
    let unknown = link(&d, 999, Action::Ack, t0() + Duration::minutes(30));
    assert_eq!(d.get(&unknown).await.status(), 404);

    d.clock.advance(Duration::minutes(31));
    for method in ["GET", "POST"] {
        let req = d
            .http
            .request(method.parse().expect("method"), d.url(&path));
        let r = req.send().await.expect("request");
        assert_eq!(r.status(), 410, "{method}");
        assert!(
            r.text()
                .await
                .expect("html")
                .contains("This link has expired; acknowledge by SMS reply or in tocsin.")
        );
    }
    assert_eq!(state(&d, id).await, "triggered");
    d.stop().await;
}

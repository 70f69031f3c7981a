use std::time::Duration;

use base64::Engine as _;

use super::*;
use crate::notify::test_server::{Canned, refused, start, start_dropper};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "secret-token";

fn client(base: &str, from: Sender) -> TwilioClient {
    TwilioClient::new(format!("{base}/"), SID, TOKEN, from, reqwest::Client::new())
}

fn from_number() -> Sender {
    Sender::Number("+15005550006".into())
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn created(sid: &str) -> Canned {
    Canned::new(
        201,
        &format!(r#"{{"sid":"{sid}","status":"queued","error_code":null}}"#),
    )
}

fn expected_auth() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    )
}

#[tokio::test]
async fn send_sms_posts_the_form_with_basic_auth() {
    let fake = start(created("SM0123")).await;
    let id = client(&fake.base, from_number())
        .send_sms(
            "+15551234567",
            "INC-42 db down & <out>",
            Some("https://t.example/twilio/status?n=9"),
            Some(600),
        )
        .await;
    assert_eq!(id, Ok(ProviderId("SM0123".into())));
    let req = fake.only_request();
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.path_and_query,
        format!("/2010-04-01/Accounts/{SID}/Messages.json")
    );
    assert_eq!(req.header("authorization"), Some(expected_auth().as_str()));
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        req.form(),
        pairs(&[
            ("To", "+15551234567"),
            ("From", "+15005550006"),
            ("Body", "INC-42 db down & <out>"),
            ("StatusCallback", "https://t.example/twilio/status?n=9"),
            ("ValidityPeriod", "600"),
        ])
    );
}

#[tokio::test]
async fn send_sms_via_messaging_service_and_clamped_validity() {
    let fake = start(created("SM1")).await;
    let from = Sender::MessagingServiceSid("MG123".into());
    let id = client(&fake.base, from)
        .send_sms("+15551234567", "hi", None, Some(100_000))
        .await;
    assert_eq!(id.map(|i| i.to_string()), Ok("SM1".to_string()));
    assert_eq!(
        fake.only_request().form(),
        pairs(&[
            ("To", "+15551234567"),
            ("MessagingServiceSid", "MG123"),
            ("Body", "hi"),
            ("ValidityPeriod", "36000")
        ])
    );
}

#[tokio::test]
async fn place_call_with_twiml_and_events() {
    let fake = start(created("CA9")).await;
    let twiml = CallContent::Twiml("<Response><Say>hi</Say></Response>".into());
    let id = client(&fake.base, from_number())
        .place_call(
            "+15551234567",
            &twiml,
            Some("https://t.example/twilio/call"),
            Some(30),
        )
        .await;
    assert_eq!(id, Ok(ProviderId("CA9".into())));
    let req = fake.only_request();
    assert_eq!(
        req.path_and_query,
        format!("/2010-04-01/Accounts/{SID}/Calls.json")
    );
    assert_eq!(req.header("authorization"), Some(expected_auth().as_str()));
    assert_eq!(
        req.form(),
        pairs(&[
            ("To", "+15551234567"),
            ("From", "+15005550006"),
            ("Twiml", "<Response><Say>hi</Say></Response>"),
            ("StatusCallback", "https://t.example/twilio/call"),
            ("StatusCallbackMethod", "POST"),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
            ("Timeout", "30"),
        ])
    );
}

#[tokio::test]
async fn place_call_with_url_only() {
    let fake = start(created("CA1")).await;
    let content = CallContent::Url("https://t.example/twiml?n=1".into());
    let id = client(&fake.base, from_number())
        .place_call("+1555", &content, None, None)
        .await;
    assert!(id.is_ok(), "{id:?}");
    assert_eq!(
        fake.only_request().form(),
        pairs(&[
            ("To", "+1555"),
            ("From", "+15005550006"),
            ("Url", "https://t.example/twiml?n=1")
        ])
    );
}

#[tokio::test]
async fn place_call_refuses_a_messaging_service_sender() {
    let fake = start(created("CA1")).await;
    let content = CallContent::Url("https://t.example/twiml".into());
    let got = client(&fake.base, Sender::MessagingServiceSid("MG1".into()))
        .place_call("+1555", &content, None, None)
        .await;
    assert!(
        matches!(got, Err(SendError::Permanent { code: None, .. })),
        "{got:?}"
    );
    assert!(fake.requests().is_empty());
}

async fn sms_result(canned: Canned) -> Result<ProviderId, SendError> {
    let fake = start(canned).await;
    client(&fake.base, from_number())
        .send_sms("+15551234567", "x", None, None)
        .await
}

fn twilio_error(status: u16, code: u32) -> Canned {
    Canned::new(
        status,
        &format!(
            r#"{{"code":{code},"message":"error {code}","more_info":"https://www.twilio.com/docs/errors/{code}","status":{status}}}"#
        ),
    )
}

#[derive(Debug, PartialEq)]
enum Shape {
    Permanent(Option<u32>),
    Transient {
        retry_after: Option<u64>,
        ambiguous: bool,
    },
}

fn shape(err: &SendError) -> Shape {
    match err {
        SendError::Permanent { code, .. } => Shape::Permanent(*code),
        SendError::Transient {
            retry_after,
            ambiguous,
            ..
        } => Shape::Transient {
            retry_after: retry_after.map(|d| d.as_secs()),
            ambiguous: *ambiguous,
        },
    }
}

#[tokio::test]
async fn failures_are_classified() {
    async fn check(canned: Canned, expected: Shape) {
        let err = sms_result(canned.clone())
            .await
            .expect_err("fake answered with a failure");
        assert_eq!(shape(&err), expected, "{canned:?} → {err:?}");
    }
    use Shape::*;
    for code in [21211, 21614, 21610, 21606, 21608] {
        check(twilio_error(400, code), Permanent(Some(code))).await;
    }
    check(twilio_error(401, 20003), Permanent(Some(20003))).await;
    check(Canned::new(404, "not json"), Permanent(None)).await;
    check(Canned::new(302, ""), Permanent(None)).await;
    let t = |retry_after, ambiguous| Transient {
        retry_after,
        ambiguous,
    };
    check(
        twilio_error(429, 20429).header("retry-after", "7"),
        t(Some(7), false),
    )
    .await;
    check(Canned::new(429, ""), t(None, false)).await;
    check(twilio_error(400, 20429), t(None, false)).await;
    check(Canned::new(500, "boom"), t(None, true)).await;
    check(
        Canned::new(503, "").header("retry-after", "2"),
        t(Some(2), true),
    )
    .await;
    check(Canned::new(201, "not json"), t(None, true)).await;
    check(Canned::new(201, r#"{"status":"queued"}"#), t(None, true)).await;
}

#[tokio::test]
async fn opt_out_and_not_mobile_are_recognised() {
    let err = sms_result(twilio_error(400, 21610))
        .await
        .expect_err("failure");
    assert!(err.is_opted_out() && !err.is_not_mobile(), "{err:?}");
    let err = sms_result(twilio_error(400, 21614))
        .await
        .expect_err("failure");
    assert!(err.is_not_mobile() && !err.is_opted_out(), "{err:?}");
    let err = sms_result(twilio_error(429, 20429))
        .await
        .expect_err("failure");
    assert_eq!(
        err.to_string(),
        "transient provider failure: Twilio HTTP 429: error 20429"
    );
}

#[tokio::test]
async fn dropped_connection_is_ambiguous() {
    let base = start_dropper().await;
    let got = client(&base, from_number())
        .send_sms("+1555", "x", None, None)
        .await;
    assert!(
        matches!(
            got,
            Err(SendError::Transient {
                ambiguous: true,
                ..
            })
        ),
        "{got:?}"
    );
}

#[tokio::test]
async fn refused_connection_is_transient_but_not_ambiguous() {
    let base = refused().await;
    let got = client(&base, from_number())
        .send_sms("+1555", "x", None, None)
        .await;
    assert!(
        matches!(
            got,
            Err(SendError::Transient {
                ambiguous: false,
                ..
            })
        ),
        "{got:?}"
    );
}

#[tokio::test]
async fn timeout_is_ambiguous() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client builds");
    let twilio = TwilioClient::new(format!("http://{addr}"), SID, TOKEN, from_number(), http);
    let got = twilio.send_sms("+1555", "x", None, None).await;
    assert!(
        matches!(
            got,
            Err(SendError::Transient {
                ambiguous: true,
                ..
            })
        ),
        "{got:?}"
    );
    hold.abort();
}

#[tokio::test]
async fn lookups_read_status() {
    let fake = start(Canned::new(
        200,
        r#"{"sid":"SM5","status":"undelivered","error_code":30003}"#,
    ))
    .await;
    let got = client(&fake.base, from_number())
        .lookup_message("SM5")
        .await;
    assert_eq!(
        got,
        Ok(StatusUpdate {
            sid: "SM5".into(),
            kind: StatusKind::Message,
            status: "undelivered".into(),
            error_code: Some(30003),
            answered_by: None
        })
    );
    let req = fake.only_request();
    assert_eq!(req.method, "GET");
    assert_eq!(
        req.path_and_query,
        format!("/2010-04-01/Accounts/{SID}/Messages/SM5.json")
    );
    assert_eq!(req.header("authorization"), Some(expected_auth().as_str()));

    let fake = start(Canned::new(
        200,
        r#"{"sid":"CA5","status":"completed","error_code":null,"answered_by":"human"}"#,
    ))
    .await;
    let got = client(&fake.base, from_number()).lookup_call("CA5").await;
    assert_eq!(
        got,
        Ok(StatusUpdate {
            sid: "CA5".into(),
            kind: StatusKind::Call,
            status: "completed".into(),
            error_code: None,
            answered_by: Some("human".into())
        })
    );
    assert_eq!(
        fake.only_request().path_and_query,
        format!("/2010-04-01/Accounts/{SID}/Calls/CA5.json")
    );
}

#[tokio::test]
async fn lookup_rejects_path_tricks_without_a_request() {
    let fake = start(Canned::new(200, "{}")).await;
    let twilio = client(&fake.base, from_number());
    for sid in ["", "../x", "SM1?x=1", "SM 1", "SM1/..", "ＳＭ1"] {
        let got = twilio.lookup_message(sid).await;
        assert!(
            matches!(got, Err(SendError::Permanent { code: None, .. })),
            "{sid:?}: {got:?}"
        );
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn lookup_not_found_is_permanent() {
    let fake = start(twilio_error(404, 20404)).await;
    let got = client(&fake.base, from_number()).lookup_call("CA404").await;
    assert!(
        matches!(
            got,
            Err(SendError::Permanent {
                code: Some(20404),
                ..
            })
        ),
        "{got:?}"
    );
}

#[test]
fn debug_redacts_the_token() {
    let shown = format!("{:?}", client("http://127.0.0.1:1", from_number()));
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn number_table() {
    fn check(value: Value, expected: Option<u32>) {
        assert_eq!(number(&value), expected, "{value}");
    }
    check(serde_json::json!(21211), Some(21211));
    check(serde_json::json!("30003"), Some(30003));
    check(serde_json::json!(null), None);
    check(serde_json::json!(-1), None);
    check(serde_json::json!(5_000_000_000u64), None);
    check(serde_json::json!("abc"), None);
}

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::notify::test_server::{Canned, refused, start, start_dropper};

fn telegram() -> ChatKind {
    ChatKind::Telegram {
        bot_token: "123:ABC".into(),
        chat_id: "-1001234".into(),
    }
}

fn body_json(req: &ChatRequest) -> Value {
    serde_json::from_slice(&req.body).expect("request body is JSON")
}

#[test]
fn request_shapes() {
    fn check(kind: ChatKind, url: &str, title: Option<&str>, expected_url: &str, expected: Value) {
        let req = build_request(&kind, url, "db <down> & \"out\"", title);
        assert_eq!(req.url, expected_url, "{kind:?}");
        assert_eq!(body_json(&req), expected, "{kind:?}");
        assert_eq!(
            req.headers[0],
            ("Content-Type", "application/json".to_owned())
        );
    }
    let hook = "https://hooks.example/services/T/B/x";
    check(
        ChatKind::Slack,
        hook,
        None,
        hook,
        json!({"text": "db &lt;down&gt; &amp; \"out\""}),
    );
    check(
        ChatKind::Slack,
        hook,
        Some("INC-42 <p1>"),
        hook,
        json!({"text": "*INC-42 &lt;p1&gt;*\ndb &lt;down&gt; &amp; \"out\""}),
    );
    check(
        ChatKind::Mattermost,
        hook,
        Some("INC-42"),
        hook,
        json!({"text": "**INC-42**\ndb <down> & \"out\""}),
    );
    check(
        ChatKind::Discord,
        hook,
        None,
        hook,
        json!({"content": "db <down> & \"out\"", "allowed_mentions": {"parse": []}}),
    );
    check(
        telegram(),
        "https://tg.example/",
        Some("INC-42 <p1>"),
        "https://tg.example/bot123:ABC/sendMessage",
        json!({
            "chat_id": -1001234,
            "text": "<b>INC-42 &lt;p1&gt;</b>\ndb &lt;down&gt; &amp; \"out\"",
            "parse_mode": "HTML",
            "disable_web_page_preview": true,
        }),
    );
    check(
        ChatKind::Telegram {
            bot_token: "t".into(),
            chat_id: "@oncall".into(),
        },
        "https://tg.example",
        None,
        "https://tg.example/bott/sendMessage",
        json!({"chat_id": "@oncall", "text": "db &lt;down&gt; &amp; \"out\"", "parse_mode": "HTML", "disable_web_page_preview": true}),
    );
    check(
        ChatKind::Teams,
        hook,
        Some("INC-42"),
        hook,
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.2",
                    "body": [
                        {"type": "TextBlock", "text": "INC-42", "weight": "Bolder", "size": "Medium", "wrap": true},
                        {"type": "TextBlock", "text": "db <down> & \"out\"", "wrap": true},
                    ],
                },
            }],
        }),
    );
    check(
        ChatKind::Webhook { secret: None },
        hook,
        Some("t"),
        hook,
        json!({"text": "db <down> & \"out\"", "title": "t"}),
    );
    check(
        ChatKind::Webhook { secret: None },
        hook,
        None,
        hook,
        json!({"text": "db <down> & \"out\"", "title": null}),
    );
}

#[test]
fn webhook_signature_covers_the_exact_body() {
    let kind = ChatKind::Webhook {
        secret: Some("s3cret".into()),
    };
    let req = build_request(&kind, "https://x.example/hook", "hello", Some("t"));
    let header = req
        .headers
        .iter()
        .find(|(n, _)| *n == SIGNATURE_HEADER)
        .map(|(_, v)| v.clone());
    assert_eq!(header, Some(signature("s3cret", &req.body)));
    // Independently computed: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    assert_eq!(
        signature("key", b"The quick brown fox jumps over the lazy dog"),
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    );
    let unsigned = build_request(
        &ChatKind::Webhook { secret: None },
        "https://x.example/hook",
        "hello",
        None,
    );
    assert!(unsigned.headers.iter().all(|(n, _)| *n != SIGNATURE_HEADER));
}

#[test]
fn long_text_is_cut_to_provider_limits() {
    let long = "x".repeat(10_000);
    let discord = body_json(&build_request(&ChatKind::Discord, "u", &long, None));
    let content = discord["content"].as_str().expect("content is a string");
    assert_eq!(content.chars().count(), DISCORD_MAX);
    assert!(content.ends_with('…'));
    let tg = body_json(&build_request(&telegram(), "u", &"<".repeat(10_000), None));
    let text = tg["text"].as_str().expect("text is a string");
    assert_eq!(text.matches("&lt;").count(), TELEGRAM_MAX - 1);
}

#[test]
fn truncate_table() {
    fn check(text: &str, max: usize, expected: &str) {
        assert_eq!(truncate(text, max), expected, "{text:?} {max}");
    }
    check("abc", 3, "abc");
    check("abcd", 3, "ab…");
    check("", 3, "");
    check("ééé", 3, "ééé");
    check("éééé", 3, "éé…");
}

#[test]
fn debug_redacts_credentials() {
    let shown = format!(
        "{:?} {:?}",
        telegram(),
        ChatKind::Webhook {
            secret: Some("s3cret".into())
        }
    );
    assert!(
        !shown.contains("123:ABC") && !shown.contains("s3cret"),
        "{shown}"
    );
    let req = build_request(
        &ChatKind::Slack,
        "https://hooks.example/services/SECRET",
        "x",
        None,
    );
    assert!(!format!("{req:?}").contains("SECRET"));
}

#[derive(Debug, PartialEq)]
enum Shape {
    Delivered,
    Permanent(Option<u32>),
    Transient {
        retry_after: Option<u64>,
        ambiguous: bool,
    },
}

fn shape(result: &Result<(), SendError>) -> Shape {
    match result {
        Ok(()) => Shape::Delivered,
        Err(SendError::Permanent { code, .. }) => Shape::Permanent(*code),
        Err(SendError::Transient {
            retry_after,
            ambiguous,
            ..
        }) => Shape::Transient {
            retry_after: retry_after.map(|d| d.as_secs()),
            ambiguous: *ambiguous,
        },
    }
}

#[test]
fn response_classification() {
    fn check(kind: ChatKind, status: u16, retry_after: Option<u64>, body: &str, expected: Shape) {
        let status = StatusCode::from_u16(status).expect("valid status");
        let got = classify_response(&kind, status, retry_after.map(Duration::from_secs), body);
        assert_eq!(shape(&got), expected, "{kind:?} {status} {body:?}: {got:?}");
    }
    use Shape::*;
    let t = |retry_after, ambiguous| Transient {
        retry_after,
        ambiguous,
    };
    check(ChatKind::Slack, 200, None, "ok", Delivered);
    check(ChatKind::Slack, 200, None, "ok\n", Delivered);
    check(
        ChatKind::Slack,
        200,
        None,
        "<html>login</html>",
        Permanent(Some(200)),
    );
    check(ChatKind::Slack, 204, None, "", Permanent(Some(204)));
    check(
        ChatKind::Slack,
        429,
        Some(1),
        "rate_limited",
        t(Some(1), false),
    );
    check(
        ChatKind::Slack,
        400,
        None,
        "invalid_payload",
        Permanent(Some(400)),
    );
    check(
        ChatKind::Slack,
        403,
        None,
        "action_prohibited",
        Permanent(Some(403)),
    );
    check(
        ChatKind::Slack,
        404,
        None,
        "channel_not_found",
        Permanent(Some(404)),
    );
    check(
        ChatKind::Slack,
        410,
        None,
        "channel_is_archived",
        Permanent(Some(410)),
    );
    check(ChatKind::Slack, 500, None, "rollup_error", t(None, true));
    check(ChatKind::Mattermost, 200, None, "ok", Delivered);
    check(ChatKind::Mattermost, 201, None, "", Permanent(Some(201)));
    check(ChatKind::Mattermost, 429, None, "", t(None, false));
    check(ChatKind::Discord, 204, None, "", Delivered);
    check(
        ChatKind::Discord,
        429,
        Some(3),
        r#"{"retry_after": 2.5}"#,
        t(Some(3), false),
    );
    check(ChatKind::Teams, 202, None, "", Delivered);
    check(ChatKind::Teams, 302, None, "", Permanent(Some(302)));
    check(ChatKind::Teams, 503, Some(9), "", t(Some(9), true));
    check(
        ChatKind::Webhook { secret: None },
        200,
        None,
        "anything",
        Delivered,
    );
    check(
        ChatKind::Webhook { secret: None },
        408,
        None,
        "",
        t(None, true),
    );
    check(
        telegram(),
        200,
        None,
        r#"{"ok":true,"result":{"message_id":7}}"#,
        Delivered,
    );
    check(telegram(), 200, None, r#"{"ok":false}"#, t(None, true));
    check(telegram(), 200, None, "garbage", t(None, true));
    check(
        telegram(),
        429,
        Some(1),
        r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 14","parameters":{"retry_after":14}}"#,
        t(Some(14), false),
    );
    check(telegram(), 429, Some(5), "not json", t(Some(5), false));
    check(
        telegram(),
        403,
        None,
        r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
        Permanent(Some(403)),
    );
    check(
        telegram(),
        400,
        None,
        r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
        Permanent(Some(400)),
    );
    check(telegram(), 502, None, "", t(None, true));
}

#[tokio::test]
async fn slack_send_posts_json_and_needs_ok() {
    let fake = start(Canned::new(200, "ok")).await;
    let url = format!("{}/services/T1/B1/xyz", fake.base);
    let got = send(
        &reqwest::Client::new(),
        &ChatKind::Slack,
        &url,
        "hello",
        Some("INC-1"),
    )
    .await;
    assert_eq!(got, Ok(()));
    let req = fake.only_request();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path_and_query, "/services/T1/B1/xyz");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.json(), json!({"text": "*INC-1*\nhello"}));
}

#[tokio::test]
async fn telegram_send_uses_the_bot_path_and_honours_retry_after() {
    let body = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#;
    let fake = start(Canned::new(429, body)).await;
    let got = send(&reqwest::Client::new(), &telegram(), &fake.base, "hi", None).await;
    assert_eq!(
        shape(&got),
        Shape::Transient {
            retry_after: Some(3),
            ambiguous: false
        }
    );
    let reason = got.expect_err("rate limited").to_string();
    assert!(!reason.contains("123:ABC"), "{reason}");
    let req = fake.only_request();
    assert_eq!(req.path_and_query, "/bot123:ABC/sendMessage");
    assert_eq!(req.json()["chat_id"], json!(-1001234));
}

#[tokio::test]
async fn webhook_send_is_signed() {
    let fake = start(Canned::new(204, "")).await;
    let kind = ChatKind::Webhook {
        secret: Some("k".into()),
    };
    let got = send(
        &reqwest::Client::new(),
        &kind,
        &format!("{}/hook", fake.base),
        "hi",
        None,
    )
    .await;
    assert_eq!(got, Ok(()));
    let req = fake.only_request();
    assert_eq!(
        req.header("x-tocsin-signature"),
        Some(signature("k", &req.body).as_str())
    );
    assert_eq!(req.json(), json!({"text": "hi", "title": null}));
}

#[tokio::test]
async fn slack_retry_after_header_and_gone_channel() {
    let fake = start(Canned::new(429, "rate_limited").header("retry-after", "30")).await;
    let got = send(
        &reqwest::Client::new(),
        &ChatKind::Slack,
        &fake.base,
        "x",
        None,
    )
    .await;
    assert_eq!(
        shape(&got),
        Shape::Transient {
            retry_after: Some(30),
            ambiguous: false
        }
    );
    let fake = start(Canned::new(410, "channel_is_archived")).await;
    let got = send(
        &reqwest::Client::new(),
        &ChatKind::Slack,
        &fake.base,
        "x",
        None,
    )
    .await;
    assert_eq!(shape(&got), Shape::Permanent(Some(410)));
}

#[tokio::test]
async fn transport_failures() {
    let secret_url = |base: &str| format!("{base}/services/SECRETPATH");
    let dropped = send(
        &reqwest::Client::new(),
        &ChatKind::Teams,
        &secret_url(&start_dropper().await),
        "x",
        None,
    )
    .await;
    assert_eq!(
        shape(&dropped),
        Shape::Transient {
            retry_after: None,
            ambiguous: true
        }
    );
    assert!(
        !dropped
            .expect_err("dropped")
            .to_string()
            .contains("SECRETPATH")
    );
    let refused = send(
        &reqwest::Client::new(),
        &ChatKind::Slack,
        &secret_url(&refused().await),
        "x",
        None,
    )
    .await;
    assert_eq!(
        shape(&refused),
        Shape::Transient {
            retry_after: None,
            ambiguous: false
        }
    );
    assert!(
        !refused
            .expect_err("refused")
            .to_string()
            .contains("SECRETPATH")
    );
}

/// [`super::send`] without buttons, its message id dropped.
async fn send(
    http: &reqwest::Client,
    kind: &ChatKind,
    url: &str,
    text: &str,
    title: Option<&str>,
) -> Result<(), SendError> {
    super::send(http, kind, url, None, text, title, None)
        .await
        .map(|_| ())
}

fn slack_app() -> ChatKind {
    ChatKind::SlackApp {
        bot_token: "xoxb-secret".into(),
        channel: "C0ONCALL".into(),
    }
}

#[tokio::test]
async fn slack_app_posts_with_the_bot_token_and_buttons() {
    let answer = r#"{"ok":true,"channel":"C0ONCALL","ts":"1700000000.000100"}"#;
    let fake = start(Canned::new(200, answer)).await;
    let buttons = Buttons {
        incident: "7",
        actions: &crate::notify::interactive::ACTIONS,
        mattermost: None,
    };
    let got = super::send(
        &reqwest::Client::new(),
        &slack_app(),
        &fake.base,
        None,
        "db down",
        Some("#7"),
        Some(buttons),
    )
    .await;
    assert_eq!(got, Ok(Some("1700000000.000100".into())));
    let req = fake.only_request();
    assert_eq!(req.path_and_query, "/chat.postMessage");
    assert_eq!(req.header("authorization"), Some("Bearer xoxb-secret"));
    let body = req.json();
    assert_eq!(body["channel"], "C0ONCALL");
    assert_eq!(body["text"], "*#7*\ndb down");
    assert_eq!(body["blocks"][1]["elements"][0]["value"], "ack:7");
    assert!(!format!("{:?}", slack_app()).contains("xoxb"));
}

#[test]
fn slack_app_answers() {
    fn check(status: u16, body: &str, expected: Shape) {
        let status = StatusCode::from_u16(status).expect("valid status");
        let got = classify_response(&slack_app(), status, None, body);
        assert_eq!(shape(&got), expected, "{status} {body:?}: {got:?}");
    }
    use Shape::*;
    check(200, r#"{"ok":true,"ts":"1.2"}"#, Delivered);
    check(
        200,
        r#"{"ok":false,"error":"channel_not_found"}"#,
        Permanent(Some(400)),
    );
    check(
        200,
        r#"{"ok":false,"error":"invalid_auth"}"#,
        Permanent(Some(400)),
    );
    check(200, "ok", Permanent(Some(400)));
    check(
        429,
        r#"{"ok":false,"error":"ratelimited"}"#,
        Transient {
            retry_after: None,
            ambiguous: false,
        },
    );
    check(
        200,
        r#"{"ok":false,"error":"internal_error"}"#,
        Transient {
            retry_after: None,
            ambiguous: true,
        },
    );
    check(
        502,
        "",
        Transient {
            retry_after: None,
            ambiguous: true,
        },
    );
}

/// A person's Slack handle written as Slack's own reference notifies them:
/// it goes out as is, while the rest is escaped (an alert cannot mention
/// anyone); a handle that is no such reference is text, like the rest.
#[test]
fn a_slack_mention_is_kept_and_the_text_escaped() {
    let text = |kind: &ChatKind, mention: &str| {
        let req = build_request_with(
            kind,
            "https://x.example/hook",
            Some(mention),
            "db <@U0EVIL> & co",
            Some("#7 <x>"),
            None,
        );
        body_json(&req)["text"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_default()
    };
    for kind in [ChatKind::Slack, slack_app()] {
        assert_eq!(
            text(&kind, "<@U0BOB>"),
            "*#7 &lt;x&gt;*\n<@U0BOB> db &lt;@U0EVIL&gt; &amp; co"
        );
        assert_eq!(
            text(&kind, "<!subteam^S0WEB>"),
            "*#7 &lt;x&gt;*\n<!subteam^S0WEB> db &lt;@U0EVIL&gt; &amp; co"
        );
        assert_eq!(
            text(&kind, "@bob"),
            "*#7 &lt;x&gt;*\n@bob db &lt;@U0EVIL&gt; &amp; co"
        );
        assert_eq!(
            text(&kind, "<@U0BOB> <!channel>"),
            "*#7 &lt;x&gt;*\n&lt;@U0BOB&gt; &lt;!channel&gt; db &lt;@U0EVIL&gt; &amp; co"
        );
    }
    // Elsewhere the handle is put first, escaped with the rest as before.
    let tg = build_request_with(&telegram(), "u", Some("@bob"), "db <down>", None, None);
    assert_eq!(body_json(&tg)["text"], "@bob db &lt;down&gt;");
}

/// What an alert says cannot ping a whole Mattermost channel; the person's
/// own handle still mentions them.
#[test]
fn mattermost_mass_mentions_in_alert_text_ping_nobody() {
    let req = build_request_with(
        &ChatKind::Mattermost,
        "https://mm.example/hooks/x",
        Some("@bob"),
        "disk full @channel @ALL @here. mail ops@here.example @allison",
        Some("#7 @channel"),
        None,
    );
    let text = body_json(&req)["text"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default();
    assert_eq!(
        text,
        "**#7 @\u{200B}channel**\n@bob disk full @\u{200B}channel @\u{200B}ALL @\u{200B}here. mail ops@here.example @allison"
    );
}

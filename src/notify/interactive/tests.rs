use chrono::DateTime;
use serde_json::json;

use super::*;

/// Slack's documented example ("Verifying requests from Slack").
const SLACK_SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_TS: &str = "1531420618";
const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fn at(secs: i64) -> chrono::DateTime<chrono::Utc> {
    DateTime::from_timestamp(secs, 0).expect("instant")
}

#[test]
fn slack_signature_matches_slacks_example() {
    assert_eq!(
        slack::signature(SLACK_SECRET, SLACK_TS, SLACK_BODY.as_bytes()),
        SLACK_SIG
    );
}

#[test]
fn slack_verify_table() {
    fn check(
        secrets: &[&[u8]],
        ts: Option<&str>,
        sig: Option<&str>,
        body: &str,
        now: i64,
        expected: Result<usize, Refusal>,
    ) {
        let got = slack::verify(secrets, ts, sig, body.as_bytes(), at(now));
        assert_eq!(got, expected, "{ts:?} {sig:?} {body:?} at {now}");
    }
    let t = 1_531_420_618;
    let ok = Some(SLACK_SIG);
    check(&[SLACK_SECRET], Some(SLACK_TS), ok, SLACK_BODY, t, Ok(0));
    check(
        &[b"other", SLACK_SECRET],
        Some(SLACK_TS),
        ok,
        SLACK_BODY,
        t,
        Ok(1),
    );
    // Five minutes either way is still fresh; a second more is not.
    check(
        &[SLACK_SECRET],
        Some(SLACK_TS),
        ok,
        SLACK_BODY,
        t + 300,
        Ok(0),
    );
    check(
        &[SLACK_SECRET],
        Some(SLACK_TS),
        ok,
        SLACK_BODY,
        t - 300,
        Ok(0),
    );
    let stale = Err(Refusal::Stale);
    check(
        &[SLACK_SECRET],
        Some(SLACK_TS),
        ok,
        SLACK_BODY,
        t + 301,
        stale,
    );
    check(
        &[SLACK_SECRET],
        Some(SLACK_TS),
        ok,
        SLACK_BODY,
        t - 301,
        stale,
    );
    check(&[SLACK_SECRET], Some("soon"), ok, SLACK_BODY, t, stale);
    let bad = Err(Refusal::BadSignature);
    check(&[b"wrong"], Some(SLACK_TS), ok, SLACK_BODY, t, bad);
    check(&[SLACK_SECRET], Some(SLACK_TS), ok, "token=changed", t, bad);
    check(
        &[SLACK_SECRET],
        Some(SLACK_TS),
        Some("v0=00"),
        SLACK_BODY,
        t,
        bad,
    );
    check(
        &[SLACK_SECRET],
        Some(SLACK_TS),
        Some(&SLACK_SIG.to_uppercase()),
        SLACK_BODY,
        t,
        bad,
    );
    check(
        &[SLACK_SECRET],
        None,
        ok,
        SLACK_BODY,
        t,
        Err(Refusal::Unsigned),
    );
    check(
        &[SLACK_SECRET],
        Some(SLACK_TS),
        None,
        SLACK_BODY,
        t,
        Err(Refusal::Unsigned),
    );
}

#[test]
fn button_values_round_trip() {
    fn check(value: &str, expected: Option<(&str, Action)>) {
        let expected = expected.map(|(k, a)| (k.to_string(), a));
        assert_eq!(parse_value(value), expected, "{value:?}");
    }
    for action in ACTIONS {
        check(&super::value("42", action), Some(("42", action)));
        check(&super::value("ACME-7", action), Some(("ACME-7", action)));
    }
    check("ack:7", Some(("7", Action::Ack)));
    check("resolve:GLOBEX-12", Some(("GLOBEX-12", Action::Resolve)));
    check("ack:ACME-0", None);
    check("ack:ACME-", None);
    check("ack:ACME", None);
    check("ack:0", None);
    check("ack:-1", None);
    check("ack:", None);
    check("ack", None);
    check("nope:7", None);
    check("ack:7:8", None);
    check("ack:99999999999999999999", None);
}

#[test]
fn buttons_follow_the_state() {
    use crate::incident::State::*;
    fn check(state: crate::incident::State, expected: &[Action]) {
        assert_eq!(buttons(state), expected, "{state:?}");
    }
    check(Triggered, &ACTIONS);
    check(Acknowledged, &[Action::Resolve, Action::Escalate]);
    check(Downgraded, &[Action::Resolve]);
    check(Resolved, &[]);
}

fn slack_click(value: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": "U0BOB", "username": "bob"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0ONCALL"},
        "channel": {"id": "C0ONCALL"},
        "message": {"ts": "1700000000.000100", "text": "#1 DiskFull"},
        "response_url": "https://hooks.slack.com/actions/T/1/x",
        "actions": [{"action_id": value, "value": value, "type": "button"}],
    });
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

#[test]
fn slack_parse_table() {
    fn check(body: &str, expected: Option<(&str, &str, Action, &str, &str)>) {
        let got = slack::parse(body.as_bytes()).map(|c| {
            (
                c.user,
                c.incident,
                c.action,
                c.message.channel,
                c.message.id,
            )
        });
        let expected =
            expected.map(|(u, i, a, c, m)| (u.into(), i.to_string(), a, c.into(), m.into()));
        assert_eq!(got, expected, "{body}");
    }
    let ts = "1700000000.000100";
    check(
        &slack_click("ack:3"),
        Some(("U0BOB", "3", Action::Ack, "C0ONCALL", ts)),
    );
    check(
        &slack_click("escalate:9"),
        Some(("U0BOB", "9", Action::Escalate, "C0ONCALL", ts)),
    );
    check(&slack_click("other"), None);
    check("payload=%7B%7D", None);
    check("payload=not-json", None);
    check("", None);
    check("token=x", None);
}

#[test]
fn slack_message_has_the_buttons() {
    let m = slack::message("C1", None, "*#4* down", Some("4"), &ACTIONS);
    assert_eq!(m["channel"], "C1");
    assert_eq!(m["text"], "*#4* down");
    assert!(m.get("ts").is_none());
    let values: Vec<&str> = m["blocks"][1]["elements"]
        .as_array()
        .expect("buttons")
        .iter()
        .filter_map(|b| b["value"].as_str())
        .collect();
    assert_eq!(values, ["ack:4", "resolve:4", "escalate:4"]);
    let update = slack::message("C1", Some("1.2"), "x", Some("4"), &[]);
    assert_eq!(update["ts"], "1.2");
    assert_eq!(update["blocks"].as_array().map(Vec::len), Some(1));
}

#[test]
fn mattermost_context_is_signed() {
    let key = b"link-secret";
    let atts = mattermost::attachments(
        key,
        "https://t.example/mattermost/actions",
        "5",
        "#5 down",
        &ACTIONS,
    );
    let context = atts[0]["actions"][0]["integration"]["context"].clone();
    let click = |context: serde_json::Value| {
        let body =
            json!({"user_id": "mm-bob", "post_id": "p1", "channel_id": "c1", "context": context});
        mattermost::parse(key, body.to_string().as_bytes())
    };
    let ok = click(context.clone()).expect("authentic");
    assert_eq!(
        (ok.user.as_str(), ok.incident.as_str(), ok.action),
        ("mm-bob", "5", Action::Ack)
    );
    assert_eq!(ok.message.text, "#5 down");
    fn check(got: Result<Click, Refusal>, expected: Refusal) {
        assert_eq!(got.err(), Some(expected));
    }
    let mut forged = context.clone();
    forged["button"] = json!("resolve:5");
    check(click(forged), Refusal::BadSignature);
    let mut other = context.clone();
    other["button"] = json!("ack:6");
    check(click(other), Refusal::BadSignature);
    let mut text = context.clone();
    text["text"] = json!("#5 all fine");
    check(click(text), Refusal::BadSignature);
    let mut unsigned = context.clone();
    unsigned.as_object_mut().expect("object").remove("sig");
    check(click(unsigned), Refusal::Unsigned);
    check(
        mattermost::parse(
            b"other key",
            json!({"user_id": "u", "context": context})
                .to_string()
                .as_bytes(),
        ),
        Refusal::BadSignature,
    );
    check(mattermost::parse(key, b"not json"), Refusal::Unsigned);
}

#[test]
fn telegram_secret_and_callback() {
    assert_eq!(telegram::verify(&[b"s1", b"s2"], Some("s2")), Ok(1));
    assert_eq!(
        telegram::verify(&[b"s1"], Some("s2")),
        Err(Refusal::BadSignature)
    );
    assert_eq!(
        telegram::verify(&[b"s1"], Some("s")),
        Err(Refusal::BadSignature)
    );
    assert_eq!(telegram::verify(&[b"s1"], None), Err(Refusal::Unsigned));
    let update = json!({"update_id": 1, "callback_query": {
        "id": "q1", "from": {"id": 111, "first_name": "Bob"}, "data": "resolve:8",
        "message": {"message_id": 5, "chat": {"id": -100123}, "text": "#8 down"}}});
    let click = telegram::parse(update.to_string().as_bytes()).expect("a click");
    assert_eq!(
        (click.user.as_str(), click.incident.as_str(), click.action),
        ("111", "8", Action::Resolve)
    );
    assert_eq!(
        (
            click.message.channel.as_str(),
            click.message.id.as_str(),
            click.message.reply_to.as_str()
        ),
        ("-100123", "5", "q1")
    );
    let edit = telegram::edit(&click, "Resolved by Bob.", &[]);
    assert_eq!(edit["chat_id"], -100123);
    assert_eq!(edit["message_id"], 5);
    assert_eq!(edit["text"], "#8 down\nResolved by Bob.");
    assert_eq!(edit["reply_markup"]["inline_keyboard"], json!([]));
    let message = json!({"update_id": 2, "message": {"text": "hi"}});
    assert!(telegram::parse(message.to_string().as_bytes()).is_none());
    // Longer than Telegram's 64 bytes of callback data: not a button of ours.
    let long = json!({"update_id": 3, "callback_query": {
        "id": "q2", "from": {"id": 111}, "data": format!("ack:{}-7", "A".repeat(60)),
        "message": {"message_id": 5, "chat": {"id": -100123}, "text": "x"}}});
    assert!(telegram::parse(long.to_string().as_bytes()).is_none());
    let kb = telegram::keyboard(&i64::MAX.to_string(), &ACTIONS);
    for b in kb["inline_keyboard"][0].as_array().expect("row") {
        assert!(b["callback_data"].as_str().expect("data").len() <= 64);
    }
    // A reference too long for Telegram's 64 bytes leaves its button out.
    let long = format!("{}-7", "A".repeat(60));
    let kb = telegram::keyboard(&long, &ACTIONS);
    assert_eq!(kb["inline_keyboard"], json!([]));
}

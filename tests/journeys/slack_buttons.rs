//! Paged by Slack, acknowledged by button: the on-call chat and Acme's
//! channel are a Slack app's channels, so bob's page carries Acknowledge,
//! Resolve and Escalate; his click acknowledges, the page shows who did it
//! and the client's channel hears someone is on it. A client's click is
//! turned away, a replayed click changes nothing, and Resolve by button
//! tells the client it is over.

use serde_json::json;
use tocsin::clock::Clock;
use tocsin::notify::interactive::slack;

use crate::world::*;

const ONCALL_C: &str = "C0ONCALL";
const ACME_C: &str = "C0ACME";
const UPDATE: &str = "slack/api/chat.update";
const RESPONSE: &str = "slack/response";

/// The on-call chat and Acme's channel through one Slack app; bob is U0BOB,
/// mentioned as Slack mentions (`<@U0BOB>`).
fn slack_world(yaml: String, chat: &crate::fakes::FakeChat) -> String {
    let app = |channel: &str| {
        format!(
            "{{ type: slack, name: \"#{}\", bot_token_file: slack.token, channel: {channel}, signing_secret_file: slack.signing, base_url: \"{}\" }}",
            channel.to_lowercase(),
            chat.url("slack/api")
        )
    };
    yaml.replace(
        "chat: { type: slack, url_file: oncall.url }",
        &format!("chat: {}", app(ONCALL_C)),
    )
    .replace(
        "channel: { type: slack, name: \"#acme\", url_file: acme.url }",
        &format!("channel: {}", app(ACME_C)),
    )
    .replace(
        "    chat: \"@bob\"\n",
        "    chat: \"<@U0BOB>\"\n    slack_id: U0BOB\n",
    )
}

/// Slack's signed `block_actions` POST for a click by `user` on a button
/// of the message `ts` in `channel`.
async fn click(w: &World, user: &str, channel: &str, ts: &str, value: &str, text: &str) -> u16 {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "message": {"ts": ts, "text": text},
        "response_url": w.chat.url(RESPONSE),
        "actions": [{"type": "button", "action_id": value, "value": value}],
    });
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let at = w.d.clock.now().timestamp().to_string();
    let signature = slack::signature(SLACK_SIGNING_SECRET.as_bytes(), &at, body.as_bytes());
    let r =
        w.d.http
            .post(w.d.url("/slack/interactions"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", at)
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await
            .expect("click");
    w.d.settle().await;
    r.status().as_u16()
}

/// The `ts` Slack gave a posted message (the fake numbers them by post).
fn ts_of(w: &World, channel: &str) -> (String, String) {
    let post = w
        .chat
        .posts()
        .into_iter()
        .rev()
        .find(|p| p.path.ends_with("chat.postMessage") && p.body["channel"] == channel)
        .expect("a post to the channel");
    let n = w
        .chat
        .posts()
        .iter()
        .position(|p| p.body == post.body)
        .expect("posted")
        + 1;
    (format!("1700000000.{n:06}"), post.text().to_string())
}

#[tokio::test]
async fn paged_by_slack_acknowledged_by_button_client_told() {
    let mut w = world_edited("", slack_world).await;
    let out = w.alert("DiskFull", "shop").await;
    let id = out["opened"][0].as_i64().expect("opened");
    let tag = format!("#{id} [critical] shop: DiskFull on shop");
    let got = w.expect(
        "the alert",
        &[
            ("chat", ONCALL_C, "<@U0BOB> you are paged"),
            ("sms", BOB, &tag),
        ],
    );
    let page = w.chat.posts().last().cloned().expect("the page");
    let buttons: Vec<String> = page.body["blocks"][1]["elements"]
        .as_array()
        .expect("buttons")
        .iter()
        .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(buttons, ["Acknowledge", "Resolve", "Escalate"], "{got:#?}");

    // bob clicks Acknowledge on his page.
    let (ts, text) = ts_of(&w, ONCALL_C);
    let ack = format!("ack:{id}");
    assert_eq!(click(&w, "U0BOB", ONCALL_C, &ts, &ack, &text).await, 200);
    w.expect(
        "bob's click",
        &[
            ("chat", UPDATE, "Acknowledged by Bob."),
            (
                "chat",
                ACME_C,
                "Bob is online and investigating incident ACME-1: DiskFull on shop.",
            ),
        ],
    );
    let inc = w.incident(&id.to_string()).await;
    assert_eq!(inc["incident"]["state"], "acknowledged");

    // Acme's post offers what is still possible, naming the incident by
    // Acme's reference: its buttons never show the global number.
    let acme_post = w
        .chat
        .posts()
        .into_iter()
        .rev()
        .find(|p| p.body["channel"] == ACME_C)
        .expect("Acme's post");
    assert_eq!(
        button_values(&acme_post.body),
        ["resolve:ACME-1", "escalate:ACME-1"]
    );
    // Someone at Acme clicks Resolve on their channel's post: told, only them.
    let (acme_ts, acme_text) = ts_of(&w, ACME_C);
    assert_eq!(
        click(
            &w,
            "U0ACMEUSER",
            ACME_C,
            &acme_ts,
            "resolve:ACME-1",
            &acme_text
        )
        .await,
        200
    );
    let resolve = format!("resolve:{id}");
    w.expect(
        "a client's click",
        &[("chat", RESPONSE, "not on the tocsin roster")],
    );

    // Slack (or anyone holding the request) sends bob's click again.
    assert_eq!(click(&w, "U0BOB", ONCALL_C, &ts, &ack, &text).await, 200);
    w.expect(
        "the replayed click",
        &[("chat", RESPONSE, "Already acknowledged by Bob.")],
    );
    assert_eq!(w.events(id, "acknowledged").await.len(), 1);

    // bob resolves from the same page; Acme hears it is over.
    let acked = format!("{text}\nAcknowledged by Bob.");
    assert_eq!(
        click(&w, "U0BOB", ONCALL_C, &ts, &resolve, &acked).await,
        200
    );
    w.expect(
        "bob resolves",
        &[
            ("chat", UPDATE, "Acknowledged by Bob.\nResolved by Bob."),
            ("chat", ACME_C, "ACME-1"),
        ],
    );
    assert_eq!(
        w.incident(&id.to_string()).await["incident"]["state"],
        "resolved"
    );
    // Nothing is left to do: the post saying it is over has no buttons.
    let over = w
        .chat
        .posts()
        .into_iter()
        .rev()
        .find(|p| p.body["channel"] == ACME_C)
        .expect("Acme's last post");
    assert!(button_values(&over.body).is_empty(), "{:?}", over.body);
    w.stop().await;
}

/// The values of a Slack message's buttons.
fn button_values(body: &serde_json::Value) -> Vec<String> {
    body["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["elements"].as_array())
        .flatten()
        .filter_map(|e| e["value"].as_str().map(str::to_owned))
        .collect()
}

/// Handed an incident someone else acknowledged, bob hears it in the on-call
/// chat by his Slack mention, which Slack turns into a notification.
#[tokio::test]
async fn a_hand_over_notice_mentions_the_person_in_slack() {
    let mut w = world_edited("", slack_world).await;
    let out = w.alert("DiskFull", "shop").await;
    let id = out["opened"][0].as_i64().expect("opened");
    w.take();
    let (status, v) = w
        .post(
            &format!("/api/v1/incidents/{id}/acknowledge"),
            crate::helpers::ADMIN_TOKEN,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    w.take();
    let (status, v) = w
        .post(
            &format!("/api/v1/incidents/{id}/assign"),
            crate::helpers::ADMIN_TOKEN,
            json!({"person": "bob"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let got = w.take();
    let to_bob: Vec<_> = got.iter().filter(|m| m.text.contains("U0BOB")).collect();
    assert!(!to_bob.is_empty(), "{got:#?}");
    for m in to_bob {
        assert!(m.text.contains("<@U0BOB> "), "{m:?}");
        assert!(!m.text.contains("&lt;@U0BOB"), "{m:?}");
    }
    w.stop().await;
}

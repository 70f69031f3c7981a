//! Buttons on chat messages: a Slack app's pages carry Acknowledge, Resolve
//! and Escalate; `/slack/interactions` checks Slack's request signing v0,
//! maps the clicker by `slack_id`, acts once and updates the message; the
//! same for Mattermost (signed context) and Telegram (secret token).

use serde_json::{Value, json};
use tocsin::clock::Clock;
use tocsin::notify::interactive::{mattermost, slack};

use crate::fakes::{ChatPost, FakeChat};
use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

const SIGNING: &str = "slack-signing-secret-0123";
const TG_SECRET: &str = "telegram-secret-token-0123";

/// The small agency, with bob on Slack, Mattermost and Telegram, paged by
/// chat first; `chat` is the on-call chat's provider entry.
async fn daemon(chat: &str, fake: &FakeChat) -> Daemon {
    let yaml = roster_yaml(&format!("providers:\n  chat: {chat}\n"))
        .replace(
            "  - id: bob\n",
            "  - id: bob\n    name: Bob\n    chat: \"@bob\"\n    slack_id: U0BOB\n    mattermost_id: mm-bob\n    telegram_id: \"111\"\n",
        )
        .replace("via: [sms]", "via: [chat]");
    spawn_with_files(
        &yaml,
        &[
            ("bot.token", "xoxb-test-token"),
            ("signing.secret", SIGNING),
            ("tg.secret", TG_SECRET),
            ("mm.url", &fake.url("hooks/mm")),
        ],
    )
    .await
}

fn slack_app(fake: &FakeChat) -> String {
    format!(
        "{{ type: slack, bot_token_file: bot.token, channel: C0ONCALL, signing_secret_file: signing.secret, base_url: \"{}\" }}",
        fake.url("slack/api")
    )
}

async fn alert(d: &Daemon) -> i64 {
    let body = am_payload("DiskFull", vec![am_alert("DiskFull", "a", "firing")]);
    let r = d.post_json("/api/v1/alertmanager", AM_TOKEN, &body).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    d.settle().await;
    v["outcome"]["opened"][0].as_i64().expect("opened")
}

async fn incident(d: &Daemon, id: i64) -> Value {
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    r.json().await.expect("json")
}

async fn events(d: &Daemon, id: i64, kind: &str) -> usize {
    incident(d, id).await["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == kind)
        .count()
}

/// A `block_actions` payload as Slack sends it for a click by `user`.
fn slack_click(fake: &FakeChat, user: &str, value: &str, text: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": "someone"},
        "api_app_id": "A0TOCSIN",
        "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": "C0ONCALL"},
        "channel": {"id": "C0ONCALL", "name": "oncall"},
        "message": {"type": "message", "ts": "1700000000.000001", "text": text},
        "response_url": fake.url("slack/response"),
        "trigger_id": "123.456.abc",
        "actions": [{"type": "button", "action_id": value, "block_id": "tocsin", "value": value}],
    });
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

/// POSTs `body` to `/slack/interactions`, signed at `at` (Unix seconds).
async fn post_slack(d: &Daemon, body: &str, at: i64, secret: &str) -> u16 {
    let ts = at.to_string();
    let sig = slack::signature(secret.as_bytes(), &ts, body.as_bytes());
    let r = d
        .http
        .post(d.url("/slack/interactions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", sig)
        .body(body.to_string())
        .send()
        .await
        .expect("click");
    d.settle().await;
    r.status().as_u16()
}

fn since(fake: &FakeChat, seen: usize) -> Vec<ChatPost> {
    fake.posts()[seen..].to_vec()
}

#[tokio::test]
async fn slack_page_has_buttons_and_a_click_acknowledges_once() {
    let fake = FakeChat::start().await;
    let d = daemon(&slack_app(&fake), &fake).await;
    let id = alert(&d).await;
    let posts = fake.posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let page = &posts[0];
    assert_eq!(page.path, "slack/api/chat.postMessage");
    assert_eq!(page.to(), "C0ONCALL");
    assert!(page.text().contains("@bob"), "{}", page.text());
    let values: Vec<&str> = page.body["blocks"][1]["elements"]
        .as_array()
        .expect("buttons")
        .iter()
        .filter_map(|b| b["value"].as_str())
        .collect();
    assert_eq!(
        values,
        [
            format!("ack:{id}"),
            format!("resolve:{id}"),
            format!("escalate:{id}")
        ]
    );

    let now = d.clock.now().timestamp();
    let click = slack_click(&fake, "U0BOB", &format!("ack:{id}"), page.text());
    assert_eq!(post_slack(&d, &click, now, SIGNING).await, 200);
    let inc = incident(&d, id).await;
    assert_eq!(inc["incident"]["state"], "acknowledged");
    assert_eq!(inc["incident"]["assignee"], "bob");
    let after = since(&fake, 1);
    assert_eq!(after.len(), 1, "{after:#?}");
    let update = &after[0];
    assert_eq!(update.path, "slack/api/chat.update");
    assert_eq!(update.body["channel"], "C0ONCALL");
    assert_eq!(update.body["ts"], "1700000000.000001");
    assert!(
        update.text().ends_with("\nAcknowledged by Bob."),
        "{}",
        update.text()
    );
    let left: Vec<&str> = update.body["blocks"][1]["elements"]
        .as_array()
        .expect("buttons")
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .collect();
    assert_eq!(left, ["Resolve", "Escalate"]);

    // The same signed request again: nothing changes, the clicker is told.
    assert_eq!(post_slack(&d, &click, now + 5, SIGNING).await, 200);
    let after = since(&fake, 2);
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0].path, "slack/response");
    assert_eq!(after[0].body["response_type"], "ephemeral");
    assert_eq!(after[0].text(), "Already acknowledged by Bob.");
    assert_eq!(events(&d, id, "acknowledged").await, 1);
    d.stop().await;
}

#[tokio::test]
async fn slack_clicks_refused_unknown_user_stale_and_forged() {
    let fake = FakeChat::start().await;
    let d = daemon(&slack_app(&fake), &fake).await;
    let id = alert(&d).await;
    let seen = fake.posts().len();
    let now = d.clock.now().timestamp();
    let ack = format!("ack:{id}");

    // Someone in the channel who is not on the roster: told so, only them.
    let stranger = slack_click(&fake, "U0STRANGER", &ack, "page");
    assert_eq!(post_slack(&d, &stranger, now, SIGNING).await, 200);
    let told = since(&fake, seen);
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(told[0].path, "slack/response");
    assert_eq!(told[0].body["response_type"], "ephemeral");
    assert!(
        told[0].text().contains("not on the tocsin roster"),
        "{}",
        told[0].text()
    );

    // Signed six minutes ago (a captured request replayed): refused.
    let click = slack_click(&fake, "U0BOB", &ack, "page");
    assert_eq!(post_slack(&d, &click, now - 6 * 60, SIGNING).await, 403);
    // Signed with another secret, or altered after signing: refused.
    assert_eq!(post_slack(&d, &click, now, "not-the-secret").await, 401);
    let sig = slack::signature(SIGNING.as_bytes(), &now.to_string(), click.as_bytes());
    let r = d
        .http
        .post(d.url("/slack/interactions"))
        .header("x-slack-request-timestamp", now.to_string())
        .header("x-slack-signature", sig)
        .body(click.replace("U0BOB", "U0BOC"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);
    let r = d
        .http
        .post(d.url("/slack/interactions"))
        .body(click.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 401);

    assert_eq!(incident(&d, id).await["incident"]["state"], "triggered");
    assert_eq!(fake.posts().len(), seen + 1);
    d.stop().await;
}

#[tokio::test]
async fn slack_escalate_twice_escalates_once() {
    let fake = FakeChat::start().await;
    let d = daemon(&slack_app(&fake), &fake).await;
    let id = alert(&d).await;
    let seen = fake.posts().len();
    let now = d.clock.now().timestamp();
    let click = slack_click(&fake, "U0BOB", &format!("escalate:{id}"), "page");
    assert_eq!(post_slack(&d, &click, now, SIGNING).await, 200);
    assert_eq!(
        events(&d, id, "escalated").await,
        1,
        "{}",
        incident(&d, id).await
    );
    let got = since(&fake, seen);
    assert!(
        got.iter().any(|p| p.path == "slack/api/chat.update"
            && p.text()
                .ends_with("Escalated by Bob: the next step is paged.")),
        "{got:#?}"
    );
    let seen = fake.posts().len();
    assert_eq!(post_slack(&d, &click, now + 1, SIGNING).await, 200);
    assert_eq!(events(&d, id, "escalated").await, 1);
    let got = since(&fake, seen);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].text(), "You already escalated this.");
    d.stop().await;
}

#[tokio::test]
async fn slack_without_an_app_has_no_interactions() {
    let fake = FakeChat::start().await;
    let d = daemon("{ type: slack, url_file: mm.url }", &fake).await;
    let r = d
        .http
        .post(d.url("/slack/interactions"))
        .body("payload=%7B%7D")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 404);
    d.stop().await;
}

#[tokio::test]
async fn mattermost_buttons_act_with_a_signed_context() {
    let fake = FakeChat::start().await;
    let d = daemon(
        "{ type: mattermost, url_file: mm.url, buttons: true }",
        &fake,
    )
    .await;
    let id = alert(&d).await;
    let posts = fake.posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    let actions = posts[0].body["attachments"][0]["actions"]
        .as_array()
        .expect("actions")
        .clone();
    let names: Vec<&str> = actions.iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["Acknowledge", "Resolve", "Escalate"]);
    let integration = &actions[1]["integration"];
    assert_eq!(
        integration["url"],
        "https://tocsin.example/mattermost/actions"
    );
    let context = integration["context"].clone();
    assert!(context.get("person").is_none(), "{context}");

    let click = |user: &str, context: &Value| {
        json!({"user_id": user, "post_id": "post1", "channel_id": "chan1",
               "trigger_id": "t1", "type": "", "context": context})
    };
    let post = |body: Value| {
        let d = &d;
        async move {
            let r = d
                .http
                .post(d.url("/mattermost/actions"))
                .json(&body)
                .send()
                .await
                .expect("click");
            let status = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            d.settle().await;
            (status, v)
        }
    };
    // A context pointing the Resolve button at another incident: refused.
    let mut forged = context.clone();
    forged["button"] = json!(format!("resolve:{}", id + 1));
    assert_eq!(post(click("mm-bob", &forged)).await.0, 401);
    let (status, v) = post(click("mm-stranger", &context)).await;
    assert_eq!(status, 200);
    assert!(
        v["ephemeral_text"]
            .as_str()
            .unwrap_or_default()
            .contains("not on the tocsin roster"),
        "{v}"
    );
    assert_eq!(incident(&d, id).await["incident"]["state"], "triggered");

    let (status, v) = post(click("mm-bob", &context)).await;
    assert_eq!(status, 200);
    assert_eq!(incident(&d, id).await["incident"]["state"], "resolved");
    let message = v["update"]["message"].as_str().unwrap_or_default();
    assert!(message.ends_with("\nResolved by Bob."), "{v}");
    assert_eq!(v["update"]["props"]["attachments"], json!([]));
    let (_, again) = post(click("mm-bob", &context)).await;
    assert_eq!(again, json!({"ephemeral_text": "Already resolved."}));
    assert_eq!(events(&d, id, "resolved").await, 1);
    // A context signed under another key is refused too.
    let other = mattermost::attachments(
        b"another key",
        "u",
        &id.to_string(),
        "x",
        &tocsin::notify::interactive::ACTIONS,
    );
    let other = other[0]["actions"][0]["integration"]["context"].clone();
    assert_eq!(post(click("mm-bob", &other)).await.0, 401);
    d.stop().await;
}

#[tokio::test]
async fn telegram_inline_keyboard_acknowledges() {
    let fake = FakeChat::start().await;
    let chat = format!(
        "{{ type: telegram, bot_token_file: bot.token, chat_id: \"-100123\", webhook_secret_file: tg.secret, base_url: \"{}\" }}",
        fake.url("tg")
    );
    let d = daemon(&chat, &fake).await;
    let id = alert(&d).await;
    let posts = fake.posts();
    assert_eq!(posts.len(), 1, "{posts:#?}");
    assert_eq!(posts[0].path, "tg/botxoxb-test-token/sendMessage");
    let keyboard = &posts[0].body["reply_markup"]["inline_keyboard"][0];
    assert_eq!(keyboard[0]["callback_data"], format!("ack:{id}"));

    let update = |from: i64| {
        json!({"update_id": 9, "callback_query": {
            "id": format!("q{from}"), "from": {"id": from, "is_bot": false, "first_name": "X"},
            "chat_instance": "1", "data": format!("ack:{id}"),
            "message": {"message_id": 1, "date": 0, "chat": {"id": -100123, "type": "supergroup"},
                        "text": "#1 DiskFull"}}})
    };
    let post = |body: Value, secret: &'static str| {
        let d = &d;
        async move {
            let r = d
                .http
                .post(d.url("/telegram/webhook"))
                .header("x-telegram-bot-api-secret-token", secret)
                .json(&body)
                .send()
                .await
                .expect("update");
            d.settle().await;
            r.status().as_u16()
        }
    };
    assert_eq!(post(update(111), "wrong-secret").await, 401);
    assert_eq!(incident(&d, id).await["incident"]["state"], "triggered");
    assert_eq!(post(update(222), TG_SECRET).await, 200);
    let told = since(&fake, 1);
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(told[0].path.ends_with("/answerCallbackQuery"));
    assert!(told[0].text().contains("not on the tocsin roster"));
    assert_eq!(incident(&d, id).await["incident"]["state"], "triggered");

    assert_eq!(post(update(111), TG_SECRET).await, 200);
    assert_eq!(incident(&d, id).await["incident"]["state"], "acknowledged");
    let got = since(&fake, 2);
    let paths: Vec<&str> = got
        .iter()
        .map(|p| p.path.rsplit('/').next().unwrap_or_default())
        .collect();
    assert_eq!(
        paths,
        ["answerCallbackQuery", "editMessageText"],
        "{got:#?}"
    );
    assert_eq!(got[0].body["callback_query_id"], "q111");
    assert_eq!(got[1].body["text"], "#1 DiskFull\nAcknowledged by Bob.");
    assert_eq!(got[1].body["message_id"], 1);
    // A message to the bot (not a click) is taken and ignored.
    assert_eq!(
        post(
            json!({"update_id": 10, "message": {"text": "hi"}}),
            TG_SECRET
        )
        .await,
        200
    );
    assert_eq!(fake.posts().len(), 4);
    d.stop().await;
}

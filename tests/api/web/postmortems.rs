//! The postmortem pages: list, preview (nothing stored, typed HTML shown as
//! text), save, action items, submit, the lead's approve and publish (the
//! exact client text first), and the client's status page afterwards.

use serde_json::Value;

use super::*;
use crate::postmortems::{call, serious_resolved};

async fn pm(d: &Daemon) -> Value {
    let (status, v) = call(d, "GET", "/api/v1/postmortems/1", BOB_TOKEN, Value::Null).await;
    assert_eq!(status, 200, "{v}");
    v["postmortem"].clone()
}

const SUMMARY: &str = "The shop was down for 95 minutes.\n\nWhat we did: we restarted the pool.";

#[tokio::test]
async fn write_preview_submit_approve_and_publish_a_postmortem() {
    let d = spawn_daemon().await;
    serious_resolved(&d).await;
    let bob = sign_in(&d, BOB_TOKEN).await;
    let (status, html) = page(&d, &bob, "/postmortems").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="postmortem-1""#), "{html}");
    assert!(html.contains("due <time"), "{html}");
    let (status, html) = page(&d, &bob, "/postmortems/1").await;
    assert_eq!(status, 200);
    for id in [
        "what_happened",
        "how_fixed",
        "cause",
        "measures",
        "client_summary",
    ] {
        assert!(html.contains(&format!(r#"id="{id}""#)), "{id}");
    }
    // An action item is high priority unless said otherwise, as over the API.
    assert!(html.contains(r#"<option value="high" selected>"#), "{html}");
    let token = csrf(&html);

    // A preview renders the Markdown, shows typed HTML as text, stores nothing.
    let typed = "**pool** exhausted <script>alert(1)</script>";
    let preview = [
        ("csrf", token.as_str()),
        ("action", "preview"),
        ("what_happened", typed),
    ];
    let r = browser()
        .post(d.url("/postmortems/1"))
        .header(reqwest::header::COOKIE, &bob)
        .form(&preview)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("body");
    assert!(html.contains("<strong>pool</strong> exhausted"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(
        pm(&d).await["what_happened"]
            .as_str()
            .is_some_and(|w| !w.contains("exhausted"))
    );

    let save = [
        ("csrf", token.as_str()),
        ("action", "save"),
        ("what_happened", "The pool ran out."),
        ("how_fixed", "restarted the pool"),
        ("cause", "a connection leak"),
        ("measures", "watch the pool"),
        ("client_summary", SUMMARY),
    ];
    assert_eq!(
        post_form(&d, &bob, "/postmortems/1", &save[1..]).await.0,
        403
    );
    let (status, location) = post_form(&d, &bob, "/postmortems/1", &save).await;
    assert_eq!((status, location.as_str()), (303, "/postmortems/1"));
    let v = pm(&d).await;
    assert_eq!(v["how_fixed"], "restarted the pool");
    assert_eq!(v["client_summary"], SUMMARY);

    let item = [
        ("csrf", token.as_str()),
        ("title", "Alert on pool size"),
        ("assignee", "bob"),
        ("deadline", "2026-12-15"),
        ("priority", "high"),
    ];
    assert_eq!(
        post_form(&d, &bob, "/postmortems/1/actions", &item).await.0,
        303
    );
    let actions = pm(&d).await["actions"].clone();
    assert_eq!(actions[0]["title"], "Alert on pool size", "{actions}");
    assert_eq!(actions[0]["priority"], "high");

    let form = [("csrf", token.as_str()), ("verb", "submit")];
    let (status, _) = post_form(&d, &bob, "/postmortems/1/step", &form).await;
    assert_eq!(status, 303);
    assert_eq!(pm(&d).await["state"], "submitted");
    // Only the lead approves.
    let form = [("csrf", token.as_str()), ("verb", "approve")];
    assert_eq!(
        post_form(&d, &bob, "/postmortems/1/step", &form).await.0,
        403
    );

    let alice = sign_in(&d, ADMIN_TOKEN).await;
    let (_, html) = page(&d, &alice, "/postmortems/1").await;
    assert!(html.contains(r#"id="step-approve""#), "{html}");
    let lead = csrf(&html);
    let form = [("csrf", lead.as_str()), ("verb", "approve")];
    assert_eq!(
        post_form(&d, &alice, "/postmortems/1/step", &form).await.0,
        303
    );
    assert_eq!(pm(&d).await["state"], "approved");
    // Publishing shows exactly what the client will read first.
    let (_, html) = page(&d, &alice, "/postmortems/1").await;
    assert!(
        html.contains(&format!(r#"<pre id="client-text">{SUMMARY}</pre>"#)),
        "{html}"
    );
    let form = [("csrf", lead.as_str()), ("verb", "publish")];
    assert_eq!(
        post_form(&d, &alice, "/postmortems/1/step", &form).await.0,
        303
    );
    assert_eq!(pm(&d).await["state"], "published");

    // The client's page shows the summary, and nothing of the rest.
    let (status, html) = page(&d, "", &format!("/status/acme?token={CLIENT_TOKEN}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("What we did: we restarted the pool."),
        "{html}"
    );
    assert!(html.contains(r#"id="postmortem-ACME-1""#), "{html}");
    for internal in [
        "a connection leak",
        "watch the pool",
        "The pool ran out.",
        "Alert on pool size",
    ] {
        assert!(!html.contains(internal), "{internal} on the status page");
    }

    // An action item is done from the page.
    let done = [("csrf", token.as_str())];
    assert_eq!(post_form(&d, &bob, "/actions/1/done", &done).await.0, 303);
    assert!(pm(&d).await["actions"][0]["done_at"].is_string());
}

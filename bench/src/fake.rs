//! The in-process fake Twilio (and the sink Alertmanager notifies): stamps
//! every SMS with the instant it arrived and answers as Twilio does (201
//! with a message sid).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::json;

#[derive(Default)]
pub struct Inbox {
    /// Alert-to-page tags seen in SMS bodies, with the first arrival.
    pub tagged: Mutex<HashMap<u64, Instant>>,
    pub sms: AtomicU64,
    pub sink_posts: AtomicU64,
}

pub type Shared = Arc<Inbox>;

/// Marker the bench puts in alert summaries: `A2P<number>.`
pub const TAG: &str = "A2P";

async fn message(
    State(inbox): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, axum::Json<serde_json::Value>) {
    let at = Instant::now();
    let n = inbox.sms.fetch_add(1, Ordering::Relaxed);
    if let Some(body) = form.get("Body") {
        let tags = tags_in(body);
        if !tags.is_empty()
            && let Ok(mut m) = inbox.tagged.lock()
        {
            for t in tags {
                m.entry(t).or_insert(at);
            }
        }
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "sid": format!("SM{n:032x}"),
            "status": "queued",
            "to": form.get("To"),
            "from": form.get("From"),
            "num_segments": "1",
            "error_code": null,
            "error_message": null,
        })),
    )
}

/// Every `A2P<digits>` in `body`.
pub fn tags_in(body: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find(TAG) {
        rest = &rest[i + TAG.len()..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(n) = digits.parse() {
            out.push(n);
        }
    }
    out
}

async fn sink(State(inbox): State<Shared>) -> StatusCode {
    inbox.sink_posts.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK
}

/// Serves on 127.0.0.1 (any port); returns the port and the inbox.
pub async fn start() -> anyhow::Result<(u16, Shared)> {
    let inbox: Shared = Arc::new(Inbox::default());
    let app = Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", post(message))
        .route("/sink", post(sink))
        .layer(DefaultBodyLimit::disable())
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((port, inbox))
}

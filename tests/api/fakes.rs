//! Local fakes of the providers tocsin pages through: Twilio's REST API
//! (`Messages.json`, `Calls.json`) and a chat webhook. Each binds
//! `127.0.0.1:0`, records every request it gets, and answers from a script
//! (success when the script is empty), so a test can say exactly what was
//! sent and make any one attempt fail. Must not: check anything a test
//! does not assert on, or share state between tests.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};

/// Which Twilio resource a request created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Messages,
    Calls,
}

/// A scripted answer for the next request to one resource.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status and JSON body, with `Retry-After` seconds if given.
    Status {
        code: u16,
        body: Value,
        retry_after: Option<u64>,
    },
    /// The request is read, then the connection closes without an answer.
    Drop,
    /// Taken at once (recorded as a 201: the message goes out), answered
    /// only after this long: a caller that dies meanwhile never learns it.
    Slow(std::time::Duration),
}

impl Reply {
    /// A Twilio error answer: `status` with `{"code": code, ...}`.
    pub fn error(status: u16, code: u32) -> Reply {
        Reply::Status {
            code: status,
            body: json!({"code": code, "message": format!("scripted error {code}"), "status": status}),
            retry_after: None,
        }
    }

    /// 500 Internal Server Error.
    pub fn server_error() -> Reply {
        Reply::Status {
            code: 500,
            body: json!({"message": "scripted outage"}),
            retry_after: None,
        }
    }

    /// 429 with `Retry-After: secs`.
    pub fn too_many(secs: u64) -> Reply {
        Reply::Status {
            code: 429,
            body: json!({"code": 20429, "message": "Too Many Requests"}),
            retry_after: Some(secs),
        }
    }
}

/// One request the fake Twilio received, and what it answered.
#[derive(Debug, Clone)]
pub struct TwilioRequest {
    pub resource: Resource,
    /// The account SID in the path.
    pub account: String,
    /// Basic-auth user and password.
    pub user: Option<String>,
    pub password: Option<String>,
    /// Form fields in order, duplicates kept.
    pub form: Vec<(String, String)>,
    /// The status answered; 0 when the connection was dropped.
    pub answered: u16,
    /// The sid handed out on success.
    pub sid: Option<String>,
    /// When it arrived.
    pub at: chrono::DateTime<chrono::Utc>,
    /// How long its answer was held back (`Reply::Slow`).
    pub held: Option<std::time::Duration>,
}

impl TwilioRequest {
    /// The first form field called `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn to(&self) -> &str {
        self.field("To").unwrap_or_default()
    }

    /// The SMS body, or the call's inline TwiML.
    pub fn text(&self) -> &str {
        match self.resource {
            Resource::Messages => self.field("Body").unwrap_or_default(),
            Resource::Calls => self.field("Twiml").unwrap_or_default(),
        }
    }

    /// Whether Twilio took it (2xx): a message or call that went out.
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.answered)
    }
}

#[derive(Default)]
struct TwilioShared {
    requests: Mutex<Vec<TwilioRequest>>,
    script: Mutex<VecDeque<(Resource, Reply)>>,
}

/// Sids are unique across every fake in the test process: a test with
/// one fake per daemon tells their calls apart by sid.
static NEXT_SID: AtomicU64 = AtomicU64::new(0);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A failed assertion elsewhere must not hide what was recorded.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake Twilio REST API; stops when dropped.
pub struct FakeTwilio {
    addr: SocketAddr,
    shared: Arc<TwilioShared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeTwilio {
    pub async fn start() -> FakeTwilio {
        let shared = Arc::new(TwilioShared::default());
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                post(|s, p, h, b| create(s, p, h, b, Resource::Messages)),
            )
            .route(
                "/2010-04-01/Accounts/{sid}/Calls.json",
                post(|s, p, h, b| create(s, p, h, b, Resource::Calls)),
            )
            .with_state(shared.clone());
        let (addr, task) = serve(app).await;
        FakeTwilio { addr, shared, task }
    }

    /// What `providers.*.base_url` should say.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next request to `resource` with `reply`; queued in order.
    pub fn script(&self, resource: Resource, reply: Reply) {
        lock(&self.shared.script).push_back((resource, reply));
    }

    /// Drops the answers still queued for `resource`.
    pub fn unscript(&self, resource: Resource) {
        lock(&self.shared.script).retain(|(r, _)| *r != resource);
    }

    /// Every request so far, failed ones included.
    pub fn requests(&self) -> Vec<TwilioRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The requests Twilio took (2xx).
    pub fn accepted(&self) -> Vec<TwilioRequest> {
        self.requests()
            .into_iter()
            .filter(TwilioRequest::accepted)
            .collect()
    }
}

async fn create(
    State(shared): State<Arc<TwilioShared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
    resource: Resource,
) -> Response {
    let (user, password) = basic_auth(&headers);
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let reply = {
        let mut script = lock(&shared.script);
        let at = script.iter().position(|(r, _)| *r == resource);
        at.and_then(|i| script.remove(i)).map(|(_, reply)| reply)
    };
    let mut record = TwilioRequest {
        resource,
        account,
        user,
        password,
        form,
        answered: 0,
        sid: None,
        at: chrono::Utc::now(),
        held: None,
    };
    let created = |record: &mut TwilioRequest| {
        let n = NEXT_SID.fetch_add(1, Ordering::SeqCst) + 1;
        let prefix = match resource {
            Resource::Messages => "SM",
            Resource::Calls => "CA",
        };
        let sid = format!("{prefix}{n:032x}");
        record.answered = 201;
        record.sid = Some(sid.clone());
        (
            StatusCode::CREATED,
            axum::Json(json!({"sid": sid, "status": "queued"})),
        )
            .into_response()
    };
    let response = match reply {
        None => created(&mut record),
        Some(Reply::Slow(delay)) => {
            let response = created(&mut record);
            record.held = Some(delay);
            lock(&shared.requests).push(record);
            tokio::time::sleep(delay).await;
            return response;
        }
        Some(Reply::Status {
            code,
            body,
            retry_after,
        }) => {
            record.answered = code;
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = (status, axum::Json(body)).into_response();
            if let Some(secs) = retry_after {
                r.headers_mut().insert(header::RETRY_AFTER, secs.into());
            }
            r
        }
        Some(Reply::Drop) => {
            lock(&shared.requests).push(record);
            // Unwinding ends the connection's task, which closes the socket
            // without an answer; `resume_unwind` skips the panic hook, so
            // the test output stays clean.
            std::panic::resume_unwind(Box::new("fake twilio drops the connection"));
        }
    };
    lock(&shared.requests).push(record);
    response
}

fn basic_auth(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    let decoded = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((u, p)) => (Some(u.to_owned()), Some(p.to_owned())),
        None => (None, None),
    }
}

async fn serve(app: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a fake");
    let addr = listener.local_addr().expect("fake address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

/// One post the fake chat webhook received.
#[derive(Debug, Clone)]
pub struct ChatPost {
    pub path: String,
    pub body: Value,
}

impl ChatPost {
    /// Slack's and Mattermost's `text`.
    pub fn text(&self) -> &str {
        self.body["text"].as_str().unwrap_or_default()
    }

    /// Where it went: a Slack app's channel, else the webhook's path.
    pub fn to(&self) -> String {
        match self.body["channel"].as_str() {
            Some(channel) if self.path.ends_with("chat.postMessage") => channel.to_string(),
            _ => self.path.clone(),
        }
    }
}

/// A running fake chat webhook (Slack-style: answers `ok`); stops when dropped.
pub struct FakeChat {
    addr: SocketAddr,
    posts: Arc<Mutex<Vec<ChatPost>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeChat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeChat {
    pub async fn start() -> FakeChat {
        let posts: Arc<Mutex<Vec<ChatPost>>> = Arc::default();
        let app = Router::new()
            .route("/{*path}", post(chat_post))
            .with_state(posts.clone());
        let (addr, task) = serve(app).await;
        FakeChat { addr, posts, task }
    }

    /// A webhook URL on this fake.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    pub fn posts(&self) -> Vec<ChatPost> {
        lock(&self.posts).clone()
    }
}

/// Webhooks answer `ok`; the Slack and Telegram Web API methods answer
/// as those APIs do (a posted message gets an id).
async fn chat_post(
    State(posts): State<Arc<Mutex<Vec<ChatPost>>>>,
    Path(path): Path<String>,
    body: String,
) -> String {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let mut posts = lock(&posts);
    let n = posts.len() + 1;
    let method = path.rsplit('/').next().unwrap_or_default();
    let answer = match method {
        "chat.postMessage" => {
            json!({"ok": true, "channel": body["channel"], "ts": format!("1700000000.{n:06}")})
                .to_string()
        }
        "chat.update" => json!({"ok": true}).to_string(),
        "sendMessage" => json!({"ok": true, "result": {"message_id": n}}).to_string(),
        "editMessageText" | "answerCallbackQuery" => {
            json!({"ok": true, "result": true}).to_string()
        }
        _ => "ok".to_string(),
    };
    posts.push(ChatPost { path, body });
    answer
}

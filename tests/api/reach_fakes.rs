//! Local fakes of the vendors of "Reach": Telnyx (messages, Call Control
//! calls and commands; webhooks signed with Ed25519 as Telnyx signs them)
//! and an ntfy server. Like `fakes`, each binds `127.0.0.1:0`, records every
//! request, and answers from a script (success when it is empty).

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
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

use crate::fakes::Reply;

/// RFC 8032's first test seed: the fake's signing key.
const SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&SEED).expect("seed")
}

/// Which Telnyx endpoint a request went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Messages,
    Calls,
    /// A Call Control command: the call and the action (`speak`...).
    Command {
        call: String,
        action: String,
    },
}

/// One request the fake Telnyx received, and what it answered.
#[derive(Debug, Clone)]
pub struct TelnyxRequest {
    pub endpoint: Endpoint,
    pub bearer: Option<String>,
    pub body: Value,
    /// The status answered; 0 when the connection was dropped.
    pub answered: u16,
    /// The message id or call_control_id handed out on success.
    pub id: Option<String>,
}

impl TelnyxRequest {
    pub fn field(&self, name: &str) -> &str {
        self.body[name].as_str().unwrap_or_default()
    }

    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.answered)
    }
}

#[derive(Default)]
struct TelnyxShared {
    requests: Mutex<Vec<TelnyxRequest>>,
    script: Mutex<VecDeque<(Endpoint, Reply)>>,
}

/// Ids are unique across every fake in the test process, as a vendor's are.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A running fake Telnyx API; stops when dropped.
pub struct FakeTelnyx {
    addr: SocketAddr,
    shared: Arc<TelnyxShared>,
    task: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for FakeTelnyx {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeTelnyx {
    pub async fn start() -> FakeTelnyx {
        let shared = Arc::new(TelnyxShared::default());
        let app = Router::new()
            .route(
                "/v2/messages",
                post(|s, h, b| create(s, h, b, Endpoint::Messages)),
            )
            .route(
                "/v2/calls",
                post(|s, h, b| create(s, h, b, Endpoint::Calls)),
            )
            .route(
                "/v2/calls/{call}/actions/{action}",
                post(|s, Path((call, action)): Path<(String, String)>, h, b| {
                    create(s, h, b, Endpoint::Command { call, action })
                }),
            )
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a fake");
        let addr = listener.local_addr().expect("fake address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTelnyx {
            addr,
            shared,
            task,
            http: reqwest::Client::new(),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The account's public key, base64, as the portal shows it.
    pub fn public_key() -> String {
        base64::engine::general_purpose::STANDARD.encode(key().public_key().as_ref())
    }

    /// Answers the next request to `endpoint` (commands: any) with `reply`.
    pub fn script(&self, endpoint: Endpoint, reply: Reply) {
        lock(&self.shared.script).push_back((endpoint, reply));
    }

    pub fn requests(&self) -> Vec<TelnyxRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The commands sent on calls, as (action, payload spoken).
    pub fn commands(&self) -> Vec<(String, String)> {
        self.requests()
            .into_iter()
            .filter_map(|r| match &r.endpoint {
                Endpoint::Command { action, .. } => {
                    Some((action.clone(), r.field("payload").to_owned()))
                }
                _ => None,
            })
            .collect()
    }

    /// POSTs an event to tocsin's webhook, signed at `at` (Unix seconds)
    /// with the account key; returns the status.
    pub async fn send_event(&self, url: &str, at: i64, kind: &str, payload: Value) -> u16 {
        let body = json!({
            "data": {"record_type": "event", "event_type": kind, "id": "e", "occurred_at": "2026-01-05T09:00:00Z", "payload": payload},
            "meta": {"attempt": 1, "delivered_to": url},
        })
        .to_string();
        let signature = base64::engine::general_purpose::STANDARD
            .encode(key().sign(format!("{at}|{body}").as_bytes()));
        self.post_event(url, &at.to_string(), &signature, body)
            .await
    }

    /// POSTs a body with the given signature headers, as anyone could.
    pub async fn post_event(&self, url: &str, at: &str, signature: &str, body: String) -> u16 {
        self.http
            .post(url)
            .header("content-type", "application/json")
            .header("telnyx-timestamp", at)
            .header("telnyx-signature-ed25519", signature)
            .body(body)
            .send()
            .await
            .expect("webhook")
            .status()
            .as_u16()
    }
}

async fn create(
    State(shared): State<Arc<TelnyxShared>>,
    headers: HeaderMap,
    body: String,
    endpoint: Endpoint,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let reply = {
        let mut script = lock(&shared.script);
        let same = |e: &Endpoint| match (e, &endpoint) {
            (Endpoint::Command { .. }, Endpoint::Command { .. }) => true,
            (a, b) => a == b,
        };
        let at = script.iter().position(|(e, _)| same(e));
        at.and_then(|i| script.remove(i)).map(|(_, r)| r)
    };
    let mut record = TelnyxRequest {
        endpoint: endpoint.clone(),
        bearer,
        body,
        answered: 200,
        id: None,
    };
    let response = match reply {
        None => {
            let n = NEXT_ID.fetch_add(1, Ordering::SeqCst) + 1;
            let data = match &endpoint {
                Endpoint::Messages => {
                    let id = format!("40385f64-5717-4562-b3fc-{n:012x}");
                    record.id = Some(id.clone());
                    json!({"record_type": "message", "id": id, "to": [{"phone_number": record.field("to"), "status": "queued"}]})
                }
                Endpoint::Calls => {
                    let id = format!("v3:call-{n}");
                    record.id = Some(id.clone());
                    json!({"record_type": "call", "call_control_id": id, "call_leg_id": format!("leg-{n}"), "call_session_id": format!("session-{n}"), "is_alive": false})
                }
                Endpoint::Command { .. } => json!({"result": "ok"}),
            };
            (StatusCode::OK, axum::Json(json!({"data": data}))).into_response()
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
        Some(Reply::Drop | Reply::Slow(_)) => {
            record.answered = 0;
            lock(&shared.requests).push(record);
            std::panic::resume_unwind(Box::new("fake telnyx drops the connection"));
        }
    };
    lock(&shared.requests).push(record);
    response
}

/// A Telnyx error answer: `status` with `{"errors": [{"code": code, ...}]}`.
pub fn telnyx_error(status: u16, code: &str, detail: &str) -> Reply {
    Reply::Status {
        code: status,
        body: json!({"errors": [{"code": code, "title": "scripted", "detail": detail}]}),
        retry_after: None,
    }
}

/// One message the fake ntfy server received.
#[derive(Debug, Clone)]
pub struct NtfyMessage {
    pub topic: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl NtfyMessage {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running fake ntfy server (answers 200 with the message); stops when dropped.
pub struct FakeNtfy {
    addr: SocketAddr,
    messages: Arc<Mutex<Vec<NtfyMessage>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeNtfy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeNtfy {
    pub async fn start() -> FakeNtfy {
        let messages: Arc<Mutex<Vec<NtfyMessage>>> = Arc::default();
        let app = Router::new()
            .route("/{topic}", post(publish))
            .with_state(messages.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a fake");
        let addr = listener.local_addr().expect("fake address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeNtfy {
            addr,
            messages,
            task,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn messages(&self) -> Vec<NtfyMessage> {
        lock(&self.messages).clone()
    }
}

async fn publish(
    State(messages): State<Arc<Mutex<Vec<NtfyMessage>>>>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: String,
) -> axum::Json<Value> {
    let headers = headers
        .iter()
        .filter(|(n, _)| {
            ["title", "priority", "tags", "actions", "authorization"].contains(&n.as_str())
        })
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let mut all = lock(&messages);
    all.push(NtfyMessage {
        topic: topic.clone(),
        headers,
        body: body.clone(),
    });
    axum::Json(
        json!({"id": format!("msg{}", all.len()), "event": "message", "topic": topic, "message": body}),
    )
}

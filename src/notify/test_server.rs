//! Test-only fake HTTP servers on 127.0.0.1:0 that record every request.
//!
//! Owns: nothing shipped. Must not: contact any host but loopback.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub method: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as form pairs, in order, repeats kept.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("fake received JSON")
    }
}

/// The canned answer the fake gives to every request.
#[derive(Debug, Clone)]
pub(crate) struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Canned {
    pub fn new(status: u16, body: &str) -> Self {
        Canned {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

#[derive(Clone)]
struct Shared {
    canned: Canned,
    log: Arc<Mutex<Vec<Recorded>>>,
}

/// A running fake; the server lives until the test's runtime ends.
pub(crate) struct Fake {
    pub base: String,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl Fake {
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().expect("fake log not poisoned").clone()
    }

    pub fn only_request(&self) -> Recorded {
        let all = self.requests();
        assert_eq!(all.len(), 1, "expected exactly one request: {all:?}");
        all[0].clone()
    }
}

/// Starts a fake that answers every request with `canned`.
pub(crate) async fn start(canned: Canned) -> Fake {
    let log = Arc::new(Mutex::new(Vec::new()));
    let shared = Shared {
        canned,
        log: log.clone(),
    };
    let app = axum::Router::new().fallback(record).with_state(shared);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Fake {
        base: format!("http://{addr}"),
        log,
    }
}

async fn record(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared
        .log
        .lock()
        .expect("fake log not poisoned")
        .push(Recorded {
            method: method.to_string(),
            path_and_query: uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            headers,
            body: body.to_vec(),
        });
    let canned = shared.canned;
    let status = StatusCode::from_u16(canned.status).expect("valid canned status");
    let mut response = (status, canned.body).into_response();
    for (name, value) in canned.headers {
        response
            .headers_mut()
            .insert(name, value.parse().expect("valid canned header"));
    }
    response
}

/// A server that reads each request's head and then closes the connection
/// without answering.
pub(crate) async fn start_dropper() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            drop(socket);
        }
    });
    format!("http://{addr}")
}

/// An address nobody listens on.
pub(crate) async fn refused() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    drop(listener);
    format!("http://{addr}")
}

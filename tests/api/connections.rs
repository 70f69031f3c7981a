//! Connection limits: slow or idle connections are cut off, at most
//! `server.max_connections` are served at once, and a flood of idle
//! connections past the process's descriptor limit neither stops writes nor
//! outlives the flood.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

/// The test roster with more `server:` keys.
fn with_server_keys(keys: &str) -> String {
    let yaml = roster_yaml("");
    let at = "  max_body_bytes: 65536\n";
    assert!(yaml.contains(at));
    yaml.replacen(at, &format!("{at}{keys}"), 1)
}

fn host(base: &str) -> &str {
    base.trim_start_matches("http://")
}

/// Everything the server sends until it closes the connection, or None if
/// it is still open after `within`.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

/// A request written by hand: the head now, the body when `body` is
/// awaited (so the connection is accepted and its head read beforehand).
async fn post_head(stream: &mut TcpStream, path: &str, token: &str, body_len: usize) {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: tocsin\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
}

/// The rest of `post_head`'s request; the status answered.
async fn post_body(stream: &mut TcpStream, body: &str) -> u16 {
    stream.write_all(body.as_bytes()).await.expect("write");
    let answer = until_closed(stream, Duration::from_secs(10))
        .await
        .expect("answered");
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

#[tokio::test]
async fn slow_headers_slow_bodies_and_idle_connections_are_cut_off() {
    let d = spawn_with(&with_server_keys(
        "  header_timeout: 1s\n  body_timeout: 1s\n",
    ))
    .await;
    let within = Duration::from_secs(5);
    let connect = || TcpStream::connect(host(&d.base));

    let mut silent = connect().await.expect("connect");
    assert!(until_closed(&mut silent, within).await.is_some(), "silent");

    let mut half_head = connect().await.expect("connect");
    half_head
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tocsin\r\n")
        .await
        .expect("write");
    assert!(
        until_closed(&mut half_head, within).await.is_some(),
        "half a head"
    );

    let mut half_body = connect().await.expect("connect");
    let head = format!(
        "POST /api/v1/alertmanager HTTP/1.1\r\nHost: tocsin\r\nAuthorization: Bearer {AM_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"receiver\":"
    );
    half_body.write_all(head.as_bytes()).await.expect("write");
    let answer = until_closed(&mut half_body, within)
        .await
        .expect("half a body");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    let mut idle = connect().await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: tocsin\r\n\r\n")
        .await
        .expect("write");
    let answer = until_closed(&mut idle, within)
        .await
        .expect("idle keep-alive");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    d.stop().await;
}

#[tokio::test]
async fn past_max_connections_new_connections_wait_their_turn() {
    let d = spawn_with(&with_server_keys(
        "  max_connections: 2\n  header_timeout: 30s\n",
    ))
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(host(&d.base)).await.expect("connect"));
    }
    let third = tokio::spawn(reqwest::get(d.url("/healthz")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!third.is_finished(), "served past max_connections");
    drop(held);
    let r = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("served once a slot is free")
        .expect("task")
        .expect("healthz");
    assert_eq!(r.status(), 200);
    d.stop().await;
}

/// Idle connections past the descriptor limit (128 here): a write during
/// the flood works, /healthz answers, and after it ingest and acknowledge do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_does_not_take_the_pager_down() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("tocsin.yaml");
    let keys = "  max_connections: 64\n  header_timeout: 1s\n";
    std::fs::write(&config, with_server_keys(keys)).expect("config");
    let p = tokio::task::spawn_blocking(move || Process::start_with_open_files(&config, 128))
        .await
        .expect("start");
    let http = reqwest::Client::new();
    let post = |name: &'static str| {
        let (http, base) = (http.clone(), p.base.clone());
        async move {
            http.post(format!("{base}/api/v1/alertmanager"))
                .bearer_auth(AM_TOKEN)
                .json(&am_payload(name, vec![am_alert(name, "db-1", "firing")]))
                .send()
                .await
                .expect("post")
                .status()
                .as_u16()
        }
    };
    assert_eq!(post("Before").await, 200);

    // Accepted before the flood: a write goes through it during the flood.
    let during = am_payload("During", vec![am_alert("During", "db-1", "firing")]).to_string();
    let mut inside = TcpStream::connect(host(&p.base)).await.expect("connect");
    post_head(&mut inside, "/api/v1/alertmanager", AM_TOKEN, during.len()).await;
    let mut flood = Vec::new();
    for _ in 0..200 {
        flood.push(TcpStream::connect(host(&p.base)).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        post_body(&mut inside, &during).await,
        200,
        "a write during the flood"
    );
    // A new connection: it waits for a slot the header timeout frees.
    let health = reqwest::Client::new()
        .get(format!("{}/healthz", p.base))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("/healthz answers during the flood");
    assert_eq!(health.status(), 200);
    drop(flood);

    assert_eq!(post("After").await, 200, "ingest after the flood");
    let list: Value = http
        .get(format!("{}/api/v1/incidents", p.base))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let before = list["incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["title"] == "Before on db-1")
        .and_then(|i| i["id"].as_i64())
        .unwrap_or_else(|| panic!("Before is listed: {list}"));
    let ack = http
        .post(format!("{}/api/v1/incidents/{before}/acknowledge", p.base))
        .bearer_auth(BOB_TOKEN)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("acknowledge");
    assert_eq!(ack.status(), 200, "acknowledge after the flood");
    let ready = http
        .get(format!("{}/readyz", p.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
}

use crate::helpers::*;

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let d = spawn_daemon().await;
    let r = d.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let r = d.get("/readyz").await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        body,
        serde_json::json!({"status": "ready"}),
        "no paths for anyone"
    );
    for token in [BOB_TOKEN, AM_TOKEN] {
        let r = d
            .http
            .get(d.url("/readyz"))
            .bearer_auth(token)
            .send()
            .await
            .expect("readyz");
        let body: serde_json::Value = r.json().await.expect("json");
        assert_eq!(body, serde_json::json!({"status": "ready"}), "{token}");
    }
    let r = d
        .http
        .get(d.url("/readyz"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("readyz");
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["store"], "ok");
    assert_eq!(body["config"]["generation"], 1);
    assert!(body["config"]["files"][0].is_string(), "{body}");
    d.stop().await;
}

#[tokio::test]
async fn readyz_fails_while_writes_fail_and_recovers_with_them() {
    let d = spawn_daemon().await;
    let payload = crate::ingest::am_payload("R", vec![crate::ingest::am_alert("R", "a", "firing")]);
    d.state().store.set_fail_writes(true);
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(
        d.get("/readyz").await.status(),
        503,
        "not ready while writes fail"
    );
    assert_eq!(d.get("/healthz").await.status(), 200, "but alive");
    d.state().store.set_fail_writes(false);
    assert_eq!(
        d.get("/readyz").await.status(),
        200,
        "ready once writes work"
    );
    let r = d
        .post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    assert_eq!(r.status(), 200);
    d.stop().await;
}

#[tokio::test]
async fn oversize_body_gets_413() {
    let d = spawn_daemon().await;
    let big = "x".repeat(100_000);
    let r = d
        .http
        .post(d.url("/api/v1/reload"))
        .bearer_auth(ADMIN_TOKEN)
        .body(big)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 413);
    // Chunked: no length declared, the limit stops the read.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(d.base.trim_start_matches("http://"))
        .await
        .expect("connect");
    let chunk = "x".repeat(100_000);
    let request = format!(
        "POST /api/v1/reload HTTP/1.1\r\nHost: tocsin\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let _ = s.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    d.stop().await;
}

#[tokio::test]
async fn reload_needs_an_admin() {
    let d = spawn_daemon().await;
    let r = d
        .http
        .post(d.url("/api/v1/reload"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
    let r = d
        .http
        .post(d.url("/api/v1/reload"))
        .bearer_auth("wrong-token")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 401);
    let r = d
        .http
        .post(d.url("/api/v1/reload"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 403);
    let r = d
        .http
        .post(d.url("/api/v1/reload"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    d.stop().await;
}

#[tokio::test]
async fn metrics_count_alerts_and_requests() {
    let d = spawn_daemon().await;
    let payload = crate::ingest::am_payload("M", vec![crate::ingest::am_alert("M", "a", "firing")]);
    d.post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    d.post_json("/api/v1/alertmanager", AM_TOKEN, &payload)
        .await;
    let r = d.get("/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/plain; version=0.0.4"))
    );
    let text = r.text().await.expect("text");
    assert!(
        text.contains("tocsin_alerts_received_total{source=\"alertmanager\",status=\"firing\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("tocsin_duplicate_alerts_total{source=\"alertmanager\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "tocsin_webhook_requests_total{endpoint=\"/api/v1/alertmanager\",code=\"200\"} 2"
        ),
        "{text}"
    );
    assert!(
        text.contains("tocsin_incidents{state=\"triggered\"} 1"),
        "{text}"
    );
    // The first page waits in the outbox (the test daemon runs no workers).
    assert!(text.contains("\ntocsin_outbox_depth 1\n"), "{text}");
    d.stop().await;
}

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

/// `/readyz` as an admin sees it (with the configuration and last reload).
async fn ready(base: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{base}/readyz"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn api_reload_with_a_broken_file_keeps_the_running_config() {
    let d = spawn_daemon().await;
    std::fs::write(
        &d.config,
        roster_yaml("").replace("lead: alice", "lead: alicia"),
    )
    .expect("write");
    let r = d
        .http
        .post(d.url("/api/v1/reload"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 422);
    let body: serde_json::Value = r.json().await.expect("json");
    assert!(
        body["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("unknown person \"alicia\"")),
        "{body}"
    );
    let ready = ready(&d.base).await;
    assert_eq!(ready["config"]["generation"], 1);
    assert_eq!(ready["last_reload"]["ok"], false);
    // A good file is taken.
    std::fs::write(&d.config, roster_yaml("")).expect("write");
    let r = d
        .http
        .post(d.url("/api/v1/reload"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(self::ready(&d.base).await["config"]["generation"], 2);
    d.stop().await;
}

/// The running configuration still answers: an integration's and a person's
/// token are accepted.
async fn tokens_still_accepted(base: &str) {
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/v1/alertmanager"))
        .bearer_auth(AM_TOKEN)
        .json(&am_payload("Kept", vec![am_alert("Kept", "a", "firing")]))
        .send()
        .await
        .expect("alert");
    assert_eq!(r.status(), 200, "integration token refused");
    let r = http
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("whoami");
    assert_eq!(r.status(), 200, "person token refused");
}

/// What a file being rewritten in place looks like to a reload: empty, or
/// cut off before its integrations.
fn empty_and_truncated() -> [(&'static str, String); 2] {
    let full = roster_yaml("");
    let cut = full[..full.find("integrations:").expect("integrations")].to_string();
    [("empty", String::new()), ("truncated", cut)]
}

#[tokio::test]
async fn api_reload_to_an_empty_or_truncated_file_keeps_the_running_config() {
    let d = spawn_daemon().await;
    for (what, text) in empty_and_truncated() {
        std::fs::write(&d.config, text).expect("write");
        let r = d
            .http
            .post(d.url("/api/v1/reload"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 422, "{what} file accepted");
        let body: serde_json::Value = r.json().await.expect("json");
        assert!(
            body["errors"]
                .to_string()
                .contains("no integrations configured"),
            "{what}: {body}"
        );
        assert_eq!(ready(&d.base).await["config"]["generation"], 1, "{what}");
        tokens_still_accepted(&d.base).await;
    }
    d.stop().await;
}

#[tokio::test]
async fn sighup_to_an_empty_file_keeps_the_running_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tocsin.yaml");
    std::fs::write(&config, roster_yaml("")).expect("write");
    let p = Process::start(&config);
    std::fs::write(&config, "").expect("empty the file");
    p.signal("HUP");
    let last = eventually("refused reload", || async {
        let r = ready(&p.base).await;
        (!r["last_reload"].is_null()).then_some(r)
    })
    .await;
    assert_eq!(last["last_reload"]["ok"], false, "{last}");
    assert_eq!(last["config"]["generation"], 1, "old config kept");
    tokens_still_accepted(&p.base).await;
}

#[test]
fn check_config_refuses_an_empty_file() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["--config", "/dev/null", "check-config"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/dev/null:1:1: no people configured")
            && err.contains("/dev/null:1:1: no integrations configured"),
        "{err}"
    );
}

#[tokio::test]
async fn sighup_with_a_broken_file_keeps_the_running_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tocsin.yaml");
    std::fs::write(&config, roster_yaml("")).expect("write");
    let p = Process::start(&config);
    assert_eq!(ready(&p.base).await["config"]["generation"], 1);

    std::fs::write(&config, "people: [\n").expect("break the file");
    p.signal("HUP");
    let last = eventually("failed reload", || async {
        let r = ready(&p.base).await;
        (!r["last_reload"].is_null()).then_some(r)
    })
    .await;
    assert_eq!(last["last_reload"]["ok"], false, "{last}");
    assert!(
        last["last_reload"]["errors"][0]
            .as_str()
            .is_some_and(|e| e.contains("tocsin.yaml:1:9")),
        "{last}"
    );
    assert_eq!(last["config"]["generation"], 1, "old config kept");
    assert_eq!(last["status"], "ready");

    std::fs::write(&config, roster_yaml("")).expect("fix the file");
    p.signal("HUP");
    eventually("successful reload", || async {
        (ready(&p.base).await["config"]["generation"] == 2).then_some(())
    })
    .await;
}

#[tokio::test]
async fn sigterm_stops_gracefully() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tocsin.yaml");
    std::fs::write(&config, roster_yaml("")).expect("write");
    let mut p = Process::start(&config);
    p.signal("TERM");
    let status = p.child.wait().expect("wait");
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn check_config_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tocsin.yaml");
    let bin = env!("CARGO_BIN_EXE_tocsin");
    std::fs::write(&config, roster_yaml("")).expect("write");
    let ok = std::process::Command::new(bin)
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .expect("run");
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("configuration OK: 1 files, 3 people"));
    std::fs::write(
        &config,
        roster_yaml("")
            .replace("lead: alice", "lead: alicia")
            .replace("\"+4915110000002\"", "\"12\""),
    )
    .expect("write");
    let bad = std::process::Command::new(bin)
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(
        err.lines().filter(|l| l.contains("tocsin.yaml:")).count(),
        2,
        "{err}"
    );
    let usage = std::process::Command::new(bin)
        .arg("--frobnicate")
        .output()
        .expect("run");
    assert_eq!(usage.status.code(), Some(2));
    let serve_bad = std::process::Command::new(bin)
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .output()
        .expect("run");
    assert_eq!(
        serve_bad.status.code(),
        Some(1),
        "a bad config starts nothing"
    );
}

/// POSTs `/api/v1/reload` as an admin: status and body.
async fn reload_now(d: &Daemon) -> (u16, serde_json::Value) {
    let r = d
        .http
        .post(d.url("/api/v1/reload"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.json().await.expect("json"))
}

const BILLING_TOKEN: &str = "billing-am-token-0123456789";

/// A second project with its own Alertmanager integration.
fn with_billing() -> String {
    roster_yaml(&format!(
        "  - id: prom-billing\n    type: alertmanager\n    token_sha256: {}\n    project: billing\n",
        sha(BILLING_TOKEN)
    ))
    .replace(
        "escalation_policies:",
        "  - id: billing\n    client: acme\n    team: web\n    responders: [bob]\nescalation_policies:",
    )
}

/// A reload that removes a project with an open incident would leave that
/// incident's next step paging nobody: it is refused, naming the incident
/// and what to do, and the running configuration keeps paging it. Once
/// the incident is resolved, the same file is taken.
#[tokio::test]
async fn a_reload_that_would_orphan_an_open_incident_is_refused() {
    let d = spawn_with(&with_billing()).await;
    let r = d
        .post_json(
            "/api/v1/alertmanager",
            BILLING_TOKEN,
            &am_payload("Ledger", vec![am_alert("Ledger", "db1", "firing")]),
        )
        .await;
    assert_eq!(r.status(), 200);
    std::fs::write(&d.config, roster_yaml("")).expect("write");
    let (status, body) = reload_now(&d).await;
    assert_eq!(status, 422, "{body}");
    let errors = body["errors"].to_string();
    assert!(
        errors.contains("project \\\"billing\\\" is removed but incident #1 is open on it"),
        "{body}"
    );
    assert_eq!(ready(&d.base).await["config"]["generation"], 1);
    assert_eq!(ready(&d.base).await["last_reload"]["ok"], false);
    // Still paging under the running configuration: step 2 calls someone.
    let calls_before = d
        .state()
        .store
        .query(|r| r.outbox_to("alice"))
        .await
        .expect("q")
        .len()
        + d.state()
            .store
            .query(|r| r.outbox_to("dave"))
            .await
            .expect("q")
            .len();
    d.advance(chrono::Duration::minutes(5)).await;
    let calls_after = d
        .state()
        .store
        .query(|r| r.outbox_to("alice"))
        .await
        .expect("q")
        .len()
        + d.state()
            .store
            .query(|r| r.outbox_to("dave"))
            .await
            .expect("q")
            .len();
    assert!(calls_after > calls_before, "the next step still pages");
    let r = d
        .post_json(
            "/api/v1/incidents/1/resolve",
            BOB_TOKEN,
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (status, body) = reload_now(&d).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ready(&d.base).await["config"]["generation"], 2);
    d.stop().await;
}

/// Removing the person an open incident is assigned to is refused the same
/// way, with the command that hands it on.
#[tokio::test]
async fn a_reload_that_removes_an_assignee_is_refused() {
    let d = spawn_daemon().await;
    let r = d
        .post_json(
            "/api/v1/alertmanager",
            AM_TOKEN,
            &am_payload("Disk", vec![am_alert("Disk", "web1", "firing")]),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = d
        .post_json(
            "/api/v1/incidents/1/assign",
            ADMIN_TOKEN,
            &serde_json::json!({"person": "dave"}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let without_dave = roster_yaml("")
        .replace(
            "  - id: dave\n    phone: \"+12125550104\"\n    timezone: America/New_York\n    working_hours: [\"mon-fri 09:00-17:00\"]\n",
            "",
        )
        .replace("members: [alice, bob, dave]", "members: [alice, bob]");
    assert!(!without_dave.contains("dave"));
    std::fs::write(&d.config, &without_dave).expect("write");
    let (status, body) = reload_now(&d).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["errors"].to_string().contains(
            "person \\\"dave\\\" is removed but incident #1 is assigned to them; hand it on first (tocsin incidents assign 1 PERSON)"
        ),
        "{body}"
    );
    assert_eq!(ready(&d.base).await["config"]["generation"], 1);
    d.stop().await;
}

/// An incident already without its project (the daemon was restarted with
/// files that lack it) does not block later reloads: only what a reload
/// would newly orphan is refused.
#[tokio::test]
async fn an_orphan_from_before_does_not_block_a_reload() {
    let mut d = spawn_with(&with_billing()).await;
    let r = d
        .post_json(
            "/api/v1/alertmanager",
            BILLING_TOKEN,
            &am_payload("Ledger", vec![am_alert("Ledger", "db1", "firing")]),
        )
        .await;
    assert_eq!(r.status(), 200);
    // The files as they run (on PostgreSQL they name its database), less
    // the billing project and its integration.
    let running = std::fs::read_to_string(&d.config).expect("read");
    let without = running
        .replace(
            "  - id: billing\n    client: acme\n    team: web\n    responders: [bob]\n",
            "",
        )
        .replace(
            &format!(
                "  - id: prom-billing\n    type: alertmanager\n    token_sha256: {}\n    project: billing\n",
                sha(BILLING_TOKEN)
            ),
            "",
        );
    assert!(!without.contains("billing"), "{without}");
    std::fs::write(&d.config, &without).expect("write");
    d.restart().await;
    // An urgent fix of a number is taken.
    std::fs::write(
        &d.config,
        without.replace("+4915110000002", "+4915119999992"),
    )
    .expect("write");
    let (status, body) = reload_now(&d).await;
    assert_eq!(status, 200, "{body}");
    // Its next step finds no project: the timeline says so.
    d.advance(chrono::Duration::minutes(5)).await;
    let v: serde_json::Value = d
        .http
        .get(d.url("/api/v1/incidents/1"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show")
        .json()
        .await
        .expect("json");
    let kinds: Vec<&str> = v["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"not routed"), "{kinds:?} {v}");
    d.stop().await;
}

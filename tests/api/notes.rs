//! Notes on incidents: from the API and the CLI, with actions, on the
//! timeline, and as the start of the postmortem's "How was the problem
//! fixed?".

use serde_json::{Value, json};
use std::process::Output;

use crate::helpers::*;
use crate::postmortems::open_incident;

async fn post(d: &Daemon, path: &str, token: &str, body: Value) -> (u16, Value) {
    let r = d.post_json(path, token, &body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn timeline(d: &Daemon, id: i64) -> Vec<Value> {
    let r = d
        .http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show");
    let v: Value = r.json().await.expect("json");
    v["timeline"].as_array().cloned().unwrap_or_default()
}

async fn cli(d: &Daemon, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .arg("--url")
        .arg(&d.base)
        .args(args)
        .env("TOCSIN_TOKEN", BOB_TOKEN)
        .output()
        .await
        .expect("run tocsin")
}

#[tokio::test]
async fn notes_are_kept_on_the_timeline_and_checked() {
    let d = spawn_daemon().await;
    let id = open_incident(&d).await;
    let at = format!("/api/v1/incidents/{id}/notes");
    let (status, v) = post(&d, &at, BOB_TOKEN, json!({"text": "  disk 97% on db-1  "})).await;
    assert_eq!(status, 201, "{v}");
    let notes: Vec<Value> = timeline(&d, id)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "note")
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["detail"], json!({"text": "disk 97% on db-1"}));
    assert_eq!(notes[0]["actor"], "person:bob");
    for (body, code) in [
        (json!({"text": "  "}), 400),
        (json!({}), 400),
        (json!({"text": "é".repeat(2001)}), 400),
        (json!({"text": "x", "colour": "red"}), 400),
    ] {
        assert_eq!(
            post(&d, &at, BOB_TOKEN, body.clone()).await.0,
            code,
            "{body}"
        );
    }
    assert_eq!(post(&d, &at, "nobody", json!({"text": "x"})).await.0, 401);
    let missing = post(
        &d,
        "/api/v1/incidents/999/notes",
        BOB_TOKEN,
        json!({"text": "x"}),
    )
    .await;
    assert_eq!(missing.0, 404);
    // Nothing else was written by the refused ones.
    let count = timeline(&d, id)
        .await
        .iter()
        .filter(|e| e["kind"] == "note")
        .count();
    assert_eq!(count, 1);
    d.stop().await;
}

#[tokio::test]
async fn the_cli_writes_notes_and_the_resolution_note_starts_the_postmortem() {
    let d = spawn_daemon().await;
    let id = open_incident(&d).await;
    let n = id.to_string();
    let o = cli(&d, &["incidents", "ack", &n, "--note", "looking at db-1"]).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(&d, &["incidents", "note", &n, "cleaner cron was disabled"]).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("incident {n}: note kept\n")
    );
    let o = cli(
        &d,
        &[
            "incidents",
            "resolve",
            &n,
            "--note",
            "re-enabled the cleaner, freed 40 GB",
        ],
    )
    .await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(&d, &["incidents", "show", &n]).await;
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("cleaner cron was disabled"), "{out}");
    assert!(out.contains("re-enabled the cleaner, freed 40 GB"), "{out}");
    let (status, v) = post(
        &d,
        &format!("/api/v1/incidents/{id}/postmortem"),
        BOB_TOKEN,
        Value::Null,
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        v["postmortem"]["how_fixed"],
        "Resolution note (bob): re-enabled the cleaner, freed 40 GB\n\n\
         Notes:\n- Wed 10:00 bob: looking at db-1\n- Wed 10:00 bob: cleaner cron was disabled\n"
    );
    d.stop().await;
}

//! `tocsin migrate-store`: a SQLite database copied into PostgreSQL, and a
//! daemon on the copy carries on where the SQLite one stopped. Needs a
//! PostgreSQL server: on a SQLite run it says so and returns (CI runs it in
//! its PostgreSQL pass).

use serde_json::{Value, json};

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

fn migrate(from: &str, to: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["migrate-store", "--from", from, "--to", to])
        .output()
        .expect("run tocsin")
}

#[tokio::test]
async fn a_sqlite_database_moves_to_postgres_whole() {
    let Some(server) = std::env::var(TEST_POSTGRES).ok().filter(|u| !u.is_empty()) else {
        eprintln!("{TEST_POSTGRES} is not set: migrate-store needs PostgreSQL; not run");
        return;
    };
    let mut d = spawn_on_sqlite(&roster_yaml("")).await;
    let body = am_payload("Moved", vec![am_alert("Moved", "a", "firing")]);
    assert_eq!(
        d.post_json("/api/v1/alertmanager", AM_TOKEN, &body)
            .await
            .status(),
        200
    );
    d.settle().await;
    let r = d
        .post_json(
            "/api/v1/incidents/1/acknowledge",
            BOB_TOKEN,
            &json!({"note": "looking"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let show = |d: &Daemon| {
        let (http, url) = (d.http.clone(), d.url("/api/v1/incidents/1"));
        async move {
            let r = http
                .get(url)
                .bearer_auth(BOB_TOKEN)
                .send()
                .await
                .expect("show");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")
        }
    };
    let before = show(&d).await;
    let sqlite = d.dir.path().join("data/tocsin.db");
    let sqlite_arg = format!("sqlite:{}", sqlite.display());
    // The daemon stopped first, as the docs say.
    if let Some(r) = d.running.take() {
        r.stop().await.expect("stop");
    }
    let url = create_test_database(&server);
    let to = format!("postgres:{url}");
    let out = migrate(&sqlite_arg, &to);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("incidents") && text.contains("count checked"),
        "{text}"
    );
    // A second copy into the same database is refused: it is not empty.
    let again = migrate(&sqlite_arg, &to);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    // The same config on the copy: everything is there, and numbering goes on.
    std::fs::write(d.dir.path().join("pg.url"), &url).expect("pg.url");
    let yaml = std::fs::read_to_string(&d.config).expect("config").replace(
        "storage:\n  sqlite: data/tocsin.db\n",
        "storage:\n  postgres_file: pg.url\n",
    );
    std::fs::write(&d.config, yaml).expect("config");
    d.restart().await;
    let after = show(&d).await;
    assert_eq!(after["incident"], before["incident"]);
    assert_eq!(after["timeline"], before["timeline"]);
    let body = am_payload("Next", vec![am_alert("Next", "a", "firing")]);
    assert_eq!(
        d.post_json("/api/v1/alertmanager", AM_TOKEN, &body)
            .await
            .status(),
        200
    );
    let r = d
        .http
        .get(d.url("/api/v1/incidents/2"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show 2");
    assert_eq!(r.status(), 200, "the next incident is number 2");
    d.stop().await;
}

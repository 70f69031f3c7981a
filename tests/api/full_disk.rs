//! A real full disk: the database lives on a 2 MiB tmpfs that a filler
//! file then fills. Webhooks get 503 and store nothing while the disk is
//! full, and `/readyz` says so; everything answered 2xx is stored; once
//! space is freed `/readyz` is ready and the same alerts are accepted. Needs the right to mount (root); prints a skip line
//! otherwise, and the injected store failure (`ingest.rs`) still runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{AM_TOKEN, BOB_TOKEN, Process, roster_yaml, sha};
use crate::ingest::{am_alert, am_payload};

/// Unmounts on drop, after the daemon (declared later) is gone.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_small_tmpfs(at: &Path) -> Option<Mounted> {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(at)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| Mounted(at.to_path_buf()))
}

/// Writes until the file system says it is full.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).expect("filler");
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).and_then(|()| f.sync_data()).is_ok() {}
}

/// A firing alert with a fingerprint of its own and a bulky description,
/// so that the database needs new pages quickly.
fn bulky(name: &str) -> Value {
    let mut alert = am_alert(name, "db-1", "firing");
    alert["fingerprint"] = json!(&sha(name)[..16]);
    alert["annotations"]["description"] = json!("x".repeat(3000));
    am_payload(name, vec![alert])
}

async fn stored_titles(http: &reqwest::Client, base: &str) -> Vec<String> {
    let body: Value = http
        .get(format!("{base}/api/v1/incidents?state=all&limit=500"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    body["incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["title"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_stores_nothing_and_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let Some(_mounted) = mount_small_tmpfs(&data) else {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    };
    let config = dir.path().join("tocsin.yaml");
    std::fs::write(&config, roster_yaml("")).expect("config");
    let p = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || Process::start(&config))
            .await
            .expect("start")
    };
    let http = reqwest::Client::new();
    let post = |name: String| {
        let (http, base) = (http.clone(), p.base.clone());
        async move {
            http.post(format!("{base}/api/v1/alertmanager"))
                .bearer_auth(AM_TOKEN)
                .json(&bulky(&name))
                .send()
                .await
                .expect("post")
                .status()
                .as_u16()
        }
    };
    assert_eq!(post("Before".into()).await, 200);

    fill(&data.join("filler"));
    let (mut accepted, mut refused) = (vec!["Before".to_string()], Vec::new());
    for i in 0..300 {
        let name = format!("Full{i}");
        match post(name.clone()).await {
            200 => accepted.push(name),
            503 => refused.push(name),
            other => panic!("{name}: unexpected {other}"),
        }
        if refused.len() >= 3 {
            break;
        }
    }
    assert!(!refused.is_empty(), "the disk never filled up");
    let ready = || {
        let (http, base) = (http.clone(), p.base.clone());
        async move {
            let r = http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .expect("readyz");
            r.status().as_u16()
        }
    };
    assert_eq!(ready().await, 503, "not ready while the disk is full");
    assert_eq!(ready().await, 503, "still not ready");
    let titles = stored_titles(&http, &p.base).await;
    for name in &accepted {
        let title = format!("{name} on db-1");
        assert!(
            titles.contains(&title),
            "{name} answered 200 but is not stored"
        );
    }
    for name in &refused {
        let title = format!("{name} on db-1");
        assert!(
            !titles.contains(&title),
            "{name} answered 503 but is stored"
        );
    }

    // Space again: the refused alerts (Alertmanager retries them) go in.
    std::fs::remove_file(data.join("filler")).expect("free the disk");
    assert_eq!(ready().await, 200, "ready once there is space");
    for name in &refused {
        assert_eq!(
            post(name.clone()).await,
            200,
            "{name} after the disk recovered"
        );
    }
    let titles = stored_titles(&http, &p.base).await;
    for name in accepted.iter().chain(&refused) {
        assert!(titles.contains(&format!("{name} on db-1")), "{name}");
    }
    drop(p);
}

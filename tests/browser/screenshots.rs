//! Screenshots of the main pages at 360 and 1280 px for the README:
//! `TOCSIN_SCREENSHOTS=docs/screenshots cargo test --test browser screenshots`
//! rewrites them. Without the variable this test does nothing.

use serde_json::json;

use crate::helpers::*;
use crate::ui;

#[tokio::test]
async fn screenshots() {
    let Some(dir) = std::env::var_os("TOCSIN_SCREENSHOTS") else {
        return;
    };
    let Some(ui) = ui().await else { return };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let id = ui
        .open("DiskFull", json!({ "mountpoint": "/var/lib/postgresql" }))
        .await;
    ui.open("HighLatency", json!({ "service": "checkout" }))
        .await;
    ui.d.settle().await;
    for width in [360, 1280] {
        let b = ui.browser(width).await;
        b.goto(&ui.d.url("/signin")).await;
        b.find("form#signin").await;
        save(&dir, "signin", width, b.screenshot().await);
        b.goto(&ui.d.url(&ui.ack_path(id, "bob"))).await;
        b.find("#acknowledge").await;
        save(&dir, "ack-link", width, b.screenshot().await);
        ui.sign_in(&b, BOB_TOKEN).await;
        b.find(&format!("#incident-{id}")).await;
        save(&dir, "incidents", width, b.screenshot().await);
        b.goto(&ui.d.url(&format!("/incidents/{id}"))).await;
        b.find("#act").await;
        save(&dir, "incident", width, b.screenshot().await);
        for (page, path, ready) in [
            ("oncall", "/oncall", "#schedule-web-primary"),
            ("postmortems", "/postmortems", "main"),
            ("reports", "/reports", "main"),
            ("me", "/me", "main"),
        ] {
            b.goto(&ui.d.url(path)).await;
            b.find(ready).await;
            save(&dir, page, width, b.screenshot().await);
        }
        b.goto(&ui.d.url(&format!("/status/acme?token={CLIENT_TOKEN}")))
            .await;
        b.find("main").await;
        save(&dir, "status", width, b.screenshot().await);
    }
}

fn save(dir: &std::path::Path, page: &str, width: u32, png: Vec<u8>) {
    let path = dir.join(format!("{page}-{width}.png"));
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

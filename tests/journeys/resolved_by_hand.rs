//! An alert resolved by hand while Alertmanager still fires it: its re-send
//! within the HA copy window is a duplicate, the one after is the problem
//! coming back and pages again; the client heard of neither until someone
//! acknowledged (from the CLI here).

use chrono::Duration;

use crate::helpers::*;
use crate::world::*;

#[tokio::test]
async fn resolved_by_hand_while_firing_pages_again_after_the_copy_window() {
    let mut w = world().await;
    let first = w.alert("DiskFull", "shop").await["opened"][0]
        .as_i64()
        .expect("opened");
    w.expect(
        "the alert",
        &[
            ("chat", ONCALL, "@bob"),
            ("sms", BOB, &format!("#{first} ")),
        ],
    );
    let (status, _) = w
        .post(
            &format!("/api/v1/incidents/{first}/resolve"),
            BOB_TOKEN,
            serde_json::json!({"note": "restarted the disk cleaner"}),
        )
        .await;
    assert_eq!(status, 200);
    // Never announced to the client: its end is not announced either.
    w.expect("resolved by hand", &[]);
    w.advance(Duration::seconds(30)).await;
    assert_eq!(w.alert("DiskFull", "shop").await["duplicate"], true);
    w.expect("an HA copy", &[]);
    // Alertmanager's repeat_interval: still firing, past the copy window.
    w.advance(Duration::minutes(4)).await;
    let out = w.alert("DiskFull", "shop").await;
    let second = out["opened"][0].as_i64().expect("a new incident");
    assert!(second > first, "{out}");
    w.expect(
        "the re-send",
        &[
            ("chat", ONCALL, "@bob"),
            ("sms", BOB, &format!("#{second} ")),
        ],
    );
    // bob acknowledges from the command line.
    let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args([
            "--url",
            w.d.base.as_str(),
            "incidents",
            "ack",
            &second.to_string(),
        ])
        .env("TOCSIN_TOKEN", BOB_TOKEN)
        .output()
        .await
        .expect("run tocsin");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    w.d.settle().await;
    w.expect(
        "acknowledged from the CLI",
        &[(
            "chat",
            ACME,
            "Bob is online and investigating incident ACME-2: DiskFull on shop.",
        )],
    );
    w.stop().await;
}

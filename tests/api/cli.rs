//! The `tocsin` client verbs: the real binary against the in-process daemon.
//! The binary runs through `tokio::process` so the daemon keeps serving on
//! the test's runtime while the test waits for it.

use std::process::Output;

use serde_json::Value;

use crate::helpers::*;
use crate::ingest::{am_alert, am_payload};

/// Runs `tocsin <args>` with only the environment the test gives it.
async fn tocsin(d: &Daemon, token: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"));
    cmd.args(args)
        .current_dir(d.dir.path())
        .env_remove("TOCSIN_TOKEN")
        .env_remove("TOCSIN_URL")
        .env_remove("TOCSIN_CONFIG")
        .env_remove("TZ");
    if let Some(t) = token {
        cmd.env("TOCSIN_TOKEN", t);
    }
    cmd.output().await.expect("run tocsin")
}

/// `tocsin --url <daemon> <args>` with Bob's token.
async fn as_bob(d: &Daemon, args: &[&str]) -> Output {
    as_token(d, BOB_TOKEN, args).await
}

/// `tocsin --url <daemon> <args>` with `token`.
pub(crate) async fn as_token(d: &Daemon, token: &str, args: &[&str]) -> Output {
    let mut all = vec!["--url", d.base.as_str()];
    all.extend_from_slice(args);
    tocsin(d, Some(token), &all).await
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

/// A user error: exit 1 and exactly one line on stderr, prefixed `tocsin: `.
pub(crate) fn user_error(o: &Output) -> String {
    assert_exit(o, 1);
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line expected:\n{err}");
    assert!(err.starts_with("tocsin: "), "{err}");
    err
}

async fn open_one(d: &Daemon) -> i64 {
    let r = d
        .post_json(
            "/api/v1/alertmanager",
            AM_TOKEN,
            &am_payload("DiskFull", vec![am_alert("DiskFull", "a", "firing")]),
        )
        .await;
    assert_eq!(r.status(), 200);
    let list: Value = d
        .http
        .get(d.url("/api/v1/incidents"))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    list["incidents"][0]["id"].as_i64().expect("id")
}

async fn show(d: &Daemon, id: i64) -> Value {
    d.http
        .get(d.url(&format!("/api/v1/incidents/{id}")))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("show")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn incidents_list_shows_every_page() {
    let d = spawn_daemon().await;
    crate::limits::seed_incidents(&d, 0, 501).await;
    let o = as_bob(&d, &["incidents", "list"]).await;
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert_eq!(out.lines().count(), 1 + 501, "a header and every incident");
    assert!(out.contains("report 0"), "the oldest, on the second page");
    assert!(out.contains("report 500"));
    d.stop().await;
}

#[tokio::test]
async fn list_show_ack_and_resolve_through_the_binary() {
    let d = spawn_daemon().await;
    let id = open_one(&d).await;
    let n = id.to_string();

    let o = as_bob(&d, &["incidents", "list"]).await;
    assert_exit(&o, 0);
    let out = stdout(&o);
    let header = out.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("#  ") && header.contains("TITLE"),
        "{out}"
    );
    let row = out.lines().nth(1).unwrap_or_default();
    for cell in [n.as_str(), "triggered", "critical", "shop", "DiskFull on a"] {
        assert!(row.contains(cell), "{cell:?} missing in row {row:?}");
    }

    let o = as_bob(&d, &["incidents", "show", &n]).await;
    assert_exit(&o, 0);
    let out = stdout(&o);
    for needle in [
        format!("Incident {id} (ACME-1): DiskFull on a"),
        "state          triggered".into(),
        "\nAlerts\n".into(),
        "\nTimeline\n".into(),
    ] {
        assert!(out.contains(&needle), "{needle:?} missing in\n{out}");
    }

    let o = as_bob(&d, &["incidents", "ack", &n]).await;
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), format!("incident {id} acknowledged\n"));
    let s = show(&d, id).await;
    assert_eq!(s["incident"]["state"], "acknowledged");
    assert_eq!(s["incident"]["assignee"], "bob");
    let ack = s["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["kind"] == "acknowledged")
        .cloned()
        .expect("ack event");
    assert_eq!(ack["detail"]["how"], "cli");

    let o = as_bob(&d, &["incidents", "resolve", &format!("#{id}")]).await;
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), format!("incident {id} resolved\n"));
    assert_eq!(show(&d, id).await["incident"]["state"], "resolved");

    // A repeated action is the same answer as a second ack, not an error.
    let o = as_bob(&d, &["incidents", "resolve", &n]).await;
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), format!("incident {id} was already resolved\n"));
    // An action the state forbids is still refused, in the daemon's words.
    let err = user_error(&as_bob(&d, &["incidents", "ack", &n]).await);
    assert_eq!(err, format!("tocsin: incident {id} is resolved\n"));
    d.stop().await;
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_a_user_error() {
    let d = spawn_daemon().await;
    let o = tocsin(&d, None, &["--url", &d.base, "incidents", "list"]).await;
    let err = user_error(&o);
    assert!(err.contains("TOCSIN_TOKEN"), "{err}");

    let o = tocsin(&d, Some("wrong"), &["--url", &d.base, "incidents", "list"]).await;
    assert_eq!(
        user_error(&o),
        "tocsin: unknown token (check TOCSIN_TOKEN or --token-file)\n"
    );

    let missing = d.dir.path().join("no-such-token");
    let missing = missing.to_string_lossy();
    let o = as_bob(&d, &["--token-file", &missing, "incidents", "list"]).await;
    assert!(user_error(&o).contains("token file"));
    d.stop().await;
}

#[tokio::test]
async fn url_from_the_config_and_token_from_a_file() {
    let d = spawn_daemon().await;
    let id = open_one(&d).await;
    let addr = d.base.trim_start_matches("http://");
    let config = d.dir.path().join("client.yaml");
    let yaml = roster_yaml("").replace("listen: 127.0.0.1:0", &format!("listen: {addr}"));
    std::fs::write(&config, yaml).expect("write config");
    let token = d.dir.path().join("token");
    std::fs::write(&token, format!("{BOB_TOKEN}\n")).expect("write token");
    let args = [
        "--config",
        &config.to_string_lossy(),
        "--token-file",
        &token.to_string_lossy(),
        "incidents",
        "list",
        "--state",
        "all",
    ]
    .map(str::to_string);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = tocsin(&d, None, &args).await;
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("DiskFull on a"), "{}", stdout(&o));
    assert!(
        stdout(&o)
            .lines()
            .nth(1)
            .unwrap_or_default()
            .starts_with(&id.to_string())
    );
    d.stop().await;
}

/// A roster error (a file being edited) does not send the client verbs to
/// another daemon: `server.listen` is still read, and `reload` reaches this
/// daemon and hears why it refuses. A file with no readable address is an
/// error that says to give --url, never the default address in silence.
#[tokio::test]
async fn a_config_with_errors_still_names_its_daemon() {
    let d = spawn_daemon().await;
    let broken = roster_yaml("").replace("lead: alice", "lead: alicia");
    std::fs::write(&d.config, &broken).expect("write");
    let addr = d.base.trim_start_matches("http://");
    let config = d.dir.path().join("client.yaml");
    let client = broken.replace("listen: 127.0.0.1:0", &format!("listen: {addr}"));
    std::fs::write(&config, client).expect("write config");
    let config = config.to_string_lossy().into_owned();
    let with = |args: &[&'static str]| {
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        all
    };
    let o = tocsin(&d, Some(ADMIN_TOKEN), &with(&["reload"])).await;
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("unknown person \"alicia\""), "{err}");
    assert!(
        err.ends_with("the daemon kept its running configuration\n"),
        "{err}"
    );
    let o = tocsin(&d, Some(BOB_TOKEN), &with(&["incidents", "list"])).await;
    assert_exit(&o, 0);
    std::fs::write(d.dir.path().join("client.yaml"), "server: [not, a, map\n").expect("write");
    let err = user_error(&tocsin(&d, Some(BOB_TOKEN), &with(&["incidents", "list"])).await);
    assert!(
        err.starts_with("tocsin: cannot read server.listen from "),
        "{err}"
    );
    assert!(
        err.trim_end().ends_with("give --url (or TOCSIN_URL)"),
        "{err}"
    );
    d.stop().await;
}

#[tokio::test]
async fn diagnose_patches_the_incident() {
    let d = spawn_daemon().await;
    let id = open_one(&d).await;
    let n = id.to_string();
    let o = as_bob(
        &d,
        &[
            "incidents",
            "diagnose",
            &n,
            "--layer",
            "third_party",
            "--reproducible",
            "no",
            "--ticket",
            "AWS-42",
        ],
    )
    .await;
    assert_exit(&o, 0);
    let s = show(&d, id).await;
    assert_eq!(s["incident"]["layer"], "third_party");
    assert_eq!(s["incident"]["reproducible"], false);
    assert_eq!(s["incident"]["provider_ticket"], "AWS-42");
    d.stop().await;
}

#[tokio::test]
async fn usage_errors_exit_2_and_an_absent_daemon_exits_1() {
    let d = spawn_daemon().await;
    let o = as_bob(&d, &["incidents", "ack"]).await;
    assert_exit(&o, 2);
    let o = as_bob(&d, &["incidents", "list", "--state", "sleeping"]).await;
    assert_exit(&o, 2);
    let o = as_bob(&d, &["incidents", "show", "9999"]).await;
    assert_eq!(user_error(&o), "tocsin: incident 9999 not found\n");
    // Port 1 on loopback: nothing listens there.
    let o = tocsin(
        &d,
        Some(BOB_TOKEN),
        &["--url", "http://127.0.0.1:1", "incidents", "list"],
    )
    .await;
    assert!(user_error(&o).contains("cannot reach the daemon"));
    d.stop().await;
}

#[tokio::test]
async fn postmortems_show_marks_the_public_section_and_edit_writes_it() {
    let d = spawn_daemon().await;
    let n = crate::postmortems::manual_pm(&d).await.to_string();
    let o = as_bob(&d, &["postmortems", "show", &n]).await;
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(
        out.contains("\npublic: only \"Client summary (public)\" is published to the client\n"),
        "{out}"
    );
    let public = out
        .split("\n## Client summary (public)\n\n")
        .nth(1)
        .unwrap_or_default();
    assert!(
        public.starts_with("shop was affected by an incident on Wed 25 Nov 2026 from 09:59 to 10:00 CET (1m).\n\nWhat we did: [what we did to fix it]\n"),
        "{out}"
    );

    // The author fills the gaps in $EDITOR; the public section is sent back.
    let editor = "sed -i -e 's/\\[what we did to fix it\\]/we restarted it./' \
                  -e 's/\\[what we will do so it does not happen again\\]/we watch it now./'";
    let o = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["--url", d.base.as_str(), "postmortems", "edit", &n])
        .current_dir(d.dir.path())
        .env("TOCSIN_TOKEN", BOB_TOKEN)
        .env("EDITOR", editor)
        .output()
        .await
        .expect("run tocsin");
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), format!("postmortem {n} saved\n"));
    let o = as_bob(&d, &["postmortems", "submit", &n]).await;
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        format!(
            "postmortem {n} submitted (now submitted)\nOn publish, the client reads:\n\
             shop was affected by an incident on Wed 25 Nov 2026 from 09:59 to 10:00 CET (1m).\n\n\
             What we did: we restarted it.\n\nWhat we will do: we watch it now.\n"
        )
    );
}

#[tokio::test]
async fn presence_online_without_for_holds_until_cleared() {
    let d = spawn_daemon().await;
    let o = as_bob(&d, &["presence", "online"]).await;
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "bob is online until cleared (tocsin presence clear)\n"
    );
    // A refused field is named by its flag, not the API's name (ttl).
    let err = user_error(&as_bob(&d, &["presence", "online", "--for", "400d"]).await);
    assert!(
        err.starts_with("tocsin: --for: 400d is longer than"),
        "{err}"
    );
    // A mark for a time says when it ends, in the reader's zone.
    let o = as_bob(&d, &["presence", "offline", "--for", "2h"]).await;
    assert_eq!(
        stdout(&o),
        "bob is offline until Wed 25 Nov 11:00 UTC (2h)\n"
    );
    // Clearing has no duration: --for with it is a usage error.
    assert_exit(&as_bob(&d, &["presence", "clear", "--for", "1h"]).await, 2);
    let o = as_bob(&d, &["presence", "clear"]).await;
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "bob's presence mark is cleared: working hours decide again\n"
    );
    d.stop().await;
}

#[tokio::test]
async fn notify_set_show_and_reset() {
    let d = spawn_daemon().await;
    let o = as_bob(&d, &["notify", "set", "sms", "voice@2m"]).await;
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("  sms at once\n  voice after 2m, if nobody acknowledged\n"),
        "{}",
        stdout(&o)
    );
    let o = as_bob(&d, &["notify", "set", "chat"]).await;
    let err = user_error(&o);
    assert!(err.contains("chat"), "{err}");
    // A refused rung is named as typed, not as rules[2].after.
    let o = as_bob(&d, &["notify", "set", "sms", "voice@2m", "sms@1m"]).await;
    let err = user_error(&o);
    assert!(err.starts_with("tocsin: sms@1m: "), "{err}");
    // alice (bob's lead) set it: the way back names bob.
    let o = as_alice(&d, &["notify", "set", "sms", "--person", "bob"]).await;
    assert!(
        stdout(&o).contains("tocsin notify reset --person bob goes back"),
        "{}",
        stdout(&o)
    );
    let o = as_bob(&d, &["notify", "reset"]).await;
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("(from the configuration)"),
        "{}",
        stdout(&o)
    );
    // Looking at someone else's ladder is refused as looking, not changing.
    let err = user_error(&as_bob(&d, &["notify", "--person", "alice"]).await);
    assert_eq!(
        err,
        "tocsin: bob may not see how alice is notified (only themselves, their team lead or an admin)\n"
    );
    d.stop().await;
}

/// `tocsin --url <daemon> <args>` with Alice's token (team lead, admin).
async fn as_alice(d: &Daemon, args: &[&str]) -> Output {
    let mut all = vec!["--url", d.base.as_str()];
    all.extend_from_slice(args);
    tocsin(d, Some(ADMIN_TOKEN), &all).await
}

#[tokio::test]
async fn maintenance_start_list_and_end() {
    let d = spawn_daemon().await;
    let o = as_alice(
        &d,
        &[
            "maintenance",
            "start",
            "--project",
            "shop",
            "--for",
            "2h",
            "--reason",
            "db migration",
            "--match",
            "job=backup",
        ],
    )
    .await;
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "maintenance 1 on project shop {job=\"backup\"} until Wed 25 Nov 11:00 UTC\n"
    );
    let o = as_bob(&d, &["maintenance", "list"]).await;
    assert_exit(&o, 0);
    let out = stdout(&o);
    for part in [
        "ID",
        "1 ",
        "project shop {job=\"backup\"}",
        "Wed 25 Nov 11:00 UTC (now)",
        "db migration",
        "page",
    ] {
        assert!(out.contains(part), "{part:?} missing from\n{out}");
    }
    // Only a team lead or an admin may end it; bob hears why in one line.
    let err = user_error(&as_bob(&d, &["maintenance", "end", "1"]).await);
    assert_eq!(
        err,
        "tocsin: bob may not manage maintenance of project shop: admins and the lead of every team concerned may\n",
        "no status line"
    );
    let o = as_alice(&d, &["maintenance", "end", "1"]).await;
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "maintenance 1 ended; 0 paged now, 0 resolved\n");
    // A window that starts later says when; one from the configuration is
    // refused with the way to end it, not as a bad number.
    let o = as_alice(
        &d,
        &[
            "maintenance",
            "start",
            "--project",
            "shop",
            "--from",
            "2026-11-26 02:00",
            "--to",
            "2026-11-26 04:00",
            "--reason",
            "db",
        ],
    )
    .await;
    assert_eq!(
        stdout(&o),
        "maintenance 2 on project shop from Thu 26 Nov 01:00 UTC until Thu 26 Nov 03:00 UTC\n"
    );
    let err = user_error(&as_alice(&d, &["maintenance", "end", "nightly"]).await);
    assert!(err.starts_with("tocsin: "), "{err}");
    assert!(!err.contains("invalid digit"), "{err}");
    assert_exit(&as_alice(&d, &["maintenance", "end", "2"]).await, 0);
    assert_eq!(
        stdout(&as_bob(&d, &["maintenance", "list"]).await),
        "no maintenance windows\n"
    );
    // Bad input names the field; a usage error is exit 2.
    let err = user_error(
        &as_alice(
            &d,
            &[
                "maintenance",
                "start",
                "--project",
                "moon",
                "--for",
                "1h",
                "--reason",
                "x",
            ],
        )
        .await,
    );
    assert_eq!(err, "tocsin: --project: not in the configuration\n");
    // A window too long is refused as the flag given: --for, not --to.
    let err = user_error(
        &as_alice(
            &d,
            &[
                "maintenance",
                "start",
                "--project",
                "shop",
                "--for",
                "8d",
                "--reason",
                "x",
            ],
        )
        .await,
    );
    assert!(
        err.starts_with("tocsin: --for: the window is longer than"),
        "{err}"
    );
    let o = as_alice(
        &d,
        &["maintenance", "start", "--project", "shop", "--reason", "x"],
    )
    .await;
    assert_exit(&o, 2);
    d.stop().await;
}

/// The daemon's answer to `GET path` as Bob, for comparing with `--json`.
async fn api_json(d: &Daemon, path: &str) -> Value {
    d.http
        .get(d.url(path))
        .bearer_auth(BOB_TOKEN)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn read_verbs_print_the_api_answer_with_json() {
    let d = spawn_daemon().await;
    let id = open_one(&d).await;
    let pm = crate::postmortems::manual_pm(&d).await;
    let (n, p) = (id.to_string(), pm.to_string());
    for (args, path) in [
        (
            vec!["incidents", "show", &n, "--json"],
            format!("/api/v1/incidents/{id}"),
        ),
        (vec!["oncall", "--json"], "/api/v1/oncall".into()),
        (
            vec!["oncall", "overrides", "--json"],
            "/api/v1/overrides".into(),
        ),
        (
            vec!["route", "--project", "shop", "--json"],
            "/api/v1/route?project=shop".into(),
        ),
        (
            vec!["postmortems", "show", &p, "--json"],
            format!("/api/v1/postmortems/{pm}"),
        ),
        (
            vec!["maintenance", "list", "--json"],
            "/api/v1/maintenance".into(),
        ),
        (
            vec!["notify", "show", "--json"],
            "/api/v1/people/bob/notify".into(),
        ),
    ] {
        let o = as_bob(&d, &args).await;
        assert_exit(&o, 0);
        let printed: Value = serde_json::from_str(&stdout(&o)).expect("only JSON on stdout");
        assert_eq!(printed, api_json(&d, &path).await, "{args:?}");
        assert!(stdout(&o).starts_with("{\n  \""), "pretty: {}", stdout(&o));
    }
    for (args, key) in [
        (
            vec!["incidents", "list", "--state", "all", "--json"],
            "incidents",
        ),
        (vec!["postmortems", "list", "--json"], "postmortems"),
    ] {
        let o = as_bob(&d, &args).await;
        assert_exit(&o, 0);
        let printed: Value = serde_json::from_str(&stdout(&o)).expect("only JSON on stdout");
        let path = format!("/api/v1/{key}?state=all");
        assert_eq!(printed[key], api_json(&d, &path).await[key], "{args:?}");
    }
    d.stop().await;
}

#[tokio::test]
async fn times_are_in_the_readers_zone() {
    let d = spawn_daemon().await;
    let id = open_one(&d).await.to_string();
    // TZ first, with or without the leading colon.
    for tz in ["America/New_York", ":America/New_York"] {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"));
        cmd.args(["--url", d.base.as_str(), "incidents", "show", &id])
            .current_dir(d.dir.path())
            .env("TOCSIN_TOKEN", BOB_TOKEN)
            .env("TZ", tz);
        let o = cmd.output().await.expect("run tocsin");
        assert_exit(&o, 0);
        assert!(
            stdout(&o).contains("  created        Wed 25 Nov 04:00 EST ("),
            "{}",
            stdout(&o)
        );
    }
    // Else the configuration's timezone (Europe/Berlin), in every verb.
    let config = d.config.to_string_lossy().into_owned();
    let o = as_alice(
        &d,
        &[
            "--config",
            &config,
            "maintenance",
            "start",
            "--project",
            "shop",
            "--for",
            "2h",
            "--reason",
            "db",
        ],
    )
    .await;
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "maintenance 1 on project shop until Wed 25 Nov 12:00 CET\n"
    );
    for (args, needle) in [
        (
            vec!["incidents", "show", &id],
            "  created        Wed 25 Nov 10:00 CET (",
        ),
        (
            vec!["maintenance", "list"],
            "Wed 25 Nov 10:00 CET  Wed 25 Nov 12:00 CET (now)",
        ),
        (
            vec!["route", "--project", "shop"],
            "project shop at Wed 25 Nov 10:00 CET\n",
        ),
        (vec!["oncall"], "on call at Wed 25 Nov 10:00 CET\n"),
        (
            vec!["report", "--from", "2026-11-01"],
            "Sun 01 Nov 00:00 CET to Wed 25 Nov 10:00 CET\n",
        ),
    ] {
        let mut all = vec!["--config", config.as_str()];
        all.extend(args);
        let o = as_bob(&d, &all).await;
        assert_exit(&o, 0);
        assert!(stdout(&o).contains(needle), "{needle:?} in\n{}", stdout(&o));
    }
    // A presence mark's end, in its person's zone (bob: Berlin), or "cleared".
    for (args, needle) in [
        (
            vec!["presence", "offline", "--for", "2h"],
            "presence mark offline until Wed 25 Nov 12:00 CET",
        ),
        (
            vec!["presence", "offline"],
            "presence mark offline until cleared",
        ),
    ] {
        assert_exit(&as_bob(&d, &args).await, 0);
        let o = as_bob(&d, &["route", "--project", "shop"]).await;
        assert!(stdout(&o).contains(needle), "{needle:?} in\n{}", stdout(&o));
    }
    d.stop().await;
}

#[tokio::test]
async fn actions_add_list_done_and_postmortems_reopen() {
    let d = spawn_daemon().await;
    let pm = crate::postmortems::manual_pm(&d).await;
    let p = pm.to_string();
    let o = as_bob(
        &d,
        &[
            "actions",
            "add",
            &p,
            "Alert on memory",
            "--assignee",
            "bob",
            "--due",
            "2026-12-04",
        ],
    )
    .await;
    assert_exit(&o, 0);
    // The end of that day in the team's zone (Berlin), read in UTC here.
    assert_eq!(
        stdout(&o),
        format!("action 1 (postmortem {p}): Alert on memory, bob, due Fri 04 Dec 22:59 UTC\n")
    );
    let o = as_bob(&d, &["actions", "list"]).await;
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        format!(
            "#  STATE  DUE                   ASSIGNEE  PRIORITY  POSTMORTEM  TITLE\n\
             1  open   Fri 04 Dec 22:59 UTC  bob       high      {p:<10}  Alert on memory\n"
        )
    );
    let o = as_bob(&d, &["actions", "list", "--json"]).await;
    let printed: Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(
        printed["actions"],
        api_json(&d, "/api/v1/actions").await["actions"]
    );
    let o = as_bob(&d, &["actions", "done", "1"]).await;
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "action 1 done\n");
    let o = as_bob(&d, &["actions", "done", "1"]).await;
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), "action 1 was already done\n");
    assert_eq!(
        stdout(&as_bob(&d, &["actions", "list"]).await),
        "no action items\n"
    );
    assert!(stdout(&as_bob(&d, &["actions", "list", "--state", "done"]).await).contains("1  done"));

    // Through review to approved, then the lead reopens it for a correction.
    let one = format!("/api/v1/postmortems/{pm}");
    let edit = serde_json::json!({"how_fixed": "restarted", "cause": "leak", "measures": "alert",
                                  "client_summary": "The shop was slow."});
    let (status, v) = crate::postmortems::call(&d, "PUT", &one, BOB_TOKEN, edit).await;
    assert_eq!(status, 200, "{v}");
    assert_exit(&as_bob(&d, &["postmortems", "submit", &p]).await, 0);
    assert_exit(&as_alice(&d, &["postmortems", "approve", &p]).await, 0);
    let out = stdout(&as_bob(&d, &["postmortems", "show", &p]).await);
    for needle in [
        "state: approved  incident: 1  author: alice  approver: alice\ndue: ",
        "\napproved by alice on Wed 25 Nov ",
        "\nAction items\n#  STATE  DUE ",
        "\n1  done   Fri 04 Dec 22:59 UTC  bob ",
    ] {
        assert!(out.contains(needle), "{needle:?} in\n{out}");
    }
    // Approved text is final: refused before the editor opens.
    let marker = d.dir.path().join("editor-ran");
    let o = with_editor(&d, &format!("touch {}", marker.display()), &p).await;
    let err = user_error(&o);
    assert!(
        err.contains("is approved, so final") && err.contains("tocsin postmortems reopen"),
        "{err}"
    );
    assert!(!marker.exists(), "the editor must not open");

    let o = as_alice(&d, &["postmortems", "reopen", &p]).await;
    assert_exit(&o, 0);
    assert_eq!(stdout(&o), format!("postmortem {p} reopened (now draft)\n"));
    // A refused save keeps the edited text and says where.
    let o = with_editor(
        &d,
        "f() { head -c 60000 /dev/zero | tr '\\0' x >> \"$1\"; }; f",
        &p,
    )
    .await;
    let err = user_error(&o);
    let kept = err
        .trim_end()
        .rsplit_once("your text is kept in ")
        .map(|(_, path)| std::path::PathBuf::from(path))
        .expect("the path of the kept text");
    assert!(err.contains("nothing saved"), "{err}");
    let text = std::fs::read_to_string(&kept).expect("the text is kept");
    assert!(
        text.ends_with(&"x".repeat(60_000)),
        "the edit is in the file"
    );
    let _ = std::fs::remove_file(kept);
    d.stop().await;
}

/// `tocsin postmortems edit N` as Bob with `EDITOR` set.
async fn with_editor(d: &Daemon, editor: &str, n: &str) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["--url", d.base.as_str(), "postmortems", "edit", n])
        .current_dir(d.dir.path())
        .env("TOCSIN_TOKEN", BOB_TOKEN)
        .env("EDITOR", editor)
        .env_remove("TZ")
        .output()
        .await
        .expect("run tocsin")
}

#[tokio::test]
async fn oncall_says_who_is_next_and_list_can_be_wide() {
    let schedule = "schedules:\n  - id: web-primary\n    name: Web primary\n    team: web\n    \
                    members: [bob, dave]\n    handoff: \"0 9 * * MON\"\n    start: \"2026-11-02 09:00\"\n";
    let d = spawn_with(&roster_yaml(schedule)).await;
    let o = as_bob(&d, &["oncall"]).await;
    assert_exit(&o, 0);
    assert_eq!(
        stdout(&o),
        "on call at Wed 25 Nov 09:00 UTC\n\
         SCHEDULE     PERSON  UNTIL                 NEXT\n\
         web-primary  dave    Mon 30 Nov 08:00 UTC  bob\n"
    );
    let title = "x".repeat(90);
    let r = d
        .post_json(
            "/api/v1/alertmanager",
            AM_TOKEN,
            &am_payload(&title, vec![am_alert(&title, "a", "firing")]),
        )
        .await;
    assert_eq!(r.status(), 200);
    let narrow = stdout(&as_bob(&d, &["incidents", "list"]).await);
    assert!(!narrow.contains(&title), "{narrow}");
    let wide = stdout(&as_bob(&d, &["incidents", "list", "--wide"]).await);
    assert!(
        wide.lines().nth(1).unwrap_or_default().contains(&title),
        "{wide}"
    );
    d.stop().await;
}

#[tokio::test]
async fn reload_takes_a_good_file_and_keeps_the_running_one_otherwise() {
    let d = spawn_daemon().await;
    let o = as_alice(&d, &["reload"]).await;
    assert_exit(&o, 0);
    assert!(
        stdout(&o).starts_with("reloaded: configuration OK: "),
        "{}",
        stdout(&o)
    );
    assert!(user_error(&as_bob(&d, &["reload"]).await).len() > "tocsin: ".len());
    std::fs::write(
        &d.config,
        roster_yaml("").replace("lead: alice", "lead: alicia"),
    )
    .expect("write");
    let o = as_alice(&d, &["reload"]).await;
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("unknown person \"alicia\""), "{err}");
    assert!(
        err.ends_with(
            "tocsin: 1 configuration error(s); the daemon kept its running configuration\n"
        ),
        "{err}"
    );
    d.stop().await;
}

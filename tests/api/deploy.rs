//! What users copy from deploy/: the container configuration passes
//! `check-config` with the variables of `env.example`, the compose stack
//! is valid YAML whose pieces point at each other, and the image's health
//! check (`tocsin check-ready`) tells ready from not. No Docker engine is
//! needed: nothing is built or started but tocsin itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::helpers::*;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("deploy/{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_saphyr::from_str(&read(path)).unwrap_or_else(|e| panic!("deploy/{path}: {e}"))
}

/// `NAME=value` lines of deploy/env.example, what users copy to `.env`.
fn env_example() -> Vec<(String, String)> {
    read("env.example")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("NAME=value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Every `${NAME}` in `text`.
fn variables(text: &str) -> BTreeSet<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.split([':', '?']).next().unwrap_or(name).to_string())
        .collect()
}

#[test]
fn the_container_config_passes_check_config() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .arg("--config")
        .arg(deploy("container/tocsin.yaml"))
        .arg("check-config")
        .env_clear()
        .envs(env_example())
        .output()
        .expect("run");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("configuration OK"), "{stdout}");

    let roster = tocsin::config::load_with_env(&deploy("container/tocsin.yaml"), &|k| {
        env_example()
            .into_iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        roster.server.listen.ip().is_unspecified(),
        "reachable from outside the container"
    );
    assert_eq!(
        roster.server.listen.port(),
        8080,
        "the port the Dockerfile exposes"
    );
    assert!(
        roster.storage.sqlite.starts_with("/var/lib/tocsin/"),
        "the database in the volume"
    );
}

#[test]
fn the_compose_stack_is_wired_as_documented() {
    let compose = yaml("compose.yaml");
    let services = &compose["services"];
    for name in ["tocsin", "alertmanager", "prometheus"] {
        assert!(services[name].is_object(), "service {name}");
    }
    // Every file it mounts or builds from exists.
    let build = &services["tocsin"]["build"];
    let context = deploy(build["context"].as_str().expect("build context"));
    assert!(
        context
            .join(build["dockerfile"].as_str().expect("dockerfile"))
            .is_file()
    );
    for (name, service) in services.as_object().expect("services") {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let source = volume
                .as_str()
                .expect("short volume syntax")
                .split(':')
                .next();
            if let Some(path) = source.filter(|s| s.starts_with("./")) {
                assert!(deploy(path).exists(), "{name} mounts missing {path}");
            }
        }
    }
    // Each variable tocsin's configuration reads is passed to the container
    // and set in env.example; so are the secrets' sources.
    let example: BTreeSet<_> = env_example().into_iter().map(|(k, _)| k).collect();
    let passed: BTreeSet<_> = services["tocsin"]["environment"]
        .as_object()
        .expect("environment map")
        .keys()
        .cloned()
        .collect();
    let config = read("container/tocsin.yaml") + &read("container/roster/oncall.yaml");
    for var in variables(&config) {
        assert!(
            passed.contains(&var),
            "{var} not passed to the tocsin container"
        );
        assert!(example.contains(&var), "{var} missing from env.example");
    }
    for (name, secret) in compose["secrets"].as_object().expect("secrets") {
        let var = secret["environment"]
            .as_str()
            .expect("secret from the environment");
        assert!(
            example.contains(var),
            "secret {name}: {var} missing from env.example"
        );
    }

    // Prometheus → Alertmanager → tocsin, on the ports each one listens on.
    let prometheus = yaml("prometheus/prometheus.yml");
    assert_eq!(
        prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0],
        "alertmanager:9093"
    );
    yaml("prometheus/rules.yml");
    let alertmanager = read("alertmanager/alertmanager.yml");
    for path in [
        "/api/v1/alertmanager",
        "/v2/enqueue",
        "/api/v1/heartbeat/watchdog",
    ] {
        assert!(
            alertmanager.contains(&format!("url: http://tocsin:8080{path}")),
            "alertmanager.yml sends to {path}"
        );
    }
    let am: Value = yaml("alertmanager/alertmanager.yml");
    let mounted: BTreeSet<_> = services["alertmanager"]["secrets"]
        .as_array()
        .expect("alertmanager secrets")
        .iter()
        .filter_map(|s| s.as_str().map(|s| format!("/run/secrets/{s}")))
        .collect();
    for file in files_read(&am) {
        assert!(
            mounted.contains(&file),
            "alertmanager reads {file}, not mounted"
        );
    }
    amtool_check(&deploy("alertmanager/alertmanager.yml"));
}

/// The `*_file` values of Alertmanager's configuration (tokens).
fn files_read(v: &Value) -> Vec<String> {
    match v {
        Value::Object(m) => m
            .iter()
            .flat_map(|(k, v)| match v {
                Value::String(s) if k.ends_with("_file") => vec![s.clone()],
                other => files_read(other),
            })
            .collect(),
        Value::Array(a) => a.iter().flat_map(files_read).collect(),
        _ => vec![],
    }
}

/// Alertmanager's own check, where it is installed (`.ci/run` installs it).
fn amtool_check(config: &Path) {
    match std::process::Command::new("amtool")
        .arg("check-config")
        .arg(config)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "amtool check-config:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => {
            eprintln!("skipped: amtool is not installed, alertmanager.yml checked as YAML only")
        }
    }
}

#[test]
fn the_image_is_built_from_files_that_exist_and_checks_readiness() {
    let dockerfile = read("Dockerfile");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let words: Vec<_> = line.split_whitespace().collect();
        for source in &words[1..words.len() - 1] {
            assert!(root.join(source).exists(), "{line}: no {source}");
        }
    }
    assert!(
        dockerfile.contains("COPY deploy/container /etc/tocsin"),
        "the container config"
    );
    let health = dockerfile
        .lines()
        .skip_while(|l| !l.starts_with("HEALTHCHECK"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(health.contains("\"check-ready\""), "{health}");
}

#[tokio::test]
async fn check_ready_says_whether_the_daemon_is_ready() {
    let d = spawn_daemon().await;
    let run = |url: String| async move {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(["--url", &url, "check-ready"])
            .env_remove("TOCSIN_URL")
            .output()
            .await
            .expect("run")
    };
    let ready = run(d.base.clone()).await;
    assert_eq!(ready.status.code(), Some(0), "{ready:?}");
    assert_eq!(String::from_utf8_lossy(&ready.stdout), "ready\n");
    // Nothing listens there any more.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let down = run(gone).await;
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    let err = String::from_utf8_lossy(&down.stderr);
    assert!(
        err.starts_with("tocsin: no answer from http://127.0.0.1:"),
        "{err}"
    );
    d.stop().await;
}

#[test]
fn the_systemd_unit_checks_the_files_before_reloading() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/tocsin.service"),
    )
    .expect("unit");
    let reload: Vec<_> = unit
        .lines()
        .filter(|l| l.starts_with("ExecReload="))
        .collect();
    assert_eq!(reload.len(), 2, "{reload:?}");
    assert!(reload[0].ends_with("check-config"), "{reload:?}");
    assert!(reload[1].contains("kill -HUP $MAINPID"), "{reload:?}");
}

#[test]
fn the_two_daemon_stack_shares_one_database_and_gets_every_alert_twice() {
    let compose = yaml("ha/compose.yaml");
    let services = &compose["services"];
    for name in [
        "postgres",
        "tocsin-a",
        "tocsin-b",
        "balancer",
        "alertmanager",
    ] {
        assert!(services[name].is_object(), "service {name}");
    }
    // Both daemons are the same service (a YAML merge), on the same database.
    assert_eq!(services["tocsin-a"], services["tocsin-b"]);
    let env = &services["tocsin-a"]["environment"];
    assert!(
        env["TOCSIN_DATABASE_URL"]
            .as_str()
            .is_some_and(|u| u.starts_with("postgres://") && u.contains("@postgres:5432/")),
        "{env}"
    );
    for (name, service) in services.as_object().expect("services") {
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let source = volume.as_str().expect("short syntax").split(':').next();
            if let Some(path) = source.filter(|s| s.starts_with("./") || s.starts_with("../")) {
                assert!(
                    deploy(&format!("ha/{path}")).exists(),
                    "{name} mounts missing {path}"
                );
            }
        }
    }
    // The configuration reads every variable the services pass, and checks
    // with the values of env.example.
    let example: BTreeSet<_> = env_example().into_iter().map(|(k, _)| k).collect();
    for var in variables(&read("ha/tocsin.yaml")) {
        assert!(env[&var].is_string(), "{var} not passed to the daemons");
        assert!(
            example.contains(&var) || var == "TOCSIN_DATABASE_URL",
            "{var}"
        );
    }
    assert!(example.contains("POSTGRES_PASSWORD"));
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("tocsin.yaml"), read("ha/tocsin.yaml")).expect("config");
    std::fs::create_dir(dir.path().join("roster")).expect("roster dir");
    std::fs::write(
        dir.path().join("roster/oncall.yaml"),
        read("container/roster/oncall.yaml"),
    )
    .expect("roster");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .arg("--config")
        .arg(dir.path().join("tocsin.yaml"))
        .arg("check-config")
        .env_clear()
        .envs(env_example())
        .env(
            "TOCSIN_DATABASE_URL",
            "postgres://tocsin:pw@postgres:5432/tocsin",
        )
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Alertmanager sends to each daemon, the balancer checks each one's /readyz.
    let am = read("ha/alertmanager.yml");
    for daemon in ["tocsin-a", "tocsin-b"] {
        assert!(am.contains(&format!("url: http://{daemon}:8080/api/v1/alertmanager")));
        assert!(read("ha/haproxy.cfg").contains(&format!("{daemon}:8080 check")));
    }
    assert!(read("ha/haproxy.cfg").contains("option httpchk GET /readyz"));
}

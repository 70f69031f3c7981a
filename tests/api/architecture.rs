//! The invariants of ARCHITECTURE.md, checked by reading the sources.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// (file relative to src/, its text) for every source file.
fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&p).expect("read"))
        })
        .collect()
}

/// Test-only files may use what the module itself must not.
fn is_test_file(rel: &str) -> bool {
    rel.ends_with("tests.rs") || rel.ends_with("test_server.rs")
}

fn mentions(text: &str, what: &str) -> bool {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .any(|l| l.contains(&format!("{what}::")) || l.contains(&format!("use {what}")))
}

fn check(allowed: &[&str], what: &str) {
    let offenders: Vec<_> = sources()
        .into_iter()
        .filter(|(rel, text)| !is_test_file(rel) && mentions(text, what))
        .filter(|(rel, _)| !allowed.iter().any(|a| rel.starts_with(a)))
        .map(|(rel, _)| rel)
        .collect();
    assert!(
        offenders.is_empty(),
        "{what} used outside {allowed:?}: {offenders:?}"
    );
}

#[test]
fn only_store_knows_sql() {
    check(&["store/"], "rusqlite");
}

#[test]
fn only_doors_and_wiring_know_axum() {
    check(&["http/", "web/", "app.rs"], "axum");
}

#[test]
fn only_notify_and_cli_make_http_calls() {
    // web/oidc.rs: the identity provider's discovery, token and keys, the
    // one call out that is not a notification.
    check(&["notify/", "cli/", "app.rs", "web/oidc.rs"], "reqwest");
}

#[test]
fn pure_modules_do_not_read_the_clock_or_do_io() {
    let pure = [
        "ingest/",
        "routing/",
        "config/model.rs",
        "duration.rs",
        "when.rs",
        "reports.rs",
        "incident/",
        "escalation/policy",
        "escalation/targets",
        "escalation/fallback",
        "escalation/ack_timeout",
        "notify/reply",
        "notify/message",
        "notify/twilio_sig",
        "notify/ack_token",
        "notify/twiml",
    ];
    for (rel, text) in sources() {
        if !pure.iter().any(|p| rel.starts_with(p)) || is_test_file(&rel) {
            continue;
        }
        for banned in [
            "tokio::",
            "Utc::now",
            "SystemTime",
            "std::fs",
            "TcpStream",
            "TcpListener",
            "UdpSocket",
        ] {
            let code: String = text
                .lines()
                .take_while(|l| !l.contains("#[cfg(test)]"))
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                !code.contains(banned),
                "{rel} is pure but mentions {banned}"
            );
        }
    }
}

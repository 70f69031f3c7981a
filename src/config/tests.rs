//! One test per validation rule, each checking the message and position.

use std::path::{Path, PathBuf};

use super::*;

/// A small valid configuration; cases replace or append to it.
const BASE: &str = r##"timezone: Europe/Berlin
people:
  - id: alice
    phone: "+4915110000001"
    working_hours: ["mon-fri 09:00-18:00"]
  - id: bob
    email: bob@example.com
teams:
  - id: web
    lead: alice
    members: [alice, bob]
clients:
  - id: acme
    channel: { type: log, name: "#acme" }
projects:
  - id: shop
    client: acme
    team: web
    responders: [bob]
escalation_policies:
  - id: default
    steps:
      - notify: nearest
        via: [sms]
        wait: 5m
integrations:
  - id: prom
    type: alertmanager
    token_sha256: 0000000000000000000000000000000000000000000000000000000000000000
    project: shop
"##;

fn env(k: &str) -> Option<String> {
    match k {
        "TWILIO_TOKEN" => Some("tw-secret".into()),
        "INTEGRATION_TOKEN" => Some("a-long-enough-integration-token".into()),
        "LISTEN" => Some("127.0.0.1:9999".into()),
        "ACME_HOOK" => Some("https://hooks.example/acme".into()),
        "SLACK_BOT" => Some("xoxb-1".into()),
        "SLACK_SIGNING" => Some("signing".into()),
        "DATABASE_URL" => Some("postgres://tocsin@db.internal/tocsin".into()),
        _ => None,
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, text).expect("write");
    p
}

fn load_text(text: &str) -> (tempfile::TempDir, Result<Roster, ConfigErrors>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = write(dir.path(), "tocsin.yaml", text);
    let r = load_with_env(&main, &env);
    (dir, r)
}

/// Expects exactly these errors: (line, column, part of the message).
fn check(text: &str, expected: &[(u64, u64, &str)]) {
    let (_d, result) = load_text(text);
    let errors = match result {
        Ok(_) => panic!("expected errors {expected:?}, got a valid config"),
        Err(e) => e.0,
    };
    let got: Vec<_> = errors
        .iter()
        .map(|e| (e.line, e.column, e.message.clone()))
        .collect();
    assert_eq!(got.len(), expected.len(), "got {got:#?}");
    for ((l, c, m), (el, ec, em)) in got.iter().zip(expected) {
        assert!(m.contains(em), "message {m:?} should contain {em:?}");
        assert_eq!((l, c), (el, ec), "position of {m:?}");
    }
    for e in &errors {
        assert!(e.to_string().starts_with(&format!("{}:", e.file.display())));
    }
}

fn base_with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE lacks {from:?}");
    BASE.replacen(from, to, 1)
}

#[test]
fn base_config_is_valid() {
    let (_d, r) = load_text(BASE);
    let r = r.expect("valid");
    assert_eq!(r.people.len(), 2);
    assert_eq!(r.projects["shop"].escalation_policy, "default");
    assert_eq!(r.server.max_body_bytes, 1 << 20);
    assert_eq!(r.server.max_connections, 512);
    assert_eq!(r.server.header_timeout.as_secs(), 10);
    assert_eq!(r.server.body_timeout.as_secs(), 30);
}

#[test]
fn server_connection_limits_are_bounded() {
    let (_d, r) = load_text(&format!(
        "{BASE}server:\n  max_connections: 64\n  header_timeout: 2s\n  body_timeout: 1m\n"
    ));
    let r = r.expect("valid");
    assert_eq!(r.server.max_connections, 64);
    assert_eq!(r.server.header_timeout.as_secs(), 2);
    assert_eq!(r.server.body_timeout.as_secs(), 60);
    for (yaml, column, message) in [
        (
            "max_connections: 0",
            20,
            "server.max_connections must be between 1 and 100000",
        ),
        (
            "max_connections: 100001",
            20,
            "server.max_connections must be between 1 and 100000",
        ),
        (
            "header_timeout: 6m",
            19,
            "server.header_timeout must be at most 300s",
        ),
        (
            "header_timeout: soon",
            19,
            "server.header_timeout: invalid duration",
        ),
        (
            "body_timeout: 11m",
            17,
            "server.body_timeout must be at most 600s",
        ),
    ] {
        check(
            &format!("{BASE}server:\n  {yaml}\n"),
            &[(32, column, message)],
        );
    }
}

#[test]
fn demo_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tocsin.yaml");
    let r = load_with_env(&path, &|_| None).unwrap_or_else(|e| panic!("demo config: {e}"));
    assert!(
        r.people.len() >= 6 && r.teams.len() >= 2 && r.projects.len() >= 3 && r.clients.len() >= 2
    );
    assert!(!r.schedules.is_empty() && r.integrations.len() >= 2);
    let zones: std::collections::BTreeSet<_> =
        r.people.values().map(|p| p.timezone.name()).collect();
    assert!(zones.len() >= 2, "people in two time zones");
}

#[test]
fn syntax_and_type_errors_have_positions() {
    check("people: [\n", &[(1, 9, "unclosed bracket")]);
    check(
        "server:\n  max_body_bytes: lots\n",
        &[(2, 19, "invalid u64")],
    );
}

#[test]
fn unknown_keys_are_errors() {
    check(
        &base_with("  - id: bob\n", "  - id: bob\n    nickname: bobby\n"),
        &[(7, 5, "unknown field `nickname`")],
    );
    check(
        &format!("{BASE}colour: blue\n"),
        &[(31, 1, "unknown field `colour`")],
    );
}

#[test]
fn phone_must_be_e164() {
    check(
        &base_with("\"+4915110000001\"", "\"015110000001\""),
        &[(4, 12, "not in E.164 form")],
    );
}

#[test]
fn email_must_be_an_address() {
    check(
        &base_with("bob@example.com", "bob-at-example"),
        &[(7, 12, "not an email address")],
    );
}

#[test]
fn time_zones_are_checked() {
    check(
        &base_with("timezone: Europe/Berlin", "timezone: Mars/Olympus"),
        &[(1, 11, "unknown time zone")],
    );
}

#[test]
fn working_hours_syntax_is_checked() {
    check(
        &base_with("mon-fri 09:00-18:00", "someday 09:00-18:00"),
        &[(5, 21, "working hours")],
    );
}

#[test]
fn cron_expressions_are_checked() {
    check(
        &base_with(
            "    members: [alice, bob]\n",
            "    members: [alice, bob]\n    digest: \"every monday\"\n",
        ),
        &[(12, 13, "invalid cron expression")],
    );
}

#[test]
fn durations_are_checked() {
    check(
        &base_with("wait: 5m", "wait: 5 minutes"),
        &[(25, 15, "unknown unit")],
    );
}

#[test]
fn sms_max_segments_is_one_to_ten() {
    let (_d, r) = load_text(BASE);
    assert_eq!(r.expect("valid").limits.sms_max_segments, 3, "the default");
    let (_d, r) = load_text(&format!("{BASE}limits:\n  sms_max_segments: 10\n"));
    assert_eq!(r.expect("valid").limits.sms_max_segments, 10);
    for bad in ["0", "11"] {
        check(
            &format!("{BASE}limits:\n  sms_max_segments: {bad}\n"),
            &[(32, 21, "limits.sms_max_segments must be between 1 and 10")],
        );
    }
}

#[test]
fn duplicate_ids_are_errors() {
    check(
        &base_with(
            "  - id: bob\n",
            "  - id: alice\n    chat: \"@a\"\n  - id: bob\n",
        ),
        &[(6, 9, "duplicate person id \"alice\"")],
    );
}

#[test]
fn dangling_references_are_errors() {
    check(
        &base_with("members: [alice, bob]", "members: [alice, alcie]"),
        &[(11, 22, "team \"web\" names unknown person \"alcie\"")],
    );
    check(
        &base_with("responders: [bob]", "responders: [bobby]"),
        &[(19, 18, "names unknown person \"bobby\"")],
    );
    check(
        &base_with(
            "    team: web\n    responders",
            "    team: webb\n    responders",
        ),
        &[(18, 11, "names unknown team \"webb\"")],
    );
    check(
        &base_with(
            "    responders: [bob]\n",
            "    responders: [bob]\n    escalation_policy: urgent\n",
        ),
        &[(20, 24, "unknown escalation policy \"urgent\"")],
    );
    check(
        &base_with("notify: nearest", "notify: person:zed"),
        &[(23, 17, "notifies unknown person \"zed\"")],
    );
}

#[test]
fn team_without_lead_is_an_error() {
    check(
        &base_with("    lead: alice\n", ""),
        &[(9, 9, "team \"web\" has no lead")],
    );
}

#[test]
fn person_who_cannot_be_paged_is_an_error() {
    check(
        &base_with("    email: bob@example.com\n", ""),
        &[(6, 9, "cannot be paged")],
    );
}

#[test]
fn notify_rules_are_checked_where_written() {
    check(
        &base_with(
            "    email: bob@example.com\n",
            "    email: bob@example.com\n    notify: [{via: [sms]}, {via: [email], after: soon}]\n",
        ),
        &[
            (8, 14, "notify rule via: bob has no address for sms"),
            (8, 50, "notify rule after: invalid duration"),
        ],
    );
    // In the order they page, the first at once.
    check(
        &base_with(
            "    email: bob@example.com
",
            "    email: bob@example.com
    notify: [{via: [email], after: 45m}]
",
        ),
        &[(8, 36, "the first rule pages at once")],
    );
    check(
        &base_with(
            "    email: bob@example.com
",
            "    email: bob@example.com
    notify: [{via: [email]}, {via: [email], after: 5m}, {via: [email], after: 2m}]
",
        ),
        &[(8, 79, "sooner than the rule before it")],
    );
}

#[test]
fn channel_needs_contact() {
    check(
        &base_with(
            "    email: bob@example.com\n",
            "    email: bob@example.com\n    channels: [sms]\n",
        ),
        &[(8, 16, "channel sms needs a phone")],
    );
}

#[test]
fn slack_app_needs_channel_and_signing_secret_and_chat_ids_load() {
    let app = "providers:\n  chat: { type: slack, bot_token: \"${SLACK_BOT}\", channel: C0ONCALL, signing_secret: \"${SLACK_SIGNING}\" }\n";
    let ids = "    email: bob@example.com\n    slack_id: U0BOB\n    mattermost_id: mm-bob\n    telegram_id: \"111\"\n";
    let (_d, r) = load_text(&(base_with("    email: bob@example.com\n", ids) + app));
    let r = r.expect("valid");
    assert_eq!(r.providers.chat.channel.as_deref(), Some("C0ONCALL"));
    assert!(r.providers.chat.signing_secret.is_some());
    let bob = &r.people["bob"].chat_ids;
    assert_eq!(
        (
            bob.slack.as_deref(),
            bob.mattermost.as_deref(),
            bob.telegram.as_deref()
        ),
        (Some("U0BOB"), Some("mm-bob"), Some("111"))
    );
    check(
        &base_with(
            "    working_hours: [\"mon-fri 09:00-18:00\"]\n",
            "    working_hours: [\"mon-fri 09:00-18:00\"]\n    slack_id: U0BOB\n",
        )
        .replace("    email: bob@example.com\n", ids),
        &[(9, 15, "slack_id \"U0BOB\" is also \"alice\"'s")],
    );
    check(
        &format!("{BASE}providers:\n  chat: {{ type: slack, bot_token: \"${{SLACK_BOT}}\" }}\n"),
        &[(32, 9, "a slack app needs channel and signing_secret")],
    );
    check(
        &format!(
            "{BASE}providers:\n  chat: {{ type: slack, bot_token: \"${{SLACK_BOT}}\", channel: C1, signing_secret: plain }}\n"
        ),
        &[(32, 80, "signing_secret must not be written in the file")],
    );
}

#[test]
fn secrets_must_not_be_literal() {
    let text = format!(
        "{BASE}providers:\n  sms:\n    type: twilio\n    account_sid: AC123\n    auth_token: hunter2\n    from: \"+15005550006\"\n"
    );
    check(
        &text,
        &[(35, 17, "auth_token must not be written in the file")],
    );
}

#[test]
fn env_interpolation_and_missing_variables() {
    let ok = format!(
        "server:\n  listen: ${{LISTEN}}\n{BASE}providers:\n  sms:\n    type: twilio\n    account_sid: AC123\n    auth_token: ${{TWILIO_TOKEN}}\n    from: \"+15005550006\"\n"
    );
    let (_d, r) = load_text(&ok);
    let r = r.expect("valid");
    assert_eq!(r.server.listen.port(), 9999);
    match &r.providers.sms[0] {
        Provider::Twilio(t) => assert_eq!(t.auth_token.expose(), "tw-secret"),
        other => panic!("expected twilio, got {other:?}"),
    }
    check(
        &format!("server:\n  listen: ${{NOPE}}\n{BASE}"),
        &[(2, 11, "environment variable NOPE is not set")],
    );
}

#[test]
fn tokens_from_env_files_and_hashes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "secrets/prom.token", "file-token-0123456789\n");
    let text = base_with(
        "    token_sha256: 0000000000000000000000000000000000000000000000000000000000000000\n",
        "    token_file: secrets/prom.token\n",
    );
    let main = write(dir.path(), "tocsin.yaml", &text);
    let r = load_with_env(&main, &env).expect("valid");
    assert!(
        r.integrations["prom"]
            .token
            .matches("file-token-0123456789")
    );
    check(
        &base_with(
            "token_sha256: 0000000000000000000000000000000000000000000000000000000000000000",
            "token_sha256: 1234",
        ),
        &[(29, 19, "64 hexadecimal digits")],
    );
    check(
        &base_with(
            "token_sha256: 0000000000000000000000000000000000000000000000000000000000000000",
            "token_file: missing.token",
        ),
        &[(29, 17, "cannot read token_file")],
    );
    check(
        &base_with(
            "token_sha256: 0000000000000000000000000000000000000000000000000000000000000000",
            "token: ${LISTEN}",
        ),
        &[(29, 12, "too short")],
    );
}

#[test]
fn includes_by_glob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (people, rest) = BASE.split_at(BASE.find("teams:").expect("teams"));
    let people = people.replace("timezone: Europe/Berlin\n", "");
    write(dir.path(), "roster/people.yaml", &people);
    let main = write(
        dir.path(),
        "tocsin.yaml",
        &format!("timezone: Europe/Berlin\ninclude: [\"roster/*.yaml\"]\n{rest}"),
    );
    let r = load_with_env(&main, &env).expect("valid with include");
    assert_eq!(r.people.len(), 2);
    assert_eq!(r.files.len(), 2);
    // A missing include and main-only keys in an included file are errors.
    let main2 = write(dir.path(), "two.yaml", "include: [\"nothing/*.yaml\"]\n");
    let e = load_with_env(&main2, &env).expect_err("no match");
    assert!(e.to_string().contains("matches no file"), "{e}");
    write(dir.path(), "bad/x.yaml", "server:\n  listen: 127.0.0.1:1\n");
    let main3 = write(dir.path(), "three.yaml", "include: [\"bad/*.yaml\"]\n");
    let e = load_with_env(&main3, &env).expect_err("main only");
    assert!(
        e.to_string()
            .contains("x.yaml:2:3: server may only be set in the main configuration file"),
        "{e}"
    );
}

#[test]
fn errors_are_reported_all_at_once() {
    let text = base_with("responders: [bob]", "responders: [bobby]")
        .replace("\"+4915110000001\"", "\"12\"")
        .replace("wait: 5m", "wait: soon");
    let (_d, r) = load_text(&text);
    let errors = r.expect_err("three errors").0;
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn missing_main_file_is_an_error() {
    let e = load_with_env(Path::new("/nonexistent/tocsin.yaml"), &env).expect_err("missing");
    assert!(
        e.to_string()
            .starts_with("/nonexistent/tocsin.yaml:1:1: cannot read configuration"),
        "{e}"
    );
}

#[test]
fn two_clients_cannot_share_a_reference_prefix() {
    check(
        &base_with(
            "clients:\n",
            "clients:\n  - id: big-co\n    channel: { type: log, name: \"#b\" }\n  - id: big_co\n    channel: { type: log, name: \"#c\" }\n",
        ),
        &[(
            15,
            9,
            "client \"big_co\" has the incident reference prefix BIG-CO of client \"big-co\"",
        )],
    );
}

#[test]
fn a_configuration_without_people_or_integrations_is_refused() {
    let no_people = "no people configured";
    let no_integrations = "no integrations configured";
    let cut_before_integrations = &BASE[..BASE.find("integrations:").expect("integrations")];
    let cut_before_people = &BASE[..BASE.find("people:").expect("people")];
    for (text, expected) in [
        ("", &[no_people, no_integrations][..]),
        ("# nothing yet\n", &[no_people, no_integrations]),
        (cut_before_integrations, &[no_integrations]),
        (cut_before_people, &[no_people, no_integrations]),
    ] {
        check(
            text,
            &expected.iter().map(|m| (1, 1, *m)).collect::<Vec<_>>(),
        );
    }
}

#[test]
fn a_variable_inside_a_flow_mapping_suggests_quoting() {
    for (from, to) in [
        (
            "    channel: { type: log, name: \"#acme\" }",
            "    channel: { type: slack, url: ${ACME_HOOK}, name: \"#acme\" }",
        ),
        (
            "working_hours: [\"mon-fri 09:00-18:00\"]",
            "working_hours: [${HOURS}]",
        ),
    ] {
        let text = base_with(from, to);
        let (_d, result) = load_text(&text);
        let errors = result.expect_err("not YAML").to_string();
        assert!(
            errors.contains("quote a ${VAR} inside { } or [ ]"),
            "{to}: {errors}"
        );
    }
    // Quoted, it loads.
    let quoted = base_with(
        "    channel: { type: log, name: \"#acme\" }",
        "    channel: { type: slack, url: \"${ACME_HOOK}\", name: \"#acme\" }",
    );
    let (_d, result) = load_text(&quoted);
    result.unwrap_or_else(|e| panic!("quoted variable: {e}"));
}

#[test]
fn storage_postgres_is_a_secret_and_excludes_sqlite() {
    let (_d, r) = load_text(&format!("storage:\n  postgres: ${{DATABASE_URL}}\n{BASE}"));
    let r = r.expect("valid");
    assert_eq!(
        r.storage.postgres.as_ref().map(|u| u.expose()),
        Some("postgres://tocsin@db.internal/tocsin")
    );
    let (_d, r) = load_text(BASE);
    assert!(
        r.expect("valid").storage.postgres.is_none(),
        "SQLite by default"
    );
    check(
        &format!("storage:\n  postgres: postgres://tocsin:hunter2@db/tocsin\n{BASE}"),
        &[(2, 13, "postgres must not be written in the file")],
    );
    check(
        &format!("storage:\n  sqlite: x.db\n  postgres: ${{DATABASE_URL}}\n{BASE}"),
        &[(
            2,
            11,
            "give either storage.sqlite or storage.postgres, not both",
        )],
    );
}

#[test]
fn server_auth_is_checked_where_written() {
    let ok = format!(
        "{BASE}server:\n  auth:\n    oidc:\n      issuer: https://login.example.com/\n      client_id: tocsin\n      client_secret: ${{TWILIO_TOKEN}}\n    trusted_header:\n      header: X-Forwarded-Email\n      proxies: [10.0.0.5, \"::1\"]\n"
    );
    let (_d, r) = load_text(&ok);
    let auth = r.expect("valid").server.auth;
    let oidc = auth.oidc.expect("oidc");
    assert_eq!(oidc.issuer, "https://login.example.com");
    assert_eq!(oidc.client_secret.expose(), "tw-secret");
    let th = auth.trusted_header.expect("trusted header");
    assert_eq!(th.header, "x-forwarded-email");
    assert_eq!(th.proxies.len(), 2);
    check(
        &format!(
            "{BASE}server:\n  auth:\n    oidc:\n      issuer: http://login.example.com\n      client_secret: hunter2\n    trusted_header:\n      header: X Email\n      proxies: [10.0.0.5, proxy.local]\n"
        ),
        &[
            (
                34,
                15,
                "server.auth.oidc.issuer \"http://login.example.com\" must be an https:// URL",
            ),
            (34, 7, "server.auth.oidc is missing client_id"),
            (35, 22, "client_secret must not be written in the file"),
            (
                37,
                15,
                "server.auth.trusted_header.header \"X Email\" is not a header name",
            ),
            (
                38,
                27,
                "server.auth.trusted_header.proxies: \"proxy.local\" is not an IP address",
            ),
        ],
    );
    check(
        &format!("{BASE}server:\n  auth:\n    trusted_header:\n      header: X-Email\n"),
        &[(34, 7, "server.auth.trusted_header is missing proxies")],
    );
}

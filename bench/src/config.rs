//! The generated tocsin configuration: a roster of `people` people, one
//! project per person for alert-to-page (routed by the `project` label), a
//! bulk project for the ingest loads, three projects whose first
//! escalation step waits 1, 2 or 3 seconds for escalation-lag, and the storm
//! probe's project (its own person and policy).

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Tokens the bench authenticates with (plain text; the config holds hashes).
pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
pub const AM_TOKEN: &str = "bench-am-token-0123456789";
pub const A2P_TOKEN: &str = "bench-a2p-token-0123456789";
pub const LAG_TOKEN: &str = "bench-lag-token-0123456789";
pub const PD_TOKEN: &str = "bench-pd-token-0123456789";
pub const PROBE_TOKEN: &str = "bench-probe-token-0123456789";
/// The probe person's own token: they acknowledge their page themselves,
/// so no "who took it" SMS lands in their bundle window.
pub const PROBE_PERSON_TOKEN: &str = "bench-probe-person-token-0123";
pub const TWILIO_TOKEN: &str = "bench-twilio-auth-token-0123";

fn sha(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Where pages go: the fake Twilio on `port`, or tocsin's `log` provider.
pub enum Sms {
    Twilio { port: u16 },
    Log,
}

/// How long after opening a `failover` incident its first escalation is due.
pub const FAILOVER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The storm probe's person: no other project pages them.
pub const PROBE_PERSON: &str = "probe";

/// Id of person `i`.
pub fn person(i: usize) -> String {
    format!("p{i:04}")
}

/// Id of the alert-to-page project of person `i`.
pub fn project(i: usize) -> String {
    format!("a{i:04}")
}

/// Writes `tocsin.yaml` (and the Twilio token file) into `dir`.
pub fn write(dir: &Path, people: usize, sms: &Sms) -> anyhow::Result<std::path::PathBuf> {
    std::fs::write(dir.join("twilio.token"), TWILIO_TOKEN)?;
    let path = dir.join("tocsin.yaml");
    std::fs::write(&path, yaml(people, sms))?;
    Ok(path)
}

fn yaml(people: usize, sms: &Sms) -> String {
    let people = people.max(4);
    let mut y = String::new();
    let sms_provider = match sms {
        Sms::Twilio { port } => format!(
            "{{ type: twilio, account_sid: AC0123456789abcdef0123456789abcdef, auth_token_file: twilio.token, from: \"+15005550006\", base_url: \"http://127.0.0.1:{port}\" }}"
        ),
        Sms::Log => "{ type: log }".to_string(),
    };
    let _ = write!(
        y,
        r##"timezone: UTC
server:
  listen: 127.0.0.1:0
  public_url: http://127.0.0.1:9
  max_body_bytes: 1048576
  admins: [{admin}]
storage:
  sqlite: data/tocsin.db
limits:
  sms_bundle_window: 1s
  sms_per_hour: 1000000
providers:
  sms: {sms_provider}
  chat: {{ type: log, name: "#bench" }}
clients:
  - id: bench
    channel: {{ type: log, name: "#bench-client" }}
escalation_policies:
  - id: default
    steps:
      - {{ notify: nearest, via: [sms], wait: 1h }}
"##,
        admin = person(0),
    );
    for secs in 1..=3 {
        let _ = write!(
            y,
            "  - id: fast{secs}\n    steps:\n      - {{ notify: nearest, via: [chat], wait: {secs}s }}\n      - {{ notify: nearest, via: [chat], wait: 1h }}\n"
        );
    }
    // The failover scenario: due long enough after opening to kill a daemon first.
    let _ = write!(
        y,
        "  - id: failover\n    steps:\n      - {{ notify: nearest, via: [chat], wait: {}s }}\n      - {{ notify: nearest, via: [chat], wait: 1h }}\n",
        FAILOVER_WAIT.as_secs()
    );
    y.push_str("  - id: probe\n    steps:\n      - { notify: nearest, via: [sms], wait: 1h }\n");
    y.push_str("people:\n");
    let _ = writeln!(
        y,
        "  - {{ id: {PROBE_PERSON}, phone: \"+15559999999\", working_hours: [always], token_sha256: {} }}",
        sha(PROBE_PERSON_TOKEN)
    );
    for i in 0..people {
        let _ = write!(
            y,
            "  - {{ id: {id}, phone: \"+1555{i:07}\", chat: \"@{id}\", working_hours: [always]",
            id = person(i)
        );
        if i == 0 {
            let _ = write!(y, ", token_sha256: {}", sha(ADMIN_TOKEN));
        }
        y.push_str(" }\n");
    }
    y.push_str("teams:\n");
    for i in 0..people {
        let _ = writeln!(
            y,
            "  - {{ id: t{i:04}, lead: {p}, members: [{p}] }}",
            p = person(i)
        );
    }
    let _ = writeln!(
        y,
        "  - {{ id: t-probe, lead: {PROBE_PERSON}, members: [{PROBE_PERSON}] }}"
    );
    y.push_str("projects:\n");
    let _ = writeln!(
        y,
        "  - {{ id: probe, client: bench, team: t-probe, responders: [{PROBE_PERSON}], escalation_policy: probe }}"
    );
    y.push_str("  - { id: bulk, client: bench, team: t0000, responders: [p0000] }\n");
    for secs in 1..=3 {
        let _ = writeln!(
            y,
            "  - {{ id: lag{secs}, client: bench, team: t000{secs}, responders: [{p}], escalation_policy: fast{secs} }}",
            p = person(secs)
        );
    }
    y.push_str("  - { id: failover, client: bench, team: t0001, responders: [p0001], escalation_policy: failover }\n");
    for i in 0..people {
        let _ = writeln!(
            y,
            "  - {{ id: {}, client: bench, team: t{i:04}, responders: [{}] }}",
            project(i),
            person(i)
        );
    }
    let _ = write!(
        y,
        r#"integrations:
  - {{ id: prom, type: alertmanager, token_sha256: {am}, project: bulk }}
  - {{ id: pd, type: events_v2, token_sha256: {pd}, project: bulk }}
  - {{ id: probe, type: alertmanager, token_sha256: {probe}, project: probe }}
  - id: lag
    type: alertmanager
    token_sha256: {lag}
    project: lag1
    routes:
      - {{ matchers: ['project="lag2"'], project: lag2 }}
      - {{ matchers: ['project="lag3"'], project: lag3 }}
      - {{ matchers: ['project="failover"'], project: failover }}
  - id: a2p
    type: alertmanager
    token_sha256: {a2p}
    project: {first}
    routes:
"#,
        am = sha(AM_TOKEN),
        pd = sha(PD_TOKEN),
        lag = sha(LAG_TOKEN),
        a2p = sha(A2P_TOKEN),
        probe = sha(PROBE_TOKEN),
        first = project(0),
    );
    for i in 0..people {
        let p = project(i);
        let _ = writeln!(
            y,
            "      - {{ matchers: ['project=\"{p}\"'], project: {p} }}"
        );
    }
    y
}

//! `tocsin maintenance list|start|end`: maintenance windows over the API.
//! `start` takes the scope (`--project`, `--client` or `--integration`),
//! `--for 2h` or `--from/--to`, a `--reason`, optional `--match` label
//! matchers and `--hold-client-reports`; `end ID` ends a window early.

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::client::ApiClient;
use chrono_tz::Tz;

use super::incidents::{list_of, text, when_text};
use super::json_text;
use super::table::Table;
use crate::duration::Span;

#[derive(Debug, Subcommand)]
pub enum MaintenanceCmd {
    /// Windows in force or to come (YAML ones show their next occurrence).
    List {
        /// Print the daemon's JSON answer as is.
        #[arg(long)]
        json: bool,
    },
    /// Start a one-off window: its alerts page nobody until it ends.
    Start(StartArgs),
    /// End a window now: what still fires pages at once.
    End {
        /// The window's number (from `list`).
        #[arg(value_parser = parse_id)]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The project it covers.
    #[arg(long, group = "scope", required_unless_present_any = ["client", "integration"])]
    pub project: Option<String>,
    /// Every project of this client.
    #[arg(long, group = "scope")]
    pub client: Option<String>,
    /// What this integration sends.
    #[arg(long, group = "scope")]
    pub integration: Option<String>,
    /// How long, from now or --from (e.g. 30m, 2h).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_span, conflicts_with = "to", required_unless_present = "to")]
    pub duration: Option<String>,
    /// Start (RFC 3339 or YYYY-MM-DD HH:MM in the daemon's zone); now when absent.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End (same forms as --from).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Why pages are held (shown on every incident it holds).
    #[arg(long)]
    pub reason: String,
    /// Only alerts whose labels match (`job=backup`); repeatable.
    #[arg(long = "match", value_name = "MATCHER")]
    pub matchers: Vec<String>,
    /// Hold the client's own reports too (they page through by default).
    #[arg(long)]
    pub hold_client_reports: bool,
}

/// A window's id as `list` shows it: a number, or a configured window's
/// name (which the daemon refuses with the way to end it).
fn parse_id(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(s.to_string())
    } else {
        Err("give the window's number, as `tocsin maintenance list` shows it".into())
    }
}

fn parse_span(s: &str) -> Result<String, String> {
    Span::parse(s).map(|_| s.trim().to_string())
}

/// The POST body for `start`.
pub fn body(a: &StartArgs) -> Value {
    let mut m = Map::new();
    let fields = [
        ("project", &a.project),
        ("client", &a.client),
        ("integration", &a.integration),
        ("for", &a.duration),
        ("from", &a.from),
        ("to", &a.to),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    m.insert("reason".into(), json!(a.reason));
    if !a.matchers.is_empty() {
        m.insert("matchers".into(), json!(a.matchers));
    }
    if a.hold_client_reports {
        m.insert("client_reports".into(), json!("hold"));
    }
    Value::Object(m)
}

/// What a window covers: `project shop {job="backup"}`.
fn scope(w: &Value) -> String {
    let scope = ["project", "client", "integration"]
        .into_iter()
        .find_map(|k| w[k].as_str().map(|id| format!("{k} {id}")))
        .unwrap_or_default();
    let matchers: Vec<String> = list_of(w, "matchers").iter().map(text).collect();
    if matchers.is_empty() {
        scope
    } else {
        format!("{scope} {{{}}}", matchers.join(", "))
    }
}

/// The windows as a table.
pub fn render_list(v: &Value, tz: Tz) -> String {
    let mut t = Table::new(&["ID", "SCOPE", "FROM", "TO", "REASON", "CLIENT"]);
    for w in list_of(v, "maintenance") {
        let id = match &w["cron"] {
            Value::String(cron) => format!("{} ({cron})", text(&w["id"])),
            _ => text(&w["id"]),
        };
        let to = if w["active"] == true {
            format!("{} (now)", when_text(&w["to"], tz))
        } else {
            when_text(&w["to"], tz)
        };
        t.row(vec![
            id,
            scope(w),
            when_text(&w["from"], tz),
            to,
            text(&w["reason"]),
            text(&w["client_reports"]),
        ]);
    }
    if t.is_empty() {
        "no maintenance windows\n".to_string()
    } else {
        t.render()
    }
}

/// The flags of these verbs by the API fields they send.
const FLAGS: &[(&str, &str)] = &[
    ("project", "--project"),
    ("client", "--client"),
    ("integration", "--integration"),
    ("for", "--for"),
    ("from", "--from"),
    ("to", "--to"),
    ("reason", "--reason"),
    ("matchers", "--match"),
    ("client_reports", "--hold-client-reports"),
];

pub async fn run(api: &ApiClient, cmd: MaintenanceCmd, tz: Tz) -> anyhow::Result<()> {
    let api = &api.naming(FLAGS);
    match cmd {
        MaintenanceCmd::List { json } => {
            let v = api.get("/api/v1/maintenance", &[]).await?;
            print!(
                "{}",
                if json {
                    json_text(&v)
                } else {
                    render_list(&v, tz)
                }
            );
        }
        MaintenanceCmd::Start(args) => {
            let w = api.post("/api/v1/maintenance", &body(&args)).await?;
            // A window that starts later says when: "until" alone reads as now.
            let from = match w["active"] {
                Value::Bool(false) => format!(" from {}", when_text(&w["from"], tz)),
                _ => String::new(),
            };
            println!(
                "maintenance {} on {}{from} until {}",
                text(&w["id"]),
                scope(&w),
                when_text(&w["to"], tz)
            );
        }
        MaintenanceCmd::End { id } => {
            let v = api.delete(&format!("/api/v1/maintenance/{id}")).await?;
            let count = |key: &str| {
                let ids: Vec<String> = list_of(&v, key).iter().map(text).collect();
                match ids.len() {
                    0 => "0".to_string(),
                    n => format!("{n} (#{})", ids.join(", #")),
                }
            };
            println!(
                "maintenance {id} ended; {} paged now, {} resolved",
                count("paged"),
                count("resolved")
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_shows_scope_times_and_reason() {
        let v = json!({"maintenance": [
            {"id": "backup", "project": "shop", "matchers": ["job=\"backup\""], "cron": "0 2 * * *",
             "from": "2026-11-26T01:00:00Z", "to": "2026-11-26T02:00:00Z", "active": false,
             "reason": "nightly backup", "client_reports": "page"},
            {"id": 3, "client": "acme", "matchers": [], "cron": null,
             "from": "2026-11-25T09:00:00Z", "to": "2026-11-25T11:00:00Z", "active": true,
             "reason": "db migration", "client_reports": "hold"},
        ]});
        let out = render_list(&v, chrono_tz::Europe::Berlin);
        for part in [
            "backup (0 2 * * *)",
            "project shop {job=\"backup\"}",
            "client acme",
            "Wed 25 Nov 12:00 CET (now)",
            "db migration",
            "hold",
        ] {
            assert!(out.contains(part), "{part:?} missing from\n{out}");
        }
        assert_eq!(
            render_list(&json!({"maintenance": []}), chrono_tz::UTC),
            "no maintenance windows\n"
        );
    }
}

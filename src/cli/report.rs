//! `tocsin report [--from --to --by project|client|team|person] [--csv]`:
//! the figures of `GET /api/v1/reports` as a table (durations like `4m30s`)
//! or as CSV (durations in seconds, one column per channel), or `--json`.

use chrono_tz::Tz;
use clap::Args;
use serde_json::Value;

use super::client::ApiClient;
use super::incidents::{list_of, text, when_text};
use super::table::Table;
use crate::duration::Span;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Start (RFC 3339 or YYYY-MM-DD [HH:MM] in the daemon's zone) [default: 30 days before --to].
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End, not included (same forms as --from) [default: now].
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Group by project, client, team or person.
    #[arg(long, default_value = "project", value_parser = ["project", "client", "team", "person"])]
    pub by: String,
    /// Comma-separated values instead of a table.
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// The API's JSON.
    #[arg(long)]
    pub json: bool,
}

/// The channels that get a CSV column of their own, in this order.
const CHANNELS: [&str; 4] = ["sms", "voice", "email", "chat"];

const CSV_HEADER: [&str; 17] = [
    "incidents",
    "acknowledged",
    "resolved",
    "mtta_p50_seconds",
    "mtta_p90_seconds",
    "mttr_p50_seconds",
    "mttr_p90_seconds",
    "pages",
    "pages_sms",
    "pages_voice",
    "pages_email",
    "pages_chat",
    "night_pages",
    "postmortems_due",
    "postmortems_overdue",
    "actions_open",
    "actions_overdue",
];

pub async fn run(api: &ApiClient, a: ReportArgs, tz: Tz) -> anyhow::Result<()> {
    let query = [
        ("from", a.from.as_deref()),
        ("to", a.to.as_deref()),
        ("by", Some(a.by.as_str())),
    ];
    let api = api.naming(&[("from", "--from"), ("to", "--to"), ("by", "--by")]);
    let v = api.get("/api/v1/reports", &query).await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if a.csv {
        print!("{}", render_csv(&v));
    } else {
        print!("{}", render(&v, tz));
    }
    Ok(())
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn total_pages(g: &Value) -> u64 {
    g["pages"]
        .as_object()
        .map_or(0, |m| m.values().map(count).sum())
}

/// Seconds as `4m30s`; `-` when there is no sample.
fn duration(v: &Value) -> String {
    match v.as_u64() {
        Some(0) => "0s".into(),
        Some(s) => Span::from_secs(s).to_string(),
        None => "-".into(),
    }
}

/// `sms 2, voice 1`, or `-`.
fn pages(g: &Value) -> String {
    let parts: Vec<String> = g["pages"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(channel, n)| format!("{channel} {}", count(n)))
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// The report as a table, with the range on the first line (in the
/// reader's zone `tz`).
pub fn render(v: &Value, tz: Tz) -> String {
    let by = text(&v["by"]).to_uppercase();
    let mut t = Table::new(&[
        &by,
        "INCIDENTS",
        "ACKED",
        "MTTA p50/p90",
        "MTTR p50/p90",
        "PAGES",
        "NIGHT",
        "PM DUE",
        "PM LATE",
        "ACTIONS",
        "LATE",
    ]);
    for g in list_of(v, "groups") {
        let both = |k: &str| {
            format!(
                "{}/{}",
                duration(&g[k]["p50_seconds"]),
                duration(&g[k]["p90_seconds"])
            )
        };
        t.row(vec![
            text(&g["key"]),
            count(&g["incidents"]).to_string(),
            count(&g["acknowledged"]).to_string(),
            both("mtta"),
            both("mttr"),
            pages(g),
            count(&g["night_pages"]).to_string(),
            count(&g["postmortems_due"]).to_string(),
            count(&g["postmortems_overdue"]).to_string(),
            count(&g["actions_open"]).to_string(),
            count(&g["actions_overdue"]).to_string(),
        ]);
    }
    let range = format!(
        "{} to {}\n",
        when_text(&v["from"], tz),
        when_text(&v["to"], tz)
    );
    if t.is_empty() {
        format!("{range}nothing in this range\n")
    } else {
        format!("{range}{}", t.render())
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The report as CSV: a header, then one line per group.
pub fn render_csv(v: &Value) -> String {
    let mut out = format!("{},{}\n", field(&text(&v["by"])), CSV_HEADER.join(","));
    for g in list_of(v, "groups") {
        let secs = |k: &str, p: &str| g[k][p].as_u64().map(|s| s.to_string()).unwrap_or_default();
        let mut cells = vec![
            field(&text(&g["key"])),
            count(&g["incidents"]).to_string(),
            count(&g["acknowledged"]).to_string(),
            count(&g["resolved"]).to_string(),
            secs("mtta", "p50_seconds"),
            secs("mtta", "p90_seconds"),
            secs("mttr", "p50_seconds"),
            secs("mttr", "p90_seconds"),
            total_pages(g).to_string(),
        ];
        cells.extend(CHANNELS.iter().map(|c| count(&g["pages"][c]).to_string()));
        for k in [
            "night_pages",
            "postmortems_due",
            "postmortems_overdue",
            "actions_open",
            "actions_overdue",
        ] {
            cells.push(count(&g[k]).to_string());
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Value {
        json!({
            "from": "2026-10-01T00:00:00Z",
            "to": "2026-11-01T00:00:00Z",
            "by": "client",
            "groups": [{
                "key": "acme, inc",
                "incidents": 3, "acknowledged": 2, "resolved": 1,
                "mtta": {"p50_seconds": 240, "p90_seconds": 3660},
                "mttr": {"p50_seconds": null, "p90_seconds": null},
                "pages": {"sms": 2, "push": 1},
                "night_pages": 2,
                "postmortems_due": 1, "postmortems_overdue": 0,
                "actions_open": 1, "actions_overdue": 1,
            }],
        })
    }

    #[test]
    fn renders_a_table_and_csv() {
        let table = render(&report(), chrono_tz::Europe::Berlin);
        assert_eq!(
            table,
            "Thu 01 Oct 02:00 CEST to Sun 01 Nov 01:00 CET\n\
             CLIENT     INCIDENTS  ACKED  MTTA p50/p90  MTTR p50/p90  PAGES          NIGHT  PM DUE  PM LATE  ACTIONS  LATE\n\
             acme, inc  3          2      4m/1h1m       -/-           push 1, sms 2  2      1       0        1        1\n"
        );
        assert_eq!(
            render_csv(&report()),
            format!(
                "client,{}\n\"acme, inc\",3,2,1,240,3660,,,3,2,0,0,0,2,1,0,1,1\n",
                CSV_HEADER.join(",")
            )
        );
        let empty = json!({"from": "a", "to": "b", "by": "team", "groups": []});
        assert_eq!(
            render(&empty, chrono_tz::UTC),
            "a to b\nnothing in this range\n"
        );
    }
}

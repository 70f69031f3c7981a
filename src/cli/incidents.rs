//! `tocsin incidents …`: list, show, the state actions, status updates and
//! the diagnosis. Calls the API through `client`; the rendering functions
//! are pure (the caller passes `now`) and know nothing of HTTP.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use super::client::{ApiClient, Refusal};
use super::json_text;
use super::table::{Table, age, local_timestamp, truncate};
use crate::incident::reference::{self, Key};

/// The incident subcommands.
#[derive(Debug, Subcommand)]
pub enum IncidentsCmd {
    /// List incidents (open ones unless --state says otherwise).
    List {
        #[arg(long, value_enum, default_value_t = StateArg::Open)]
        state: StateArg,
        /// Whole titles, however long (cut to 60 characters otherwise).
        #[arg(long)]
        wide: bool,
        /// Print the daemon's JSON answer as is.
        #[arg(long)]
        json: bool,
    },
    /// Show one incident with its alerts and timeline.
    Show {
        id: IncidentId,
        /// Print the daemon's JSON answer as is.
        #[arg(long)]
        json: bool,
        /// Timeline details in full, not cut to fit a terminal line.
        #[arg(long)]
        wide: bool,
    },
    /// Acknowledge: stop paging, take it on.
    Ack {
        id: IncidentId,
        /// A note kept on the timeline.
        #[arg(long)]
        note: Option<String>,
    },
    /// Resolve.
    Resolve {
        id: IncidentId,
        /// How it was fixed, kept on the timeline (the postmortem starts from it).
        #[arg(long)]
        note: Option<String>,
    },
    /// Downgrade to non-urgent: stop paging without resolving.
    Downgrade {
        id: IncidentId,
        /// Why it can wait, kept on the timeline.
        #[arg(long)]
        note: Option<String>,
    },
    /// Write a note on the timeline (nobody is sent anything).
    Note { id: IncidentId, text: String },
    /// Bring in the next escalation step now.
    Escalate { id: IncidentId },
    /// Post a status update to the client channel.
    Update { id: IncidentId, text: String },
    /// Hand the incident to another person (by roster id).
    Assign { id: IncidentId, person: String },
    /// Record the diagnosis: layer, reproducibility, seriousness, ticket.
    Diagnose(DiagnoseArgs),
}

/// `--state` values, as the API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    Open,
    All,
    Triggered,
    Acknowledged,
    Resolved,
    Downgraded,
    Suppressed,
}

/// `yes` or `no` on the command line, a boolean on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum YesNo {
    Yes,
    No,
}

impl YesNo {
    fn as_bool(self) -> bool {
        self == YesNo::Yes
    }
}

/// An incident (or postmortem) number: `42` or `#42`, never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Number(pub u64);

impl std::str::FromStr for Number {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.trim_start_matches('#')
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Number)
            .ok_or_else(|| format!("{s:?} is not a number like 42"))
    }
}

/// An incident as the daemon accepts it: its number (`42`, `#42`) or the
/// client's reference (`ACME-7`, any case), passed through as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentId(String);

impl std::str::FromStr for IncidentId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match Key::parse(s) {
            Some(Key::Number(n)) => Ok(IncidentId(n.to_string())),
            Some(Key::Reference { prefix, seq }) => Ok(IncidentId(reference::format(&prefix, seq))),
            None => Err(format!(
                "{s:?} is not an incident number like 42 or a reference like ACME-7"
            )),
        }
    }
}

impl std::fmt::Display for IncidentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("what")
        .required(true)
        .multiple(true)
        .args(["layer", "reproducible", "serious", "reason", "ticket", "severity"])
))]
pub struct DiagnoseArgs {
    pub id: IncidentId,
    /// application, infrastructure, third_party, content or unknown.
    #[arg(long, value_parser = ["application", "infrastructure", "third_party", "content", "unknown"])]
    pub layer: Option<String>,
    #[arg(long, value_enum)]
    pub reproducible: Option<YesNo>,
    #[arg(long, value_enum)]
    pub serious: Option<YesNo>,
    /// Why it is (or is not) serious.
    #[arg(long)]
    pub reason: Option<String>,
    /// The provider's ticket reference.
    #[arg(long)]
    pub ticket: Option<String>,
    /// critical, major, minor or info.
    #[arg(long, value_parser = ["critical", "major", "minor", "info"])]
    pub severity: Option<String>,
}

/// The flags and arguments of the incident verbs by the API fields they send.
const FLAGS: &[(&str, &str)] = &[
    ("state", "--state"),
    ("note", "--note"),
    ("text", "TEXT"),
    ("person", "PERSON"),
    ("layer", "--layer"),
    ("reproducible", "--reproducible"),
    ("serious", "--serious"),
    ("serious_reason", "--reason"),
    ("provider_ticket", "--ticket"),
    ("severity", "--severity"),
];

/// Runs one incident subcommand, printing its result on stdout.
pub async fn run(api: &ApiClient, cmd: IncidentsCmd, tz: Tz) -> anyhow::Result<()> {
    let api = &api.naming(FLAGS);
    let now = Utc::now();
    match cmd {
        IncidentsCmd::List { state, wide, json } => {
            let name = state.to_possible_value().map(|v| v.get_name().to_string());
            let list = api
                .get_all(
                    "/api/v1/incidents",
                    &[("state", name.as_deref())],
                    "incidents",
                )
                .await?;
            if json {
                print!(
                    "{}",
                    json_text(&json!({"incidents": list, "next_cursor": null}))
                );
            } else {
                print!("{}", render_list(&list, now, tz, wide));
            }
        }
        IncidentsCmd::Show { id, json, wide } => {
            let v = api.get(&format!("/api/v1/incidents/{id}"), &[]).await?;
            print!(
                "{}",
                if json {
                    json_text(&v)
                } else {
                    render_show(&v, now, tz, wide)
                }
            );
        }
        IncidentsCmd::Ack { id, note } => act(api, id, "acknowledge", "acknowledged", note).await?,
        IncidentsCmd::Resolve { id, note } => act(api, id, "resolve", "resolved", note).await?,
        IncidentsCmd::Downgrade { id, note } => {
            act(api, id, "downgrade", "downgraded", note).await?
        }
        IncidentsCmd::Note { id, text } => {
            api.post(&path(&id, "notes"), &json!({"text": text}))
                .await?;
            println!("incident {id}: note kept");
        }
        IncidentsCmd::Escalate { id } => {
            api.post(&path(&id, "escalate"), &json!({"via": "cli"}))
                .await?;
            println!("incident {id}: escalation requested");
        }
        IncidentsCmd::Update { id, text } => {
            let v = api
                .post(&path(&id, "updates"), &json!({"text": text}))
                .await?;
            match v["withheld"].as_str() {
                Some(why) => println!(
                    "incident {id}: update kept on the timeline, not posted to the client: {why}"
                ),
                None => println!("incident {id}: update posted to the client's channel"),
            }
        }
        IncidentsCmd::Assign { id, person } => {
            api.post(&path(&id, "assign"), &json!({"person": person}))
                .await?;
            println!("incident {id}: assigned to {person}");
        }
        IncidentsCmd::Diagnose(args) => {
            let v = api
                .patch(
                    &format!("/api/v1/incidents/{}", args.id),
                    &diagnosis_body(&args),
                )
                .await?;
            println!("incident {}: diagnosis recorded", args.id);
            print!("{}", render_diagnosis(&v["incident"]));
        }
    }
    Ok(())
}

fn path(id: &IncidentId, verb: &str) -> String {
    format!("/api/v1/incidents/{id}/{verb}")
}

async fn act(
    api: &ApiClient,
    id: IncidentId,
    verb: &str,
    done: &str,
    note: Option<String>,
) -> anyhow::Result<()> {
    let mut body = json!({"via": "cli"});
    if let Some(note) = note {
        body["note"] = json!(note);
    }
    let answer = match api.post(&path(&id, verb), &body).await {
        Ok(v) => Ok(v),
        Err(e) => match e.downcast::<Refusal>() {
            Ok(r) => Err(r),
            Err(other) => return Err(other),
        },
    };
    println!("{}", action_line(&id, done, answer)?);
    Ok(())
}

/// `incident 3 acknowledged`, or `… was already acknowledged` when the
/// daemon reports no change or refuses because the incident is in that
/// state already (a second resolve), so a repeated action is no error.
pub fn action_line(
    id: &IncidentId,
    done: &str,
    answer: Result<Value, Refusal>,
) -> Result<String, Refusal> {
    match answer {
        Ok(v) if v["changed"] == Value::Bool(false) => {
            Ok(format!("incident {id} was already {done}"))
        }
        Ok(_) => Ok(format!("incident {id} {done}")),
        Err(r) if r.status == 409 && r.state.as_deref() == Some(done) => {
            Ok(format!("incident {id} was already {done}"))
        }
        Err(r) => Err(r),
    }
}

/// The PATCH body: only the fields given.
pub fn diagnosis_body(a: &DiagnoseArgs) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put("layer", a.layer.clone().map(Value::String));
    put("reproducible", a.reproducible.map(|y| y.as_bool().into()));
    put("serious", a.serious.map(|y| y.as_bool().into()));
    put("serious_reason", a.reason.clone().map(Value::String));
    put("provider_ticket", a.ticket.clone().map(Value::String));
    put("severity", a.severity.clone().map(Value::String));
    Value::Object(m)
}

/// The array under `key`, or nothing.
pub fn list_of<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// A JSON field as display text: strings bare, null and absent as `-`.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.to_string(),
    }
}

/// A JSON RFC 3339 instant.
pub fn when(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A JSON instant for reading, in the reader's zone; anything else as
/// [`text`] (`-` for null).
pub fn when_text(v: &Value, tz: Tz) -> String {
    when(v).map_or_else(|| text(v), |t| local_timestamp(t, tz))
}

/// The incident table: number, state, severity, project, age, assignee and
/// the title, cut to fit a terminal line unless `wide`. Columns are as wide
/// as their widest cell.
pub fn render_list(incidents: &[Value], now: DateTime<Utc>, tz: Tz, wide: bool) -> String {
    if incidents.is_empty() {
        return "no incidents\n".into();
    }
    let mut t = Table::new(&[
        "#", "REF", "STATE", "SEVERITY", "PROJECT", "AGE", "ASSIGNEE", "TITLE",
    ]);
    for i in incidents {
        t.row(vec![
            text(&i["id"]),
            text(&i["reference"]),
            text(&i["state"]),
            text(&i["severity"]),
            text(&i["project"]),
            when(&i["created_at"]).map_or_else(|| "-".into(), |c| age(c, now, tz)),
            text(&i["assignee"]),
            if wide {
                truncate(&text(&i["title"]), usize::MAX)
            } else {
                truncate(&text(&i["title"]), 60)
            },
        ]);
    }
    t.render()
}

/// One incident for reading: its fields, then alerts, then the timeline.
pub fn render_show(v: &Value, now: DateTime<Utc>, tz: Tz, wide: bool) -> String {
    let i = &v["incident"];
    let mut out = format!(
        "Incident {} ({}): {}\n",
        text(&i["id"]),
        text(&i["reference"]),
        text(&i["title"])
    );
    let created = when(&i["created_at"]).map_or_else(
        || "-".into(),
        |c| format!("{} ({} ago)", local_timestamp(c, tz), age(c, now, tz)),
    );
    let mut fields = vec![
        ("reference", text(&i["reference"])),
        ("state", text(&i["state"])),
        ("severity", text(&i["severity"])),
        (
            "project",
            format!("{} (client {})", text(&i["project"]), text(&i["client"])),
        ),
        ("source", text(&i["source"])),
        ("started", when_text(&i["started_at"], tz)),
        ("created", created),
        ("last seen", when_text(&i["last_seen_at"], tz)),
        ("assignee", text(&i["assignee"])),
    ];
    for (label, key) in [
        ("acknowledged", "acknowledged_at"),
        ("resolved", "resolved_at"),
        ("downgraded", "downgraded_at"),
    ] {
        if !i[key].is_null() {
            fields.push((label, when_text(&i[key], tz)));
        }
    }
    if i["critical"] == Value::Bool(false) {
        fields.push(("critical", "no (pages nobody)".into()));
    }
    for (label, key) in [
        ("layer", "layer"),
        ("reproducible", "reproducible"),
        ("serious reason", "serious_reason"),
        ("ticket", "provider_ticket"),
    ] {
        if !i[key].is_null() {
            fields.push((label, text(&i[key])));
        }
    }
    if i["serious"] == Value::Bool(true) {
        fields.push(("serious", "yes".into()));
    }
    if let Some(labels) = i["labels"].as_object().filter(|m| !m.is_empty()) {
        let pairs: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", text(v)))
            .collect();
        fields.push(("labels", pairs.join(" ")));
    }
    for link in i["links"].as_array().into_iter().flatten() {
        fields.push((
            "link",
            format!("{} <{}>", text(&link["text"]), text(&link["href"])),
        ));
    }
    for (label, value) in fields {
        out.push_str(&format!("  {label:<15}{value}\n"));
    }
    out.push_str(&section("Alerts", &alerts_table(list_of(v, "alerts"), tz)));
    out.push_str(&section(
        "Timeline",
        &timeline_table(list_of(v, "timeline"), tz, wide),
    ));
    out
}

fn section(title: &str, t: &Table) -> String {
    if t.is_empty() {
        format!("\n{title}: none\n")
    } else {
        format!("\n{title}\n{}", t.render())
    }
}

fn alerts_table(alerts: &[Value], tz: Tz) -> Table {
    let mut t = Table::new(&["STATUS", "SUMMARY", "FIRST SEEN", "LAST SEEN"]);
    for a in alerts {
        t.row(vec![
            text(&a["status"]),
            truncate(&text(&a["summary"]), 60),
            when_text(&a["first_seen"], tz),
            when_text(&a["last_seen"], tz),
        ]);
    }
    t
}

fn timeline_table(events: &[Value], tz: Tz, wide: bool) -> Table {
    let mut t = Table::new(&["AT", "ACTOR", "EVENT", "DETAIL"]);
    let width = if wide { usize::MAX } else { 80 };
    for e in events {
        t.row(vec![
            when_text(&e["at"], tz),
            text(&e["actor"]),
            text(&e["kind"]),
            truncate(&detail(&e["detail"], tz), width),
        ]);
    }
    t
}

/// A timeline detail on one line: `key=value` for the non-null values,
/// instants in the reader's zone `tz` (`due_at=Wed 25 Nov 10:02 CET`), a
/// list of people by their ids (`order=carol,alice,bob`).
pub fn detail(d: &Value, tz: Tz) -> String {
    match d {
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={}", detail_value(v, tz)))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Null => String::new(),
        other => detail_value(other, tz),
    }
}

fn detail_value(v: &Value, tz: Tz) -> String {
    match v {
        Value::String(_) if when(v).is_some() => when_text(v, tz),
        Value::Array(items) if items.iter().all(|i| i["person"].is_string()) => items
            .iter()
            .map(|i| text(&i["person"]))
            .collect::<Vec<_>>()
            .join(","),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(text).collect::<Vec<_>>().join(",")
        }
        Value::Object(_) | Value::Array(_) => v.to_string(),
        scalar => text(scalar),
    }
}

fn render_diagnosis(i: &Value) -> String {
    let mut out = String::new();
    for (label, key) in [
        ("layer", "layer"),
        ("reproducible", "reproducible"),
        ("serious", "serious"),
        ("serious reason", "serious_reason"),
        ("severity", "severity"),
        ("ticket", "provider_ticket"),
    ] {
        out.push_str(&format!("  {label:<15}{}\n", text(&i[key])));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 9, 30, 0)
            .single()
            .expect("valid")
    }

    fn incident() -> Value {
        json!({
            "id": 3, "reference": "ACME-1", "project": "shop", "client": "acme", "title": "DiskFull on a",
            "severity": "critical", "state": "acknowledged", "critical": true,
            "source": "alertmanager", "labels": {"alertname": "DiskFull"},
            "links": [{"href": "http://prom", "text": "graph"}],
            "started_at": "2026-11-25T08:53:00Z", "created_at": "2026-11-25T09:00:00Z", "last_seen_at": "2026-11-25T09:01:00Z",
            "acknowledged_at": "2026-11-25T09:02:00Z", "resolved_at": null,
            "downgraded_at": null, "assignee": "bob", "layer": null,
            "reproducible": null, "serious": false, "serious_reason": null,
            "provider_ticket": null
        })
    }

    #[test]
    fn list_renders_a_table_or_says_none() {
        assert_eq!(render_list(&[], now(), BERLIN, false), "no incidents\n");
        let mut other = incident();
        other["id"] = json!(12);
        other["reference"] = json!("ACME-2");
        other["assignee"] = Value::Null;
        other["state"] = json!("triggered");
        other["title"] = json!("x".repeat(70));
        let out = render_list(&[incident(), other.clone()], now(), BERLIN, false);
        let expected = format!(
            "#   REF     STATE         SEVERITY  PROJECT  AGE  ASSIGNEE  TITLE\n\
             3   ACME-1  acknowledged  critical  shop     30m  bob       DiskFull on a\n\
             12  ACME-2  triggered     critical  shop     30m  -         {}…\n",
            "x".repeat(59)
        );
        assert_eq!(out, expected);
        let wide = render_list(&[other], now(), BERLIN, true);
        assert!(wide.ends_with(&format!("  {}\n", "x".repeat(70))), "{wide}");
    }

    #[test]
    fn show_has_fields_alerts_and_timeline() {
        let v = json!({
            "incident": incident(),
            "alerts": [{"fingerprint": "f", "status": "firing", "summary": "DiskFull on a",
                        "first_seen": "2026-11-25T09:00:00Z", "last_seen": "2026-11-25T09:01:00Z"}],
            "timeline": [{"id": 1, "incident": 3, "at": "2026-11-25T09:02:00Z",
                          "actor": "person:bob", "kind": "acknowledged",
                          "detail": {"how": "cli", "from": "triggered", "note": null}}]
        });
        let out = render_show(&v, now(), BERLIN, false);
        for needle in [
            "Incident 3 (ACME-1): DiskFull on a\n",
            "  reference      ACME-1\n",
            "  state          acknowledged\n",
            "  project        shop (client acme)\n",
            "  started        Wed 25 Nov 09:53 CET\n",
            "  created        Wed 25 Nov 10:00 CET (30m ago)\n",
            "  acknowledged   Wed 25 Nov 10:02 CET\n",
            "  labels         alertname=DiskFull\n",
            "  link           graph <http://prom>\n",
            "\nAlerts\nSTATUS  SUMMARY        FIRST SEEN            LAST SEEN\n",
            "firing  DiskFull on a  Wed 25 Nov 10:00 CET  Wed 25 Nov 10:01 CET\n",
            "person:bob  acknowledged  from=triggered how=cli\n",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in\n{out}");
        }
        assert!(
            !out.contains("resolved "),
            "unset times are left out:\n{out}"
        );
        let empty = render_show(&json!({"incident": incident()}), now(), BERLIN, false);
        // Instants read in the reader's zone, people by id, in full with --wide.
        let routed = json!({"order": [{"person": "carol", "online": true, "reason": "inside working hours"},
                                      {"person": "alice", "online": false, "reason": "outside"}],
                            "picked": "carol"});
        assert_eq!(detail(&routed, BERLIN), "order=carol,alice picked=carol");
        let queued = json!({"channel": "sms", "due_at": "2026-11-25T09:02:00.048076426Z", "via": ["sms", "voice"]});
        assert_eq!(
            detail(&queued, BERLIN),
            "channel=sms due_at=Wed 25 Nov 10:02 CET via=sms,voice"
        );
        let long = json!({"incident": incident(), "timeline": [{"at": "2026-11-25T09:02:00Z",
            "actor": "system", "kind": "note", "detail": {"text": "x".repeat(100)}}]});
        assert!(!render_show(&long, now(), BERLIN, false).contains(&"x".repeat(100)));
        assert!(render_show(&long, now(), BERLIN, true).contains(&"x".repeat(100)));
        assert!(
            empty.contains("\nAlerts: none\n\nTimeline: none\n"),
            "{empty}"
        );
    }

    #[test]
    fn action_lines_say_when_nothing_changed() {
        let three = IncidentId("3".into());
        let refused = |state: &str| Refusal {
            status: 409,
            field: None,
            state: Some(state.into()),
            reason: format!("incident 3 is {state}"),
            errors: Vec::new(),
        };
        for (answer, expected) in [
            (Ok(json!({"changed": true})), Ok("incident 3 resolved")),
            (
                Ok(json!({"changed": false})),
                Ok("incident 3 was already resolved"),
            ),
            (Ok(json!({})), Ok("incident 3 resolved")),
            (
                Err(refused("resolved")),
                Ok("incident 3 was already resolved"),
            ),
            (Err(refused("suppressed")), Err("incident 3 is suppressed")),
        ] {
            let got = action_line(&three, "resolved", answer.clone());
            assert_eq!(
                got.map_err(|r| r.to_string()),
                expected.map(str::to_string).map_err(str::to_string),
                "{answer:?}"
            );
        }
    }

    #[test]
    fn incidents_are_named_by_number_or_reference() {
        for (input, expected) in [
            ("42", Ok("42")),
            ("#7", Ok("7")),
            ("ACME-7", Ok("ACME-7")),
            ("acme-7", Ok("ACME-7")),
            ("0", Err(())),
            ("acme", Err(())),
            ("ACME-x", Err(())),
        ] {
            let got = input.parse::<IncidentId>().map(|i| i.to_string());
            assert_eq!(got.as_deref().map_err(|_| ()), expected, "{input}");
        }
    }

    #[test]
    fn numbers_accept_a_hash() {
        for (input, expected) in [
            ("42", Ok(Number(42))),
            ("#7", Ok(Number(7))),
            ("0", Err(())),
            ("-1", Err(())),
            ("abc", Err(())),
        ] {
            assert_eq!(input.parse::<Number>().map_err(|_| ()), expected, "{input}");
        }
    }

    #[test]
    fn diagnosis_sends_only_what_was_given() {
        let mut a = DiagnoseArgs {
            id: IncidentId("1".into()),
            layer: Some("third_party".into()),
            reproducible: Some(YesNo::No),
            serious: None,
            reason: None,
            ticket: None,
            severity: None,
        };
        assert_eq!(
            diagnosis_body(&a),
            json!({"layer": "third_party", "reproducible": false})
        );
        a = DiagnoseArgs {
            layer: None,
            reproducible: None,
            serious: Some(YesNo::Yes),
            reason: Some("data loss".into()),
            ticket: Some("AWS-1".into()),
            ..a
        };
        assert_eq!(
            diagnosis_body(&a),
            json!({"serious": true, "serious_reason": "data loss", "provider_ticket": "AWS-1"})
        );
    }
}

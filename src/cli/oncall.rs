//! `tocsin oncall override|cover|overrides` and `tocsin oncall override
//! delete ID`: on-call overrides through the API. Times go to the daemon as
//! typed (it reads them in the schedule's zone) and are printed in the
//! reader's zone. Rendering is pure; who may do what is the daemon's call.

use chrono_tz::Tz;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::client::ApiClient;
use super::incidents::{list_of, text, when_text as when};
use super::json_text;
use super::table::{Table, truncate};

/// `tocsin oncall [--at TIME]`, or one of the override verbs.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct OncallArgs {
    /// When (RFC 3339); now when absent.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Print the daemon's JSON answer as is.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub cmd: Option<OncallCmd>,
}

#[derive(Debug, Subcommand)]
pub enum OncallCmd {
    /// Put a person on call in a schedule from --from to --to (yourself;
    /// anyone as the team lead or an admin); `override delete ID` removes one.
    Override(OverrideArgs),
    /// Have --by cover your shift from --from to --to.
    Cover(CoverArgs),
    /// List overrides, with their ids (running and ahead ones).
    Overrides {
        /// Only this schedule's.
        #[arg(long)]
        schedule: Option<String>,
        /// Ended and deleted ones too, with who deleted them.
        #[arg(long)]
        all: bool,
        /// Print the daemon's JSON answer as is.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct OverrideArgs {
    #[command(subcommand)]
    pub delete: Option<OverrideDelete>,
    /// The schedule's id.
    #[arg(long, required = true)]
    pub schedule: Option<String>,
    /// Who is on call instead (a person id).
    #[arg(long, required = true)]
    pub person: Option<String>,
    /// Start: 2026-11-26 09:00 (the schedule's zone) or RFC 3339.
    #[arg(long, required = true, value_name = "TIME")]
    pub from: Option<String>,
    /// End, in the same forms.
    #[arg(long, required = true, value_name = "TIME")]
    pub to: Option<String>,
    /// Why, for the others (at most 200 characters).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OverrideDelete {
    /// Delete an override by its id (kept for the audit).
    Delete { id: u64 },
}

#[derive(Debug, Args)]
pub struct CoverArgs {
    /// The schedule's id.
    #[arg(long)]
    pub schedule: String,
    /// Who covers (a person id).
    #[arg(long)]
    pub by: String,
    /// Start: 2026-11-26 09:00 (the schedule's zone) or RFC 3339.
    #[arg(long, value_name = "TIME")]
    pub from: String,
    /// End, in the same forms.
    #[arg(long, value_name = "TIME")]
    pub to: String,
    /// Why, for the others (at most 200 characters).
    #[arg(long)]
    pub reason: Option<String>,
}

/// What a create sends and the flags that named it.
struct Create<'a> {
    schedule: &'a str,
    person: &'a str,
    flags: &'static [(&'static str, &'static str)],
    from: &'a str,
    to: &'a str,
    reason: Option<&'a str>,
}

/// Runs an override verb, printing in `tz`.
pub async fn run(api: &ApiClient, cmd: OncallCmd, tz: Tz) -> anyhow::Result<()> {
    let out = match cmd {
        OncallCmd::Override(OverrideArgs {
            delete: Some(OverrideDelete::Delete { id }),
            ..
        }) => {
            let v = api.delete(&format!("/api/v1/overrides/{id}")).await?;
            match v["changed"].as_bool() {
                Some(false) => format!("override {id} was already deleted\n"),
                _ => format!("override {id} deleted\n"),
            }
        }
        OncallCmd::Override(a) => {
            let c = Create {
                schedule: a.schedule.as_deref().unwrap_or_default(),
                person: a.person.as_deref().unwrap_or_default(),
                flags: OVERRIDE_FLAGS,
                from: a.from.as_deref().unwrap_or_default(),
                to: a.to.as_deref().unwrap_or_default(),
                reason: a.reason.as_deref(),
            };
            create(api, &c, tz).await?
        }
        OncallCmd::Cover(a) => {
            let c = Create {
                schedule: &a.schedule,
                person: &a.by,
                flags: COVER_FLAGS,
                from: &a.from,
                to: &a.to,
                reason: a.reason.as_deref(),
            };
            create(api, &c, tz).await?
        }
        OncallCmd::Overrides {
            schedule,
            all,
            json,
        } => {
            let all = all.then_some("true");
            let v = api
                .naming(&[("schedule", "--schedule")])
                .get(
                    "/api/v1/overrides",
                    &[
                        ("schedule", schedule.as_deref()),
                        ("include_deleted", all),
                        ("include_past", all),
                    ],
                )
                .await?;
            if json {
                json_text(&v)
            } else {
                render_list(list_of(&v, "overrides"), tz)
            }
        }
    };
    print!("{out}");
    Ok(())
}

async fn create(api: &ApiClient, c: &Create<'_>, tz: Tz) -> anyhow::Result<String> {
    let mut body = Map::new();
    body.insert("person".into(), json!(c.person));
    body.insert("from".into(), json!(c.from));
    body.insert("to".into(), json!(c.to));
    if let Some(r) = c.reason {
        body.insert("reason".into(), json!(r));
    }
    let v = api
        .naming(c.flags)
        .post(
            &format!("/api/v1/schedules/{}/overrides", c.schedule),
            &Value::Object(body),
        )
        .await?;
    Ok(render_created(&v["override"], tz))
}

/// The flags of `override` and `cover` by the API fields they send.
const OVERRIDE_FLAGS: &[(&str, &str)] = &[
    ("person", "--person"),
    ("from", "--from"),
    ("to", "--to"),
    ("reason", "--reason"),
    ("schedule", "--schedule"),
];
const COVER_FLAGS: &[(&str, &str)] = &[
    ("person", "--by"),
    ("from", "--from"),
    ("to", "--to"),
    ("reason", "--reason"),
    ("schedule", "--schedule"),
];

/// `override 7: bob on call in web-primary from … until …`.
pub fn render_created(o: &Value, tz: Tz) -> String {
    format!(
        "override {}: {} on call in {} from {} until {}\n",
        text(&o["id"]),
        text(&o["person"]),
        text(&o["schedule"]),
        when(&o["from"], tz),
        when(&o["to"], tz)
    )
}

/// One row per override: YAML ones show `yaml` for an id; deleted ones
/// say by whom.
pub fn render_list(overrides: &[Value], tz: Tz) -> String {
    let mut t = Table::new(&["ID", "SCHEDULE", "PERSON", "FROM", "TO", "BY", "REASON"]);
    for o in overrides {
        let id = match &o["id"] {
            Value::Null => "yaml".to_string(),
            v => text(v),
        };
        let by = match (&o["created_by"], &o["deleted_by"]) {
            (Value::Null, _) => String::new(),
            (c, Value::Null) => text(c),
            (c, d) => format!("{} (deleted by {})", text(c), text(d)),
        };
        let reason = match &o["reason"] {
            Value::Null => String::new(),
            r => truncate(&text(r), 40),
        };
        t.row(vec![
            id,
            text(&o["schedule"]),
            text(&o["person"]),
            when(&o["from"], tz),
            when(&o["to"], tz),
            by,
            reason,
        ]);
    }
    if t.is_empty() {
        return "no overrides\n".into();
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_render_in_the_readers_zone() {
        let list = [
            json!({"id": null, "source": "yaml", "schedule": "pri", "person": "bob",
                   "from": "2026-11-26T08:00:00Z", "to": "2026-11-26T17:00:00Z"}),
            json!({"id": 3, "schedule": "pri", "person": "dave", "from": "2026-07-01T08:00:00Z",
                   "to": "2026-07-01T09:00:00Z", "created_by": "alice", "deleted_by": "bob",
                   "reason": "swap"}),
        ];
        assert_eq!(
            render_list(&list, chrono_tz::Europe::Berlin),
            "ID    SCHEDULE  PERSON  FROM                   TO                     BY                      REASON\n\
             yaml  pri       bob     Thu 26 Nov 09:00 CET   Thu 26 Nov 18:00 CET\n\
             3     pri       dave    Wed 01 Jul 10:00 CEST  Wed 01 Jul 11:00 CEST  alice (deleted by bob)  swap\n"
        );
        assert_eq!(render_list(&[], chrono_tz::UTC), "no overrides\n");
    }
}

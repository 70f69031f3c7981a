//! `tocsin actions add|list|done`: a postmortem's action items (the
//! measures, with an owner and a deadline) over the API. Deadlines go to the
//! daemon as typed (it reads a bare date in the team's zone) and print in
//! the reader's zone. Rendering is pure.

use chrono_tz::Tz;
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::client::ApiClient;
use super::incidents::{Number, text, when_text};
use super::json_text;
use super::table::{Table, truncate};

#[derive(Debug, Subcommand)]
pub enum ActionsCmd {
    /// Add an action item to a postmortem.
    Add {
        /// The postmortem's number.
        postmortem: Number,
        /// What is to be done.
        title: String,
        /// Who does it (a person id).
        #[arg(long)]
        assignee: String,
        /// By when: 2026-12-04 (the end of that day, the team's zone) or RFC 3339.
        #[arg(long, value_name = "DATE")]
        due: String,
        /// low, normal or high [default: high].
        #[arg(long, value_parser = ["low", "normal", "high"])]
        priority: Option<String>,
    },
    /// List action items (open ones, overdue included, unless --state says otherwise).
    List {
        #[arg(long, value_enum, default_value_t = ActionState::Open)]
        state: ActionState,
        /// Only this person's.
        #[arg(long)]
        assignee: Option<String>,
        /// Print the daemon's JSON answer as is.
        #[arg(long)]
        json: bool,
    },
    /// Mark an action item done.
    Done {
        /// The item's number (from `list`).
        id: Number,
    },
}

/// `--state` values, as the API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActionState {
    Open,
    Overdue,
    Done,
    All,
}

/// The add body, as the API names the fields.
pub fn add_body(title: &str, assignee: &str, due: &str, priority: Option<&str>) -> Value {
    let mut v = json!({"title": title, "assignee": assignee, "deadline": due});
    if let Some(p) = priority {
        v["priority"] = json!(p);
    }
    v
}

/// `action 4 (postmortem 2): Alert on memory, bob, due Fri 04 Dec 23:59 CET`.
pub fn render_one(a: &Value, tz: Tz) -> String {
    format!(
        "action {} (postmortem {}): {}, {}, due {}\n",
        text(&a["id"]),
        text(&a["postmortem"]),
        text(&a["title"]),
        text(&a["assignee"]),
        when_text(&a["deadline"], tz)
    )
}

/// One row per item, soonest deadline first (the API's order).
pub fn render_list(items: &[Value], tz: Tz) -> String {
    if items.is_empty() {
        return "no action items\n".into();
    }
    let mut t = Table::new(&[
        "#",
        "STATE",
        "DUE",
        "ASSIGNEE",
        "PRIORITY",
        "POSTMORTEM",
        "TITLE",
    ]);
    for a in items {
        t.row(vec![
            text(&a["id"]),
            text(&a["state"]),
            when_text(&a["deadline"], tz),
            text(&a["assignee"]),
            text(&a["priority"]),
            text(&a["postmortem"]),
            truncate(&text(&a["title"]), 60),
        ]);
    }
    t.render()
}

/// The flags of these verbs by the API fields they send.
const FLAGS: &[(&str, &str)] = &[
    ("title", "TITLE"),
    ("assignee", "--assignee"),
    ("deadline", "--due"),
    ("priority", "--priority"),
    ("state", "--state"),
];

pub async fn run(api: &ApiClient, cmd: ActionsCmd, tz: Tz) -> anyhow::Result<()> {
    let api = &api.naming(FLAGS);
    let out = match cmd {
        ActionsCmd::Add {
            postmortem,
            title,
            assignee,
            due,
            priority,
        } => {
            let v = api
                .post(
                    &format!("/api/v1/postmortems/{}/actions", postmortem.0),
                    &add_body(&title, &assignee, &due, priority.as_deref()),
                )
                .await?;
            render_one(&v["action"], tz)
        }
        ActionsCmd::List {
            state,
            assignee,
            json,
        } => {
            let name = state.to_possible_value().map(|v| v.get_name().to_string());
            let items = api
                .get_all(
                    "/api/v1/actions",
                    &[
                        ("state", name.as_deref()),
                        ("assignee", assignee.as_deref()),
                    ],
                    "actions",
                )
                .await?;
            if json {
                json_text(&json!({"actions": items, "next_cursor": null}))
            } else {
                render_list(&items, tz)
            }
        }
        ActionsCmd::Done { id } => {
            let v = api
                .post(&format!("/api/v1/actions/{}/done", id.0), &json!({}))
                .await?;
            match v["changed"].as_bool() {
                Some(false) => format!("action {} was already done\n", id.0),
                _ => format!("action {} done\n", id.0),
            }
        }
    };
    print!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_name_the_api_fields() {
        for (priority, expected) in [
            (
                None,
                json!({"title": "t", "assignee": "bob", "deadline": "2026-12-04"}),
            ),
            (
                Some("low"),
                json!({"title": "t", "assignee": "bob", "deadline": "2026-12-04", "priority": "low"}),
            ),
        ] {
            assert_eq!(add_body("t", "bob", "2026-12-04", priority), expected);
        }
    }

    #[test]
    fn items_render_in_the_readers_zone() {
        let a = json!({"id": 4, "postmortem": 2, "title": "Alert on memory", "assignee": "bob",
                       "deadline": "2026-12-04T22:59:59Z", "priority": "high", "state": "open"});
        let tz = chrono_tz::Europe::Berlin;
        assert_eq!(
            render_one(&a, tz),
            "action 4 (postmortem 2): Alert on memory, bob, due Fri 04 Dec 23:59 CET\n"
        );
        assert_eq!(
            render_list(std::slice::from_ref(&a), tz),
            "#  STATE  DUE                   ASSIGNEE  PRIORITY  POSTMORTEM  TITLE\n\
             4  open   Fri 04 Dec 23:59 CET  bob       high      2           Alert on memory\n"
        );
        assert_eq!(render_list(&[], tz), "no action items\n");
    }
}

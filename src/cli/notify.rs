//! `tocsin notify [show|set RULE...|reset] [--person ID]`: how a person is
//! notified by steps without `via`. A rule is written `CHANNELS[@AFTER]`:
//! `chat,sms` (at once), `voice@2m`. The person defaults to the token's
//! owner; the daemon checks every rule.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::client::{ApiClient, Refusal};
use super::incidents::{list_of, text};
use super::json_text;
use super::presence::whoami;

#[derive(Debug, Args)]
pub struct NotifyArgs {
    #[command(subcommand)]
    pub action: Option<NotifyCmd>,
    /// Whose rules; yours (the token's owner) when absent.
    #[arg(long, global = true)]
    pub person: Option<String>,
    /// Print the daemon's JSON answer as is.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCmd {
    /// Print the rules in force and where they come from.
    Show,
    /// Replace the rules: `tocsin notify set chat,sms voice@2m`.
    Set {
        #[arg(required = true, value_name = "CHANNELS[@AFTER]")]
        rules: Vec<String>,
    },
    /// Back to the rules of the configuration.
    Reset,
}

/// `voice@2m` → `{"via": ["voice"], "after": "2m"}`.
pub fn rule(text: &str) -> Value {
    let (via, after) = match text.split_once('@') {
        Some((v, a)) => (v, Some(a.trim())),
        None => (text, None),
    };
    let via: Vec<&str> = via
        .split([',', '+'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    match after {
        Some(a) => json!({"via": via, "after": a}),
        None => json!({"via": via}),
    }
}

/// The answer of the notify endpoints, for reading; `for_other`: the
/// reader is not the person (the way back then names them).
pub fn render(v: &Value, for_other: bool) -> String {
    let person = text(&v["person"]);
    let from = if v["source"] == "api" {
        let whom = if for_other {
            format!(" --person {person}")
        } else {
            String::new()
        };
        format!("set with tocsin notify; tocsin notify reset{whom} goes back to the configuration")
    } else {
        "from the configuration".to_string()
    };
    let mut out = format!("{person} is notified ({from}):\n");
    let rules = list_of(v, "rules");
    if rules.is_empty() {
        let first = list_of(v, "channels").first().map(text).unwrap_or_default();
        out.push_str(&format!("  {first} at once (their first channel)\n"));
    }
    for r in rules {
        let via: Vec<String> = list_of(r, "via").iter().map(text).collect();
        let when = match r["after"].as_str() {
            Some("0s") | None => "at once".to_string(),
            Some(a) => format!("after {a}, if nobody acknowledged"),
        };
        out.push_str(&format!("  {} {when}\n", via.join(" + ")));
    }
    out.push_str("Steps with via use their own channels.\n");
    out
}

pub async fn run(api: &ApiClient, args: NotifyArgs) -> anyhow::Result<()> {
    let for_other = args.person.is_some();
    let person = match args.person {
        Some(p) => p,
        None => whoami(api).await?,
    };
    let path = format!("/api/v1/people/{person}/notify");
    let v = match args.action.unwrap_or(NotifyCmd::Show) {
        NotifyCmd::Show => api.get(&path, &[]).await?,
        NotifyCmd::Set { rules } => {
            let body: Vec<Value> = rules.iter().map(|r| rule(r)).collect();
            let answer = api.put(&path, &json!({"rules": body})).await;
            answer.map_err(|e| typed(e, &rules))?
        }
        NotifyCmd::Reset => api.delete(&path).await?,
    };
    let shown = if args.json {
        json_text(&v)
    } else {
        render(&v, for_other)
    };
    print!("{shown}");
    Ok(())
}

/// A refused rule named as it was typed (`chat@1m`), not as the API's
/// `rules[2].after`.
fn typed(mut e: anyhow::Error, rules: &[String]) -> anyhow::Error {
    if let Some(r) = e.downcast_mut::<Refusal>()
        && let Some(field) = &r.field
        && let Some(n) = field
            .strip_prefix("rules[")
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(n, _)| n.parse::<usize>().ok())
        && let Some(rule) = rules.get(n)
    {
        r.field = Some(rule.clone());
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_as_typed() {
        for (input, expected) in [
            ("sms", json!({"via": ["sms"]})),
            ("chat,sms", json!({"via": ["chat", "sms"]})),
            (
                "chat+sms@0s",
                json!({"via": ["chat", "sms"], "after": "0s"}),
            ),
            ("voice@2m", json!({"via": ["voice"], "after": "2m"})),
        ] {
            assert_eq!(rule(input), expected, "{input}");
        }
    }

    #[test]
    fn the_answer_reads_as_a_ladder() {
        let v = json!({"person": "bob", "source": "api", "channels": ["sms"],
            "rules": [{"via": ["chat", "sms"], "after": "0s"}, {"via": ["voice"], "after": "2m"}]});
        assert_eq!(
            render(&v, false),
            "bob is notified (set with tocsin notify; tocsin notify reset goes back to the configuration):\n  \
             chat + sms at once\n  voice after 2m, if nobody acknowledged\nSteps with via use their own channels.\n"
        );
    }
}

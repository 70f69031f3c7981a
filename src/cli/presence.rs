//! `tocsin presence online|offline|clear [--for 4h] [--person ID]`: sets or
//! clears a person's presence mark for the router. The person defaults to the token's
//! owner (`GET /api/v1/whoami`). No presentation beyond one line.

use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

use super::client::ApiClient;
use crate::duration::Span;

/// Online or offline, as the API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Status {
    Online,
    Offline,
    /// Remove the mark: working hours decide again.
    Clear,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Offline => "offline",
            Status::Clear => "clear",
        }
    }
}

#[derive(Debug, Args)]
pub struct PresenceArgs {
    pub status: Status,
    /// How long it holds (e.g. 30m, 4h, 2d); until changed when absent.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_span)]
    pub ttl: Option<String>,
    /// Whose presence; yours (the token's owner) when absent.
    #[arg(long)]
    pub person: Option<String>,
}

/// Checks the duration locally (a typo is a usage error, exit 2) but sends
/// it as written, since the daemon parses the same syntax.
fn parse_span(s: &str) -> Result<String, String> {
    Span::parse(s).map(|_| s.trim().to_string())
}

/// The PUT body: `{"status": …, "ttl": …}`, the ttl only when given.
pub fn body(status: Status, ttl: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("status".into(), json!(status.as_str()));
    if let Some(t) = ttl {
        m.insert("ttl".into(), json!(t));
    }
    Value::Object(m)
}

/// The flags of these verbs by the API fields they send.
const FLAGS: &[(&str, &str)] = &[("ttl", "--for")];

pub async fn run(api: &ApiClient, args: PresenceArgs, tz: chrono_tz::Tz) -> anyhow::Result<()> {
    let api = &api.naming(FLAGS);
    let person = match args.person {
        Some(p) => p,
        None => whoami(api).await?,
    };
    let path = format!("/api/v1/presence/{person}");
    if args.status == Status::Clear {
        api.delete(&path).await?;
        println!("{person}'s presence mark is cleared: working hours decide again");
        return Ok(());
    }
    let set = api
        .put(&path, &body(args.status, args.ttl.as_deref()))
        .await?;
    match &args.ttl {
        Some(t) => println!(
            "{person} is {} until {} ({t})",
            args.status.as_str(),
            super::incidents::when_text(&set["until"], tz)
        ),
        None => println!(
            "{person} is {} until cleared (tocsin presence clear)",
            args.status.as_str()
        ),
    }
    Ok(())
}

/// The person the token belongs to.
pub async fn whoami(api: &ApiClient) -> anyhow::Result<String> {
    let v = api.get("/api/v1/whoami", &[]).await?;
    match v["person"].as_str() {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => anyhow::bail!("the daemon did not say whose token this is; pass --person ID"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_the_ttl_only_when_given() {
        for (status, ttl, expected) in [
            (
                Status::Online,
                Some("4h"),
                json!({"status": "online", "ttl": "4h"}),
            ),
            (Status::Offline, None, json!({"status": "offline"})),
        ] {
            assert_eq!(body(status, ttl), expected, "{status:?} {ttl:?}");
        }
    }

    #[test]
    fn durations_are_checked_before_sending() {
        for (input, expected) in [
            ("4h", Ok("4h".to_string())),
            (" 1h30m ", Ok("1h30m".to_string())),
            ("4 hours", Err(())),
            ("0s", Err(())),
        ] {
            assert_eq!(parse_span(input).map_err(|_| ()), expected, "{input:?}");
        }
    }
}

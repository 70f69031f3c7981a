//! The `tocsin` command line: argument parsing and the verbs. `serve` runs
//! the daemon; `check-config` validates; `check-ready` asks `/readyz`; the
//! other verbs talk to a running daemon over its HTTP API (`client`) and
//! never open the store themselves.
//! Exit codes: 0 success, 1 user error (one-line reason on stderr), 2 usage
//! error (clap's own).

pub mod actions;
pub mod client;
pub mod incidents;
pub mod maintenance;
pub mod notify;
pub mod oncall;
pub mod postmortems;
pub mod presence;
pub mod report;
pub mod routing;
pub mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use self::actions::ActionsCmd;
use self::incidents::IncidentsCmd;
use self::maintenance::MaintenanceCmd;
use self::oncall::OncallArgs;
use self::postmortems::PostmortemsCmd;
use self::presence::PresenceArgs;

#[derive(Debug, Parser)]
#[command(
    name = "tocsin",
    version,
    about = "Alert routing and on-call paging daemon"
)]
pub struct Cli {
    /// Main configuration file.
    #[arg(
        long,
        global = true,
        default_value = "config/tocsin.yaml",
        env = "TOCSIN_CONFIG"
    )]
    pub config: PathBuf,
    /// Daemon URL for the client verbs [default: http:// + server.listen
    /// from the config, else http://127.0.0.1:8080].
    #[arg(long, global = true, env = "TOCSIN_URL", value_name = "URL")]
    pub url: Option<String>,
    /// File holding your person token (instead of the TOCSIN_TOKEN variable).
    #[arg(long, global = true, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Serve,
    /// Validate the configuration and print every problem as file:line:column.
    CheckConfig,
    /// Exit 0 when the daemon answers ready on /readyz (container health checks).
    CheckReady,
    /// List, show, acknowledge, resolve, downgrade, escalate, update, diagnose.
    #[command(subcommand)]
    Incidents(IncidentsCmd),
    /// Set your presence (online or offline) for the router.
    Presence(PresenceArgs),
    /// Show or set how you are notified by steps without via (your ladder).
    Notify(notify::NotifyArgs),
    /// Explain who would be paged for a project, nearest first.
    Route {
        #[arg(long)]
        project: String,
        /// When to route for (RFC 3339); now when absent.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// Print the daemon's JSON answer as is.
        #[arg(long)]
        json: bool,
    },
    /// Who is on call, per schedule; overrides: override, cover, overrides.
    Oncall(OncallArgs),
    /// List, show, edit and move postmortems through review.
    #[command(subcommand)]
    Postmortems(PostmortemsCmd),
    /// Reload the configuration files (admins); a broken file keeps the running one.
    Reload,
    /// Add, list and close postmortem action items.
    #[command(subcommand)]
    Actions(ActionsCmd),
    /// List, start and end maintenance windows (pages held while they last).
    #[command(subcommand)]
    Maintenance(MaintenanceCmd),
    /// Incidents, MTTA, MTTR, pages and night wake-ups per project, client, team or person.
    Report(report::ReportArgs),
    /// Print a one-time link that signs you in to the web UI (15 minutes).
    Login,
    /// Copy a SQLite database into an empty PostgreSQL one, counts checked.
    MigrateStore {
        /// sqlite:PATH
        #[arg(long, value_name = "sqlite:PATH")]
        from: String,
        /// postgres:URL, or postgres: alone for the URL in $TOCSIN_DATABASE_URL
        /// (kept out of the process list).
        #[arg(long, value_name = "postgres:URL")]
        to: String,
    },
}

/// Runs the parsed command; errors become exit code 1 with one line.
pub fn run(cli: Cli) -> ExitCode {
    // What clap cannot say of a value: a usage error, exit 2.
    if let Command::Presence(a) = &cli.command
        && a.status == presence::Status::Clear
        && a.ttl.is_some()
    {
        use clap::CommandFactory;
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--for cannot be used with clear: the mark goes at once",
            )
            .exit();
    }
    let result = match cli.command {
        Command::Serve => crate::app::serve_blocking(&cli.config),
        Command::CheckConfig => check_config(&cli.config),
        Command::CheckReady => check_ready(cli.url.as_deref(), &cli.config),
        Command::MigrateStore { from, to } => migrate_store(&from, &to),
        command => run_client(
            command,
            cli.url.as_deref(),
            &cli.config,
            cli.token_file.as_deref(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tocsin: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The verbs that call a running daemon: one request or two, so a
/// single-threaded runtime is enough.
fn run_client(
    command: Command,
    url: Option<&str>,
    config: &std::path::Path,
    token_file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let token = client::token(token_file, std::env::var("TOCSIN_TOKEN").ok())?;
    let api = client::ApiClient::new(client::base_url(url, config)?, token)?;
    let tz = reader_zone(std::env::var("TZ").ok(), config);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match command {
            Command::Incidents(cmd) => incidents::run(&api, cmd, tz).await,
            Command::Presence(args) => presence::run(&api, args, tz).await,
            Command::Login => login(&api).await,
            Command::Notify(args) => notify::run(&api, args).await,
            Command::Route { project, at, json } => {
                routing::route(&api, &project, at.as_deref(), json, tz).await
            }
            Command::Oncall(OncallArgs { cmd: Some(cmd), .. }) => oncall::run(&api, cmd, tz).await,
            Command::Oncall(OncallArgs {
                at,
                json,
                cmd: None,
            }) => routing::oncall(&api, at.as_deref(), json, tz).await,
            Command::Postmortems(cmd) => postmortems::run(&api, cmd, tz).await,
            Command::Actions(cmd) => actions::run(&api, cmd, tz).await,
            Command::Reload => reload(&api).await,
            Command::Maintenance(cmd) => maintenance::run(&api, cmd, tz).await,
            Command::Report(args) => report::run(&api, args, tz).await,
            Command::Serve
            | Command::CheckConfig
            | Command::CheckReady
            | Command::MigrateStore { .. } => {
                anyhow::bail!(
                    "serve, check-config, check-ready and migrate-store do not call the API"
                )
            }
        }
    })
}

/// `tocsin migrate-store --from sqlite:PATH --to postgres:URL`.
fn migrate_store(from: &str, to: &str) -> anyhow::Result<()> {
    let Some(path) = from.strip_prefix("sqlite:") else {
        anyhow::bail!("--from: give sqlite:PATH");
    };
    let Some(url) = to.strip_prefix("postgres:") else {
        anyhow::bail!("--to: give postgres:URL (or postgres: with TOCSIN_DATABASE_URL set)");
    };
    let url = if url.is_empty() {
        std::env::var("TOCSIN_DATABASE_URL")
            .map_err(|_| anyhow::anyhow!("--to postgres: needs TOCSIN_DATABASE_URL"))?
    } else {
        url.to_string()
    };
    let counts = crate::store::transfer::sqlite_to_postgres(std::path::Path::new(path), &url)
        .map_err(|e| anyhow::anyhow!("nothing copied: {e}"))?;
    for (table, n) in &counts {
        println!("{table:<14} {n:>8}");
    }
    println!("copied; every table's count checked");
    Ok(())
}

/// `POST /api/v1/reload`: the new summary, or every problem of the files
/// on stderr and one line saying the daemon kept what it runs.
async fn reload(api: &client::ApiClient) -> anyhow::Result<()> {
    match api.post("/api/v1/reload", &serde_json::json!({})).await {
        Ok(v) => {
            println!(
                "reloaded: {}",
                v["summary"].as_str().unwrap_or("configuration OK")
            );
            Ok(())
        }
        Err(e) => match e.downcast::<client::Refusal>() {
            Ok(r) if !r.errors.is_empty() => {
                for line in &r.errors {
                    eprintln!("{line}");
                }
                anyhow::bail!(
                    "{} configuration error(s); the daemon kept its running configuration",
                    r.errors.len()
                )
            }
            Ok(r) => Err(r.into()),
            Err(other) => Err(other),
        },
    }
}

/// A daemon answer for `--json`: pretty, as the API gave it, one newline.
pub fn json_text(v: &serde_json::Value) -> String {
    let mut out = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    out.push('\n');
    out
}

/// The zone the reader reads times in: `TZ` (an IANA name, `:` prefix
/// allowed), else the configuration's `timezone`, else UTC.
fn reader_zone(tz: Option<String>, config: &std::path::Path) -> chrono_tz::Tz {
    tz.and_then(|t| t.trim_start_matches(':').parse().ok())
        .or_else(|| crate::config::load(config).ok().map(|r| r.timezone))
        .or_else(|| {
            let peeked = client::peek(config).ok()??;
            peeked.timezone?.trim().parse().ok()
        })
        .unwrap_or(chrono_tz::UTC)
}

fn check_config(path: &std::path::Path) -> anyhow::Result<()> {
    match crate::config::load(path) {
        Ok(r) => {
            println!("{}", r.summary());
            Ok(())
        }
        Err(errors) => {
            eprintln!("{errors}");
            anyhow::bail!("{} configuration error(s)", errors.0.len())
        }
    }
}

/// Needs no token: `/readyz` is public, and a health check has none.
fn check_ready(url: Option<&str>, config: &std::path::Path) -> anyhow::Result<()> {
    let base = client::base_url(url, config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(client::check_ready(&base))?;
    println!("ready");
    Ok(())
}

/// `tocsin login`: the caller's web sign-in link, on one line.
async fn login(api: &client::ApiClient) -> anyhow::Result<()> {
    let v = api
        .post("/api/v1/signin-links", &serde_json::json!({}))
        .await?;
    let url = v["url"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the daemon sent no link"))?;
    println!("{url}");
    eprintln!("Open it within 15 minutes; it works once.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parses(args: &[&str]) -> bool {
        Cli::try_parse_from(std::iter::once("tocsin").chain(args.iter().copied())).is_ok()
    }

    #[test]
    fn verbs_parse_and_usage_errors_are_refused() {
        for (args, ok) in [
            (&["serve"][..], true),
            (&["--config", "x.yaml", "check-config"], true),
            (&["--url", "http://h:1", "check-ready"], true),
            (&["incidents", "list"], true),
            (&["incidents", "list", "--state", "all"], true),
            (&["incidents", "list", "--json"], true),
            (&["incidents", "ack", "3", "--json"], false),
            (&["oncall", "--json"], true),
            (&["oncall", "overrides", "--json"], true),
            (&["route", "--project", "shop", "--json"], true),
            (&["postmortems", "show", "3", "--json"], true),
            (&["maintenance", "list", "--json"], true),
            (&["notify", "show", "--json"], true),
            (&["incidents", "list", "--state", "sleeping"], false),
            (&["--url", "http://h:1", "incidents", "show", "#4"], true),
            (&["incidents", "ack", "0"], false),
            (&["incidents", "update", "3", "back up"], true),
            (&["incidents", "diagnose", "3"], false),
            (&["incidents", "diagnose", "3", "--layer", "moon"], false),
            (
                &[
                    "incidents",
                    "diagnose",
                    "3",
                    "--serious",
                    "yes",
                    "--reason",
                    "x",
                ],
                true,
            ),
            (&["presence", "online", "--for", "4h"], true),
            (&["presence", "online", "--for", "4 hours"], false),
            (&["presence", "away"], false),
            (
                &["route", "--project", "shop", "--at", "2026-11-25T09:00:00Z"],
                true,
            ),
            (&["route"], false),
            (&["oncall", "--token-file", "/t"], true),
            (&["postmortems", "edit", "3"], true),
            (&["oncall", "--at", "2026-11-25T09:00:00Z"], true),
            (
                &[
                    "oncall",
                    "override",
                    "--schedule",
                    "s",
                    "--person",
                    "p",
                    "--from",
                    "a",
                    "--to",
                    "b",
                ],
                true,
            ),
            (
                &["oncall", "override", "--schedule", "s", "--person", "p"],
                false,
            ),
            (&["oncall", "override", "delete", "7"], true),
            (&["oncall", "override", "delete", "x"], false),
            (
                &[
                    "oncall",
                    "cover",
                    "--schedule",
                    "s",
                    "--by",
                    "p",
                    "--from",
                    "a",
                    "--to",
                    "b",
                ],
                true,
            ),
            (
                &[
                    "oncall",
                    "cover",
                    "--schedule",
                    "s",
                    "--from",
                    "a",
                    "--to",
                    "b",
                ],
                false,
            ),
            (&["oncall", "overrides"], true),
            (&["oncall", "overrides", "--schedule", "s", "--all"], true),
            (&["oncall", "--at", "x", "overrides"], false),
            (&["postmortems", "burn", "3"], false),
            (&["postmortems", "reopen", "#3"], true),
            (
                &[
                    "actions",
                    "add",
                    "3",
                    "Alert on memory",
                    "--assignee",
                    "bob",
                    "--due",
                    "2026-12-04",
                ],
                true,
            ),
            (&["actions", "add", "3", "Alert on memory"], false),
            (&["actions", "list", "--state", "overdue", "--json"], true),
            (&["actions", "list", "--state", "late"], false),
            (&["actions", "done", "4"], true),
            (&["reload"], true),
            (&["incidents", "list", "--wide"], true),
            (&["maintenance", "list"], true),
            (
                &[
                    "maintenance",
                    "start",
                    "--project",
                    "shop",
                    "--for",
                    "2h",
                    "--reason",
                    "db",
                ],
                true,
            ),
            (
                &[
                    "maintenance",
                    "start",
                    "--project",
                    "shop",
                    "--from",
                    "2026-11-25 10:00",
                    "--to",
                    "2026-11-25 12:00",
                    "--reason",
                    "db",
                ],
                true,
            ),
            (
                &[
                    "maintenance",
                    "start",
                    "--project",
                    "shop",
                    "--reason",
                    "db",
                ],
                false,
            ),
            (
                &["maintenance", "start", "--for", "2h", "--reason", "db"],
                false,
            ),
            (
                &[
                    "maintenance",
                    "start",
                    "--project",
                    "shop",
                    "--client",
                    "acme",
                    "--for",
                    "2h",
                    "--reason",
                    "db",
                ],
                false,
            ),
            (
                &[
                    "maintenance",
                    "start",
                    "--project",
                    "shop",
                    "--for",
                    "2 hours",
                    "--reason",
                    "x",
                ],
                false,
            ),
            (&["maintenance", "end", "3"], true),
            (&["maintenance", "end", "nightly-backup"], true),
            (&["maintenance", "end", "../x"], false),
        ] {
            assert_eq!(parses(args), ok, "{args:?}");
        }
    }
}

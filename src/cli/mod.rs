//! The `tocsin` command line: argument parsing and the verbs. `serve` runs
//! the daemon; `check-config` validates; the other verbs talk to a running
//! daemon over its HTTP API. Exit codes: 0 success, 1 user error (one-line
//! reason on stderr), 2 usage error (clap's own).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon.
    Serve,
    /// Validate the configuration and print every problem as file:line:column.
    CheckConfig,
}

/// Runs the parsed command; errors become exit code 1 with one line.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve => crate::app::serve_blocking(&cli.config),
        Command::CheckConfig => check_config(&cli.config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tocsin: {e:#}");
            ExitCode::from(1)
        }
    }
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

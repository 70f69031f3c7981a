//! The `tocsin` binary: parses the command line and hands over to `cli`.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tocsin::cli::run(tocsin::cli::Cli::parse())
}

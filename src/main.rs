//! The `tocsin` binary: parses the command line and hands over to `cli`.
use std::process::ExitCode;

use clap::Parser;

/// Request handling allocates many small, short-lived buffers (JSON, headers,
/// SQL rows) across threads; mimalloc serves that pattern with far less
/// time in the allocator than the system one.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    tocsin::cli::run(tocsin::cli::Cli::parse())
}

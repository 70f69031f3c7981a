//! tocsin-bench: starts tocsin on loopback with a generated config and an
//! in-process fake Twilio, drives it, and prints Markdown tables (see
//! BENCHMARKS.md at the repository root). Every load is bounded in count and
//! time; all traffic goes to 127.0.0.1.

mod bare;
mod compare;
mod config;
mod cpu;
mod daemon;
mod fake;
mod load;
mod payload;
mod peer;
mod prom;
mod report;
mod scale;
mod scenarios;
mod store;
mod storm;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

/// How big each scenario is.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub ingest: usize,
    pub concurrency: usize,
    pub people: usize,
    pub a2p: usize,
    pub lag: usize,
    /// Resolved incidents written into the scale database.
    pub scale_history: usize,
    /// Incidents then opened through the webhook.
    pub scale_open: usize,
    pub scale_people: usize,
    pub acks: usize,
    /// Sequential list calls per filter.
    pub lists: usize,
    pub peer: usize,
}

impl Sizes {
    const FULL: Sizes = Sizes {
        ingest: 20_000,
        concurrency: 32,
        people: 1_000,
        a2p: 1_000,
        lag: 3_000,
        scale_history: 1_000_000,
        scale_open: 10_000,
        scale_people: 1_000,
        acks: 1_000,
        lists: 200,
        peer: 20_000,
    };
    const QUICK: Sizes = Sizes {
        ingest: 2_000,
        concurrency: 32,
        people: 200,
        a2p: 200,
        lag: 500,
        scale_history: 20_000,
        scale_open: 1_000,
        scale_people: 200,
        acks: 200,
        lists: 50,
        peer: 2_000,
    };
}

pub struct Opts {
    pub tocsin: PathBuf,
    pub sizes: Sizes,
    pub quick: bool,
    pub peer: bool,
    pub scale: bool,
    /// Run the `storm` scenario alone (issue 14).
    pub storm: bool,
    /// `--store`: PostgreSQL runs the two stores side by side (compare.rs).
    pub store: store::Store,
    /// Each load stops after this long even if not all requests were sent.
    pub limit: Duration,
}

const USAGE: &str = "usage: tocsin-bench [storm] [--tocsin PATH] [--quick] [--no-peer] [--no-scale]
                    [--requests N] [--concurrency N] [--incidents N]
                    [--store sqlite|postgres|postgres:URL]

  storm             only the storm scenario: one project flooded while a probe
                    pages another person every 1.3 s (about 1.5 minutes)

  --tocsin PATH     tocsin binary (default ../target/release/tocsin)
  --quick           small sizes (about a minute)
  --no-peer         skip the Alertmanager comparison
  --no-scale        skip the scale scenario (1M stored incidents)
  --requests N      requests per ingest load (default 20000, quick 2000)
  --concurrency N   in-flight requests for the ingest loads (default 32)
  --incidents N     stored (resolved) incidents for the scale scenario (default 1000000)
  --store postgres  the ingest loads, alert-to-page and escalation-lag on SQLite
                    and on PostgreSQL side by side (a fresh database each),
                    then two daemons on one database, one killed: the server
                    URL from TOCSIN_BENCH_POSTGRES, or postgres:URL; its user
                    must be allowed to create databases";

fn parse_args() -> anyhow::Result<Opts> {
    let mut tocsin = PathBuf::from("../target/release/tocsin");
    let mut quick = false;
    let mut store = store::Store::Sqlite;
    let (mut peer, mut scale, mut storm) = (true, true, false);
    let (mut requests, mut concurrency, mut incidents) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--tocsin" => tocsin = PathBuf::from(value("--tocsin")?),
            "storm" => storm = true,
            "--quick" => quick = true,
            "--no-peer" => peer = false,
            "--no-scale" => scale = false,
            "--requests" => requests = Some(value("--requests")?.parse::<usize>()?),
            "--concurrency" => concurrency = Some(value("--concurrency")?.parse::<usize>()?),
            "--store" => {
                store = store::Store::parse(&value("--store")?, std::env::var(store::ENV).ok())?
            }
            "--incidents" => incidents = Some(value("--incidents")?.parse::<usize>()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let mut sizes = if quick { Sizes::QUICK } else { Sizes::FULL };
    if let Some(n) = requests {
        sizes.ingest = n.max(1);
        sizes.peer = n.max(1);
    }
    if let Some(c) = concurrency {
        sizes.concurrency = c.max(1);
    }
    if let Some(n) = incidents {
        sizes.scale_history = n.max(1);
    }
    if !tocsin.exists() {
        bail!(
            "{} does not exist: build it with `cargo build --release` at the repository root, or pass --tocsin",
            tocsin.display()
        );
    }
    Ok(Opts {
        tocsin,
        sizes,
        quick,
        peer,
        scale,
        storm,
        store,
        limit: Duration::from_secs(if quick { 30 } else { 120 }),
    })
}

fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some(bare::FLAG) => return bare::serve(None),
        Some(bare::FLOOR_FLAG) => {
            let db = std::env::args_os()
                .nth(2)
                .context("--floor-server needs a file")?;
            return bare::serve(Some(db.into()));
        }
        _ => {}
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let opts = parse_args()?;
    if opts.storm {
        let http = scenarios::client()?;
        println!("{}", storm::run(&opts, &http).await?);
        return Ok(());
    }
    if let store::Store::Postgres(server) = &opts.store {
        println!("{}", compare::run(&opts, server).await?);
        return Ok(());
    }
    let report = scenarios::run_all(&opts).await?;
    println!("{}", report.markdown(&opts));
    Ok(())
}

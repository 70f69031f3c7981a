//! The Markdown the bench prints: machine, sizes, a throughput table with the
//! Alertmanager ratios, and a table of single measures with their targets.

use std::fmt::Write as _;

use crate::Opts;
use crate::load::Stats;
use crate::scenarios::ms;

pub struct Throughput {
    pub name: &'static str,
    pub what: &'static str,
    pub stats: Stats,
    pub peer: Option<Stats>,
    /// Least tocsin/Alertmanager rate the issue asks for.
    pub target: Option<f64>,
}

impl Throughput {
    pub fn new(
        name: &'static str,
        what: &'static str,
        stats: Stats,
        peer: Option<Stats>,
        target: Option<f64>,
    ) -> Self {
        Throughput {
            name,
            what,
            stats,
            peer,
            target,
        }
    }
}

pub struct Measure {
    pub name: String,
    pub value: String,
    pub target: String,
    /// None when the issue sets no target (or the run was scaled down).
    pub met: Option<bool>,
}

#[derive(Default)]
pub struct Report {
    pub throughput: Vec<Throughput>,
    pub measures: Vec<Measure>,
    pub notes: Vec<String>,
    /// The bare handler driven with the ingest-new bodies (`bare.rs`).
    pub bare: Option<Stats>,
    /// The durable floor (`bare.rs`), driven the same way.
    pub floor: Option<Stats>,
    pub sms_received: u64,
    /// `/proc/loadavg` before the first load (other work on the machine).
    pub load_before: String,
}

/// "total (writer)" CPU µs per request.
fn cpu_cell(st: &Stats) -> String {
    match (st.cpu_us(), st.writer_us()) {
        (Some(c), Some(w)) => format!("{c:.0} ({w:.0})"),
        (Some(c), None) => format!("{c:.0}"),
        _ => "—".into(),
    }
}

fn met(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "**met**",
        Some(false) => "**missed**",
        None => "—",
    }
}

/// The first three fields of `/proc/loadavg`.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or("unknown".into(), |kb| {
            format!("{:.1} GiB", kb / 1024.0 / 1024.0)
        });
    format!("{cpus} CPUs ({model}), {mem} RAM")
}

impl Report {
    pub fn new() -> Self {
        Report {
            load_before: loadavg(),
            ..Report::default()
        }
    }

    pub fn markdown(&self, opts: &Opts) -> String {
        let s = &opts.sizes;
        let mut o = String::new();
        let args: Vec<String> = std::env::args().collect();
        let _ = writeln!(o, "Machine: {}", machine());
        let _ = writeln!(
            o,
            "Load average (1/5/15 min) before the run: {}; after: {}",
            self.load_before,
            loadavg()
        );
        let _ = writeln!(o, "Command: `{}`", args.join(" "));
        let _ = writeln!(
            o,
            "Sizes: {} requests per load at {} in flight; {} alert-to-page incidents over {} people; {} escalation deadlines; scale {} stored + {} open incidents over {} people{}.",
            s.ingest,
            s.concurrency,
            s.a2p,
            s.people,
            s.lag,
            s.scale_history,
            s.scale_open,
            s.scale_people,
            if opts.quick { " (--quick)" } else { "" }
        );
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "| scenario | load | tocsin req/s | p50 ms | p99 ms | max ms | errors | Alertmanager req/s | AM p99 ms | tocsin/AM | target | | tocsin CPU µs/req (writer) | AM CPU µs/req |"
        );
        let _ = writeln!(
            o,
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|--:|--:|"
        );
        for t in &self.throughput {
            let st = &t.stats;
            let (am_rate, am_p99, ratio) = match &t.peer {
                Some(p) => (
                    format!("{:.0}", p.rate()),
                    format!("{:.2}", ms(p.pct(99.0))),
                    Some(st.rate() / p.rate().max(1e-9)),
                ),
                None => ("—".into(), "—".into(), None),
            };
            let (target, ok) = match (t.target, ratio) {
                (Some(x), Some(r)) => (format!("≥ {x}×"), Some(r >= x && st.failed == 0)),
                (Some(x), None) => (format!("≥ {x}×"), None),
                (None, _) => ("—".into(), None),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} |",
                t.name,
                t.what,
                st.rate(),
                ms(st.pct(50.0)),
                ms(st.pct(99.0)),
                ms(st.max()),
                st.failed,
                am_rate,
                am_p99,
                ratio.map_or("—".into(), |r| format!("{r:.2}×")),
                target,
                met(ok),
                cpu_cell(st),
                t.peer
                    .as_ref()
                    .and_then(Stats::cpu_us)
                    .map_or("—".into(), |c| format!("{c:.0}")),
            );
        }
        if let Some(b) = &self.bare {
            let _ = writeln!(o);
            let _ = writeln!(
                o,
                "Calibration: a bare axum handler (`bare.rs`: parse the JSON body, answer 200; no auth, no storage) driven with the ingest-new bodies by the same client: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, server CPU {} µs/req.",
                b.rate(),
                ms(b.pct(50.0)),
                ms(b.pct(99.0)),
                b.cpu_us().map_or("—".into(), |c| format!("{c:.0}"))
            );
            if let Some(f) = &self.floor {
                let _ = writeln!(o);
                let _ = writeln!(
                    o,
                    "Durable floor: the same handler that also stores each body as one SQLite row before answering (`bare.rs`: WAL, group commit, the fsync pipelined as tocsin's store does it), driven the same way: {:.0} req/s ({:.0} % of the bare handler), p50 {:.2} ms, p99 {:.2} ms, server CPU {} µs/req.",
                    f.rate(),
                    100.0 * f.rate() / b.rate().max(1e-9),
                    ms(f.pct(50.0)),
                    ms(f.pct(99.0)),
                    f.cpu_us().map_or("—".into(), |c| format!("{c:.0}"))
                );
            }
            let _ = writeln!(o);
            // Closed loop on a saturated machine: rate ≈ cores / (client + server CPU
            // per request). The bare handler's rate and CPU give the client's share,
            // and from it the server CPU per request at which tocsin would reach
            // `target × Alertmanager's rate` (Alertmanager's CPU per request known).
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
            let client_us = b
                .cpu_us()
                .map(|s| (cores * 1e6 / b.rate().max(1e-9) - s).max(0.0));
            if let Some(c) = client_us {
                let _ = writeln!(
                    o,
                    "Client and kernel per request, from the calibration (model: rate = {cores:.0} cores / (client + server CPU per request)): {c:.0} µs."
                );
                let _ = writeln!(o);
            }
            let _ = writeln!(
                o,
                "| scenario | tocsin req/s | tocsin / bare | tocsin / durable floor | target req/s (ratio × Alertmanager) | target / bare | target / durable floor | tocsin CPU µs/req | CPU µs/req that would reach the target (model) |"
            );
            let _ = writeln!(o, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
            let of_floor = |r: f64| {
                self.floor.as_ref().map_or("—".into(), |f| {
                    format!("{:.0} %", 100.0 * r / f.rate().max(1e-9))
                })
            };
            let bare = b.rate().max(1e-9);
            for t in &self.throughput {
                let want = match (t.target, &t.peer) {
                    (Some(x), Some(p)) => Some(x * p.rate()),
                    _ => None,
                };
                let budget = match (t.target, t.peer.as_ref().and_then(Stats::cpu_us), client_us) {
                    (Some(k), Some(am), Some(c)) => Some((c + am) / k - c),
                    _ => None,
                };
                let _ = writeln!(
                    o,
                    "| {} | {:.0} | {:.0} % | {} | {} | {} | {} | {} | {} |",
                    t.name,
                    t.stats.rate(),
                    100.0 * t.stats.rate() / bare,
                    of_floor(t.stats.rate()),
                    want.map_or("—".into(), |w| format!("{w:.0}")),
                    want.map_or("—".into(), |w| format!("{:.0} %", 100.0 * w / bare)),
                    want.map_or("—".into(), of_floor),
                    t.stats.cpu_us().map_or("—".into(), |c| format!("{c:.0}")),
                    budget.map_or("—".into(), |b| format!("{b:.0}")),
                );
            }
        }
        let _ = writeln!(o);
        let _ = writeln!(o, "| measure | value | target | |");
        let _ = writeln!(o, "|---|---|---|---|");
        for m in &self.measures {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                m.name,
                m.value,
                m.target,
                met(m.met)
            );
        }
        let _ = writeln!(o);
        let _ = writeln!(o, "SMS received by the fake Twilio: {}.", self.sms_received);
        for n in &self.notes {
            let _ = writeln!(o, "{n}");
        }
        o
    }
}

//! CPU time a server spent during a load, from `/proc/<pid>/stat` (the whole
//! process) and `/proc/<pid>/task/*/stat` (per thread, by name): the cost per
//! request on the server's side, whatever share of the machine the client
//! took. Resolution is one clock tick (10 ms), so loads of a second or more.

use std::time::Duration;

/// Linux reports utime/stime in USER_HZ, 100 on every architecture it runs
/// this tool on.
const TICK: Duration = Duration::from_millis(10);

/// utime + stime in a `stat` line.
fn stat_cpu(line: &str) -> Option<Duration> {
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. Field 3 (state) is index 0, so utime (14) is index 11.
    let rest = &line[line.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(
        ticks.saturating_mul(TICK.as_millis() as u64),
    ))
}

fn comm(line: &str) -> Option<&str> {
    Some(&line[line.find('(')? + 1..line.rfind(')')?])
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub process: Duration,
    /// Threads whose name starts with the prefix asked for.
    pub named: Duration,
}

/// CPU used so far by `pid`, and by its threads named `prefix…`.
pub fn sample(pid: u32, prefix: &str) -> Option<Sample> {
    let process = stat_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?;
    let mut named = Duration::ZERO;
    if !prefix.is_empty()
        && let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task"))
    {
        for t in dir.flatten() {
            if let Ok(line) = std::fs::read_to_string(t.path().join("stat"))
                && comm(&line).is_some_and(|c| c.starts_with(prefix))
            {
                named += stat_cpu(&line).unwrap_or_default();
            }
        }
    }
    Some(Sample { process, named })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_past_an_odd_name() {
        let line = "42 (tocsin (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 9 0 1 2 3";
        assert_eq!(stat_cpu(line), Some(Duration::from_millis(2800)));
        assert_eq!(comm(line), Some("tocsin (x) y"));
    }
}

//! Resident memory and CPU time of a process, from Linux's `/proc`.

use anyhow::Context;

/// `USER_HZ`: the unit of the CPU times in `/proc/PID/stat`, 100 on every mainstream Linux.
const TICKS_PER_SECOND: f64 = 100.0;

fn stat_path(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    }
}

/// Resident set size of `pid` in bytes (`VmRSS`).
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).context("no VmRSS line")?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .context("unreadable VmRSS")?;
    Ok(kib * 1024)
}

/// User plus system CPU seconds used by `pid` (this process when `None`).
pub fn cpu_seconds(pid: Option<u32>) -> anyhow::Result<f64> {
    let path = stat_path(pid);
    let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    // The command name is in parentheses and may contain spaces: fields start after the last ')'.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).context("malformed stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let user: f64 = fields.get(11).context("no utime")?.parse().context("unreadable utime")?;
    let system: f64 = fields.get(12).context("no stime")?.parse().context("unreadable stime")?;
    Ok((user + system) / TICKS_PER_SECOND)
}

/// CPU use of this process and, if known, of the server, over an interval.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    wall: std::time::Instant,
    client_seconds: f64,
    server_pid: Option<u32>,
    server_seconds: Option<f64>,
}

impl CpuMeter {
    pub fn start(server_pid: Option<u32>) -> Self {
        Self {
            wall: std::time::Instant::now(),
            client_seconds: cpu_seconds(None).unwrap_or(0.0),
            server_pid,
            server_seconds: server_pid.and_then(|pid| cpu_seconds(Some(pid)).ok()),
        }
    }

    /// Percent of one core used by (the load generator, the server) since `start`.
    pub fn percent(&self) -> (f64, Option<f64>) {
        let wall = self.wall.elapsed().as_secs_f64().max(1e-6);
        let client = (cpu_seconds(None).unwrap_or(0.0) - self.client_seconds) / wall * 100.0;
        let server = match (self.server_pid, self.server_seconds) {
            (Some(pid), Some(before)) => cpu_seconds(Some(pid)).ok().map(|now| (now - before) / wall * 100.0),
            _ => None,
        };
        (client, server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process() {
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
        assert!(cpu_seconds(None).unwrap() >= 0.0);
        assert!(cpu_seconds(Some(std::process::id())).unwrap() >= 0.0);
    }
}

//! Per-service resident memory and CPU, sampled from `/proc` once a second
//! while a run is in progress.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

/// One watched process: a name (the service) and its pid.
#[derive(Debug, Clone)]
pub struct Watched {
    /// Service name, as reported.
    pub name: String,
    /// Process id.
    pub pid: i32,
}

/// Parses `NAME=PID`.
pub fn parse_watched(s: &str) -> Result<Watched, String> {
    let (name, pid) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PID, got {s:?}"))?;
    let pid = pid
        .parse()
        .map_err(|_| format!("not a pid: {pid:?} (in {s:?})"))?;
    Ok(Watched {
        name: name.to_owned(),
        pid,
    })
}

/// One sample of one process.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds since the run started.
    pub t: f64,
    /// Resident set size, MiB.
    pub rss_mib: f64,
    /// CPU used since the previous sample, percent of one core.
    pub cpu_percent: f64,
}

/// What one process did during the run.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    /// Process id.
    pub pid: i32,
    /// RSS at the first sample, MiB.
    pub rss_mib_start: f64,
    /// RSS at the last sample, MiB.
    pub rss_mib_end: f64,
    /// Highest sampled RSS, MiB.
    pub rss_mib_peak: f64,
    /// `rss_mib_end - rss_mib_start`: growth over the run (the soak figure).
    pub rss_growth_mib: f64,
    /// Mean CPU over the run, percent of one core.
    pub cpu_percent_avg: f64,
    /// Highest one-second CPU sample, percent of one core.
    pub cpu_percent_peak: f64,
    /// Samples, one a second.
    pub samples: Vec<Sample>,
    /// Set when the process vanished or could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Copy)]
struct Reading {
    at: Instant,
    ticks: u64,
    rss_bytes: u64,
}

fn read(pid: i32) -> procfs::ProcResult<Reading> {
    let stat = procfs::process::Process::new(pid)?.stat()?;
    Ok(Reading {
        at: Instant::now(),
        ticks: stat.utime + stat.stime,
        rss_bytes: stat.rss * procfs::page_size(),
    })
}

/// Samples every watched process once a second until `stop` fires.
pub async fn sample(
    watched: Vec<Watched>,
    start: Instant,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> BTreeMap<String, Usage> {
    let tps = procfs::ticks_per_second() as f64;
    let mut first: Vec<Option<Reading>> = Vec::new();
    let mut prev: Vec<Option<Reading>> = Vec::new();
    let mut out: Vec<Usage> = Vec::new();
    for w in &watched {
        let r = read(w.pid);
        let error = r.as_ref().err().map(|e| e.to_string());
        let rss = r.as_ref().map(|r| mib(r.rss_bytes)).unwrap_or(0.0);
        out.push(Usage {
            pid: w.pid,
            rss_mib_start: rss,
            rss_mib_end: rss,
            rss_mib_peak: rss,
            rss_growth_mib: 0.0,
            cpu_percent_avg: 0.0,
            cpu_percent_peak: 0.0,
            samples: Vec::new(),
            error,
        });
        first.push(r.as_ref().ok().copied());
        prev.push(r.ok());
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        let done = tokio::select! {
            _ = tick.tick() => false,
            _ = &mut stop => true,
        };
        for (i, w) in watched.iter().enumerate() {
            let Some(p) = &prev[i] else { continue };
            match read(w.pid) {
                Ok(r) => {
                    let dt = r.at.duration_since(p.at).as_secs_f64().max(1e-3);
                    let cpu = 100.0 * (r.ticks.saturating_sub(p.ticks)) as f64 / tps / dt;
                    let u = &mut out[i];
                    let rss = mib(r.rss_bytes);
                    u.rss_mib_end = rss;
                    u.rss_mib_peak = u.rss_mib_peak.max(rss);
                    u.cpu_percent_peak = u.cpu_percent_peak.max(cpu);
                    u.samples.push(Sample {
                        t: r.at.duration_since(start).as_secs_f64(),
                        rss_mib: rss,
                        cpu_percent: cpu,
                    });
                    prev[i] = Some(r);
                }
                Err(e) => {
                    out[i].error = Some(format!("pid {} stopped being readable: {e}", w.pid));
                    prev[i] = None;
                }
            }
        }
        if done {
            break;
        }
    }
    for (i, u) in out.iter_mut().enumerate() {
        u.rss_growth_mib = u.rss_mib_end - u.rss_mib_start;
        if let (Some(f), Some(l)) = (&first[i], &prev[i]) {
            let dt = l.at.duration_since(f.at).as_secs_f64();
            if dt > 0.0 {
                u.cpu_percent_avg = 100.0 * (l.ticks.saturating_sub(f.ticks)) as f64 / tps / dt;
            }
        }
    }
    watched.into_iter().map(|w| w.name).zip(out).collect()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_equals_pid() {
        let w = parse_watched("lead-triage=42").expect("valid");
        assert_eq!((w.name.as_str(), w.pid), ("lead-triage", 42));
        assert!(parse_watched("lead-triage").is_err());
        assert!(parse_watched("x=y").is_err());
    }

    #[tokio::test]
    async fn samples_its_own_process() {
        let me = i32::try_from(std::process::id()).expect("pid fits");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let start = Instant::now();
        let task = tokio::spawn(sample(
            vec![Watched {
                name: "self".into(),
                pid: me,
            }],
            start,
            rx,
        ));
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let _ = tx.send(());
        let usage = task.await.expect("sampler");
        let u = &usage["self"];
        assert!(u.error.is_none(), "{:?}", u.error);
        assert!(u.rss_mib_peak > 0.0);
        assert!(!u.samples.is_empty());
    }
}

//! Latency and outcome recording: overall, per request kind, and per second
//! of the run (for the plots).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::scenarios::Kind;

/// Latencies are recorded in microseconds, 1 µs to 60 s.
const MAX_MICROS: u64 = 60_000_000;

/// p50/p95/p99/max in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Percentiles {
            p50: ms(0.50),
            p95: ms(0.95),
            p99: ms(0.99),
            max: h.max() as f64 / 1000.0,
        }
    }
}

fn histogram(sigfig: u8) -> Histogram<u64> {
    // Bounds and precision are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, MAX_MICROS, sigfig).expect("valid histogram bounds")
}

/// Outcomes of one request kind.
struct KindTally {
    hist: Histogram<u64>,
    status: BTreeMap<u16, u64>,
    errors: u64,
    transport_errors: u64,
    not_started: u64,
}

/// One second of the run.
struct Second {
    /// Latencies of the requests *scheduled* in this second (2 significant
    /// digits: enough for a plot, small enough for a 15-minute soak).
    hist: Histogram<u64>,
    scheduled: u64,
    completed: u64,
    errors: u64,
    /// Answers that ended in this second by outcome: the status code,
    /// `transport` or `not_started`.
    outcomes: BTreeMap<String, u64>,
}

/// Everything recorded during a run.
pub struct Stats {
    overall: Histogram<u64>,
    kinds: BTreeMap<Kind, KindTally>,
    seconds: Vec<Second>,
}

/// How a request ended.
pub enum Outcome {
    /// An HTTP response with this status.
    Status(u16),
    /// No response (connect error, timeout, reset).
    Transport,
    /// Never sent: the in-flight limit was reached at its scheduled time.
    NotStarted,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// Empty stats.
    pub fn new() -> Self {
        Stats {
            overall: histogram(3),
            kinds: BTreeMap::new(),
            seconds: Vec::new(),
        }
    }

    fn second(&mut self, s: usize) -> &mut Second {
        while self.seconds.len() <= s {
            self.seconds.push(Second {
                hist: histogram(2),
                scheduled: 0,
                completed: 0,
                errors: 0,
                outcomes: BTreeMap::new(),
            });
        }
        &mut self.seconds[s]
    }

    /// Records a request scheduled in second `scheduled_s` that ended in
    /// second `done_s` after `micros` (measured from its scheduled start).
    pub fn record(
        &mut self,
        kind: Kind,
        scheduled_s: usize,
        done_s: usize,
        micros: u64,
        outcome: Outcome,
    ) {
        let micros = micros.clamp(1, MAX_MICROS);
        let tally = self.kinds.entry(kind).or_insert_with(|| KindTally {
            hist: histogram(3),
            status: BTreeMap::new(),
            errors: 0,
            transport_errors: 0,
            not_started: 0,
        });
        let label = match outcome {
            Outcome::Status(code) => code.to_string(),
            Outcome::Transport => "transport".to_owned(),
            Outcome::NotStarted => "not_started".to_owned(),
        };
        let error = match outcome {
            Outcome::Status(code) => {
                *tally.status.entry(code).or_default() += 1;
                code >= 400
            }
            Outcome::Transport => {
                tally.transport_errors += 1;
                true
            }
            Outcome::NotStarted => {
                tally.not_started += 1;
                true
            }
        };
        tally.errors += u64::from(error);
        let sent = !matches!(outcome, Outcome::NotStarted);
        if sent {
            // Values are clamped into the histogram's range, so recording cannot fail.
            let _ = tally.hist.record(micros);
            let _ = self.overall.record(micros);
            let _ = self.second(scheduled_s).hist.record(micros);
        }
        self.second(scheduled_s).scheduled += 1;
        let done = self.second(done_s);
        done.completed += u64::from(sent);
        done.errors += u64::from(error);
        *done.outcomes.entry(label).or_default() += 1;
    }

    /// The summary for the JSON report.
    pub fn summary(&self, elapsed_s: f64, rate_at: impl Fn(f64) -> f64) -> Summary {
        let mut status = BTreeMap::new();
        let mut errors = 0;
        let mut kinds = BTreeMap::new();
        for (kind, t) in &self.kinds {
            for (code, n) in &t.status {
                *status.entry(*code).or_default() += n;
            }
            errors += t.errors;
            kinds.insert(
                kind.name().to_owned(),
                KindSummary {
                    service: kind.service().to_owned(),
                    requests: t.hist.len() + t.not_started,
                    errors: t.errors,
                    transport_errors: t.transport_errors,
                    not_started: t.not_started,
                    status: t.status.clone(),
                    latency_ms: Percentiles::of(&t.hist),
                },
            );
        }
        let timeseries = self
            .seconds
            .iter()
            .enumerate()
            .map(|(s, sec)| {
                let has = !sec.hist.is_empty();
                let p = Percentiles::of(&sec.hist);
                TimePoint {
                    t: s as u64,
                    target_rate: rate_at(s as f64 + 0.5),
                    scheduled: sec.scheduled,
                    completed: sec.completed,
                    errors: sec.errors,
                    p50_ms: has.then_some(p.p50),
                    p95_ms: has.then_some(p.p95),
                    p99_ms: has.then_some(p.p99),
                    max_ms: has.then_some(p.max),
                    outcomes: sec.outcomes.clone(),
                }
            })
            .collect();
        let not_started: u64 = self.kinds.values().map(|t| t.not_started).sum();
        Summary {
            requests: self.overall.len() + not_started,
            achieved_rate: self.overall.len() as f64 / elapsed_s.max(1e-9),
            errors,
            status,
            latency_ms: Percentiles::of(&self.overall),
            kinds,
            timeseries,
        }
    }
}

/// Per-kind results.
#[derive(Debug, Serialize)]
pub struct KindSummary {
    /// The service the kind exercises.
    pub service: String,
    /// Requests scheduled.
    pub requests: u64,
    /// Errors of every sort (status ≥ 400, transport, not started).
    pub errors: u64,
    /// No response.
    pub transport_errors: u64,
    /// Not sent because the in-flight limit was reached.
    pub not_started: u64,
    /// Responses by status code.
    pub status: BTreeMap<u16, u64>,
    /// Latency from the scheduled start.
    pub latency_ms: Percentiles,
}

/// One second of the run, for the plots.
#[derive(Debug, Serialize)]
pub struct TimePoint {
    /// Second since the start.
    pub t: u64,
    /// The profile's target rate in that second.
    pub target_rate: f64,
    /// Requests scheduled in that second.
    pub scheduled: u64,
    /// Responses received in that second (throughput).
    pub completed: u64,
    /// Errors that ended in that second.
    pub errors: u64,
    /// Latency percentiles of the requests scheduled in that second.
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Largest.
    pub max_ms: Option<f64>,
    /// Answers that ended in that second by outcome (status code,
    /// `transport`, `not_started`): the errors of a fault window by status.
    pub outcomes: BTreeMap<String, u64>,
}

/// The recorded part of a report.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Requests scheduled.
    pub requests: u64,
    /// Responses per second over the run.
    pub achieved_rate: f64,
    /// Errors of every sort.
    pub errors: u64,
    /// Responses by status code.
    pub status: BTreeMap<u16, u64>,
    /// Latency from the scheduled start, all kinds.
    pub latency_ms: Percentiles,
    /// Per request kind.
    pub kinds: BTreeMap<String, KindSummary>,
    /// Per second.
    pub timeseries: Vec<TimePoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_seconds_are_counted() {
        let mut s = Stats::new();
        s.record(Kind::LeadPost, 0, 0, 2_000, Outcome::Status(201));
        s.record(Kind::LeadPost, 0, 1, 9_000, Outcome::Status(503));
        s.record(Kind::Context, 1, 1, 1_000, Outcome::Transport);
        s.record(Kind::Context, 1, 1, 0, Outcome::NotStarted);
        let sum = s.summary(2.0, |_| 2.0);
        assert_eq!(sum.requests, 4);
        assert_eq!(sum.errors, 3);
        assert_eq!(sum.kinds["lead-post"].errors, 1);
        assert_eq!(sum.kinds["context"].not_started, 1);
        assert_eq!(sum.timeseries.len(), 2);
        assert_eq!(sum.timeseries[0].scheduled, 2);
        assert_eq!(sum.timeseries[1].completed, 2);
        assert!(sum.latency_ms.max >= 9.0);
        assert_eq!(sum.timeseries[1].outcomes["503"], 1);
        assert_eq!(sum.timeseries[1].outcomes["transport"], 1);
        assert_eq!(sum.timeseries[0].outcomes["201"], 1);
    }
}

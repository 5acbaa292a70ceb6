//! The sliding window of outcomes of a closed breaker: a ring of buckets,
//! each covering `window / buckets`, so memory stays fixed at any call rate.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Index of the bucket period this holds (periods since `origin`).
    period: u64,
    calls: u32,
    failures: u32,
}

/// Outcomes of the last `window` (to bucket precision).
#[derive(Debug)]
pub(super) struct Window {
    origin: Instant,
    bucket: Duration,
    buckets: Vec<Bucket>,
}

impl Window {
    /// An empty window of `length` in `buckets` buckets, starting at `now`.
    pub(super) fn new(length: Duration, buckets: u32, now: Instant) -> Self {
        let buckets = buckets.max(1);
        Self {
            origin: now,
            bucket: (length / buckets).max(Duration::from_millis(1)),
            buckets: vec![Bucket::default(); buckets as usize],
        }
    }

    /// Forgets every outcome.
    pub(super) fn clear(&mut self, now: Instant) {
        self.origin = now;
        self.buckets.iter_mut().for_each(|b| *b = Bucket::default());
    }

    fn period(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin);
        u64::try_from(elapsed.as_nanos() / self.bucket.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    fn live(&self, now: Instant) -> impl Iterator<Item = &Bucket> {
        let current = self.period(now);
        let len = self.buckets.len() as u64;
        self.buckets
            .iter()
            .filter(move |b| b.period + len > current && b.period <= current)
    }

    /// Records one outcome at `now`.
    pub(super) fn record(&mut self, now: Instant, ok: bool) {
        let period = self.period(now);
        let len = self.buckets.len() as u64;
        let Ok(slot) = usize::try_from(period % len) else {
            return;
        };
        let Some(bucket) = self.buckets.get_mut(slot) else {
            return;
        };
        if bucket.period != period || (bucket.calls == 0 && bucket.failures == 0) {
            *bucket = Bucket {
                period,
                calls: 0,
                failures: 0,
            };
        }
        bucket.calls = bucket.calls.saturating_add(1);
        if !ok {
            bucket.failures = bucket.failures.saturating_add(1);
        }
    }

    /// `(calls, failures)` within the window ending at `now`.
    pub(super) fn totals(&self, now: Instant) -> (u32, u32) {
        self.live(now).fold((0, 0), |(c, f), b| {
            (c.saturating_add(b.calls), f.saturating_add(b.failures))
        })
    }
}

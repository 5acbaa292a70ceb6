//! Retry delays: exponential (factor 2) with full jitter.

use std::time::Duration;

use rand::Rng as _;

/// Longest single retry delay.
const MAX_DELAY: Duration = Duration::from_secs(30);

/// The delay before retry number `retry` (1 for the first retry): uniformly
/// random in `[0, base · 2^(retry-1)]`, capped at 30 s.
pub(crate) fn backoff(base: Duration, retry: u32) -> Duration {
    let ceiling = base
        .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
        .min(MAX_DELAY);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_and_is_capped() {
        let base = Duration::from_millis(100);
        for _ in 0..200 {
            assert!(backoff(base, 1) <= Duration::from_millis(100));
            assert!(backoff(base, 2) <= Duration::from_millis(200));
            assert!(backoff(base, 3) <= Duration::from_millis(400));
            assert!(backoff(base, 40) <= MAX_DELAY);
        }
    }

    #[test]
    fn jitter_spreads_delays() {
        let base = Duration::from_millis(1000);
        let samples: std::collections::HashSet<_> = (0..50).map(|_| backoff(base, 1)).collect();
        assert!(samples.len() > 10, "{samples:?}");
    }
}

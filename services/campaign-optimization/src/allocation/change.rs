//! When a new allocation is worth publishing to `campaigns.allocations`.
//!
//! Allocations are recomputed on every batch of interactions, but Monte
//! Carlo noise alone moves shares by a few thousandths, and senders gain
//! nothing from a stream of such updates. So a new allocation goes out when
//! some share moved by more than a threshold, and otherwise as a heartbeat
//! at most `max_interval` apart while traffic flows (the topic is
//! compacted, so a heartbeat costs one record per campaign).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Allocation;

/// Whether to publish `next`.
///
/// True when any of these holds:
/// - nothing was published yet (`previous` or `last_published_at` is
///   `None`, or the variants changed in number);
/// - some share differs from `previous` by more than `threshold`
///   (absolute; e.g. 0.02 for two percentage points);
/// - `traffic_since_last` (interactions were counted since the last
///   publication) and at least `max_interval` has passed since
///   `last_published_at`. A clock that went backwards counts as no time
///   passed.
pub fn should_publish(
    previous: Option<&Allocation>,
    next: &Allocation,
    last_published_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    threshold: f64,
    max_interval: Duration,
    traffic_since_last: bool,
) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    if previous.shares.len() != next.shares.len() {
        return true;
    }
    let moved = previous
        .shares
        .iter()
        .zip(&next.shares)
        .any(|(before, after)| (after - before).abs() > threshold);
    if moved {
        return true;
    }
    let Some(last) = last_published_at else {
        return true;
    };
    // A negative elapsed time (clock skew) fails to_std and is not due.
    let due = (now - last)
        .to_std()
        .is_ok_and(|elapsed| elapsed >= max_interval);
    traffic_since_last && due
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn alloc(shares: &[f64]) -> Allocation {
        Allocation {
            shares: shares.to_vec(),
        }
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).expect("valid timestamp")
    }

    const THRESHOLD: f64 = 0.02;
    const EVERY: Duration = Duration::from_secs(5);

    fn decide(prev: &[f64], next: &[f64], secs: i64, traffic: bool) -> bool {
        let now = t0() + TimeDelta::seconds(secs);
        should_publish(
            Some(&alloc(prev)),
            &alloc(next),
            Some(t0()),
            now,
            THRESHOLD,
            EVERY,
            traffic,
        )
    }

    #[test]
    fn first_allocation_is_published() {
        let next = alloc(&[0.5, 0.5]);
        assert!(should_publish(
            None,
            &next,
            None,
            t0(),
            THRESHOLD,
            EVERY,
            false
        ));
        let unknown_time = should_publish(Some(&next), &next, None, t0(), THRESHOLD, EVERY, false);
        assert!(unknown_time);
    }

    #[test]
    fn a_share_moving_past_the_threshold_is_published_at_once() {
        assert!(decide(&[0.5, 0.5], &[0.47, 0.53], 0, false));
        assert!(decide(&[0.2, 0.3, 0.5], &[0.2, 0.27, 0.53], 1, true));
    }

    #[test]
    fn small_moves_wait_for_the_interval() {
        assert!(!decide(&[0.5, 0.5], &[0.49, 0.51], 1, true));
        assert!(!decide(&[0.5, 0.5], &[0.49, 0.51], 4, true));
        // Exactly at the threshold is not "more than" it.
        // (Shares and threshold exact in binary.)
        let (prev, next) = (alloc(&[0.5, 0.5]), alloc(&[0.25, 0.75]));
        let now = t0() + TimeDelta::seconds(1);
        assert!(!should_publish(
            Some(&prev),
            &next,
            Some(t0()),
            now,
            0.25,
            EVERY,
            true
        ));
    }

    #[test]
    fn heartbeat_after_the_interval_only_while_traffic_flows() {
        assert!(decide(&[0.5, 0.5], &[0.5, 0.5], 5, true));
        assert!(decide(&[0.5, 0.5], &[0.49, 0.51], 60, true));
        assert!(!decide(&[0.5, 0.5], &[0.5, 0.5], 60, false));
    }

    #[test]
    fn variant_added_or_removed_is_published() {
        assert!(decide(&[0.5, 0.5], &[0.4, 0.3, 0.3], 0, false));
        assert!(decide(&[0.4, 0.3, 0.3], &[0.5, 0.5], 0, false));
    }

    #[test]
    fn clock_going_backwards_is_not_due() {
        assert!(!decide(&[0.5, 0.5], &[0.5, 0.5], -30, true));
        assert!(decide(&[0.5, 0.5], &[0.1, 0.9], -30, true));
    }
}

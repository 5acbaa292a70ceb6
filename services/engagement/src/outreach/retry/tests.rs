use std::time::Duration;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

#[test]
fn transient_and_permanent_failures() {
    use FailureClass::{Permanent, Transient};
    let cases = [
        (ProviderFailure::Http { status: 500 }, Transient),
        (ProviderFailure::Http { status: 503 }, Transient),
        (ProviderFailure::Http { status: 429 }, Transient),
        (ProviderFailure::Http { status: 408 }, Transient),
        (ProviderFailure::Http { status: 400 }, Permanent),
        (ProviderFailure::Http { status: 404 }, Permanent),
        (ProviderFailure::Http { status: 422 }, Permanent),
        (ProviderFailure::Http { status: 301 }, Permanent),
        (ProviderFailure::Smtp { code: 421 }, Transient),
        (ProviderFailure::Smtp { code: 452 }, Transient),
        (ProviderFailure::Smtp { code: 550 }, Permanent),
        (ProviderFailure::Timeout, Transient),
        (ProviderFailure::Connect, Transient),
        (ProviderFailure::SoftBounce, Transient),
        (ProviderFailure::HardBounce, Permanent),
        (ProviderFailure::InvalidNumber, Permanent),
        (ProviderFailure::InvalidAddress, Permanent),
        (ProviderFailure::RecipientOptedOut, Permanent),
    ];
    for (failure, class) in cases {
        assert_eq!(classify(&failure), class, "{failure:?}");
        assert_eq!(
            failure.counts_against_provider(),
            class == Transient,
            "{failure:?}"
        );
    }
}

#[test]
fn transient_failures_are_retried_three_times_then_given_up() {
    let policy = RetryPolicy::default();
    let mut rng = rng();
    let failure = ProviderFailure::Http { status: 500 };
    let delays: Vec<Option<Duration>> = (0..5)
        .map(|attempt| policy.next_delay(attempt, &failure, &mut rng))
        .collect();
    assert!(delays[..3].iter().all(Option::is_some));
    assert_eq!(delays[3..], [None, None]);
    // Each retry waits at most base · 2^n.
    for (n, delay) in delays[..3].iter().enumerate() {
        let ceiling = Duration::from_millis(500 * 2u64.pow(n as u32));
        assert!(delay.is_some_and(|d| d <= ceiling), "retry {n}: {delay:?}");
    }
}

#[test]
fn permanent_failures_are_not_retried() {
    let policy = RetryPolicy::default();
    let mut rng = rng();
    for failure in [
        ProviderFailure::Http { status: 400 },
        ProviderFailure::HardBounce,
        ProviderFailure::InvalidNumber,
    ] {
        assert_eq!(
            policy.next_delay(0, &failure, &mut rng),
            None,
            "{failure:?}"
        );
    }
}

#[test]
fn full_jitter_spreads_over_the_whole_range() {
    let mut rng = rng();
    let base = Duration::from_millis(100);
    let cap = Duration::from_secs(60);
    for attempt in 0..4 {
        let ceiling = base * 2u32.pow(attempt);
        let samples: Vec<Duration> = (0..2_000)
            .map(|_| backoff(attempt, base, cap, &mut rng))
            .collect();
        let max = samples.iter().max().copied().unwrap_or_default();
        let min = samples.iter().min().copied().unwrap_or_default();
        assert!(max <= ceiling);
        assert!(max > ceiling * 9 / 10, "attempt {attempt}: max {max:?}");
        assert!(min < ceiling / 10, "attempt {attempt}: min {min:?}");
        let mean = samples.iter().sum::<Duration>() / 2_000;
        assert!(
            mean > ceiling * 2 / 5 && mean < ceiling * 3 / 5,
            "mean {mean:?}"
        );
    }
}

#[test]
fn policy_reads_from_config() {
    let policy: RetryPolicy = serde_json::from_str(r#"{"base_ms": 50}"#).expect("parse");
    assert_eq!(policy.base_ms, 50);
    assert_eq!(policy.max_retries, 3);
    assert!(serde_json::from_str::<RetryPolicy>(r#"{"retries": 2}"#).is_err());
}

proptest! {
    #[test]
    fn backoff_stays_within_the_capped_ceiling(
        attempt in 0u32..80,
        base_ms in 0u64..10_000,
        cap_ms in 0u64..600_000,
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let base = Duration::from_millis(base_ms);
        let cap = Duration::from_millis(cap_ms);
        let delay = backoff(attempt, base, cap, &mut rng);
        prop_assert!(delay <= cap);
        if attempt < 20 {
            prop_assert!(delay <= base * 2u32.pow(attempt));
        }
    }
}

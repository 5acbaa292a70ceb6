use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;

use super::*;

fn breaker() -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    let breaker =
        CircuitBreaker::with_clock("webhook", BreakerConfig::default(), Arc::new(clock.clone()));
    (breaker, clock)
}

fn outcomes(breaker: &CircuitBreaker, ok: usize, failed: usize) {
    for _ in 0..ok {
        breaker.try_acquire().expect("closed").success();
    }
    for _ in 0..failed {
        breaker.try_acquire().expect("closed").failure();
    }
}

fn trip(breaker: &CircuitBreaker) {
    outcomes(breaker, 0, 10);
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[test]
fn stays_closed_below_the_minimum_number_of_calls() {
    let (breaker, _) = breaker();
    outcomes(&breaker, 0, 9);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[test]
fn opens_at_half_failures_over_the_window() {
    let (breaker, _) = breaker();
    outcomes(&breaker, 6, 4);
    assert_eq!(breaker.state(), BreakerState::Closed, "40% keeps it closed");
    let (breaker, _) = self::breaker();
    outcomes(&breaker, 5, 5);
    assert_eq!(breaker.state(), BreakerState::Open, "50% opens it");
    let refused = breaker.try_acquire().err().expect("refused");
    assert_eq!(refused.breaker, "webhook");
    assert_eq!(refused.retry_after, Duration::from_secs(30));
}

#[test]
fn old_outcomes_slide_out_of_the_window() {
    let (breaker, clock) = breaker();
    outcomes(&breaker, 0, 9);
    clock.advance(Duration::from_secs(61));
    outcomes(&breaker, 2, 1);
    assert_eq!(breaker.state(), BreakerState::Closed);
    // Within one window, the same failures do open it.
    outcomes(&breaker, 0, 7);
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[test]
fn open_half_opens_after_30_s_and_three_good_probes_close_it() {
    let (breaker, clock) = breaker();
    trip(&breaker);
    clock.advance(Duration::from_secs(29));
    assert_eq!(breaker.state(), BreakerState::Open);
    let refused = breaker.try_acquire().err().expect("still open");
    assert_eq!(refused.retry_after, Duration::from_secs(1));

    clock.advance(Duration::from_secs(1));
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    let probes: Vec<Permit> = (0..3)
        .map(|_| breaker.try_acquire().expect("probe"))
        .collect();
    assert!(probes.iter().all(Permit::is_probe));
    assert!(breaker.try_acquire().is_err(), "a fourth call waits");
    for probe in probes {
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        probe.success();
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    // Closed with a fresh window: nine failures do not reopen it.
    outcomes(&breaker, 0, 9);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[test]
fn a_failing_probe_opens_it_again() {
    let (breaker, clock) = breaker();
    trip(&breaker);
    clock.advance(Duration::from_secs(30));
    let first = breaker.try_acquire().expect("probe");
    let second = breaker.try_acquire().expect("probe");
    first.success();
    second.failure();
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(
        breaker.try_acquire().err().map(|e| e.retry_after),
        Some(Duration::from_secs(30))
    );
    clock.advance(Duration::from_secs(30));
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
}

#[test]
fn an_abandoned_probe_frees_its_slot() {
    let (breaker, clock) = breaker();
    trip(&breaker);
    clock.advance(Duration::from_secs(30));
    let kept: Vec<Permit> = (0..2)
        .map(|_| breaker.try_acquire().expect("probe"))
        .collect();
    drop(breaker.try_acquire().expect("probe"));
    let last = breaker.try_acquire().expect("the dropped probe's slot");
    last.success();
    kept.into_iter().for_each(Permit::success);
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[test]
fn outcomes_from_before_a_state_change_are_ignored() {
    let (breaker, clock) = breaker();
    let slow = breaker.try_acquire().expect("closed");
    trip(&breaker);
    clock.advance(Duration::from_secs(30));
    let probe = breaker.try_acquire().expect("probe");
    // The slow call admitted while closed neither closes nor reopens it.
    slow.failure();
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    probe.success();
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
}

#[test]
fn the_state_is_published_as_a_gauge() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let gauge = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("circuit_breaker_state{breaker=\"smtp\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    metrics::with_local_recorder(&recorder, || {
        let clock = ManualClock::new();
        let breaker =
            CircuitBreaker::with_clock("smtp", BreakerConfig::default(), Arc::new(clock.clone()));
        assert_eq!(gauge(&handle.render()).as_deref(), Some("0"));
        trip(&breaker);
        assert_eq!(gauge(&handle.render()).as_deref(), Some("2"));
        clock.advance(Duration::from_secs(30));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert_eq!(gauge(&handle.render()).as_deref(), Some("1"));
    });
}

#[test]
fn config_reads_seconds() {
    let config: BreakerConfig =
        serde_json::from_str(r#"{"open_for": 5, "probes": 1}"#).expect("parse");
    assert_eq!(config.open_for, Duration::from_secs(5));
    assert_eq!(config.window, Duration::from_secs(60));
    assert_eq!(config.probes, 1);
    assert!(serde_json::from_str::<BreakerConfig>(r#"{"opn_for": 5}"#).is_err());
}

#[tokio::test]
async fn call_counts_only_the_failures_it_is_told_to() {
    let (breaker, _) = breaker();
    for _ in 0..10 {
        // A permanent rejection (400) is the provider answering: not a failure.
        let result = breaker
            .call(|| async { Err::<(), u16>(400) }, |status| *status >= 500)
            .await
            .expect("closed");
        assert_eq!(result, Err(400));
    }
    assert_eq!(breaker.state(), BreakerState::Closed);
    for _ in 0..10 {
        let _ = breaker
            .call(|| async { Err::<(), u16>(503) }, |status| *status >= 500)
            .await;
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    let refused = breaker.call(|| async { Ok::<_, u16>(()) }, |_| true).await;
    assert!(refused.is_err());
}

//! A circuit breaker per provider (docs/architecture.md §4.5).
//!
//! - **Closed**: calls pass; outcomes go into a sliding time window
//!   ([`BreakerConfig::window`], in [`BUCKETS`] buckets). Once the window
//!   holds at least [`BreakerConfig::min_calls`] outcomes and at least
//!   [`BreakerConfig::failure_rate`] of them are failures, it opens.
//! - **Open**: calls are refused with [`BreakerOpen`] for
//!   [`BreakerConfig::open_for`].
//! - **Half-open**: then up to [`BreakerConfig::probes`] calls are let
//!   through as probes. When all of them succeed it closes (with an empty
//!   window); the first failing probe opens it again for another
//!   `open_for`. A probe dropped without an outcome frees its slot.
//!
//! Outcomes of calls admitted before the latest state change are ignored,
//! so a slow call started while closed cannot close a breaker that has
//! opened since. The state is published as the gauge
//! [`suite_telemetry::names::BREAKER_STATE`]`{breaker}` (0 closed,
//! 1 half-open, 2 open). Time comes from a [`Clock`], so tests drive it.
//!
//! Report a transient failure (timeout, 5xx, connection error) as a
//! failure, and a permanent per-recipient rejection (hard bounce, invalid
//! number) as a success: the provider answered.
//!
//! Why not a crate: `failsafe` (the kept Rust breaker) closes on the first
//! successful half-open call and admits any number of them, and its clock
//! is a global test hook; the required semantics (a fixed number of probes
//! that must all succeed, a per-instance clock, a labelled gauge) are this
//! small module.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use thiserror::Error;

mod clock;
mod config;
mod permit;
mod window;

#[cfg(test)]
mod tests;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::BreakerConfig;
pub use permit::Permit;
use window::Window;

/// Buckets of the sliding window: outcomes expire `window / BUCKETS` at a time.
pub const BUCKETS: u32 = 10;
/// `retry_after` of a call refused because every half-open probe is taken.
const PROBES_BUSY_RETRY: Duration = Duration::from_secs(1);

/// The state of a breaker, with its gauge value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls pass (gauge 0).
    Closed,
    /// Probes pass (gauge 1).
    HalfOpen,
    /// Calls are refused (gauge 2).
    Open,
}

impl BreakerState {
    /// The value of the `circuit_breaker_state` gauge.
    pub const fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

/// A call refused by an open (or fully probed half-open) breaker.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("circuit breaker {breaker} is open; retry in {retry_after:?}")]
pub struct BreakerOpen {
    /// The breaker's name.
    pub breaker: String,
    /// When a call may be let through again (at the earliest).
    pub retry_after: Duration,
}

/// A circuit breaker. Cheap to clone; clones share the state.
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.name)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

struct Inner {
    name: String,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    shared: Mutex<Shared>,
}

struct Shared {
    state: Phase,
    /// Bumped on every state change; permits of an older generation are ignored.
    generation: u64,
    window: Window,
}

enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { admitted: u32, succeeded: u32 },
}

impl CircuitBreaker {
    /// A closed breaker named `name` (the gauge's `breaker` label) on the system clock.
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Self {
        Self::with_clock(name, config, Arc::new(SystemClock))
    }

    /// A closed breaker reading time from `clock`.
    pub fn with_clock(
        name: impl Into<String>,
        config: BreakerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let now = clock.now();
        let breaker = Self {
            inner: Arc::new(Inner {
                name: name.into(),
                config,
                clock,
                shared: Mutex::new(Shared {
                    state: Phase::Closed,
                    generation: 0,
                    window: Window::new(config.window, BUCKETS, now),
                }),
            }),
        };
        breaker.publish(BreakerState::Closed);
        breaker
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The current state (an open breaker whose time is up reads half-open).
    pub fn state(&self) -> BreakerState {
        let mut shared = self.lock();
        self.refresh(&mut shared);
        shared.state.public()
    }

    /// Asks to make a call: a [`Permit`] to report its outcome on, or
    /// [`BreakerOpen`] when the breaker refuses it.
    pub fn try_acquire(&self) -> Result<Permit, BreakerOpen> {
        let now = self.inner.clock.now();
        let mut shared = self.lock();
        self.refresh(&mut shared);
        let probes = self.inner.config.probes.max(1);
        let refused = |retry_after| BreakerOpen {
            breaker: self.inner.name.clone(),
            retry_after,
        };
        let probe = match &mut shared.state {
            Phase::Closed => false,
            Phase::Open { until } => return Err(refused(until.saturating_duration_since(now))),
            Phase::HalfOpen { admitted, .. } if *admitted >= probes => {
                return Err(refused(PROBES_BUSY_RETRY))
            }
            Phase::HalfOpen { admitted, .. } => {
                *admitted += 1;
                true
            }
        };
        Ok(Permit::new(self.clone(), shared.generation, probe))
    }

    /// Runs `call` under the breaker: refused at once when open; otherwise
    /// its result is recorded, `is_failure` telling which errors count
    /// against the provider.
    pub async fn call<T, E, Fut>(
        &self,
        call: impl FnOnce() -> Fut,
        is_failure: impl FnOnce(&E) -> bool,
    ) -> Result<Result<T, E>, BreakerOpen>
    where
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire()?;
        let result = call().await;
        match &result {
            Err(e) if is_failure(e) => permit.failure(),
            _ => permit.success(),
        }
        Ok(result)
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock leaves consistent counters; keep going.
        self.inner
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves an open breaker whose time is up to half-open.
    fn refresh(&self, shared: &mut Shared) {
        if let Phase::Open { until } = shared.state {
            if self.inner.clock.now() >= until {
                self.transition(shared, BreakerState::HalfOpen);
            }
        }
    }

    fn transition(&self, shared: &mut Shared, to: BreakerState) {
        let now = self.inner.clock.now();
        shared.generation += 1;
        shared.state = match to {
            BreakerState::Closed => {
                shared.window.clear(now);
                Phase::Closed
            }
            BreakerState::Open => Phase::Open {
                until: now + self.inner.config.open_for,
            },
            BreakerState::HalfOpen => Phase::HalfOpen {
                admitted: 0,
                succeeded: 0,
            },
        };
        tracing::info!(breaker = %self.inner.name, state = ?to, "circuit breaker state changed");
        self.publish(to);
    }

    fn publish(&self, state: BreakerState) {
        metrics::gauge!(
            suite_telemetry::names::BREAKER_STATE,
            "breaker" => self.inner.name.clone()
        )
        .set(state.gauge());
    }

    fn record(&self, generation: u64, probe: bool, outcome: Option<bool>) {
        let mut shared = self.lock();
        if shared.generation != generation {
            return;
        }
        let config = self.inner.config;
        let now = self.inner.clock.now();
        match (&mut shared.state, outcome) {
            (Phase::Closed, Some(ok)) => {
                shared.window.record(now, ok);
                let (calls, failures) = shared.window.totals(now);
                if !ok
                    && calls >= config.min_calls.max(1)
                    && f64::from(failures) >= config.failure_rate * f64::from(calls)
                {
                    self.transition(&mut shared, BreakerState::Open);
                }
            }
            (Phase::HalfOpen { .. }, Some(false)) if probe => {
                self.transition(&mut shared, BreakerState::Open);
            }
            (Phase::HalfOpen { succeeded, .. }, Some(true)) if probe => {
                *succeeded += 1;
                if *succeeded >= config.probes.max(1) {
                    self.transition(&mut shared, BreakerState::Closed);
                }
            }
            // A probe abandoned without an outcome frees its slot.
            (Phase::HalfOpen { admitted, .. }, None) if probe => {
                *admitted = admitted.saturating_sub(1);
            }
            _ => {}
        }
    }
}

impl Phase {
    fn public(&self) -> BreakerState {
        match self {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

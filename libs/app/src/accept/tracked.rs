//! The open connections of one listener and whether each has a request in
//! flight, so that idle ones can be closed to make room, and all of them at
//! shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How long a connection must have been without a request before it gives
/// up its place: a connection just opened (or just answered) is about to be
/// used, and closing it would fail its client's request.
pub(super) const RECLAIM_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The open connections.
#[derive(Clone)]
pub(super) struct Registry {
    epoch: Instant,
    next: Arc<AtomicU64>,
    open: Arc<Mutex<HashMap<u64, Arc<State>>>>,
}

/// One connection's requests in flight, when it last had one, and its close
/// request.
#[derive(Default)]
pub(super) struct State {
    in_flight: AtomicUsize,
    /// Milliseconds after the registry's epoch when the connection opened or
    /// its last request ended.
    idle_since_ms: AtomicU64,
    closing: AtomicBool,
    close: Notify,
}

/// A registered connection; leaves the registry when dropped.
pub(super) struct Tracked {
    id: u64,
    state: Arc<State>,
    registry: Registry,
}

/// A request in flight on a connection (counted until dropped).
pub(super) struct Busy(Arc<State>, Registry);

impl Default for Registry {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            next: Arc::default(),
            open: Arc::default(),
        }
    }
}

impl Registry {
    /// Registers a new connection.
    pub(super) fn track(&self) -> Tracked {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(State {
            idle_since_ms: AtomicU64::new(self.now_ms()),
            ..State::default()
        });
        self.with_open(|open| {
            open.insert(id, state.clone());
        });
        Tracked {
            id,
            state,
            registry: self.clone(),
        }
    }

    /// Asks every connection without a request in flight for at least
    /// `idle` to close; returns how many such connections there are (closing
    /// already or now).
    pub(super) fn close_idle(&self, idle: Duration) -> usize {
        let now = self.now_ms();
        let idle = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        self.with_open(|open| {
            open.values()
                .filter(|s| s.in_flight.load(Ordering::Acquire) == 0)
                .filter(|s| now.saturating_sub(s.idle_since_ms.load(Ordering::Acquire)) >= idle)
                .inspect(|s| s.ask_to_close())
                .count()
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Asks every connection to close after its request in flight.
    pub(super) fn close_all(&self) {
        self.with_open(|open| open.values().for_each(|s| s.ask_to_close()));
    }

    fn with_open<T>(&self, f: impl FnOnce(&mut HashMap<u64, Arc<State>>) -> T) -> T {
        // A panic while holding this lock cannot leave the map inconsistent
        // (single inserts and removes), so a poisoned lock is still usable.
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut open)
    }
}

impl State {
    /// Counts a request until the returned guard is dropped; `registry`
    /// clocks when it ends.
    pub(super) fn busy(self: &Arc<Self>, registry: &Registry) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone(), registry.clone())
    }

    fn ask_to_close(&self) {
        if !self.closing.swap(true, Ordering::AcqRel) {
            self.close.notify_one();
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0
            .idle_since_ms
            .store(self.1.now_ms(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Tracked {
    /// The shared state, for counting requests.
    pub(super) fn state(&self) -> Arc<State> {
        self.state.clone()
    }

    /// The registry it belongs to (its clock).
    pub(super) fn registry(&self) -> Registry {
        self.registry.clone()
    }

    /// Completes once the connection is asked to close.
    pub(super) async fn close_requested(&self) {
        self.state.close.notified().await;
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let id = self.id;
        self.registry.with_open(|open| {
            open.remove(&id);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_connections_without_a_request_in_flight_are_closed_to_make_room() {
        let registry = Registry::default();
        let idle = registry.track();
        let busy = registry.track();
        let request = busy.state().busy(&registry);
        assert_eq!(
            registry.close_idle(Duration::from_secs(3600)),
            0,
            "none has been idle that long"
        );
        assert_eq!(registry.close_idle(Duration::ZERO), 1);
        assert!(idle.state.closing.load(Ordering::Acquire));
        assert!(!busy.state.closing.load(Ordering::Acquire));
        drop(request);
        assert_eq!(
            registry.close_idle(Duration::ZERO),
            2,
            "the asked one still counts until it is gone"
        );
        drop(idle);
        drop(busy);
        assert_eq!(registry.close_idle(Duration::ZERO), 0);
    }
}

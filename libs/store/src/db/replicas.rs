//! Read replicas: their lazily connected pools, what the last probe saw, and
//! the choice of a replica for a read.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::consistency::Lsn;
use crate::error::{Result, StoreError};
use crate::metric_names::{DB_REPLICA_HEALTHY, DB_REPLICA_LAG_BYTES};

/// Diagnostics of one replica, as last probed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplicaStatus {
    /// Position of the replica in `database.replica_urls`.
    pub index: usize,
    /// `host:port/database` (never the password).
    pub target: String,
    /// Whether reads are currently routed to it (reachable, in recovery, within the lag bound, recently probed).
    pub usable: bool,
    /// Whether the last probe got an answer.
    pub reachable: bool,
    /// `pg_is_in_recovery()` at the last probe (false: not a standby, e.g. promoted).
    pub in_recovery: bool,
    /// `pg_last_wal_replay_lsn()` at the last probe.
    pub replay_lsn: Option<Lsn>,
    /// Bytes of WAL the replay was behind the primary at the last probe.
    pub lag_bytes: Option<u64>,
    /// Connections of its read pool in use.
    pub busy_connections: u32,
    /// Connections of its read pool idle.
    pub idle_connections: u32,
    /// Milliseconds since the last probe finished, if any ran.
    pub last_probe_ms_ago: Option<u64>,
    /// The last probe's error, if it failed.
    pub last_error: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct ProbeState {
    reachable: bool,
    in_recovery: bool,
    replay_lsn: Option<Lsn>,
    lag_bytes: Option<u64>,
    probed_at: Option<Instant>,
    last_error: Option<String>,
}

/// One replica: a pool for reads and a one-connection pool for probes, so a
/// busy read pool never delays the health check.
pub(crate) struct Replica {
    index: usize,
    target: String,
    pub(crate) pool: PgPool,
    probe_pool: PgPool,
    state: Mutex<ProbeState>,
}

impl Replica {
    /// Creates the replica's pools without connecting (a down replica must not block start-up).
    pub(crate) fn new(
        index: usize,
        options: PgConnectOptions,
        max_connections: u32,
        acquire_timeout: Duration,
        probe_timeout: Duration,
    ) -> Self {
        let target = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(options.clone());
        let probe_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(probe_timeout)
            .connect_lazy_with(options);
        Self {
            index,
            target,
            pool,
            probe_pool,
            state: Mutex::new(ProbeState::default()),
        }
    }

    fn state(&self) -> ProbeState {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Asks the replica whether it is a standby and how far it has replayed.
    pub(crate) async fn probe(&self, timeout: Duration) -> Result<(bool, Option<Lsn>)> {
        let query = sqlx::query_as::<_, (bool, Option<String>)>(
            "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text",
        )
        .fetch_one(&self.probe_pool);
        let (in_recovery, lsn) =
            tokio::time::timeout(timeout, query)
                .await
                .map_err(|_| StoreError::Timeout {
                    operation: "replica probe",
                    after: timeout,
                })??;
        let lsn = lsn.as_deref().map(str::parse::<Lsn>).transpose()?;
        Ok((in_recovery, lsn))
    }

    /// Stores a probe's outcome and exports it as metrics. `primary` is the
    /// primary's current WAL position, if it could be read.
    pub(crate) fn record(
        &self,
        outcome: Result<(bool, Option<Lsn>)>,
        primary: Option<Lsn>,
        max_lag: u64,
        stale_after: Duration,
    ) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let was_usable = is_usable(&state, max_lag, stale_after);
        match outcome {
            Ok((in_recovery, replay_lsn)) => {
                state.reachable = true;
                state.in_recovery = in_recovery;
                state.replay_lsn = replay_lsn;
                // Without the primary's position keep the last lag: still a bound worth using.
                if let (Some(primary), Some(replay)) = (primary, replay_lsn) {
                    state.lag_bytes = Some(primary.bytes_since(replay));
                } else if replay_lsn.is_none() {
                    state.lag_bytes = None;
                }
                state.last_error = None;
            }
            Err(e) => {
                state.reachable = false;
                state.last_error = Some(e.to_string());
            }
        }
        state.probed_at = Some(Instant::now());
        let usable = is_usable(&state, max_lag, stale_after);
        let label = [("replica", self.index.to_string())];
        metrics::gauge!(DB_REPLICA_HEALTHY, &label).set(if usable { 1.0 } else { 0.0 });
        if let Some(lag) = state.lag_bytes {
            // Gauges are f64; precision loss past 2^53 bytes of lag is irrelevant.
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!(DB_REPLICA_LAG_BYTES, &label).set(lag as f64);
        }
        if usable != was_usable {
            if usable {
                tracing::info!(replica = self.index, target = %self.target, "replica usable for reads");
            } else {
                tracing::warn!(
                    replica = self.index,
                    target = %self.target,
                    reachable = state.reachable,
                    in_recovery = state.in_recovery,
                    lag_bytes = state.lag_bytes,
                    error = state.last_error.as_deref(),
                    "replica skipped for reads"
                );
            }
        }
    }

    /// Whether reads may go here; with `required`, only if its replay reached that position.
    pub(crate) fn eligible(
        &self,
        max_lag: u64,
        stale_after: Duration,
        required: Option<Lsn>,
    ) -> bool {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        is_usable(&state, max_lag, stale_after)
            && required.is_none_or(|req| state.replay_lsn.is_some_and(|lsn| lsn >= req))
    }

    /// Connections of the read pool in use.
    pub(crate) fn busy(&self) -> u32 {
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        self.pool.size().saturating_sub(idle)
    }

    /// Diagnostics snapshot.
    pub(crate) fn status(&self, max_lag: u64, stale_after: Duration) -> ReplicaStatus {
        let state = self.state();
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        ReplicaStatus {
            index: self.index,
            target: self.target.clone(),
            usable: is_usable(&state, max_lag, stale_after),
            reachable: state.reachable,
            in_recovery: state.in_recovery,
            replay_lsn: state.replay_lsn,
            lag_bytes: state.lag_bytes,
            busy_connections: self.pool.size().saturating_sub(idle),
            idle_connections: idle,
            last_probe_ms_ago: state
                .probed_at
                .map(|t| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)),
            last_error: state.last_error,
        }
    }
}

fn is_usable(state: &ProbeState, max_lag: u64, stale_after: Duration) -> bool {
    state.reachable
        && state.in_recovery
        && state.replay_lsn.is_some()
        && state.lag_bytes.is_some_and(|lag| lag <= max_lag)
        // A probe result that is too old (monitor stopped or stuck) proves nothing.
        && state.probed_at.is_some_and(|t| t.elapsed() <= stale_after)
}

/// Picks the eligible replica with the fewest busy connections, rotating the
/// starting point so ties are served round robin.
pub(crate) fn choose<'a>(
    replicas: &'a [Replica],
    cursor: &AtomicUsize,
    max_lag: u64,
    stale_after: Duration,
    required: Option<Lsn>,
) -> Option<&'a Replica> {
    let n = replicas.len();
    if n == 0 {
        return None;
    }
    let start = cursor.fetch_add(1, Ordering::Relaxed);
    let mut best: Option<(&Replica, u32)> = None;
    for i in 0..n {
        let replica = &replicas[(start + i) % n];
        if !replica.eligible(max_lag, stale_after, required) {
            continue;
        }
        let busy = replica.busy();
        if best.is_none_or(|(_, b)| busy < b) {
            best = Some((replica, busy));
        }
    }
    best.map(|(replica, _)| replica)
}

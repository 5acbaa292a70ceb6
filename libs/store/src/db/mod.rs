//! Postgres: the primary for writes and transactions, read replicas chosen by
//! health, lag and load, and read-your-writes across service instances.

mod consistency;
mod replicas;
mod transient;

use std::str::FromStr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use suite_config::DatabaseSettings;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use consistency::Lsn;
pub use replicas::ReplicaStatus;
pub use transient::is_transient;

use self::consistency::{Pending, WriteTracker};
use self::replicas::Replica;
use crate::error::{Result, StoreError};
use crate::metric_names::DB_READS_TOTAL;
use crate::redis::Redis;

/// Longest a single replica probe may take: a dead replica is noticed within
/// about a probe interval plus this.
const MAX_PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const MIN_PROBE_TIMEOUT: Duration = Duration::from_millis(200);
/// Deadline of a readiness ping of the primary.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Handle on the primary and the replicas. Cheap to clone; clones share pools and state.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    primary: PgPool,
    /// One connection of its own for readiness pings and the replica
    /// monitor's WAL position: a pool saturated by work is not a primary down.
    probe: PgPool,
    replicas: Vec<Replica>,
    cursor: AtomicUsize,
    max_lag: u64,
    probe_interval: Duration,
    probe_timeout: Duration,
    /// Probe results older than this are ignored (monitor stopped or stuck).
    stale_after: Duration,
    writes: WriteTracker,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("replicas", &self.inner.replicas.len())
            .field("max_lag", &self.inner.max_lag)
            .finish_non_exhaustive()
    }
}

fn parse_url(url: &str, setting: &str) -> Result<PgConnectOptions> {
    // The error may echo the URL (and its password): do not include it.
    PgConnectOptions::from_str(url)
        .map_err(|_| StoreError::Config(format!("{setting} is not a valid Postgres URL")))
}

impl Db {
    /// Connects to the primary (must succeed) and creates lazy pools for the
    /// replicas (a replica that is down does not delay start-up). `redis`, when
    /// given, shares clients' write positions across instances.
    ///
    /// Replicas are used only once [`Db::spawn_monitor`] (or [`Db::refresh_replicas`])
    /// has probed them; until then every read goes to the primary.
    pub async fn connect(settings: &DatabaseSettings, redis: Option<Redis>) -> Result<Self> {
        let acquire_timeout = Duration::from_secs(settings.acquire_timeout_secs.max(1));
        let primary_options = parse_url(settings.url.expose_secret(), "database.url")?;
        let primary = PgPoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(acquire_timeout)
            .connect_with(primary_options.clone())
            .await?;
        let probe = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(PING_TIMEOUT)
            .connect_lazy_with(primary_options);
        let probe_interval = Duration::from_millis(settings.replica_probe_interval_ms.max(10));
        let probe_timeout = probe_interval.clamp(MIN_PROBE_TIMEOUT, MAX_PROBE_TIMEOUT);
        let replicas = settings
            .replica_urls
            .iter()
            .enumerate()
            .map(|(index, url)| {
                let options = parse_url(
                    url.expose_secret(),
                    &format!("database.replica_urls[{index}]"),
                )?;
                Ok(Replica::new(
                    index,
                    options,
                    settings.replica_max_connections,
                    acquire_timeout,
                    probe_timeout,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            inner: Arc::new(Inner {
                primary,
                probe,
                replicas,
                cursor: AtomicUsize::new(0),
                max_lag: settings.replica_max_lag_bytes,
                probe_interval,
                probe_timeout,
                stale_after: (probe_interval + probe_timeout) * 3,
                writes: WriteTracker::new(
                    redis,
                    Duration::from_secs(settings.read_your_writes_secs),
                ),
            }),
        })
    }

    /// The primary: every write and every transaction goes here.
    pub fn primary(&self) -> &PgPool {
        &self.inner.primary
    }

    /// A pool for a read. `client` identifies who reads (an API key, workspace,
    /// session…); pass it whenever that client may have written recently.
    ///
    /// Picks, among replicas that answer, are standbys, lag at most
    /// `replica_max_lag_bytes` and — for a `client` with a write in the last
    /// `read_your_writes_secs` — have replayed that write, the one with the
    /// fewest busy connections (ties round robin). With none, the primary.
    pub async fn read(&self, client: Option<&str>) -> PgPool {
        let inner = &self.inner;
        let any = inner
            .replicas
            .iter()
            .any(|r| r.eligible(inner.max_lag, inner.stale_after, None));
        if !any {
            return self.read_primary();
        }
        let required = match client {
            None => None,
            Some(client) => match inner.writes.pending(client).await {
                Pending::None => None,
                Pending::AtLeast(lsn) => Some(lsn),
                Pending::Unknown => return self.read_primary(),
            },
        };
        match replicas::choose(
            &inner.replicas,
            &inner.cursor,
            inner.max_lag,
            inner.stale_after,
            required,
        ) {
            Some(replica) => {
                metrics::counter!(DB_READS_TOTAL, "target" => "replica").increment(1);
                replica.pool.clone()
            }
            None => self.read_primary(),
        }
    }

    fn read_primary(&self) -> PgPool {
        metrics::counter!(DB_READS_TOTAL, "target" => "primary").increment(1);
        self.inner.primary.clone()
    }

    /// Records that `client`'s write has committed: until a replica has replayed
    /// the primary's current WAL position (or `read_your_writes_secs` pass),
    /// [`Db::read`] for `client` avoids replicas that have not.
    ///
    /// Fails only if the primary cannot be asked for its position; a Redis
    /// failure is logged and the position kept in this process.
    pub async fn note_write(&self, client: &str) -> Result<()> {
        let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
            .fetch_one(&self.inner.primary)
            .await?;
        let lsn: Lsn = lsn.parse()?;
        self.inner.writes.record(client, lsn).await;
        Ok(())
    }

    /// Runs `SELECT 1` on the primary (readiness), on a connection kept for
    /// probes: requests waiting for the pool do not make the primary look down.
    pub async fn ping(&self) -> Result<()> {
        let query = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&self.inner.probe);
        tokio::time::timeout(PING_TIMEOUT, query)
            .await
            .map_err(|_| StoreError::Timeout {
                operation: "primary ping",
                after: PING_TIMEOUT,
            })??;
        Ok(())
    }

    /// Whether the primary answers (see [`Db::ping`]).
    pub async fn is_healthy(&self) -> bool {
        self.ping().await.is_ok()
    }

    /// What the last probe saw of each replica, in `replica_urls` order.
    pub fn replica_status(&self) -> Vec<ReplicaStatus> {
        self.inner
            .replicas
            .iter()
            .map(|r| r.status(self.inner.max_lag, self.inner.stale_after))
            .collect()
    }

    /// Probes every replica once, concurrently, and updates their state.
    pub async fn refresh_replicas(&self) {
        let inner = &self.inner;
        if inner.replicas.is_empty() {
            return;
        }
        // The primary's position is read first: the lag computed against it can
        // only err on the small side by what was written during the probe.
        let primary = tokio::time::timeout(
            inner.probe_timeout,
            sqlx::query_scalar::<_, String>("SELECT pg_current_wal_lsn()::text")
                .fetch_one(&inner.probe),
        )
        .await;
        let primary = match primary {
            Ok(Ok(text)) => text.parse::<Lsn>().ok(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not read the primary's WAL position");
                None
            }
            Err(_) => {
                tracing::warn!("reading the primary's WAL position timed out");
                None
            }
        };
        let probes = inner.replicas.iter().map(|r| r.probe(inner.probe_timeout));
        let outcomes = futures::future::join_all(probes).await;
        for (replica, outcome) in inner.replicas.iter().zip(outcomes) {
            replica.record(outcome, primary, inner.max_lag, inner.stale_after);
        }
    }

    /// Starts the replica monitor: probes at once, then every
    /// `replica_probe_interval_ms`, until `shutdown` is cancelled.
    pub fn spawn_monitor(&self, shutdown: CancellationToken) -> JoinHandle<()> {
        let db = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(db.inner.probe_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break,
                    _ = ticks.tick() => db.refresh_replicas().await,
                }
            }
        })
    }
}

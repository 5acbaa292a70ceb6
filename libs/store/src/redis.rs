//! The Redis cluster client: a pool of cluster connections (deadpool), key
//! prefixing and hash tags, bounded commands, and plain pub/sub connections.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_redis::cluster::{Config, PoolConfig, Runtime, Timeouts};
use secrecy::{ExposeSecret, SecretString};
use suite_config::RedisSettings;

use crate::error::{Result, StoreError};

mod connection;

pub use connection::Connection;

/// After a failed attempt to reach the cluster, commands fail fast for this
/// long instead of each paying the connect timeout again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// Floor of the connect deadline (TCP connect plus slot discovery).
const MIN_CONNECT_TIMEOUT: Duration = Duration::from_millis(1_000);

/// Handle on the Redis cluster. Cheap to clone; clones share one pool.
///
/// Creating it does not contact Redis: the pool connects lazily, so a
/// service starts (degraded) while Redis is down. Use [`Redis::ping`] for
/// readiness.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    pool: deadpool_redis::cluster::Pool,
    /// The multiplexed connection every command shares (taken from the pool
    /// once; cleared after a failure so the next command takes a fresh one).
    /// Holding a pooled connection per command would queue callers behind
    /// `pool_size` connections and pay a health-check PING on every checkout.
    shared: std::sync::Mutex<Option<redis::cluster_async::ClusterConnection>>,
    nodes: Vec<SecretString>,
    prefix: String,
    command_timeout: Duration,
    connect_timeout: Duration,
    epoch: Instant,
    /// Milliseconds since `epoch` before which the cluster is treated as down (0 = not down).
    down_until_ms: AtomicU64,
    next_pubsub_node: AtomicUsize,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("nodes", &self.inner.nodes.len())
            .field("prefix", &self.inner.prefix)
            .field("command_timeout", &self.inner.command_timeout)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Builds the cluster connection pool from `settings` (see the type's docs: no I/O happens here).
    ///
    /// Fails on an empty node list, an unparsable node URL, or a key prefix
    /// containing `{` or `}` (it would break the hash tags of [`Redis::tagged`]).
    pub fn connect(settings: &RedisSettings) -> Result<Self> {
        if settings.nodes.is_empty() {
            return Err(StoreError::Config("redis.nodes is empty".into()));
        }
        if settings.key_prefix.contains(['{', '}']) {
            return Err(StoreError::Config(
                "redis.key_prefix must not contain `{` or `}` (hash tags)".into(),
            ));
        }
        let command_timeout = Duration::from_millis(settings.command_timeout_ms.max(1));
        let connect_timeout = command_timeout.max(MIN_CONNECT_TIMEOUT);
        let urls: Vec<String> = settings
            .nodes
            .iter()
            .map(|n| n.expose_secret().to_owned())
            .collect();
        let mut pool_config = PoolConfig::new(settings.pool_size.max(1));
        pool_config.timeouts = Timeouts {
            wait: Some(command_timeout),
            create: Some(connect_timeout),
            recycle: Some(command_timeout),
        };
        let config = Config {
            urls: Some(urls),
            connections: None,
            pool: Some(pool_config),
            read_from_replicas: false,
        };
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| StoreError::Config(format!("redis.nodes: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                shared: std::sync::Mutex::new(None),
                nodes: settings.nodes.clone(),
                prefix: settings.key_prefix.clone(),
                command_timeout,
                connect_timeout,
                epoch: Instant::now(),
                down_until_ms: AtomicU64::new(0),
                next_pubsub_node: AtomicUsize::new(0),
            }),
        })
    }

    /// A pooled cluster connection whose every command is bounded by `command_timeout_ms`.
    ///
    /// Fails fast with [`StoreError::RedisUnavailable`] for a second after the
    /// cluster could not be reached.
    pub async fn conn(&self) -> Result<Connection> {
        if self.backing_off() {
            return Err(StoreError::RedisUnavailable);
        }
        self.acquire().await
    }

    /// Checks that the cluster answers `PING` (readiness); ignores the back-off of [`Redis::conn`].
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.acquire().await?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    /// `key_prefix` followed by `parts`: the name of every key this suite writes.
    pub fn key(&self, parts: &str) -> String {
        format!("{}{parts}", self.inner.prefix)
    }

    /// A hash-tagged key `{prefix}{kind:id}:suffix` (the braces after the prefix are literal),
    /// so every key of one entity (e.g. `{lead:ID}`) lands in one cluster slot and can be
    /// used together in a pipeline, `MULTI` or script. An empty `suffix` yields `{prefix}{kind:id}`.
    pub fn tagged(&self, kind: &str, id: &str, suffix: &str) -> String {
        if suffix.is_empty() {
            format!("{}{{{kind}:{id}}}", self.inner.prefix)
        } else {
            format!("{}{{{kind}:{id}}}:{suffix}", self.inner.prefix)
        }
    }

    /// The configured key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The per-command deadline.
    pub fn command_timeout(&self) -> Duration {
        self.inner.command_timeout
    }

    /// Publishes `payload` on `channel` (the channel name is used as given; see [`Redis::key`]).
    /// Redis Cluster forwards it to subscribers on every node.
    pub async fn publish(&self, channel: &str, payload: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        let _: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// A plain (non-cluster) pub/sub connection to one node, for `SUBSCRIBE`.
    ///
    /// Nodes are tried in turn, starting with a different one on every call
    /// so subscribers spread over the cluster; a node that is down is skipped.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub> {
        let nodes = &self.inner.nodes;
        let start = self.inner.next_pubsub_node.fetch_add(1, Ordering::Relaxed);
        let mut last_error = StoreError::RedisUnavailable;
        for i in 0..nodes.len() {
            let url = nodes[(start + i) % nodes.len()].expose_secret();
            let client = match redis::Client::open(url) {
                Ok(client) => client,
                Err(e) => {
                    last_error = e.into();
                    continue;
                }
            };
            match tokio::time::timeout(self.inner.connect_timeout, client.get_async_pubsub()).await
            {
                Ok(Ok(pubsub)) => return Ok(pubsub),
                Ok(Err(e)) => {
                    tracing::debug!(node = i, error = %e, "redis pub/sub node unreachable");
                    last_error = e.into();
                }
                Err(_) => {
                    last_error = StoreError::Timeout {
                        operation: "redis pub/sub connect",
                        after: self.inner.connect_timeout,
                    };
                }
            }
        }
        Err(last_error)
    }

    fn handle(&self, conn: redis::cluster_async::ClusterConnection) -> Connection {
        let inner = Arc::downgrade(&self.inner);
        Connection::new(
            conn,
            self.inner.command_timeout,
            Arc::new(move || {
                if let Some(inner) = inner.upgrade() {
                    if let Ok(mut slot) = inner.shared.lock() {
                        *slot = None;
                    }
                }
            }),
        )
    }

    async fn acquire(&self) -> Result<Connection> {
        let cached = self.inner.shared.lock().ok().and_then(|slot| slot.clone());
        if let Some(shared) = cached {
            return Ok(self.handle(shared));
        }
        let deadline = self.inner.connect_timeout + self.inner.command_timeout;
        match tokio::time::timeout(deadline, self.inner.pool.get()).await {
            Ok(Ok(conn)) => {
                self.inner.down_until_ms.store(0, Ordering::Relaxed);
                let shared: redis::cluster_async::ClusterConnection = (*conn).clone();
                if let Ok(mut slot) = self.inner.shared.lock() {
                    *slot = Some(shared.clone());
                }
                Ok(self.handle(shared))
            }
            Ok(Err(e)) => {
                // Waiting for a free slot is load, not an outage; anything else is.
                if !matches!(
                    e,
                    deadpool_redis::cluster::PoolError::Timeout(
                        deadpool_redis::cluster::TimeoutType::Wait
                    )
                ) {
                    self.mark_down();
                }
                Err(e.into())
            }
            Err(_) => {
                self.mark_down();
                Err(StoreError::Timeout {
                    operation: "redis connect",
                    after: deadline,
                })
            }
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn mark_down(&self) {
        let until = self
            .now_ms()
            .saturating_add(u64::try_from(RETRY_AFTER_FAILURE.as_millis()).unwrap_or(u64::MAX));
        self.inner.down_until_ms.store(until, Ordering::Relaxed);
    }

    fn backing_off(&self) -> bool {
        let until = self.inner.down_until_ms.load(Ordering::Relaxed);
        until != 0 && self.now_ms() < until
    }
}

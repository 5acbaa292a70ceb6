//! A two-level cache-aside cache: L1 in process (moka, bounded, short TTL),
//! L2 in the Redis cluster (JSON, longer TTL), the loader (Postgres) behind
//! both, and cross-instance invalidation over Redis pub/sub.
//!
//! Redis failures never fail a caller: they are logged, counted in
//! `cache_redis_errors_total`, and the read falls through to the loader.

mod invalidation;
mod l2;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;
use suite_config::CacheSettings;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::Result;
use crate::metric_names::CACHE_REQUESTS_TOTAL;
use crate::redis::Redis;

/// A named cache of `V` values by string key. Cheap to clone; clones share both levels.
///
/// Instances with the same `name` and Redis key prefix (one per process)
/// share L2 and invalidate each other's L1 once each runs
/// [`TwoLevelCache::spawn_invalidation_listener`].
pub struct TwoLevelCache<V> {
    inner: Arc<Inner<V>>,
}

impl<V> Clone for TwoLevelCache<V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<V> std::fmt::Debug for TwoLevelCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwoLevelCache")
            .field("name", &self.inner.name)
            .field("l1_entries", &self.inner.l1.entry_count())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner<V> {
    pub(crate) name: String,
    pub(crate) redis: Redis,
    pub(crate) l1: moka::future::Cache<String, V>,
    pub(crate) l2_ttl: Duration,
    pub(crate) channel: String,
    /// Identifies this instance in invalidation messages, so it skips its own.
    pub(crate) origin: String,
    /// Bumped on every invalidation: a load that started before one does not fill the cache.
    pub(crate) generation: AtomicU64,
    pub(crate) subscribed: watch::Sender<bool>,
    pub(crate) created: Instant,
    pub(crate) last_warn_ms: AtomicU64,
}

impl<V> TwoLevelCache<V>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    /// Creates the cache `name` (used in keys, the invalidation channel and metric labels).
    /// `l2_ttl_override` replaces `l2_ttl_secs` for this kind of value.
    pub fn new(
        name: &str,
        redis: Redis,
        settings: &CacheSettings,
        l2_ttl_override: Option<Duration>,
    ) -> Self {
        let l1 = moka::future::Cache::builder()
            .name(name)
            .max_capacity(settings.l1_capacity)
            .time_to_live(Duration::from_secs(settings.l1_ttl_secs.max(1)))
            .build();
        let l2_ttl = l2_ttl_override
            .unwrap_or(Duration::from_secs(settings.l2_ttl_secs))
            .max(Duration::from_millis(1));
        let channel = redis.key(&format!("cache-invalidate:{name}"));
        Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                redis,
                l1,
                l2_ttl,
                channel,
                origin: uuid::Uuid::new_v4().to_string(),
                generation: AtomicU64::new(0),
                subscribed: watch::Sender::new(false),
                created: Instant::now(),
                last_warn_ms: AtomicU64::new(0),
            }),
        }
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Cache-aside read: L1, then L2 (filling L1), then `loader` (filling both
    /// when it finds a value). `None` from the loader is returned, not cached.
    /// Only the loader's error is returned; Redis problems fall through to it.
    pub async fn get_or_load<E, F>(&self, key: &str, loader: F) -> Result<Option<V>, E>
    where
        F: Future<Output = Result<Option<V>, E>>,
    {
        self.get_or_load_where(key, loader, |_| true).await
    }

    /// [`get_or_load`](Self::get_or_load) for values that can go stale by
    /// themselves or be partial: a cached value `usable` rejects counts as a
    /// miss (and is replaced by the loaded one), and a loaded value it
    /// rejects is returned without being cached.
    pub async fn get_or_load_where<E, F, U>(
        &self,
        key: &str,
        loader: F,
        usable: U,
    ) -> Result<Option<V>, E>
    where
        F: Future<Output = Result<Option<V>, E>>,
        U: Fn(&V) -> bool,
    {
        let inner = &self.inner;
        if let Some(value) = inner.l1.get(key).await.filter(&usable) {
            self.count("l1_hit");
            return Ok(Some(value));
        }
        let generation = inner.generation.load(Ordering::Acquire);
        if let Some(value) = self.l2_get(key).await.filter(&usable) {
            self.count("l2_hit");
            self.fill_l1(key, &value, generation).await;
            return Ok(Some(value));
        }
        self.count("miss");
        let loaded = loader.await?;
        if let Some(value) = &loaded {
            if usable(value) && self.unchanged_since(generation) {
                self.l2_set(key, value).await;
                self.fill_l1(key, value, generation).await;
            }
        }
        Ok(loaded)
    }

    /// Reads L1, then L2 (filling L1); `None` if neither holds `key` (or Redis is unreachable).
    pub async fn get(&self, key: &str) -> Option<V> {
        if let Some(value) = self.inner.l1.get(key).await {
            self.count("l1_hit");
            return Some(value);
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        match self.l2_get(key).await {
            Some(value) => {
                self.count("l2_hit");
                self.fill_l1(key, &value, generation).await;
                Some(value)
            }
            None => {
                self.count("miss");
                None
            }
        }
    }

    /// Stores `value` in both levels (after a write that produced it) and tells
    /// other instances to drop their L1 copy, so they read the new one from L2.
    pub async fn put(&self, key: &str, value: V) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        self.l2_set(key, &value).await;
        self.inner.l1.insert(key.to_owned(), value).await;
        self.publish(Some(key)).await;
    }

    /// Removes `key` from L2 and L1 and tells every other instance to drop it
    /// from its L1. Call after a write commits.
    pub async fn invalidate(&self, key: &str) {
        // L2 first: a local read between the two steps then finds nothing stale to copy.
        self.l2_del(key).await;
        self.invalidate_local(key).await;
        self.publish(Some(key)).await;
    }

    /// [`invalidate`](Self::invalidate) for every key of `keys` (the keys a
    /// batch of writes touched): the L2 deletes in flight together, and one
    /// message tells the other instances to drop them all.
    pub async fn invalidate_many(&self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        futures::future::join_all(keys.iter().map(|key| self.l2_del(key))).await;
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        for key in keys {
            self.inner.l1.invalidate(key).await;
        }
        self.publish_message(None, keys.to_vec()).await;
    }

    /// Removes `key` from this instance's L1 only (what a received invalidation does).
    pub async fn invalidate_local(&self, key: &str) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        self.inner.l1.invalidate(key).await;
    }

    /// Starts the task that applies other instances' invalidations to this
    /// instance's L1, reconnecting (to another node if needed) until `shutdown`.
    /// Each time it (re)subscribes it clears L1, since messages may have been missed.
    pub fn spawn_invalidation_listener(&self, shutdown: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(invalidation::listen(Arc::clone(&self.inner), shutdown))
    }

    /// Whether the invalidation listener is currently subscribed.
    pub fn is_subscribed(&self) -> bool {
        *self.inner.subscribed.borrow()
    }

    /// Waits up to `timeout` for the invalidation listener to be subscribed; returns whether it is.
    pub async fn wait_subscribed(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.subscribed.subscribe();
        let wait = async { rx.wait_for(|s| *s).await.is_ok() };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    fn unchanged_since(&self, generation: u64) -> bool {
        self.inner.generation.load(Ordering::Acquire) == generation
    }

    async fn fill_l1(&self, key: &str, value: &V, generation: u64) {
        if self.unchanged_since(generation) {
            self.inner.l1.insert(key.to_owned(), value.clone()).await;
        }
    }

    async fn publish(&self, key: Option<&str>) {
        self.publish_message(key.map(str::to_owned), Vec::new())
            .await;
    }

    async fn publish_message(&self, key: Option<String>, keys: Vec<String>) {
        let message = invalidation::Message {
            origin: self.inner.origin.clone(),
            key,
            keys,
        };
        let result = match serde_json::to_string(&message) {
            Ok(payload) => {
                self.inner
                    .redis
                    .publish(&self.inner.channel, &payload)
                    .await
            }
            Err(e) => Err(e.into()),
        };
        if let Err(e) = result {
            self.redis_failed("publish", &e);
        }
    }

    fn count(&self, result: &'static str) {
        metrics::counter!(CACHE_REQUESTS_TOTAL, "cache" => self.inner.name.clone(), "result" => result)
            .increment(1);
    }

    fn redis_failed(&self, op: &'static str, error: &crate::StoreError) {
        self.inner.redis_failed(op, error);
    }
}

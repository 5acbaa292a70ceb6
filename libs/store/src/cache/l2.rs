//! The Redis level of the cache: JSON values with a TTL. Every failure is
//! counted and logged (rate limited) and turned into a miss or a no-op.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Inner, TwoLevelCache};
use crate::error::{Result, StoreError};
use crate::metric_names::CACHE_REDIS_ERRORS_TOTAL;
use crate::redis::Redis;

/// Redis errors are logged at warn level at most this often per cache; the metric counts all.
const WARN_EVERY: Duration = Duration::from_secs(10);

impl<V> TwoLevelCache<V>
where
    V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    pub(super) fn l2_key(&self, key: &str) -> String {
        self.inner
            .redis
            .key(&format!("cache:{}:{key}", self.inner.name))
    }

    pub(super) async fn l2_get(&self, key: &str) -> Option<V> {
        let result: Result<Option<Vec<u8>>> = async {
            let mut conn = self.inner.redis.conn().await?;
            Ok(redis::cmd("GET")
                .arg(self.l2_key(key))
                .query_async(&mut conn)
                .await?)
        }
        .await;
        match result {
            Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
                Ok(value) => Some(value),
                Err(e) => {
                    // An entry written by another version of the type: treat as a miss.
                    tracing::warn!(cache = %self.inner.name, error = %e, "undecodable L2 entry ignored");
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                self.redis_failed("get", &e);
                None
            }
        }
    }

    pub(super) async fn l2_set(&self, key: &str, value: &V) {
        let result: Result<()> = async {
            let payload = serde_json::to_vec(value)?;
            let ttl_ms = u64::try_from(self.inner.l2_ttl.as_millis()).unwrap_or(u64::MAX);
            let mut conn = self.inner.redis.conn().await?;
            let _: () = redis::cmd("SET")
                .arg(self.l2_key(key))
                .arg(payload)
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut conn)
                .await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            self.redis_failed("set", &e);
        }
    }

    pub(super) async fn l2_del(&self, key: &str) {
        let result: Result<()> = async {
            let mut conn = self.inner.redis.conn().await?;
            let _: i64 = redis::cmd("DEL")
                .arg(self.l2_key(key))
                .query_async(&mut conn)
                .await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            self.redis_failed("del", &e);
        }
    }
}

impl<V> Inner<V> {
    pub(crate) fn redis(&self) -> &Redis {
        &self.redis
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Counts a failed Redis operation and logs it, at most every [`WARN_EVERY`].
    pub(crate) fn redis_failed(&self, op: &'static str, error: &StoreError) {
        metrics::counter!(CACHE_REDIS_ERRORS_TOTAL, "cache" => self.name.clone(), "op" => op)
            .increment(1);
        let now = u64::try_from(self.created.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_warn_ms.load(Ordering::Relaxed);
        let every = u64::try_from(WARN_EVERY.as_millis()).unwrap_or(u64::MAX);
        if (last == 0 || now.saturating_sub(last) >= every)
            && self
                .last_warn_ms
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(cache = %self.name, op, error = %error, "redis unavailable to the cache; serving from the loader");
        } else {
            tracing::debug!(cache = %self.name, op, error = %error, "cache redis operation failed");
        }
    }
}

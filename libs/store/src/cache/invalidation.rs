//! Cross-instance invalidation: every instance subscribes to its cache's
//! channel on one cluster node (Redis Cluster forwards `PUBLISH` to all
//! nodes) and drops the named keys from its own L1.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio_util::sync::CancellationToken;

use super::Inner;
use crate::error::{Result, StoreError};

/// First delay before re-subscribing after a failure; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A subscription that cannot answer a ping this often is presumed dead and replaced.
const PING_EVERY: Duration = Duration::from_secs(5);

/// The payload published on a cache's invalidation channel.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Message {
    /// The publishing instance (it ignores its own messages).
    #[serde(rename = "o")]
    pub(crate) origin: String,
    /// The key to drop; `None` drops every entry (unless `keys` names some).
    #[serde(rename = "k")]
    pub(crate) key: Option<String>,
    /// Several keys to drop at once (one message for a batch of writes).
    #[serde(rename = "ks", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) keys: Vec<String>,
}

/// Runs until `shutdown`: subscribe, apply messages, and on any failure mark
/// the cache unsubscribed and subscribe again (with back-off).
pub(crate) async fn listen<V>(inner: Arc<Inner<V>>, shutdown: CancellationToken)
where
    V: Clone + Send + Sync + 'static,
{
    let mut backoff = MIN_BACKOFF;
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        let mut subscribed = false;
        let outcome = tokio::select! {
            () = shutdown.cancelled() => break,
            outcome = subscribe_and_apply(&inner, &shutdown, &mut subscribed) => outcome,
        };
        inner.subscribed.send_replace(false);
        let Err(e) = outcome else { break }; // Ok means shutdown
        if subscribed {
            // It worked for a while: retry promptly and warn again if it keeps failing.
            backoff = MIN_BACKOFF;
            failures = 0;
        }
        failures += 1;
        if failures == 1 {
            tracing::warn!(cache = inner.name(), error = %e, "cache invalidation subscription lost; re-subscribing");
        } else {
            tracing::debug!(cache = inner.name(), error = %e, failures, "cache invalidation re-subscribe failed");
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    inner.subscribed.send_replace(false);
}

/// One subscription's lifetime. Returns `Ok` only on shutdown.
async fn subscribe_and_apply<V>(
    inner: &Inner<V>,
    shutdown: &CancellationToken,
    subscribed: &mut bool,
) -> Result<()>
where
    V: Clone + Send + Sync + 'static,
{
    let timeout = inner.redis().command_timeout().max(Duration::from_secs(1));
    let (mut sink, mut stream) = inner.redis().pubsub().await?.split();
    tokio::time::timeout(timeout, sink.subscribe(&inner.channel))
        .await
        .map_err(|_| StoreError::Timeout {
            operation: "redis subscribe",
            after: timeout,
        })??;
    // Invalidations published while unsubscribed were missed: forget everything.
    inner.generation.fetch_add(1, Ordering::AcqRel);
    inner.l1.invalidate_all();
    inner.subscribed.send_replace(true);
    *subscribed = true;
    tracing::debug!(cache = inner.name(), channel = %inner.channel, "cache invalidation subscribed");

    let mut pings = tokio::time::interval(PING_EVERY);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    pings.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            message = stream.next() => match message {
                Some(message) => apply(inner, message.get_payload_bytes()).await,
                None => return Err(StoreError::Unexpected("pub/sub connection closed".into())),
            },
            _ = pings.tick() => {
                tokio::time::timeout(timeout, sink.ping::<redis::Value>())
                    .await
                    .map_err(|_| StoreError::Timeout { operation: "redis pub/sub ping", after: timeout })??;
            }
        }
    }
}

async fn apply<V>(inner: &Inner<V>, payload: &[u8])
where
    V: Clone + Send + Sync + 'static,
{
    let message: Message = match serde_json::from_slice(payload) {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(cache = inner.name(), error = %e, "malformed cache invalidation ignored");
            return;
        }
    };
    if message.origin == inner.origin {
        return;
    }
    inner.generation.fetch_add(1, Ordering::AcqRel);
    match (message.key, message.keys.is_empty()) {
        (Some(key), _) => inner.l1.invalidate(&key).await,
        (None, false) => {
            for key in &message.keys {
                inner.l1.invalidate(key).await;
            }
        }
        (None, true) => inner.l1.invalidate_all(),
    }
}

//! The response cache: at temperature 0 the same rendered prompt to the
//! same model under the same prompt version gets the same answer, so it is
//! asked once and reused for `llm.cache_ttl_secs`. Keyed by
//! sha256(model, prompt version, channel, rendered prompt); the value is the
//! checked text. A cache that cannot be read is a miss, never an error. The
//! step's row keeps its entry's key, so erasing a lead removes its entries.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use suite_store::Redis;

/// A cached answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cached {
    /// The completion's text.
    pub text: String,
}

/// The cache key of a prompt to `model` under prompt `version` for `channel`
/// (the system message differs per channel).
pub fn key(redis: &Redis, model: &str, version: &str, channel: &str, prompt: &str) -> String {
    let mut digest = Sha256::new();
    for part in [model, version, channel, prompt] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    redis.key(&format!("llm-cache:{}", hex::encode(digest.finalize())))
}

/// The answer cached under `key`, if any.
pub async fn get(redis: &Redis, key: &str) -> Option<Cached> {
    let raw: Option<String> = async {
        let mut conn = redis.conn().await?;
        let raw: Option<String> = redis::cmd("GET").arg(key).query_async(&mut conn).await?;
        Ok::<_, suite_store::StoreError>(raw)
    }
    .await
    .map_err(|e| tracing::warn!(error = %e, "response cache unavailable"))
    .ok()?;
    serde_json::from_str(&raw?).ok()
}

/// Caches `answer` under `key` for `ttl_secs` (failures are logged).
pub async fn put(redis: &Redis, key: &str, answer: &Cached, ttl_secs: u64) {
    let Ok(value) = serde_json::to_string(answer) else {
        return;
    };
    let stored = async {
        let mut conn = redis.conn().await?;
        let () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("EX")
            .arg(ttl_secs)
            .query_async(&mut conn)
            .await?;
        Ok::<_, suite_store::StoreError>(())
    }
    .await;
    if let Err(e) = stored {
        tracing::warn!(error = %e, "answer not cached");
    }
}

/// Removes the cached answers `keys` (an erased lead's); failures are logged,
/// and the entries then expire with their TTL.
pub async fn forget(redis: &Redis, keys: &[String]) {
    if keys.is_empty() {
        return;
    }
    let removed = async {
        let mut conn = redis.conn().await?;
        // One key per command: the keys lie in different cluster slots.
        for key in keys {
            let _: u64 = redis::cmd("DEL").arg(key).query_async(&mut conn).await?;
        }
        Ok::<_, suite_store::StoreError>(())
    }
    .await;
    if let Err(e) = removed {
        tracing::warn!(error = %e, "cached answers of an erased lead not removed; they expire with their TTL");
    }
}

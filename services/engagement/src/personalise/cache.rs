//! The response cache: at temperature 0 the same rendered prompt to the
//! same model under the same prompt version gets the same answer, so it is
//! asked once and reused for `llm.cache_ttl_secs`. It is one of the suite's
//! two-level caches ([`AppState::answers`](crate::state::AppState)), keyed by
//! sha256(model, prompt version, channel, rendered prompt); the value is the
//! checked text. The step's row keeps its entry's key, so erasing a lead
//! removes its entries.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A cached answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cached {
    /// The completion's text.
    pub text: String,
}

/// The cache key of a prompt to `model` under prompt `version` for `channel`
/// (the system message differs per channel).
pub fn key(model: &str, version: &str, channel: &str, prompt: &str) -> String {
    let mut digest = Sha256::new();
    for part in [model, version, channel, prompt] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    hex::encode(digest.finalize())
}

//! Short-term memory of a lead in Redis: the latest messages and
//! interactions, newest first, written as they happen (docs/architecture.md §6.2, the
//! seeds' context retrieval). Postgres holds the long-term history; losing
//! Redis only makes the context endpoint read Postgres instead.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use suite_store::Redis;
use utoipa::ToSchema;
use uuid::Uuid;

/// Entries kept per lead.
pub const KEEP: isize = 20;
/// How long a lead's memory outlives its last entry (7 days).
const TTL_SECS: i64 = 7 * 24 * 3600;
/// Characters of a body kept in memory.
const EXCERPT_CHARS: usize = 280;

/// One remembered event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct MemoryEntry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// `message` (sent by us) or the interaction kind (`clicked`, …).
    #[schema(schema_with = crate::api::schemas::memory_kind)]
    pub kind: String,
    /// Channel.
    #[schema(value_type = crate::api::schemas::ChannelName)]
    pub channel: String,
    /// Campaign, when known (else null).
    #[schema(required = true)]
    pub campaign_id: Option<Uuid>,
    /// Subject of a message (absent when it has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub subject: Option<String>,
    /// The start of a message's body (absent for an interaction).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub excerpt: Option<String>,
}

impl MemoryEntry {
    /// An entry for a message sent.
    pub fn message(
        at: DateTime<Utc>,
        channel: &str,
        campaign: Uuid,
        subject: Option<String>,
        body: &str,
    ) -> Self {
        Self {
            at,
            kind: "message".into(),
            channel: channel.into(),
            campaign_id: Some(campaign),
            subject,
            excerpt: Some(body.chars().take(EXCERPT_CHARS).collect()),
        }
    }
}

/// The memory store.
#[derive(Clone)]
pub struct Memory {
    redis: Redis,
}

impl Memory {
    /// Memory in `redis`.
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    /// The lead's memory key (hash-tagged `{lead:<id>}`, the slot of its cap keys).
    pub fn key(&self, lead: Uuid) -> String {
        self.redis.tagged("lead", &lead.to_string(), "recent")
    }

    /// Remembers `entry`; a Redis failure is logged, never returned (the
    /// entry is in Postgres anyway).
    pub async fn remember(&self, lead: Uuid, entry: &MemoryEntry) {
        let Ok(json) = serde_json::to_string(entry) else {
            return;
        };
        let key = self.key(lead);
        let result = async {
            let mut conn = self.redis.conn().await?;
            redis::pipe()
                .atomic()
                .lpush(&key, json)
                .ltrim(&key, 0, KEEP - 1)
                .expire(&key, TTL_SECS)
                .query_async::<()>(&mut conn)
                .await?;
            Ok::<_, suite_store::StoreError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "short-term memory not updated");
        }
    }

    /// The latest `n` entries, newest first; `None` when Redis cannot answer
    /// or holds nothing for the lead.
    pub async fn recent(&self, lead: Uuid, n: isize) -> Option<Vec<MemoryEntry>> {
        let key = self.key(lead);
        let raw: Vec<String> = async {
            let mut conn = self.redis.conn().await?;
            let raw: Vec<String> = redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(n - 1)
                .query_async(&mut conn)
                .await?;
            Ok::<_, suite_store::StoreError>(raw)
        }
        .await
        .map_err(|e| tracing::warn!(error = %e, "short-term memory unavailable"))
        .ok()?;
        parse(&raw)
    }

    /// The Redis client.
    pub fn redis(&self) -> &Redis {
        &self.redis
    }
}

/// Entries from their stored JSON; `None` when there are none.
pub fn parse(raw: &[String]) -> Option<Vec<MemoryEntry>> {
    if raw.is_empty() {
        return None;
    }
    Some(
        raw.iter()
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect(),
    )
}

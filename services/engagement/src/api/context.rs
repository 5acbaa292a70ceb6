//! `GET /v1/leads/{id}/conversation` and `GET /v1/leads/{id}/context`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use suite_domain::{Channel, LeadId};
use suite_http::{ApiError, ApiPath, Principal};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::memory::MemoryEntry;
use crate::outreach::caps;
use crate::state::AppState;
use crate::store::consent::{self, ChannelConsent};
use crate::store::interactions::Interaction;
use crate::store::leads;
use crate::store::reads::{self, Conversation};
use crate::store::steps::{self, NextStep};

/// Messages and interactions kept in a conversation.
const CONVERSATION_LIMIT: i64 = 100;
/// Recent entries in a context.
const RECENT: isize = 10;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/leads/{id}/conversation", get(conversation))
        .route("/v1/leads/{id}/context", get(context))
}

/// A lead's messages and interactions, newest first (cached in Redis, dropped on every change).
#[utoipa::path(get, path = "/v1/leads/{id}/conversation", tag = "leads", params(("id" = Uuid, Path)),
    responses((status = 200, body = Conversation), (status = 404, description = "No such lead in this workspace")))]
pub async fn conversation(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Conversation>, ApiError> {
    let ws = principal.workspace_id;
    state
        .conversations
        .get_or_load(&AppState::conversation_key(ws, id), async {
            // Chosen only on a miss: the choice may cost a Redis round trip.
            let pool = state.platform.db.read(Some(&principal.client_id())).await;
            if !leads::exists(&pool, ws, id).await? {
                return Ok::<_, sqlx::Error>(None);
            }
            reads::conversation(&pool, ws, id, CONVERSATION_LIMIT)
                .await
                .map(Some)
        })
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Places left under the frequency caps.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CapsLeft {
    /// Sends left today (UTC day).
    pub today: u32,
    /// Sends left this ISO week (UTC).
    pub week: u32,
}

/// The long-term part of a context (Postgres; cached, dropped on every change).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LongTerm {
    last_interaction: Option<Interaction>,
    current_step: Option<NextStep>,
    consent: BTreeMap<Channel, ChannelConsent>,
    recent: Vec<MemoryEntry>,
}

/// What an agent needs to know about a lead right now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Context {
    /// The lead.
    pub lead_id: Uuid,
    /// Latest messages and interactions, newest first.
    pub recent: Vec<MemoryEntry>,
    /// Where `recent` came from: `redis` (short-term memory) or `postgres`.
    pub recent_source: String,
    /// The latest interaction.
    pub last_interaction: Option<Interaction>,
    /// The next step due (any campaign).
    pub current_step: Option<NextStep>,
    /// Current consent per channel.
    #[schema(value_type = BTreeMap<String, ChannelConsent>)]
    pub consent: BTreeMap<Channel, ChannelConsent>,
    /// Frequency-cap places left per channel.
    #[schema(value_type = BTreeMap<String, CapsLeft>)]
    pub caps_left: BTreeMap<Channel, CapsLeft>,
}

/// The lead's context: short-term memory from Redis, long-term state from Postgres.
#[utoipa::path(get, path = "/v1/leads/{id}/context", tag = "leads", params(("id" = Uuid, Path)),
    responses((status = 200, body = Context), (status = 404, description = "No such lead in this workspace")))]
pub async fn context(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Context>, ApiError> {
    let ws = principal.workspace_id;
    let long = state
        .contexts
        .get_or_load(&AppState::conversation_key(ws, id), async {
            // Chosen only on a miss: the choice may cost a Redis round trip.
            let pool = state.platform.db.read(Some(&principal.client_id())).await;
            load_long_term(&pool, ws, id).await
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    let (recent, caps_left) = short_term(&state, id).await;
    let (recent, source) = match recent {
        Some(recent) => (recent, "redis"),
        None => (long.recent.clone(), "postgres"),
    };
    Ok(Json(Context {
        lead_id: id,
        recent,
        recent_source: source.into(),
        last_interaction: long.last_interaction,
        current_step: long.current_step,
        consent: long.consent,
        caps_left,
    }))
}

async fn load_long_term(
    pool: &sqlx::PgPool,
    ws: Uuid,
    id: Uuid,
) -> Result<Option<LongTerm>, ApiError> {
    let Some(lead) = leads::get(pool, ws, id).await? else {
        return Ok(None);
    };
    let latest = consent::latest(pool, ws, id).await?;
    let history = reads::conversation(pool, ws, id, RECENT as i64).await?;
    let current_step = steps::next_for_lead(pool, ws, id).await?;
    let mut recent: Vec<MemoryEntry> = history
        .messages
        .iter()
        .map(|m| {
            MemoryEntry::message(
                m.created_at,
                &m.channel,
                m.campaign_id,
                m.subject.clone(),
                &m.body,
            )
        })
        .chain(history.interactions.iter().map(|i| MemoryEntry {
            at: i.occurred_at,
            kind: i.kind.clone(),
            channel: i.channel.clone(),
            campaign_id: i.campaign_id,
            subject: None,
            excerpt: None,
        }))
        .collect();
    recent.sort_by_key(|e| std::cmp::Reverse(e.at));
    recent.truncate(RECENT as usize);
    Ok(Some(LongTerm {
        last_interaction: history.interactions.into_iter().next(),
        current_step,
        consent: consent::current(&lead, &latest),
        recent,
    }))
}

/// Short-term memory and cap places left, in one Redis round trip (every
/// key carries the lead's hash tag, so they share a slot). Redis being down
/// reports no memory and the full caps.
async fn short_term(
    state: &AppState,
    lead: Uuid,
) -> (Option<Vec<MemoryEntry>>, BTreeMap<Channel, CapsLeft>) {
    let limits = state.config.caps;
    let now = state.clock.now();
    let redis = state.memory.redis();
    let mut pipe = redis::pipe();
    pipe.cmd("LRANGE")
        .arg(state.memory.key(lead))
        .arg(0)
        .arg(RECENT - 1);
    for channel in Channel::ALL {
        for key in caps::window_keys(redis, LeadId::from(lead), channel, now) {
            pipe.cmd("SCARD").arg(key);
        }
    }
    type Reply = (Vec<String>, u32, u32, u32, u32, u32, u32);
    let reply: Option<Reply> = async {
        let mut conn = redis.conn().await?;
        let reply: Reply = pipe.query_async(&mut conn).await?;
        Ok::<_, suite_store::StoreError>(reply)
    }
    .await
    .map_err(|e| tracing::warn!(error = %e, "short-term memory unavailable"))
    .ok();
    let (raw, counts) = match reply {
        Some((raw, a, b, c, d, e, f)) => (raw, [a, b, c, d, e, f]),
        None => (Vec::new(), [0; 6]),
    };
    let caps = Channel::ALL
        .into_iter()
        .enumerate()
        .map(|(i, channel)| {
            let left = CapsLeft {
                today: limits.per_day.saturating_sub(counts[2 * i]),
                week: limits.per_week.saturating_sub(counts[2 * i + 1]),
            };
            (channel, left)
        })
        .collect();
    (crate::memory::parse(&raw), caps)
}

//! `GET /v1/leads/{id}/conversation` and `GET /v1/leads/{id}/context`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use suite_domain::{Channel, LeadId};
use suite_http::{ApiError, ApiPath, Principal};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::schemas::{CapsPerChannel, ConsentPerChannel, RecentSource};
use crate::memory::MemoryEntry;
use crate::outreach::{caps, CapLimits};
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

/// The long-term part of a context, from Postgres.
#[derive(Debug, Clone)]
struct LongTerm {
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
    #[schema(value_type = RecentSource)]
    pub recent_source: String,
    /// The latest interaction; null when there is none.
    #[schema(required = true)]
    pub last_interaction: Option<Interaction>,
    /// The next step due (any campaign); null when there is none.
    #[schema(required = true)]
    pub current_step: Option<NextStep>,
    /// Current consent of every channel.
    #[schema(value_type = ConsentPerChannel)]
    pub consent: BTreeMap<Channel, ChannelConsent>,
    /// Frequency-cap places left on every channel.
    #[schema(value_type = CapsPerChannel)]
    pub caps_left: BTreeMap<Channel, CapsLeft>,
}

/// A whole context as cached: dropped on every change to the lead (every
/// send attempt, interaction and consent record runs through
/// [`AppState::lead_changed`], and those are the only writers of its
/// memory and cap counters), and unusable once the caps' day is over or
/// when Redis could not give its short-term part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedContext {
    context: Context,
    /// Start of the next cap day: the counters it holds are for an earlier one after that.
    valid_until: DateTime<Utc>,
    /// Whether Redis answered (memory and caps are real, not the fallbacks).
    complete: bool,
}

/// The lead's context: short-term memory and caps from Redis, long-term
/// state from Postgres, all served from the cache while nothing changed.
#[utoipa::path(get, path = "/v1/leads/{id}/context", tag = "leads", params(("id" = Uuid, Path)),
    responses((status = 200, body = Context), (status = 404, description = "No such lead in this workspace")))]
pub async fn context(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Context>, ApiError> {
    let ws = principal.workspace_id;
    let now = state.clock.now();
    let load = async {
        // Chosen only on a miss: the choice may cost a Redis round trip.
        let pool = state.platform.db.read(Some(&principal.client_id())).await;
        let (long, short) =
            tokio::join!(load_long_term(&pool, ws, id), short_term(&state, id, now));
        let Some(long) = long? else {
            return Ok::<_, ApiError>(None);
        };
        Ok(Some(assemble(id, long, short, now, state.config.caps)))
    };
    state
        .contexts
        .get_or_load_where(&AppState::conversation_key(ws, id), load, |c| {
            c.complete && now < c.valid_until
        })
        .await?
        .map(|cached| Json(cached.context))
        .ok_or(ApiError::NotFound)
}

/// Memory from Redis when it holds some, else the recent history from Postgres;
/// full caps when Redis could not answer.
fn assemble(
    id: Uuid,
    long: LongTerm,
    short: Option<ShortTerm>,
    now: DateTime<Utc>,
    limits: CapLimits,
) -> CachedContext {
    let complete = short.is_some();
    let (memory, counts) = short.unwrap_or((None, [0; 6]));
    let (recent, source) = match memory {
        Some(recent) => (recent, "redis"),
        None => (long.recent, "postgres"),
    };
    CachedContext {
        context: Context {
            lead_id: id,
            recent,
            recent_source: source.into(),
            last_interaction: long.last_interaction,
            current_step: long.current_step,
            consent: long.consent,
            caps_left: caps_left(limits, counts),
        },
        valid_until: caps::next_day_start(now),
        complete,
    }
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

/// Short-term memory (`None` when Redis holds none for the lead) and the
/// sends counted in each cap window (day, week per channel, in
/// [`Channel::ALL`] order).
type ShortTerm = (Option<Vec<MemoryEntry>>, [u32; 6]);

/// Short-term memory and cap counters, in one Redis round trip (every key
/// carries the lead's hash tag, so they share a slot); `None` when Redis
/// cannot answer.
async fn short_term(state: &AppState, lead: Uuid, now: DateTime<Utc>) -> Option<ShortTerm> {
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
    let reply: Reply = async {
        let mut conn = redis.conn().await?;
        let reply: Reply = pipe.query_async(&mut conn).await?;
        Ok::<_, suite_store::StoreError>(reply)
    }
    .await
    .map_err(|e| tracing::warn!(error = %e, "short-term memory unavailable"))
    .ok()?;
    let (raw, a, b, c, d, e, f) = reply;
    Some((crate::memory::parse(&raw), [a, b, c, d, e, f]))
}

/// Places left per channel, from the day and week counters.
fn caps_left(limits: CapLimits, counts: [u32; 6]) -> BTreeMap<Channel, CapsLeft> {
    Channel::ALL
        .into_iter()
        .enumerate()
        .map(|(i, channel)| {
            let left = CapsLeft {
                today: limits.per_day.saturating_sub(counts[2 * i]),
                week: limits.per_week.saturating_sub(counts[2 * i + 1]),
            };
            (channel, left)
        })
        .collect()
}

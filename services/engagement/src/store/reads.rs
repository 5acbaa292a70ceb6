//! Read models: a lead's conversation and the sends list.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::interactions::Interaction;

/// A message sent to a lead.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Message {
    /// The send id.
    pub id: Uuid,
    /// Campaign.
    pub campaign_id: Uuid,
    /// Variant.
    pub variant_id: Uuid,
    /// Step of the ladder.
    pub step_index: i32,
    /// Channel.
    #[schema(value_type = crate::api::schemas::ChannelName)]
    pub channel: String,
    /// Provider that delivered it.
    pub provider: String,
    /// Rendered subject (email; null on other channels).
    #[schema(required = true)]
    pub subject: Option<String>,
    /// Rendered body.
    pub body: String,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
}

/// A lead's history: messages and interactions, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    /// The lead.
    pub lead_id: Uuid,
    /// Messages sent, newest first (at most 100).
    pub messages: Vec<Message>,
    /// Interactions, newest first (at most 100).
    pub interactions: Vec<Interaction>,
}

/// The conversation of a lead (the caller checked the lead is in `workspace`).
pub async fn conversation(
    pool: &PgPool,
    workspace: Uuid,
    lead: Uuid,
    limit: i64,
) -> Result<Conversation, sqlx::Error> {
    let messages = sqlx::query_as(
        "SELECT id, campaign_id, variant_id, step_index, channel, provider, subject, body, created_at \
         FROM communications WHERE workspace_id = $1 AND lead_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(workspace)
    .bind(lead)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let interactions = sqlx::query_as(
        "SELECT id, lead_id, campaign_id, variant_id, send_id, channel, type, occurred_at, provider_event_id \
         FROM interactions WHERE workspace_id = $1 AND lead_id = $2 ORDER BY occurred_at DESC, id DESC LIMIT $3",
    )
    .bind(workspace)
    .bind(lead)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(Conversation {
        lead_id: lead,
        messages,
        interactions,
    })
}

/// One send (reservation) in `GET /v1/sends`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Send {
    /// Send id.
    pub id: Uuid,
    /// Lead.
    pub lead_id: Uuid,
    /// Campaign.
    pub campaign_id: Uuid,
    /// Variant.
    pub variant_id: Uuid,
    /// Step of the ladder.
    pub step_index: i32,
    /// Channel.
    #[schema(value_type = crate::api::schemas::ChannelName)]
    pub channel: String,
    /// Provider.
    pub provider: String,
    /// `reserved`, `sent`, `failed` or `indeterminate`.
    #[schema(value_type = crate::api::sends::SendStatus)]
    pub status: String,
    /// Provider calls made.
    pub attempts: i32,
    /// The provider's message id (null until it gives one).
    #[schema(required = true)]
    pub provider_message_id: Option<String>,
    /// Why it failed (else null).
    #[schema(required = true)]
    pub error: Option<String>,
    /// When it was reserved.
    pub created_at: DateTime<Utc>,
    /// How the message was written, when its variant asked a language model
    /// (docs/personalisation.md); null otherwise.
    #[schema(required = true, value_type = Option<GenerationView>)]
    pub generation: Option<sqlx::types::Json<GenerationView>>,
}

/// The generation of a send's message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GenerationView {
    /// `done` (the generated text was sent) or `fallback` (the template was).
    #[schema(pattern = "^(done|fallback)$")]
    pub state: String,
    /// Model asked (null when none was: an early fallback).
    #[schema(required = true)]
    pub model: Option<String>,
    /// Digest of the prompt template, model and bounds (16 hex digits).
    #[schema(required = true)]
    pub prompt_version: Option<String>,
    /// Prompt tokens.
    pub tokens_in: i32,
    /// Completion tokens.
    pub tokens_out: i32,
    /// Time spent on the provider's calls, in milliseconds.
    pub latency_ms: i32,
    /// Answered from the response cache.
    pub cache_hit: bool,
    /// What it cost, in micros (charged to the campaign's day).
    pub cost_micros: i64,
    /// Why the template was sent: provider_error, timeout, rate_limited,
    /// budget, guardrail, breaker_open, prompt_error, not_ready (else null).
    #[schema(required = true)]
    pub fallback_reason: Option<String>,
}

/// Filters of the sends list.
#[derive(Debug, Clone, Default)]
pub struct SendFilter {
    /// Only this lead.
    pub lead_id: Option<Uuid>,
    /// Only this campaign.
    pub campaign_id: Option<Uuid>,
    /// Only this status.
    pub status: Option<String>,
}

/// Keyset position of a page boundary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Position {
    /// `created_at` of the last send returned.
    pub t: DateTime<Utc>,
    /// Its id.
    pub id: Uuid,
}

/// Up to `limit` sends after `after`, newest first, plus whether more exist.
pub async fn sends(
    pool: &PgPool,
    workspace: Uuid,
    filter: &SendFilter,
    after: Option<&Position>,
    limit: i64,
) -> Result<(Vec<Send>, bool), sqlx::Error> {
    let mut q = sqlx::QueryBuilder::new(
        "SELECT id, lead_id, campaign_id, variant_id, step_index, channel, provider, status, attempts, \
         provider_message_id, error, created_at, \
         (SELECT to_jsonb(x) FROM (SELECT g.state, g.model, g.prompt_version, g.tokens_in, g.tokens_out, \
            g.latency_ms, g.cache_hit, g.cost_micros, g.fallback_reason FROM step_generations g \
            WHERE g.step_id = send_reservations.step_id AND g.state IN ('done', 'fallback')) x) AS generation \
         FROM send_reservations WHERE workspace_id = ",
    );
    q.push_bind(workspace);
    if let Some(lead) = filter.lead_id {
        q.push(" AND lead_id = ").push_bind(lead);
    }
    if let Some(campaign) = filter.campaign_id {
        q.push(" AND campaign_id = ").push_bind(campaign);
    }
    if let Some(status) = &filter.status {
        q.push(" AND status = ").push_bind(status.clone());
    }
    if let Some(p) = after {
        q.push(" AND (created_at, id) < (")
            .push_bind(p.t)
            .push(", ")
            .push_bind(p.id)
            .push(")");
    }
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(limit + 1);
    let mut rows: Vec<Send> = q.build_query_as().fetch_all(pool).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}

//! `POST /v1/interactions`: provider callbacks and user actions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use suite_domain::{Channel, InteractionKind, InteractionV1};
use suite_http::{ApiError, FieldError, Principal, ValidJson, Validate};
use tracing::Instrument as _;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::schemas::ChannelName;
use crate::memory::MemoryEntry;
use crate::state::AppState;
use crate::store::consent::{self, NewEntry};
use crate::store::interactions::{self, EventParts, Interaction};
use crate::store::{campaigns, leads, plans};

/// Longest provider event id.
pub const MAX_EVENT_ID_LEN: usize = 200;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/interactions", post(create))
}

/// An interaction reported by a provider or a user action: about a send
/// (`send_id`, which gives campaign, variant and channel; no `campaign_id`)
/// or about a channel (`channel`, and the campaign if known).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionInput {
    /// The lead.
    pub lead_id: Uuid,
    /// What happened: delivered, opened, clicked, replied, converted, bounced, unsubscribed.
    #[schema(schema_with = crate::api::schemas::reported_kind)]
    pub kind: InteractionKind,
    /// The provider's (or caller's) unique event id, 1 to 200 visible ASCII
    /// characters (`!` to `~`); a repeated id returns the first interaction.
    #[schema(min_length = 1, max_length = 200, pattern = "^[!-~]+(?![\\s\\S])")]
    pub provider_event_id: String,
    /// The send it is about (from the provider callback); sets campaign, variant and channel.
    pub send_id: Option<Uuid>,
    /// The channel; required without `send_id`, and the send's channel when
    /// both are given.
    #[schema(value_type = Option<ChannelName>)]
    pub channel: Option<Channel>,
    /// The campaign, when known; not with `send_id`.
    pub campaign_id: Option<Uuid>,
    /// When it happened (RFC 3339); default (and at most) now: a time in the
    /// future is taken as now.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl Validate for InteractionInput {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.kind == InteractionKind::Sent {
            errors.push(FieldError::new(
                "/kind",
                "`sent` is recorded by engagement itself",
            ));
        }
        let id = self.provider_event_id.as_str();
        if id.is_empty() || id.len() > MAX_EVENT_ID_LEN || !id.chars().all(|c| c.is_ascii_graphic())
        {
            errors.push(FieldError::new(
                "/provider_event_id",
                format!("must be 1 to {MAX_EVENT_ID_LEN} visible ASCII characters"),
            ));
        }
        if self.send_id.is_none() && self.channel.is_none() {
            errors.push(FieldError::new("/channel", "required without send_id"));
        }
        if self.send_id.is_some() && self.campaign_id.is_some() {
            errors.push(FieldError::new(
                "/campaign_id",
                "comes from the send; give send_id or campaign_id",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[derive(sqlx::FromRow)]
struct SendRef {
    lead_id: Uuid,
    campaign_id: Uuid,
    variant_id: Uuid,
    channel: String,
}

/// Record an interaction; it is published on `engagement.interactions`.
/// `unsubscribed` and `bounced` withdraw consent for the channel; `replied`
/// and `converted` end the lead's plan (of the campaign, when known).
#[utoipa::path(post, path = "/v1/interactions", tag = "interactions", request_body = InteractionInput,
    responses((status = 201, body = Interaction, description = "Recorded"),
              (status = 200, body = Interaction, description = "Already recorded under this provider_event_id"),
              (status = 404, description = "No such lead in this workspace"),
              (status = 409, description = "The same provider_event_id is being recorded by another request; retry"),
              (status = 422, description = "Invalid interaction, or a `send_id` or `campaign_id` that does not match this workspace and lead")))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    ValidJson(input): ValidJson<InteractionInput>,
) -> Result<(StatusCode, Json<Interaction>), ApiError> {
    let ws = principal.workspace_id;
    let pool = state.platform.db.primary();
    let correlation = leads::correlation_id(pool, ws, input.lead_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (campaign, variant, channel) = resolve(&state, ws, &input).await?;
    let trace = plans::traceparent(pool, ws, input.lead_id, campaign).await?;
    let now = Utc::now();
    let occurred_at = input.occurred_at.map_or(now, |t| t.min(now));
    let event = EventParts {
        workspace_id: ws,
        lead_id: input.lead_id,
        campaign_id: campaign,
        variant_id: variant,
        send_id: input.send_id,
        channel,
        kind: input.kind,
        occurred_at,
        correlation_id: correlation,
        provider_event_id: Some(input.provider_event_id.clone()),
        generation_cost_micros: None,
    }
    .into_event();
    let id = Uuid::from(event.interaction_id);
    let mut tx = pool.begin().await?;
    let fresh: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO interaction_provider_events (workspace_id, provider_event_id, interaction_id, occurred_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING interaction_id",
    )
    .bind(ws)
    .bind(&input.provider_event_id)
    .bind(id)
    .bind(occurred_at)
    .fetch_optional(&mut *tx)
    .await?;
    if fresh.is_none() {
        drop(tx);
        return existing(&state, ws, &input.provider_event_id)
            .await
            .map(|i| (StatusCode::OK, Json(i)));
    }
    let span = interaction_span(&event, trace.as_deref());
    interactions::record(&mut tx, &state.interactions_topic, &event)
        .instrument(span)
        .await?;
    if input.kind.withdraws_consent() {
        let source = format!("interaction:{}", input.kind);
        let entry = NewEntry {
            workspace_id: ws,
            lead_id: input.lead_id,
            channel,
            granted: false,
            source: &source,
            legal_basis: "withdrawal",
            recorded_at: occurred_at,
            interaction_id: Some(id),
        };
        consent::append(&mut *tx, &entry).await?;
    }
    if matches!(
        input.kind,
        InteractionKind::Replied | InteractionKind::Converted
    ) {
        plans::complete(
            &mut tx,
            ws,
            input.lead_id,
            campaign,
            &format!("goal_reached:{}", input.kind),
        )
        .await?;
    }
    tx.commit().await?;
    let memory = MemoryEntry {
        at: occurred_at,
        kind: input.kind.to_string(),
        channel: channel.to_string(),
        campaign_id: campaign,
        subject: None,
        excerpt: None,
    };
    let client = principal.client_id();
    let (noted, ()) = tokio::join!(
        state.platform.db.note_write(&client),
        state.memory.remember(input.lead_id, &memory)
    );
    if let Err(e) = noted {
        tracing::warn!(error = %e, "read-your-writes position not recorded");
    }
    // After the memory write: a context cached in between would miss it.
    state.lead_changed(ws, input.lead_id).await;
    let stored = Interaction {
        id,
        lead_id: input.lead_id,
        campaign_id: campaign,
        variant_id: variant,
        send_id: input.send_id,
        channel: channel.to_string(),
        kind: input.kind.to_string(),
        occurred_at,
        provider_event_id: Some(input.provider_event_id),
    };
    Ok((StatusCode::CREATED, Json(stored)))
}

/// The span recording `event`: a child of the lead's trace (its plan's
/// context) when there is one, linked to the request that reported it, so
/// a counted interaction is found in the lead's trace and the provider's
/// callback stays a trace of its own.
fn interaction_span(event: &InteractionV1, lead_trace: Option<&str>) -> tracing::Span {
    let span = tracing::info_span!(
        "engagement.interaction",
        interaction_id = %event.interaction_id,
        lead_id = %event.lead_id,
        kind = %event.kind,
        correlation_id = %event.correlation_id,
    );
    if let Some(traceparent) = lead_trace {
        suite_bus::continue_trace_linked(&span, traceparent);
    }
    span
}

/// Campaign, variant and channel of the interaction, checked against the workspace.
async fn resolve(
    state: &AppState,
    ws: Uuid,
    input: &InteractionInput,
) -> Result<(Option<Uuid>, Option<Uuid>, Channel), ApiError> {
    let pool = state.platform.db.primary();
    if let Some(send_id) = input.send_id {
        let send: SendRef = sqlx::query_as(
            "SELECT lead_id, campaign_id, variant_id, channel FROM send_reservations WHERE id = $1 AND workspace_id = $2",
        )
        .bind(send_id)
        .bind(ws)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| ApiError::invalid("/send_id", "no such send in this workspace"))?;
        if send.lead_id != input.lead_id {
            return Err(ApiError::invalid("/send_id", "the send is to another lead"));
        }
        let channel: Channel = send
            .channel
            .parse()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("stored channel")))?;
        if input.channel.is_some_and(|c| c != channel) {
            return Err(ApiError::invalid(
                "/channel",
                "differs from the send's channel",
            ));
        }
        return Ok((Some(send.campaign_id), Some(send.variant_id), channel));
    }
    if let Some(campaign) = input.campaign_id {
        if !campaigns::exists(pool, ws, campaign).await? {
            return Err(ApiError::invalid(
                "/campaign_id",
                "no such campaign in this workspace",
            ));
        }
    }
    let channel = input
        .channel
        .ok_or_else(|| ApiError::invalid("/channel", "required without send_id"))?;
    Ok((input.campaign_id, None, channel))
}

async fn existing(
    state: &AppState,
    ws: Uuid,
    provider_event_id: &str,
) -> Result<Interaction, ApiError> {
    sqlx::query_as(
        "SELECT i.id, i.lead_id, i.campaign_id, i.variant_id, i.send_id, i.channel, i.type, i.occurred_at, \
         i.provider_event_id FROM interaction_provider_events p JOIN interactions i \
           ON i.id = p.interaction_id AND i.occurred_at = p.occurred_at \
         WHERE p.workspace_id = $1 AND p.provider_event_id = $2",
    )
    .bind(ws)
    .bind(provider_event_id)
    .fetch_optional(state.platform.db.primary())
    .await?
    .ok_or_else(|| ApiError::Conflict("the provider event id is being recorded".into()))
}

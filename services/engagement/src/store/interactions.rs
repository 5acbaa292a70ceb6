//! Interactions: stored (monthly partitions) and published on
//! `engagement.interactions` through the outbox, in the caller's transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use suite_bus::CloudEvent;
use suite_domain::{
    CampaignId, Channel, CorrelationId, InteractionId, InteractionKind, InteractionV1, LeadId,
    VariantId, WorkspaceId,
};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Error, Result};

/// CloudEvents source of engagement's events.
pub const SOURCE: &str = "/engagement";

/// A stored interaction, as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct Interaction {
    /// Interaction id (the CloudEvents id of its event).
    pub id: Uuid,
    /// The lead.
    pub lead_id: Uuid,
    /// The campaign, when known (else null).
    #[schema(required = true)]
    pub campaign_id: Option<Uuid>,
    /// The variant, when known (else null).
    #[schema(required = true)]
    pub variant_id: Option<Uuid>,
    /// The send it is about, when known (else null).
    #[schema(required = true)]
    pub send_id: Option<Uuid>,
    /// Channel.
    #[schema(value_type = crate::api::schemas::ChannelName)]
    pub channel: String,
    /// What happened (`sent`, `clicked`, …).
    #[sqlx(rename = "type")]
    #[serde(rename = "kind")]
    #[schema(schema_with = crate::api::schemas::interaction_kind)]
    pub kind: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The provider's event id (null for `sent`, recorded by engagement).
    #[schema(required = true)]
    pub provider_event_id: Option<String>,
}

/// Stores `event` and enqueues it on `topic` (the prefixed
/// `engagement.interactions`) in the caller's transaction.
pub async fn record(conn: &mut PgConnection, topic: &str, event: &InteractionV1) -> Result<()> {
    sqlx::query(
        "INSERT INTO interactions (id, workspace_id, lead_id, campaign_id, variant_id, send_id, channel, \
         type, occurred_at, provider_event_id, correlation_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(event.interaction_id.as_uuid())
    .bind(event.workspace_id.as_uuid())
    .bind(event.lead_id.as_uuid())
    .bind(event.campaign_id.map(Uuid::from))
    .bind(event.variant_id.map(Uuid::from))
    .bind(event.send_id)
    .bind(event.channel.as_str())
    .bind(event.kind.as_str())
    .bind(event.occurred_at)
    .bind(&event.provider_event_id)
    .bind(event.correlation_id.as_str())
    .execute(&mut *conn)
    .await?;
    let cloud = cloud_event(event)?;
    let key = event.key();
    suite_bus::outbox::enqueue(conn, topic, Some(key.as_bytes()), &cloud)
        .await
        .map_err(Error::from)
}

/// The CloudEvent of `event`: its id is the interaction id.
fn cloud_event(event: &InteractionV1) -> Result<CloudEvent> {
    let mut cloud = CloudEvent::new(
        InteractionV1::CE_TYPE,
        SOURCE,
        Some(event.lead_id.to_string()),
        serde_json::to_value(event)?,
    )
    .with_correlation_id(event.correlation_id.as_str());
    cloud.id = event.interaction_id.to_string();
    cloud.time = event.occurred_at;
    Ok(cloud)
}

/// [`record`] for a set: stores `traced` events with one statement and
/// enqueues them with another, in the caller's transaction. Each event
/// carries the `traceparent` of the span it belongs to (recorded outside
/// that span, it would otherwise join the writer's trace).
pub async fn record_many(
    conn: &mut PgConnection,
    topic: &str,
    traced: &[(InteractionV1, Option<String>)],
) -> Result<()> {
    if traced.is_empty() {
        return Ok(());
    }
    let events: Vec<&InteractionV1> = traced.iter().map(|(e, _)| e).collect();
    let ids: Vec<Uuid> = events.iter().map(|e| *e.interaction_id.as_uuid()).collect();
    let workspaces: Vec<Uuid> = events.iter().map(|e| *e.workspace_id.as_uuid()).collect();
    let leads: Vec<Uuid> = events.iter().map(|e| *e.lead_id.as_uuid()).collect();
    let campaigns: Vec<Option<Uuid>> = events
        .iter()
        .map(|e| e.campaign_id.map(Uuid::from))
        .collect();
    let variants: Vec<Option<Uuid>> = events
        .iter()
        .map(|e| e.variant_id.map(Uuid::from))
        .collect();
    let sends: Vec<Option<Uuid>> = events.iter().map(|e| e.send_id).collect();
    let channels: Vec<&str> = events.iter().map(|e| e.channel.as_str()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let times: Vec<DateTime<Utc>> = events.iter().map(|e| e.occurred_at).collect();
    let provider_ids: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.provider_event_id.as_deref())
        .collect();
    let correlations: Vec<&str> = events.iter().map(|e| e.correlation_id.as_str()).collect();
    sqlx::query(
        "INSERT INTO interactions (id, workspace_id, lead_id, campaign_id, variant_id, send_id, channel, \
         type, occurred_at, provider_event_id, correlation_id) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], \
            $7::text[], $8::text[], $9::timestamptz[], $10::text[], $11::text[])",
    )
    .bind(&ids)
    .bind(&workspaces)
    .bind(&leads)
    .bind(&campaigns)
    .bind(&variants)
    .bind(&sends)
    .bind(&channels)
    .bind(&kinds)
    .bind(&times)
    .bind(&provider_ids)
    .bind(&correlations)
    .execute(&mut *conn)
    .await?;
    let clouds = traced
        .iter()
        .map(|(event, traceparent)| {
            let mut cloud = cloud_event(event)?;
            cloud.traceparent.clone_from(traceparent);
            Ok(cloud)
        })
        .collect::<Result<Vec<_>>>()?;
    let keys: Vec<String> = events.iter().map(|e| e.key()).collect();
    let messages: Vec<suite_bus::OutboxMessage<'_>> = clouds
        .iter()
        .zip(&keys)
        .map(|(event, key)| suite_bus::OutboxMessage {
            topic,
            key: Some(key.as_bytes()),
            event,
        })
        .collect();
    suite_bus::outbox::enqueue_many(conn, &messages)
        .await
        .map_err(Error::from)
}

/// The parts of an interaction event that vary.
#[derive(Debug, Clone)]
pub struct EventParts {
    /// Workspace.
    pub workspace_id: Uuid,
    /// Lead.
    pub lead_id: Uuid,
    /// Campaign.
    pub campaign_id: Option<Uuid>,
    /// Variant.
    pub variant_id: Option<Uuid>,
    /// Send.
    pub send_id: Option<Uuid>,
    /// Channel.
    pub channel: Channel,
    /// Kind.
    pub kind: InteractionKind,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Correlation id (an invalid stored one is replaced by a fresh one).
    pub correlation_id: String,
    /// Provider event id.
    pub provider_event_id: Option<String>,
    /// What writing the sent message with a language model cost (micros).
    pub generation_cost_micros: Option<i64>,
}

impl EventParts {
    /// The `engagement.interaction.v1` payload with a fresh interaction id.
    pub fn into_event(self) -> InteractionV1 {
        InteractionV1 {
            interaction_id: InteractionId::new(),
            workspace_id: WorkspaceId::from(self.workspace_id),
            lead_id: LeadId::from(self.lead_id),
            campaign_id: self.campaign_id.map(CampaignId::from),
            variant_id: self.variant_id.map(VariantId::from),
            send_id: self.send_id,
            channel: self.channel,
            kind: self.kind,
            occurred_at: self.occurred_at,
            correlation_id: CorrelationId::parse(&self.correlation_id)
                .unwrap_or_else(|_| CorrelationId::generate()),
            provider_event_id: self.provider_event_id,
            generation_cost_micros: self.generation_cost_micros,
        }
    }
}

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
    /// The campaign, when known.
    pub campaign_id: Option<Uuid>,
    /// The variant, when known.
    pub variant_id: Option<Uuid>,
    /// The send it is about, when known.
    pub send_id: Option<Uuid>,
    /// Channel.
    pub channel: String,
    /// What happened (`sent`, `clicked`, …).
    #[sqlx(rename = "type")]
    #[serde(rename = "kind")]
    pub kind: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The provider's event id.
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
    let mut cloud = CloudEvent::new(
        InteractionV1::CE_TYPE,
        SOURCE,
        Some(event.lead_id.to_string()),
        serde_json::to_value(event)?,
    )
    .with_correlation_id(event.correlation_id.as_str());
    cloud.id = event.interaction_id.to_string();
    cloud.time = event.occurred_at;
    let key = event.key();
    suite_bus::outbox::enqueue(conn, topic, Some(key.as_bytes()), &cloud)
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
        }
    }
}

//! The latest allocation per campaign (`campaign_allocations`) and its
//! publication on `campaigns.allocations` through the outbox.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::PgConnection;
use suite_domain::{
    AllocationShare, CampaignAllocationV1, CampaignId, CampaignStatus, WorkspaceId,
};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::Error;
use crate::events::allocation_event;

/// Why an allocation was published (the event's `reason`).
pub mod reason {
    /// The campaign was created.
    pub const CREATED: &str = "created";
    /// The shares moved by more than the threshold.
    pub const CHANGED: &str = "changed";
    /// Periodic re-publication while interactions flow.
    pub const HEARTBEAT: &str = "heartbeat";
    /// The campaign's status or settings changed (pause, resume, archive, update).
    pub const STATUS: &str = "status";
    /// The day's budget is spent: the campaign is paused.
    pub const BUDGET_EXHAUSTED: &str = "budget_exhausted";
    /// A new day (or a larger budget) resumed a campaign paused for budget.
    pub const BUDGET_RESTORED: &str = "budget_restored";
    /// Spend ran ahead of the daily pace: sends are held back.
    pub const PACING_HOLD: &str = "pacing_hold";
    /// Spend is back on pace: sends go on.
    pub const PACING_RELEASED: &str = "pacing_released";

    /// Every reason.
    pub const ALL: [&str; 8] = [
        CREATED,
        CHANGED,
        HEARTBEAT,
        STATUS,
        BUDGET_EXHAUSTED,
        BUDGET_RESTORED,
        PACING_HOLD,
        PACING_RELEASED,
    ];

    /// The OpenAPI schema of a reason: one of [`ALL`].
    pub fn schema() -> utoipa::openapi::schema::Schema {
        suite_http::openapi::string_enum(ALL).into()
    }
}

/// One variant's share of an allocation (the wire form of `AllocationShare`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ShareView {
    /// The variant.
    pub variant_id: Uuid,
    /// Its share of new sends, in 0–1.
    #[schema(minimum = 0, maximum = 1)]
    pub share: f64,
}

/// The latest published allocation of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct StoredAllocation {
    /// The campaign.
    pub campaign_id: Uuid,
    /// Increases with every publication.
    pub sequence: i64,
    /// The status announced to senders (`paused` while pacing holds sends back).
    #[schema(schema_with = crate::campaign::schema::status)]
    pub status: CampaignStatus,
    /// Per-variant shares (sum to 1).
    #[schema(value_type = Vec<ShareView>)]
    pub shares: Vec<AllocationShare>,
    /// Why it was published.
    #[schema(schema_with = reason::schema)]
    pub reason: String,
    /// When it was computed.
    pub computed_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    campaign_id: Uuid,
    sequence: i64,
    status: String,
    shares: Json<Vec<AllocationShare>>,
    reason: String,
    computed_at: DateTime<Utc>,
}

/// The latest allocation of `campaign` in `workspace`.
pub async fn latest(
    conn: &mut PgConnection,
    workspace: Uuid,
    campaign: Uuid,
) -> Result<Option<StoredAllocation>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT campaign_id, sequence, status, shares, reason, computed_at \
         FROM campaign_allocations WHERE campaign_id = $1 AND workspace_id = $2",
    )
    .bind(campaign)
    .bind(workspace)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(StoredAllocation {
            campaign_id: r.campaign_id,
            sequence: r.sequence,
            status: r.status.parse().map_err(|_| {
                sqlx::Error::Decode("stored allocation has an invalid status".into())
            })?,
            shares: r.shares.0,
            reason: r.reason,
            computed_at: r.computed_at,
        })
    })
    .transpose()
}

/// Stores the next allocation of `campaign` (sequence + 1) and enqueues it
/// on `topic` in the caller's transaction, which must hold the campaign's
/// row lock. Clears the campaign's pending-interaction count.
pub async fn publish(
    conn: &mut PgConnection,
    topic: &str,
    workspace: Uuid,
    campaign: Uuid,
    status: CampaignStatus,
    shares: Vec<AllocationShare>,
    reason: &str,
) -> Result<CampaignAllocationV1, Error> {
    let (sequence, computed_at, performance_score): (i64, DateTime<Utc>, Option<f64>) = sqlx::query_as(
        "INSERT INTO campaign_allocations (campaign_id, workspace_id, sequence, status, shares, reason, computed_at) \
         VALUES ($1, $2, 1, $3, $4, $5, now()) \
         ON CONFLICT (campaign_id) DO UPDATE SET sequence = campaign_allocations.sequence + 1, \
         status = EXCLUDED.status, shares = EXCLUDED.shares, reason = EXCLUDED.reason, \
         computed_at = EXCLUDED.computed_at \
         RETURNING sequence, computed_at, \
           (SELECT performance_score FROM campaigns WHERE id = $1)",
    )
    .bind(campaign)
    .bind(workspace)
    .bind(status.as_str())
    .bind(Json(&shares))
    .bind(reason)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE campaign_optimizer_state SET pending_interactions = 0, updated_at = now() \
         WHERE campaign_id = $1",
    )
    .bind(campaign)
    .execute(&mut *conn)
    .await?;
    let allocation = CampaignAllocationV1 {
        campaign_id: CampaignId::from_uuid(campaign),
        workspace_id: WorkspaceId::from_uuid(workspace),
        status,
        sequence,
        shares,
        reason: reason.to_owned(),
        computed_at,
        performance_score,
    };
    let event = allocation_event(&allocation)?;
    let key = allocation.key();
    suite_bus::outbox::enqueue(conn, topic, Some(key.as_bytes()), &event).await?;
    metrics::counter!(crate::metric_names::ALLOCATIONS_PUBLISHED, "reason" => reason.to_owned())
        .increment(1);
    Ok(allocation)
}

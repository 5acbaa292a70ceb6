//! The latest allocation per campaign as consumed from `campaigns.allocations`.

use sqlx::types::Json;
use sqlx::PgExecutor;
use suite_domain::CampaignAllocationV1;

/// Stores `event` unless a later (or the same) sequence is already stored.
/// Returns whether it changed anything.
pub async fn upsert(
    db: impl PgExecutor<'_>,
    event: &CampaignAllocationV1,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO engagement_allocations AS a (campaign_id, workspace_id, status, sequence, shares, \
           performance_score) \
         VALUES ($1, $2, $3, $4, $5, coalesce($6, 0)) \
         ON CONFLICT (campaign_id) DO UPDATE SET status = EXCLUDED.status, \
           sequence = EXCLUDED.sequence, shares = EXCLUDED.shares, received_at = now(), \
           performance_score = coalesce($6, a.performance_score) \
         WHERE a.sequence < EXCLUDED.sequence",
    )
    .bind(event.campaign_id.as_uuid())
    .bind(event.workspace_id.as_uuid())
    .bind(event.status.as_str())
    .bind(event.sequence)
    .bind(Json(&event.shares))
    .bind(event.performance_score)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

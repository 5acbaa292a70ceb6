//! Reads behind the performance report: the materialized summary and the
//! day's spend.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// One variant's row of `campaign_performance_summary`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SummaryRow {
    /// The variant.
    pub variant_id: Uuid,
    /// Sends counted.
    pub sends: i64,
    /// Outcomes for the campaign's objective.
    pub outcomes: i64,
    /// Spend in micros.
    pub spend_micros: i64,
    /// The part of `spend_micros` that paid for generated messages.
    pub generation_spend_micros: i64,
    /// When the summary was refreshed.
    pub refreshed_at: DateTime<Utc>,
}

/// The summary rows of a campaign of `workspace`.
pub async fn summary(
    conn: &mut PgConnection,
    workspace: Uuid,
    campaign: Uuid,
) -> Result<Vec<SummaryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT variant_id, sends, outcomes, spend_micros, generation_spend_micros, refreshed_at \
         FROM campaign_performance_summary WHERE workspace_id = $1 AND campaign_id = $2 \
         ORDER BY position",
    )
    .bind(workspace)
    .bind(campaign)
    .fetch_all(conn)
    .await
}

/// Spend of `campaign` on `day` in micros (0 without sends).
pub async fn spend_on(
    conn: &mut PgConnection,
    campaign: Uuid,
    day: NaiveDate,
) -> Result<i64, sqlx::Error> {
    crate::store::counters::spend_on(conn, campaign, day).await
}

//! Keeps the `campaign_performance_summary` materialized view fresh:
//! `REFRESH MATERIALIZED VIEW CONCURRENTLY` every [`REFRESH_EVERY`] (readers
//! are never blocked), by one instance at a time (a transaction-scoped
//! advisory lock), then invalidates the cached reports of the campaigns
//! whose counters changed.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::Error;
use crate::state::AppState;

/// Cadence of the refresh.
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// Advisory lock key of the refresh ("co-summ" in ASCII).
const LOCK_KEY: i64 = 0x0063_6f2d_7375_6d6d;

/// Refreshes the summary every [`REFRESH_EVERY`] until `stop` is cancelled.
pub async fn run_refresher(state: AppState, stop: CancellationToken) {
    suite_app::every(REFRESH_EVERY, stop, || async {
        match refresh_once(&state).await {
            Ok(changed) => {
                for (workspace, campaign) in changed {
                    state
                        .performance
                        .invalidate(&crate::state::cache_key(workspace, campaign))
                        .await;
                }
            }
            Err(err) => tracing::warn!(error = %err, "summary refresh failed"),
        }
    })
    .await;
}

/// One refresh (unless another instance is refreshing); returns the
/// (workspace, campaign) pairs whose counters changed since the last one.
pub async fn refresh_once(state: &AppState) -> Result<Vec<(Uuid, Uuid)>, Error> {
    let started = Instant::now();
    let mut tx = state.platform.db.primary().begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(Vec::new());
    }
    let since: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT max(refreshed_at) FROM campaign_performance_summary")
            .fetch_one(&mut *tx)
            .await?;
    let changed: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT DISTINCT workspace_id, campaign_id FROM campaign_variant_stats \
         WHERE $1::timestamptz IS NULL OR updated_at >= $1",
    )
    .bind(since)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("REFRESH MATERIALIZED VIEW CONCURRENTLY campaign_performance_summary")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    metrics::histogram!(crate::metric_names::SUMMARY_REFRESH_SECONDS)
        .record(started.elapsed().as_secs_f64());
    Ok(changed)
}

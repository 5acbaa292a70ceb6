//! Retention of the consumer's bookkeeping: `campaign_send_outcomes` rows
//! (which make an outcome count once per send) are kept for
//! [`OUTCOME_RETENTION_DAYS`]; a second click on a message older than that
//! would count again, which no campaign report is sensitive to.

use std::time::Duration;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// How long an outcome of a send is remembered.
pub const OUTCOME_RETENTION_DAYS: i32 = 90;
/// How often old rows are deleted.
pub const EVERY: Duration = Duration::from_secs(3_600);
/// Rows deleted per statement, so pruning never holds long locks.
const CHUNK: i64 = 10_000;

/// Prunes every [`EVERY`] until `stop` is cancelled.
pub async fn run_pruner(pool: PgPool, stop: CancellationToken) {
    suite_app::every(EVERY, stop, || async {
        match prune_outcomes(&pool, OUTCOME_RETENTION_DAYS).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "old send outcomes pruned"),
            Err(err) => tracing::warn!(error = %err, "pruning send outcomes failed"),
        }
    })
    .await;
}

/// Deletes send outcomes older than `days` days, in chunks; returns how many.
pub async fn prune_outcomes(pool: &PgPool, days: i32) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let deleted = sqlx::query(
            "DELETE FROM campaign_send_outcomes WHERE ctid IN (SELECT ctid FROM campaign_send_outcomes \
             WHERE recorded_at < now() - make_interval(days => $1) LIMIT $2)",
        )
        .bind(days)
        .bind(CHUNK)
        .execute(pool)
        .await?
        .rows_affected();
        total += deleted;
        if deleted < u64::try_from(CHUNK).unwrap_or(u64::MAX) {
            return Ok(total);
        }
    }
}

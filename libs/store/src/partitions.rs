//! Monthly partitions of the time-series tables, created ahead of time.

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::Result;

/// How often [`spawn_partition_maintenance`] runs.
pub const PARTITION_MAINTENANCE_EVERY: Duration = Duration::from_secs(6 * 3600);
/// Months of partitions [`spawn_partition_maintenance`] keeps ready ahead of now.
pub const PARTITION_MONTHS_AHEAD: i32 = 3;
/// Delay before retrying after a failed run (e.g. the primary was briefly down).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// Creates any missing monthly partition of every table listed in
/// `partitioned_tables`, from last month to `months_ahead` months ahead
/// (`ensure_all_monthly_partitions`). Returns how many were created.
/// Safe to run concurrently from many instances only in the sense that a
/// loser fails and retries later; runs are cheap when nothing is missing.
pub async fn ensure_partitions(pool: &PgPool, months_ahead: i32) -> Result<i32> {
    let created: i32 = sqlx::query_scalar("SELECT ensure_all_monthly_partitions($1)")
        .bind(months_ahead)
        .fetch_one(pool)
        .await?;
    Ok(created)
}

/// Runs [`ensure_partitions`] with [`PARTITION_MONTHS_AHEAD`] at once and then every
/// [`PARTITION_MAINTENANCE_EVERY`] (a minute after a failure), until `shutdown`.
pub fn spawn_partition_maintenance(pool: PgPool, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let next = match ensure_partitions(&pool, PARTITION_MONTHS_AHEAD).await {
                Ok(created) => {
                    if created > 0 {
                        tracing::info!(created, "monthly partitions created");
                    }
                    PARTITION_MAINTENANCE_EVERY
                }
                Err(e) => {
                    tracing::warn!(error = %e, "partition maintenance failed; retrying");
                    RETRY_AFTER_FAILURE
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(next) => {}
            }
        }
    })
}

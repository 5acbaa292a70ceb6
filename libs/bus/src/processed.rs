//! Exactly-once effects on at-least-once delivery: a consumer records each
//! event id in the same transaction as its side effects.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::{PgConnection, PgPool};

use crate::error::BusError;

/// Rows deleted per statement by [`prune`], so pruning never holds long locks.
const PRUNE_CHUNK: i64 = 10_000;

/// Records that `consumer` handled `event_id`, inside the caller's open
/// transaction. Returns `true` the first time and `false` for a redelivery,
/// in which case the caller should apply no effects.
///
/// Concurrent calls for the same id block on the first transaction and then
/// return `false` once it commits (or `true` if it rolled back).
pub async fn first_time(
    conn: &mut PgConnection,
    consumer: &str,
    event_id: &str,
) -> Result<bool, BusError> {
    let inserted = sqlx::query(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) \
         ON CONFLICT (consumer, event_id) DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// [`first_time`] for a set: records every id of `event_ids` with one
/// statement, inside the caller's open transaction, and returns the ids
/// recorded now (each once, however often it appears in `event_ids`). An id
/// not returned was handled before: its effects must not be applied again.
pub async fn first_times(
    conn: &mut PgConnection,
    consumer: &str,
    event_ids: &[&str],
) -> Result<HashSet<String>, BusError> {
    if event_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let fresh: Vec<String> = sqlx::query_scalar(
        "INSERT INTO processed_events (consumer, event_id) \
         SELECT $1, id FROM unnest($2::text[]) AS id \
         ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id",
    )
    .bind(consumer)
    .bind(event_ids)
    .fetch_all(conn)
    .await?;
    Ok(fresh.into_iter().collect())
}

/// Deletes bookkeeping rows older than `older_than` (keep it well above the
/// longest possible redelivery delay). Returns the number of rows deleted.
pub async fn prune(pool: &PgPool, older_than: Duration) -> Result<u64, BusError> {
    let seconds = older_than.as_secs_f64();
    let mut total = 0;
    loop {
        let deleted = sqlx::query(
            "DELETE FROM processed_events WHERE ctid = ANY(ARRAY( \
                 SELECT ctid FROM processed_events \
                 WHERE processed_at < now() - make_interval(secs => $1) LIMIT $2))",
        )
        .bind(seconds)
        .bind(PRUNE_CHUNK)
        .execute(pool)
        .await?
        .rows_affected();
        total += deleted;
        if deleted < PRUNE_CHUNK as u64 {
            return Ok(total);
        }
    }
}

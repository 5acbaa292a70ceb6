//! Retention: rows of bookkeeping tables older than their setting are
//! deleted in chunks (so a prune never holds long locks or bloats one
//! transaction), and monthly partitions older than the partition setting
//! are dropped whole. Every service runs the rules of the tables it owns
//! (and the platform those of the shared layer) from a periodic task; runs
//! on several instances at once only share the work.

use std::time::Duration;

use sqlx::PgPool;

use crate::Result;

/// Rows deleted per statement.
pub const CHUNK: i64 = 10_000;

/// A table whose rows expire.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The table (a plain, unpartitioned table).
    pub table: &'static str,
    /// The column whose age decides (a `timestamptz`).
    pub time_column: &'static str,
    /// An extra SQL condition rows must also meet to be deleted (`""` for none).
    pub filter: &'static str,
    /// How long rows are kept; `None` keeps them for ever.
    pub keep: Option<Duration>,
}

impl Rule {
    /// A rule keeping rows of `table` for `hours` hours by `time_column`
    /// (0: for ever).
    pub fn hours(table: &'static str, time_column: &'static str, hours: u32) -> Self {
        Self {
            table,
            time_column,
            filter: "",
            keep: (hours > 0).then(|| Duration::from_secs(u64::from(hours) * 3_600)),
        }
    }

    /// A rule keeping rows for `days` days (0: for ever).
    pub fn days(table: &'static str, time_column: &'static str, days: u32) -> Self {
        Self::hours(table, time_column, days.saturating_mul(24))
    }

    /// This rule, deleting only rows that also meet `filter`.
    pub fn only(mut self, filter: &'static str) -> Self {
        self.filter = filter;
        self
    }
}

/// Deletes the rows `rule` expires, in chunks of [`CHUNK`]; returns how many.
pub async fn prune(pool: &PgPool, rule: &Rule) -> Result<u64> {
    let Some(keep) = rule.keep else {
        return Ok(0);
    };
    let filter = if rule.filter.is_empty() {
        String::new()
    } else {
        format!(" AND ({})", rule.filter)
    };
    let sql = format!(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY( \
           SELECT ctid FROM {table} \
           WHERE {column} < now() - make_interval(secs => $1){filter} LIMIT $2))",
        table = rule.table,
        column = rule.time_column,
    );
    let mut total = 0;
    loop {
        let deleted = sqlx::query(&sql)
            .bind(keep.as_secs_f64())
            .bind(CHUNK)
            .execute(pool)
            .await?
            .rows_affected();
        total += deleted;
        if deleted < CHUNK as u64 {
            return Ok(total);
        }
    }
}

/// Drops the monthly partitions (of the tables in `partitioned_tables`)
/// that end before the start of the month `months` months ago, so the
/// current month and the `months` before it are kept; `0` keeps every
/// partition. Returns the dropped partitions' names.
pub async fn drop_old_partitions(pool: &PgPool, months: u32) -> Result<Vec<String>> {
    if months == 0 {
        return Ok(Vec::new());
    }
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid \
         JOIN pg_class p ON p.oid = i.inhparent \
         JOIN partitioned_tables t ON t.table_name = p.relname \
         WHERE c.relname ~ '_y[0-9]{4}m[0-9]{2}$' \
           AND to_date(substring(c.relname from '_y([0-9]{4}m[0-9]{2})$'), 'YYYY\"m\"MM') \
               < date_trunc('month', now()) - make_interval(months => $1) \
         ORDER BY 1",
    )
    .bind(i32::try_from(months).unwrap_or(i32::MAX))
    .fetch_all(pool)
    .await?;
    let mut dropped = Vec::new();
    for name in old {
        // Names come from the catalogue and match the pattern above; quote anyway.
        sqlx::query(&format!(
            "DROP TABLE IF EXISTS \"{}\"",
            name.replace('"', "\"\"")
        ))
        .execute(pool)
        .await?;
        dropped.push(name);
    }
    Ok(dropped)
}

/// Applies every rule of `rules` and drops partitions older than
/// `partition_months`, logging what went; errors are logged and the next
/// run tries again.
pub async fn run_once(pool: &PgPool, rules: &[Rule], partition_months: Option<u32>) {
    for rule in rules {
        match prune(pool, rule).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(table = rule.table, rows, "expired rows pruned"),
            Err(err) => tracing::warn!(table = rule.table, error = %err, "pruning failed"),
        }
    }
    if let Some(months) = partition_months {
        match drop_old_partitions(pool, months).await {
            Ok(dropped) if dropped.is_empty() => {}
            Ok(dropped) => tracing::info!(?dropped, "expired monthly partitions dropped"),
            Err(err) => tracing::warn!(error = %err, "dropping expired partitions failed"),
        }
    }
}

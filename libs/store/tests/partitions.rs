//! Monthly partition maintenance and the embedded migrations.

mod common;

use std::time::Duration;

use common::*;
use sqlx::PgPool;
use suite_store::{ensure_partitions, spawn_partition_maintenance, MIGRATOR};
use tokio_util::sync::CancellationToken;

async fn next_month_partition(pool: &PgPool) -> anyhow::Result<String> {
    Ok(sqlx::query_scalar(
        "SELECT 'audit_log_y' || to_char(now() + interval '1 month', 'YYYY') \
         || 'm' || to_char(now() + interval '1 month', 'MM')",
    )
    .fetch_one(pool)
    .await?)
}

async fn exists(pool: &PgPool, table: &str) -> anyhow::Result<bool> {
    Ok(sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(pool)
        .await?)
}

#[tokio::test]
async fn ensure_partitions_creates_what_is_missing_once() -> anyhow::Result<()> {
    let env = env().await?;
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM partitioned_tables")
        .fetch_one(&env.db)
        .await?;
    assert!(tables >= 1);
    let created = ensure_partitions(&env.db, 8).await?;
    assert!(
        i64::from(created) >= tables,
        "at least one new month per table: {created} for {tables} tables"
    );
    assert_eq!(ensure_partitions(&env.db, 8).await?, 0, "idempotent");
    Ok(())
}

#[tokio::test]
async fn maintenance_task_runs_at_start() -> anyhow::Result<()> {
    let env = env().await?;
    let partition = next_month_partition(&env.db).await?;
    assert!(
        exists(&env.db, &partition).await?,
        "created by the migration"
    );
    sqlx::query(&format!(r#"DROP TABLE "{partition}""#))
        .execute(&env.db)
        .await?;
    let shutdown = CancellationToken::new();
    let task = spawn_partition_maintenance(env.db.clone(), shutdown.clone());
    eventually(
        Duration::from_secs(10),
        "the partition to be recreated",
        || async { exists(&env.db, &partition).await.unwrap_or(false) },
    )
    .await?;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), task).await??;
    Ok(())
}

#[test]
fn migrations_are_embedded_and_current() -> anyhow::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut on_disk = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some((version, _)) = name.strip_suffix(".sql").and_then(|n| n.split_once('_')) {
            on_disk.push(version.parse::<i64>()?);
        }
    }
    on_disk.sort_unstable();
    let embedded: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    assert!(!embedded.is_empty());
    assert_eq!(
        embedded, on_disk,
        "MIGRATOR embeds every file of migrations/"
    );
    Ok(())
}

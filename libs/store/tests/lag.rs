//! A replica whose replay falls behind past `replica_max_lag_bytes` is skipped,
//! and used again once it catches up. Pauses replay on the real replica for
//! about a second, always resuming it.

mod common;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use anyhow::Context as _;
use common::*;
use futures::FutureExt as _;
use sqlx::{Connection as _, PgConnection};
use suite_store::Db;
use tokio_util::sync::CancellationToken;

async fn set_replay_paused(paused: bool) -> anyhow::Result<()> {
    let mut replica = PgConnection::connect("postgres://postgres@127.0.0.1:5433/postgres").await?;
    let sql = if paused {
        "SELECT pg_wal_replay_pause()"
    } else {
        "SELECT pg_wal_replay_resume()"
    };
    sqlx::query(sql).execute(&mut replica).await?;
    replica.close().await.ok();
    Ok(())
}

#[tokio::test]
async fn a_lagging_replica_is_skipped() -> anyhow::Result<()> {
    let env = env().await?;
    let shutdown = CancellationToken::new();
    let mut settings = db_settings(&env, &[replica_url(&env)]);
    settings.replica_max_lag_bytes = 64 * 1024;
    let db = db_with_monitor(&env, &settings, &shutdown).await?;
    sqlx::query("CREATE TABLE lag_filler (payload text NOT NULL)")
        .execute(db.primary())
        .await?;
    {
        let _replay = replay_running().await?;
        wait_usable(&db, 0).await?;
    }

    let _exclusive = replay_exclusive().await?;
    set_replay_paused(true).await?;
    let outcome = AssertUnwindSafe(while_paused(&db)).catch_unwind().await;
    // Always resume, whatever happened above.
    let resumed = set_replay_paused(false).await;
    match outcome {
        Ok(result) => result?,
        Err(panic) => std::panic::resume_unwind(panic),
    }
    resumed?;

    wait_usable(&db, 0).await?;
    assert!(
        in_recovery(&db.read(None).await).await?,
        "caught up: used again"
    );
    shutdown.cancel();
    Ok(())
}

async fn while_paused(db: &Db) -> anyhow::Result<()> {
    // Several hundred KiB of WAL (random, so not compressed away) the paused replica cannot replay.
    sqlx::query("INSERT INTO lag_filler SELECT md5(random()::text) FROM generate_series(1, 5000)")
        .execute(db.primary())
        .await?;
    eventually(
        Duration::from_secs(5),
        "the replica to be skipped for lag",
        || async { !db.replica_status()[0].usable },
    )
    .await
    .with_context(|| format!("status: {:?}", db.replica_status()))?;
    let status = &db.replica_status()[0];
    assert!(
        status.reachable && status.in_recovery,
        "still up: {status:?}"
    );
    assert!(
        status.lag_bytes.is_some_and(|lag| lag > 64 * 1024),
        "lag recorded: {status:?}"
    );
    // Gauges are exported by the probe (this binary has a single Db per replica index).
    assert!(
        metric("db_replica_lag_bytes", &[("replica", "0")]) > 64.0 * 1024.0,
        "lag gauge exported"
    );
    assert_eq!(metric("db_replica_healthy", &[("replica", "0")]), 0.0);
    let pool = db.read(None).await;
    assert!(
        !in_recovery(&pool).await?,
        "lagging replica skipped: primary"
    );
    Ok(())
}

//! Read-your-writes: a client that just wrote reads its write at once, on this
//! or another instance, while other clients keep reading from the replica.

mod common;

use std::time::Duration;

use common::*;
use sqlx::PgPool;
use suite_store::{Db, Redis};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

async fn insert_workspace(primary: &PgPool) -> anyhow::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query("INSERT INTO workspaces (id, name) VALUES ($1, 'ryw')")
        .bind(id)
        .execute(primary)
        .await?;
    Ok(id)
}

async fn exists(pool: &PgPool, id: Uuid) -> anyhow::Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = $1)")
            .bind(id)
            .fetch_one(pool)
            .await?,
    )
}

#[tokio::test]
async fn a_client_reads_its_own_write_every_time() -> anyhow::Result<()> {
    let _replay = replay_running().await?;
    let env = env().await?;
    let shutdown = CancellationToken::new();
    let db = db_with_monitor(&env, &db_settings(&env, &[replica_url(&env)]), &shutdown).await?;
    wait_usable(&db, 0).await?;

    let mut last = Uuid::nil();
    for i in 0..200 {
        last = insert_workspace(db.primary()).await?;
        db.note_write("writer").await?;
        let pool = db.read(Some("writer")).await;
        assert!(
            exists(&pool, last).await?,
            "iteration {i}: the writer must see its row (read from port {})",
            pool.connect_options().get_port()
        );
        // Meanwhile a client without writes keeps using the replica.
        if i % 20 == 0 {
            let other = db.read(Some("reader")).await;
            assert!(
                in_recovery(&other).await?,
                "iteration {i}: reader on the replica"
            );
        }
    }

    // Once the replica has replayed the last write, the writer is served by it again.
    eventually(
        Duration::from_secs(10),
        "the writer to be routed to the caught-up replica",
        || async { db.read(Some("writer")).await.connect_options().get_port() == 5433 },
    )
    .await?;
    let pool = db.read(Some("writer")).await;
    assert!(in_recovery(&pool).await?);
    assert!(exists(&pool, last).await?, "the replica holds the write");
    shutdown.cancel();
    Ok(())
}

#[tokio::test]
async fn a_write_noted_on_one_instance_is_honoured_by_another() -> anyhow::Result<()> {
    let _replay = replay_running().await?;
    let env = env().await?;
    let shutdown = CancellationToken::new();
    let settings = db_settings(&env, &[replica_url(&env)]);
    let writer_instance = db_with_monitor(&env, &settings, &shutdown).await?;
    let reader_instance = db_with_monitor(&env, &settings, &shutdown).await?;
    wait_usable(&reader_instance, 0).await?;

    for i in 0..100 {
        let id = insert_workspace(writer_instance.primary()).await?;
        writer_instance.note_write("api-key-1").await?;
        let pool = reader_instance.read(Some("api-key-1")).await;
        assert!(
            exists(&pool, id).await?,
            "iteration {i}: write visible through the other instance"
        );
    }
    // The position is stored under the configured prefix, with a TTL.
    let redis = Redis::connect(&env.settings.redis)?;
    let mut conn = redis.conn().await?;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(redis.key("ryw:api-key-1"))
        .query_async(&mut conn)
        .await?;
    assert!(ttl > 0 && ttl <= 30_000, "ttl {ttl} ms");
    shutdown.cancel();
    Ok(())
}

#[tokio::test]
async fn without_redis_writes_are_still_read_back() -> anyhow::Result<()> {
    let _replay = replay_running().await?;
    let env = env().await?;
    let shutdown = CancellationToken::new();
    let dead = Redis::connect(&dead_redis_settings(&env))?;
    let db = Db::connect(&db_settings(&env, &[replica_url(&env)]), Some(dead)).await?;
    db.spawn_monitor(shutdown.clone());
    wait_usable(&db, 0).await?;

    for i in 0..20 {
        let id = insert_workspace(db.primary()).await?;
        db.note_write("writer").await?;
        let pool = db.read(Some("writer")).await;
        assert!(exists(&pool, id).await?, "iteration {i}");
    }
    // Client reads cannot be checked against other instances' writes: primary.
    assert!(!in_recovery(&db.read(Some("anyone")).await).await?);
    // Anonymous reads do not need Redis.
    assert!(in_recovery(&db.read(None).await).await?);
    shutdown.cancel();
    Ok(())
}

#[tokio::test]
async fn without_redis_configured_positions_are_kept_in_process() -> anyhow::Result<()> {
    let _replay = replay_running().await?;
    let env = env().await?;
    let shutdown = CancellationToken::new();
    let db = Db::connect(&db_settings(&env, &[replica_url(&env)]), None).await?;
    db.spawn_monitor(shutdown.clone());
    wait_usable(&db, 0).await?;

    for i in 0..50 {
        let id = insert_workspace(db.primary()).await?;
        db.note_write("writer").await?;
        assert!(
            exists(&db.read(Some("writer")).await, id).await?,
            "iteration {i}"
        );
    }
    assert!(in_recovery(&db.read(Some("other")).await).await?);
    shutdown.cancel();
    Ok(())
}

//! Replica routing against the real primary (5432) and streaming replica (5433):
//! healthy replicas serve reads, stopped or unreachable ones are skipped, and
//! with none left reads fall back to the primary.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use suite_store::Db;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn healthy_replica_serves_reads_of_a_client_without_writes() -> anyhow::Result<()> {
    let _replay = replay_running().await?;
    let env = env().await?;
    let shutdown = CancellationToken::new();
    let db = db_with_monitor(&env, &db_settings(&env, &[replica_url(&env)]), &shutdown).await?;
    wait_usable(&db, 0).await?;

    let before = metric("db_reads_total", &[("target", "replica")]);
    for client in [None, Some("client-without-writes")] {
        let pool = db.read(client).await;
        assert!(
            in_recovery(&pool).await?,
            "a read for {client:?} should go to the replica; status: {:?}",
            db.replica_status()
        );
    }
    assert!(metric("db_reads_total", &[("target", "replica")]) >= before + 2.0);
    let status = &db.replica_status()[0];
    assert!(status.in_recovery && status.reachable, "{status:?}");
    assert!(status.replay_lsn.is_some(), "{status:?}");
    assert!(
        !in_recovery(db.primary()).await?,
        "primary() is the primary"
    );
    shutdown.cancel();
    Ok(())
}

#[tokio::test]
async fn unreachable_replica_is_skipped_next_to_a_live_one() -> anyhow::Result<()> {
    let _replay = replay_running().await?;
    let env = env().await?;
    let shutdown = CancellationToken::new();
    let settings = db_settings(&env, &[dead_replica_url(&env), replica_url(&env)]);
    let db = db_with_monitor(&env, &settings, &shutdown).await?;
    wait_usable(&db, 1).await?;

    let dead = &db.replica_status()[0];
    assert!(!dead.usable && !dead.reachable, "dead replica: {dead:?}");
    assert!(
        dead.last_error.is_some(),
        "dead replica has an error: {dead:?}"
    );
    for _ in 0..50 {
        let pool = db.read(None).await;
        assert_eq!(
            pool.connect_options().get_port(),
            5433,
            "reads go to the live replica only"
        );
    }
    assert!(in_recovery(&db.read(None).await).await?);
    shutdown.cancel();
    Ok(())
}

#[tokio::test]
async fn only_a_dead_replica_means_reads_go_to_the_primary() -> anyhow::Result<()> {
    let env = env().await?;
    let started = Instant::now();
    let db = Db::connect(&db_settings(&env, &[dead_replica_url(&env)]), None).await?;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a dead replica must not delay start-up ({:?})",
        started.elapsed()
    );
    let shutdown = CancellationToken::new();
    db.spawn_monitor(shutdown.clone());
    eventually(
        Duration::from_secs(5),
        "the dead replica to be probed",
        || async { db.replica_status()[0].last_probe_ms_ago.is_some() },
    )
    .await?;

    let before = metric("db_reads_total", &[("target", "primary")]);
    for client in [None, Some("someone")] {
        let pool = db.read(client).await;
        assert!(!in_recovery(&pool).await?, "fallback to the primary");
    }
    assert!(metric("db_reads_total", &[("target", "primary")]) >= before + 2.0);
    assert!(!db.replica_status()[0].usable);
    assert!(db.is_healthy().await);
    db.ping().await?;
    shutdown.cancel();
    Ok(())
}

#[tokio::test]
async fn replica_that_stops_is_detected_within_about_a_second() -> anyhow::Result<()> {
    let _replay = replay_running().await?;
    let env = env().await?;
    let proxy = Proxy::start(SocketAddr::from(([127, 0, 0, 1], 5433))).await?;
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/{}",
        proxy.port, env.db_name
    );
    let shutdown = CancellationToken::new();
    let mut settings = db_settings(&env, &[url]);
    settings.replica_probe_interval_ms = 500; // the default
    let db = db_with_monitor(&env, &settings, &shutdown).await?;
    wait_usable(&db, 0).await?;
    assert!(in_recovery(&db.read(None).await).await?);

    proxy.stop();
    let stopped = Instant::now();
    eventually(
        Duration::from_secs(5),
        "the stopped replica to be skipped",
        || async { !db.replica_status()[0].usable },
    )
    .await?;
    // At most one probe interval (500 ms) plus one probe timeout (500 ms); slack for a busy machine.
    let detected = stopped.elapsed();
    eprintln!("stopped replica detected after {detected:?}");
    assert!(
        detected <= Duration::from_millis(2_000),
        "detected after {detected:?}"
    );
    let pool = db.read(None).await;
    assert!(!in_recovery(&pool).await?, "reads fall back to the primary");
    shutdown.cancel();
    Ok(())
}

#[tokio::test]
async fn primary_must_be_reachable_to_connect() -> anyhow::Result<()> {
    let env = env().await?;
    let mut settings = db_settings(&env, &[]);
    settings.url = format!("postgres://postgres@127.0.0.1:{}/x", closed_port()).into();
    settings.acquire_timeout_secs = 1;
    let started = Instant::now();
    let err = Db::connect(&settings, None)
        .await
        .expect_err("no primary, no Db");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains("database"), "{err}");

    settings.url = "not a url".to_owned().into();
    let err = Db::connect(&settings, None).await.expect_err("bad url");
    assert!(
        err.to_string().contains("database.url"),
        "names the setting: {err}"
    );
    Ok(())
}

#[tokio::test]
async fn without_a_monitor_or_replicas_reads_use_the_primary() -> anyhow::Result<()> {
    let env = env().await?;
    let db = Db::connect(&db_settings(&env, &[replica_url(&env)]), None).await?;
    // Never probed: nothing proves the replica is current.
    assert!(!in_recovery(&db.read(None).await).await?);
    let db = Db::connect(&db_settings(&env, &[]), None).await?;
    db.refresh_replicas().await;
    assert!(!in_recovery(&db.read(Some("c")).await).await?);
    assert!(db.replica_status().is_empty());
    Ok(())
}

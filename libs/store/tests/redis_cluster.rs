//! The Redis cluster client against the real cluster (127.0.0.1:7000–7005).

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt as _;
use secrecy::SecretString;
use suite_store::{Redis, StoreError};

#[tokio::test]
async fn keys_of_one_lead_share_a_slot() -> anyhow::Result<()> {
    let env = env().await?;
    let redis = Redis::connect(&env.settings.redis)?;
    let lead = uuid::Uuid::new_v4().to_string();
    let keys = [
        redis.tagged("lead", &lead, ""),
        redis.tagged("lead", &lead, "context"),
        redis.tagged("lead", &lead, "caps:email"),
    ];
    assert_eq!(keys[0], format!("{}{{lead:{lead}}}", redis.prefix()));
    assert_eq!(
        keys[1],
        format!("{}{{lead:{lead}}}:context", redis.prefix())
    );
    assert!(keys[1].starts_with(&env.settings.redis.key_prefix));

    let mut conn = redis.conn().await?;
    let mut slots = Vec::new();
    for key in &keys {
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut conn)
            .await?;
        slots.push(slot);
    }
    assert!(slots.iter().all(|s| *s == slots[0]), "one slot: {slots:?}");

    // Different leads spread over the cluster.
    let mut others = std::collections::HashSet::new();
    for _ in 0..20 {
        let key = redis.tagged("lead", &uuid::Uuid::new_v4().to_string(), "context");
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(&key)
            .query_async(&mut conn)
            .await?;
        others.insert(slot);
    }
    assert!(others.len() > 1, "tags spread leads: {others:?}");
    assert_eq!(
        redis.key("x:y"),
        format!("{}x:y", env.settings.redis.key_prefix)
    );
    Ok(())
}

#[tokio::test]
async fn multi_and_pipelines_over_a_leads_keys_work() -> anyhow::Result<()> {
    let env = env().await?;
    let redis = Redis::connect(&env.settings.redis)?;
    let lead = uuid::Uuid::new_v4().to_string();
    let profile = redis.tagged("lead", &lead, "profile");
    let counter = redis.tagged("lead", &lead, "touches");
    let history = redis.tagged("lead", &lead, "history");
    let mut conn = redis.conn().await?;

    // MULTI/EXEC over three keys of one lead.
    let (touches, len): (i64, i64) = redis::pipe()
        .atomic()
        .hset(&profile, "score", 87)
        .ignore()
        .incr(&counter, 1)
        .rpush(&history, "email")
        .expire(&profile, 60)
        .ignore()
        .expire(&counter, 60)
        .ignore()
        .expire(&history, 60)
        .ignore()
        .query_async(&mut conn)
        .await?;
    assert_eq!((touches, len), (1, 1));

    // A plain pipeline reads them back.
    let (score, touches, history_items): (i64, i64, Vec<String>) = redis::pipe()
        .hget(&profile, "score")
        .get(&counter)
        .lrange(&history, 0, -1)
        .query_async(&mut conn)
        .await?;
    assert_eq!(
        (score, touches, history_items),
        (87, 1, vec!["email".to_owned()])
    );

    // A script touching two keys of the lead.
    let script = redis::Script::new(
        "redis.call('INCR', KEYS[1]); return redis.call('RPUSH', KEYS[2], ARGV[1])",
    );
    let len: i64 = script
        .key(&counter)
        .key(&history)
        .arg("sms")
        .invoke_async(&mut conn)
        .await?;
    assert_eq!(len, 2);

    // Keys of two different leads in one MULTI are refused (cross-slot), as the tags intend.
    let other = redis.tagged("lead", "another-lead-id", "touches");
    let mixed: redis::RedisResult<()> = redis::pipe()
        .atomic()
        .incr(&counter, 1)
        .ignore()
        .incr(&other, 1)
        .ignore()
        .query_async(&mut conn)
        .await;
    let mut slot_conn = redis.conn().await?;
    let (a, b): (i64, i64) = redis::pipe()
        .cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(&counter)
        .cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(&other)
        .query_async(&mut slot_conn)
        .await?;
    if a != b {
        assert!(mixed.is_err(), "cross-slot MULTI must fail");
    }
    redis.ping().await?;
    Ok(())
}

#[tokio::test]
async fn commands_are_bounded_by_the_command_timeout() -> anyhow::Result<()> {
    let env = env().await?;
    let mut settings = env.settings.redis.clone();
    settings.command_timeout_ms = 200;
    let redis = Redis::connect(&settings)?;
    let mut conn = redis.conn().await?;
    let started = Instant::now();
    let blocked: redis::RedisResult<Option<(String, String)>> = redis::cmd("BLPOP")
        .arg(redis.key("never-pushed"))
        .arg(2)
        .query_async(&mut conn)
        .await;
    let elapsed = started.elapsed();
    assert!(blocked.is_err(), "BLPOP for 2 s must time out: {blocked:?}");
    assert!(
        elapsed < Duration::from_millis(1_000),
        "bounded: {elapsed:?}"
    );
    drop(conn);
    // The timed-out connection was discarded: the next one answers at once.
    let started = Instant::now();
    redis.ping().await?;
    assert!(started.elapsed() < Duration::from_millis(500));
    Ok(())
}

#[tokio::test]
async fn unreachable_redis_fails_fast() -> anyhow::Result<()> {
    let env = env().await?;
    let redis = Redis::connect(&dead_redis_settings(&env))?; // lazy: no error yet
    let started = Instant::now();
    assert!(redis.ping().await.is_err());
    assert!(
        matches!(redis.conn().await.err(), Some(StoreError::RedisUnavailable)),
        "backs off after a failure"
    );
    assert!(redis.pubsub().await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    Ok(())
}

#[tokio::test]
async fn bad_settings_are_refused() -> anyhow::Result<()> {
    let env = env().await?;
    let mut settings = env.settings.redis.clone();
    settings.key_prefix = "a{b}:".into();
    assert!(matches!(
        Redis::connect(&settings),
        Err(StoreError::Config(_))
    ));
    settings.key_prefix = "ok:".into();
    settings.nodes.clear();
    assert!(matches!(
        Redis::connect(&settings),
        Err(StoreError::Config(_))
    ));
    Ok(())
}

#[tokio::test]
async fn pubsub_skips_a_down_node_and_receives_cluster_publishes() -> anyhow::Result<()> {
    let env = env().await?;
    let mut settings = env.settings.redis.clone();
    let dead = SecretString::from(format!("redis://127.0.0.1:{}", closed_port()));
    settings.nodes.insert(0, dead);
    let redis = Redis::connect(&settings)?;
    let channel = redis.key("test-channel");
    // Several subscribers, so at least one starts with the dead node and moves on.
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut pubsub = redis.pubsub().await?;
        pubsub.subscribe(&channel).await?;
        streams.push(pubsub.into_on_message());
    }
    // Published through the cluster connection (any node); forwarded to every node.
    redis.publish(&channel, "hello").await?;
    for (i, stream) in streams.iter_mut().enumerate() {
        let message = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .map_err(|_| anyhow::anyhow!("subscriber {i} got nothing within 5 s"))?
            .ok_or_else(|| anyhow::anyhow!("subscriber {i} stream closed"))?;
        assert_eq!(message.get_payload::<String>()?, "hello");
    }
    Ok(())
}

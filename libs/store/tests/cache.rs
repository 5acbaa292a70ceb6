//! The two-level cache against the real Redis cluster: loader, L1 and L2 hits,
//! cross-instance invalidation, and degraded operation without Redis.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde::{Deserialize, Serialize};
use suite_config::CacheSettings;
use suite_store::{Redis, TwoLevelCache};
use suite_testkit::TestEnv;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Summary {
    campaign: String,
    sends: u64,
}

fn summary(sends: u64) -> Summary {
    Summary {
        campaign: "c1".into(),
        sends,
    }
}

/// A loader standing in for Postgres: returns the current value and counts calls.
#[derive(Clone, Default)]
struct Source {
    value: Arc<std::sync::Mutex<Option<Summary>>>,
    calls: Arc<AtomicUsize>,
}

impl Source {
    fn set(&self, value: Option<Summary>) {
        *self.value.lock().expect("lock") = value;
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    async fn load(&self) -> Result<Option<Summary>, Infallible> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(self.value.lock().expect("lock").clone())
    }
}

fn cache(env: &TestEnv, name: &str) -> anyhow::Result<TwoLevelCache<Summary>> {
    let redis = Redis::connect(&env.settings.redis)?;
    Ok(TwoLevelCache::new(
        name,
        redis,
        &CacheSettings::default(),
        None,
    ))
}

fn requests(name: &str, result: &str) -> f64 {
    metric(
        "cache_requests_total",
        &[("cache", name), ("result", result)],
    )
}

#[tokio::test]
async fn loader_then_l1_then_l2() -> anyhow::Result<()> {
    let env = env().await?;
    let name = format!("perf-{}", env.id);
    let a = cache(&env, &name)?;
    let source = Source::default();
    source.set(Some(summary(1)));

    let got = a.get_or_load("k", source.load()).await?;
    assert_eq!(got, Some(summary(1)));
    assert_eq!(source.calls(), 1, "first read loads");
    assert_eq!(requests(&name, "miss"), 1.0);

    let got = a.get_or_load("k", source.load()).await?;
    assert_eq!(
        (got, source.calls()),
        (Some(summary(1)), 1),
        "second read: L1"
    );
    assert_eq!(requests(&name, "l1_hit"), 1.0);

    a.invalidate_local("k").await;
    let got = a.get_or_load("k", source.load()).await?;
    assert_eq!(
        (got, source.calls()),
        (Some(summary(1)), 1),
        "after L1 eviction: L2"
    );
    assert_eq!(requests(&name, "l2_hit"), 1.0);

    // Another process (same name and prefix) is served from L2, not its loader.
    let b = cache(&env, &name)?;
    let other = Source::default();
    let got = b.get_or_load("k", other.load()).await?;
    assert_eq!(
        (got, other.calls()),
        (Some(summary(1)), 0),
        "other instance: L2"
    );
    assert_eq!(requests(&name, "l2_hit"), 2.0);

    // L2 holds JSON under the prefix, with the configured TTL.
    let redis = Redis::connect(&env.settings.redis)?;
    let mut conn = redis.conn().await?;
    let key = redis.key(&format!("cache:{name}:k"));
    let (json, ttl): (String, i64) = redis::pipe()
        .get(&key)
        .cmd("TTL")
        .arg(&key)
        .query_async(&mut conn)
        .await?;
    assert_eq!(serde_json::from_str::<Summary>(&json)?, summary(1));
    assert!(ttl > 290 && ttl <= 300, "l2 ttl {ttl}");
    assert_eq!(b.get("k").await, Some(summary(1)));
    assert_eq!(b.get("absent").await, None);
    Ok(())
}

#[tokio::test]
async fn unusable_values_are_neither_served_nor_cached() -> anyhow::Result<()> {
    let env = env().await?;
    let name = format!("usable-{}", env.id);
    let cache = cache(&env, &name)?;
    let source = Source::default();
    // "Usable" here: at least 2 sends (think: not past its window, not partial).
    let usable = |s: &Summary| s.sends >= 2;

    source.set(Some(summary(1)));
    let got = cache.get_or_load_where("k", source.load(), usable).await?;
    assert_eq!(got, Some(summary(1)), "an unusable load is still returned");
    let got = cache.get_or_load_where("k", source.load(), usable).await?;
    assert_eq!(
        (got, source.calls()),
        (Some(summary(1)), 2),
        "but not cached"
    );
    assert_eq!(cache.get("k").await, None, "in neither level");

    source.set(Some(summary(3)));
    cache.get_or_load_where("k", source.load(), usable).await?;
    let got = cache.get_or_load_where("k", source.load(), usable).await?;
    assert_eq!(
        (got, source.calls()),
        (Some(summary(3)), 3),
        "a usable one is"
    );

    // A cached value that is no longer usable is replaced by a fresh load.
    source.set(Some(summary(4)));
    let got = cache
        .get_or_load_where("k", source.load(), |s: &Summary| s.sends >= 4)
        .await?;
    assert_eq!((got, source.calls()), (Some(summary(4)), 4));
    assert_eq!(
        cache.get("k").await,
        Some(summary(4)),
        "the replacement is cached"
    );
    Ok(())
}

#[tokio::test]
async fn l2_ttl_override_and_uncached_misses() -> anyhow::Result<()> {
    let env = env().await?;
    let redis = Redis::connect(&env.settings.redis)?;
    let name = format!("ttl-{}", env.id);
    let cache: TwoLevelCache<Summary> = TwoLevelCache::new(
        &name,
        redis.clone(),
        &CacheSettings::default(),
        Some(Duration::from_secs(3_600)),
    );
    let source = Source::default();
    assert_eq!(cache.get_or_load("none", source.load()).await?, None);
    assert_eq!(cache.get_or_load("none", source.load()).await?, None);
    assert_eq!(source.calls(), 2, "absent values are not cached");

    let failed: Result<Option<Summary>, &str> =
        cache.get_or_load("err", async { Err("db down") }).await;
    assert_eq!(failed, Err("db down"), "loader errors reach the caller");

    source.set(Some(summary(5)));
    cache.get_or_load("k", source.load()).await?;
    let mut conn = redis.conn().await?;
    let ttl: i64 = redis::cmd("TTL")
        .arg(redis.key(&format!("cache:{name}:k")))
        .query_async(&mut conn)
        .await?;
    assert!(ttl > 3_500, "override applies: {ttl}");
    Ok(())
}

#[tokio::test]
async fn invalidation_reaches_the_other_instance() -> anyhow::Result<()> {
    let env = env().await?;
    let name = format!("inv-{}", env.id);
    let shutdown = CancellationToken::new();
    let a = cache(&env, &name)?;
    let b = cache(&env, &name)?;
    a.spawn_invalidation_listener(shutdown.clone());
    b.spawn_invalidation_listener(shutdown.clone());
    assert!(
        a.wait_subscribed(Duration::from_secs(5)).await,
        "a subscribed"
    );
    assert!(
        b.wait_subscribed(Duration::from_secs(5)).await,
        "b subscribed"
    );

    let source = Source::default();
    source.set(Some(summary(1)));
    assert_eq!(a.get_or_load("k", source.load()).await?, Some(summary(1)));
    assert_eq!(b.get_or_load("k", source.load()).await?, Some(summary(1)));
    assert_eq!(b.get_or_load("k", source.load()).await?, Some(summary(1)));
    assert_eq!(source.calls(), 1, "b filled its L1 from L2");

    // A write on instance a: new value in the database, invalidate.
    source.set(Some(summary(2)));
    a.invalidate("k").await;
    // L2 is gone at once; b's L1 copy goes when the message arrives.
    eventually(Duration::from_secs(5), "b to drop its L1 copy", || async {
        b.get("k").await.is_none()
    })
    .await?;
    assert_eq!(b.get_or_load("k", source.load()).await?, Some(summary(2)));
    assert_eq!(source.calls(), 2, "b reloaded from the loader");
    assert_eq!(a.get_or_load("k", source.load()).await?, Some(summary(2)));
    assert_eq!(source.calls(), 2, "a found b's fresh value in L2");

    // put: the new value reaches b (its L1 is dropped, L2 holds the new value).
    a.put("k", summary(3)).await;
    eventually(Duration::from_secs(5), "b to see the put value", || async {
        b.get("k").await == Some(summary(3))
    })
    .await?;
    assert_eq!(source.calls(), 2);
    shutdown.cancel();
    eventually(Duration::from_secs(2), "listeners to stop", || async {
        !a.is_subscribed() && !b.is_subscribed()
    })
    .await?;
    Ok(())
}

/// A batch of writes drops all its keys with one call: from L2 at once, from
/// the other instance's L1 by one message; keys it does not name stay cached.
#[tokio::test]
async fn invalidate_many_drops_every_named_key_everywhere() -> anyhow::Result<()> {
    let env = env().await?;
    let name = format!("inv-many-{}", env.id);
    let shutdown = CancellationToken::new();
    let a = cache(&env, &name)?;
    let b = cache(&env, &name)?;
    a.spawn_invalidation_listener(shutdown.clone());
    b.spawn_invalidation_listener(shutdown.clone());
    assert!(a.wait_subscribed(Duration::from_secs(5)).await);
    assert!(b.wait_subscribed(Duration::from_secs(5)).await);

    let source = Source::default();
    source.set(Some(summary(1)));
    for key in ["k1", "k2", "k3", "kept"] {
        assert_eq!(b.get_or_load(key, source.load()).await?, Some(summary(1)));
    }
    assert_eq!(source.calls(), 4);

    a.invalidate_many(&["k1".to_owned(), "k2".to_owned(), "k3".to_owned()])
        .await;
    eventually(
        Duration::from_secs(5),
        "b to drop the three keys",
        || async {
            b.get("k1").await.is_none()
                && b.get("k2").await.is_none()
                && b.get("k3").await.is_none()
        },
    )
    .await?;
    assert_eq!(
        b.get("kept").await,
        Some(summary(1)),
        "an unnamed key stays"
    );
    shutdown.cancel();
    Ok(())
}

#[tokio::test]
async fn a_load_overtaken_by_an_invalidation_is_not_cached() -> anyhow::Result<()> {
    let env = env().await?;
    let name = format!("race-{}", env.id);
    let cache = cache(&env, &name)?;
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (started, loading) = tokio::sync::oneshot::channel::<()>();
    let slow = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get_or_load("k", async move {
                    let _ = started.send(());
                    let _ = released.await;
                    Ok::<_, Infallible>(Some(summary(1))) // read before the write below
                })
                .await
        })
    };
    tokio::time::timeout(Duration::from_secs(5), loading).await??;
    cache.invalidate("k").await; // the write committed meanwhile
    let _ = release.send(());
    assert_eq!(
        slow.await??,
        Some(summary(1)),
        "the caller still gets its value"
    );
    assert_eq!(
        cache.get("k").await,
        None,
        "but the stale value was not cached"
    );
    Ok(())
}

#[tokio::test]
async fn the_cache_answers_without_redis() -> anyhow::Result<()> {
    let env = env().await?;
    let name = format!("down-{}", env.id);
    let redis = Redis::connect(&dead_redis_settings(&env))?;
    let cache: TwoLevelCache<Summary> =
        TwoLevelCache::new(&name, redis, &CacheSettings::default(), None);
    let shutdown = CancellationToken::new();
    let listener = cache.spawn_invalidation_listener(shutdown.clone());
    let source = Source::default();
    source.set(Some(summary(7)));

    let started = Instant::now();
    for _ in 0..3 {
        assert_eq!(
            cache.get_or_load("k", source.load()).await?,
            Some(summary(7))
        );
    }
    assert_eq!(source.calls(), 1, "L1 still works");
    cache.invalidate("k").await;
    assert_eq!(
        cache.get_or_load("k", source.load()).await?,
        Some(summary(7))
    );
    assert_eq!(source.calls(), 2, "served by the loader");
    cache.put("k", summary(8)).await;
    assert_eq!(cache.get("k").await, Some(summary(8)));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "degraded, not slow: {:?}",
        started.elapsed()
    );
    assert!(metric("cache_redis_errors_total", &[("cache", &name)]) >= 1.0);
    assert!(!cache.is_subscribed());

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(2), listener).await??;
    Ok(())
}

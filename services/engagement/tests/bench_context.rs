//! Benchmark (ignored by default; not a timed test): `GET
//! /v1/leads/{id}/context` at a fixed arrival rate, latency measured from
//! each request's scheduled start (coordinated-omission corrected).
//!
//! ```sh
//! BENCH_RATE=2000 BENCH_SECS=10 cargo nextest run -p engagement --test bench_context --run-ignored ignored-only --no-capture
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use suite_domain::Category;
use uuid::Uuid;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run explicitly"]
async fn context_latency_at_a_fixed_rate() {
    let rate = env_or("BENCH_RATE", 2000);
    let secs = env_or("BENCH_SECS", 10);
    let env = env().await;
    let leads: Vec<Uuid> = {
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(
                env.lead(json!({"email": true, "sms": true}), Some("UTC"))
                    .await,
            );
        }
        v
    };
    env.campaign(
        &["warm"],
        json!([{"channel": "email", "delay_secs": 0}, {"channel": "sms", "delay_secs": 86400}]),
    )
    .await;
    let mut settings = settings(&env);
    settings.rate_limit.per_second = 1_000_000;
    settings.rate_limit.burst = 1_000_000;
    settings.redis.pool_size = 16;
    let app = spawn(env, settings).await;
    for lead in &leads {
        app.env
            .triage(*lead, Category::Warm, &Uuid::now_v7().to_string())
            .await;
    }
    let db = app.db().clone();
    eventually(120, "every lead's first email", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM communications")
            .fetch_one(&db)
            .await
            .unwrap();
        (n == leads.len() as i64).then_some(())
    })
    .await;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    let hist = Arc::new(Mutex::new(
        hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap(),
    ));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let total = rate * secs;
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let scheduled = start + interval * u32::try_from(i).unwrap();
        tokio::time::sleep_until(scheduled).await;
        let (client, hist, errors) = (client.clone(), hist.clone(), errors.clone());
        let url = format!(
            "{}/v1/leads/{}/context",
            app.base,
            leads[(i as usize) % leads.len()]
        );
        let key = app.env.key.clone();
        tasks.spawn(async move {
            let ok = client
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            let micros = Instant::now()
                .duration_since(scheduled.into_std())
                .as_micros();
            hist.lock()
                .unwrap()
                .record(u64::try_from(micros).unwrap_or(u64::MAX).max(1))
                .ok();
            if !ok {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let h = hist.lock().unwrap();
    println!(
        "context at {rate}/s for {secs}s: n={} errors={} p50={:.2}ms p95={:.2}ms p99={:.2}ms max={:.2}ms",
        h.len(),
        errors.load(std::sync::atomic::Ordering::Relaxed),
        h.value_at_quantile(0.50) as f64 / 1000.0,
        h.value_at_quantile(0.95) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0,
    );
}

//! Transactional outbox and relay against the real Postgres and broker.
#![allow(missing_docs)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use common::{env_with_topics, eventually, producer, read_topic, start, WAIT};
use serde_json::json;
use sqlx::{Connection as _, PgPool};
use suite_bus::outbox::{self, OutboxMessage};
use suite_bus::{processed, CloudEvent, Handler, HandlerError, OutgoingRecord, Record, Relay};
use suite_config::OutboxSettings;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

fn event(n: usize) -> CloudEvent {
    CloudEvent::new(
        "test.happened.v1",
        "/suite-bus-tests",
        Some(format!("subject-{n}")),
        json!({ "n": n }),
    )
    .with_correlation_id(format!("corr-{n}"))
}

async fn outbox_rows(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(pool)
        .await?)
}

fn relay_settings(batch_size: i64) -> OutboxSettings {
    OutboxSettings {
        batch_size,
        poll_interval_ms: 20,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_rows_are_published_and_deleted_rolled_back_rows_never_appear(
) -> anyhow::Result<()> {
    let env = env_with_topics("outbox", &["events"], 1).await?;
    let topic = env.settings.topic("events");
    let kept = event(1);
    let dropped = event(2);

    let trace_id = async {
        let mut tx = env.db.begin().await?;
        outbox::enqueue(&mut tx, &topic, Some(b"key-1"), &kept).await?;
        tx.commit().await?;
        let mut tx = env.db.begin().await?;
        outbox::enqueue(&mut tx, &topic, Some(b"key-2"), &dropped).await?;
        tx.rollback().await?;
        anyhow::Ok(current_trace_id())
    }
    .instrument(tracing::info_span!("request"))
    .await?;

    let relay = Relay::new(env.db.clone(), producer(&env)?, &relay_settings(100));
    assert_eq!(
        relay.run_once().await?,
        1,
        "only the committed row is relayed"
    );
    assert_eq!(outbox_rows(&env.db).await?, 0, "relayed row deleted");
    assert_eq!(relay.run_once().await?, 0);

    let seen = read_topic(&env, &topic, 1, 1, Duration::from_secs(2)).await?;
    assert_eq!(
        seen.len(),
        1,
        "rolled-back event must never appear: {seen:?}"
    );
    let r = &seen[0];
    assert_eq!(r.key.as_deref(), Some(&b"key-1"[..]));
    assert_eq!(r.header("ce_id").as_deref(), Some(kept.id.as_str()));
    assert_eq!(r.header("ce_type").as_deref(), Some("test.happened.v1"));
    assert_eq!(r.header("ce_source").as_deref(), Some("/suite-bus-tests"));
    assert_eq!(r.header("ce_specversion").as_deref(), Some("1.0"));
    assert_eq!(r.header("ce_subject").as_deref(), Some("subject-1"));
    assert_eq!(r.header("ce_correlationid").as_deref(), Some("corr-1"));
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let traceparent = r.header("traceparent").context("traceparent captured")?;
    assert!(
        traceparent.contains(&trace_id),
        "{traceparent} should carry trace {trace_id}"
    );
    let body: serde_json::Value = serde_json::from_slice(&r.payload)?;
    assert_eq!(body, json!({ "n": 1 }));
    let decoded = CloudEvent::decode(&r.headers, &r.payload)?;
    assert_eq!(decoded.id, kept.id);
    assert_eq!(decoded.time, kept.time);
    Ok(())
}

fn current_trace_id() -> String {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .trace_id()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_many_keeps_order() -> anyhow::Result<()> {
    let env = env_with_topics("outbox", &["ordered"], 1).await?;
    let topic = env.settings.topic("ordered");
    let events: Vec<CloudEvent> = (0..20).map(event).collect();
    let messages: Vec<OutboxMessage<'_>> = events
        .iter()
        .map(|e| OutboxMessage {
            topic: &topic,
            key: None,
            event: e,
        })
        .collect();
    let mut tx = env.db.begin().await?;
    outbox::enqueue_many(&mut tx, &messages).await?;
    tx.commit().await?;
    let relay = Relay::new(env.db.clone(), producer(&env)?, &relay_settings(500));
    assert_eq!(relay.run_once().await?, 20);
    let seen = read_topic(&env, &topic, 1, 20, Duration::from_millis(500)).await?;
    let ids: Vec<String> = seen.iter().filter_map(|s| s.header("ce_id")).collect();
    let expected: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, expected);
    Ok(())
}

/// A relay whose claims come back full starts the next claim after them; a
/// row committed late with a lower id is still published (by a claim from
/// the start), and nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_committed_late_below_the_claims_is_still_published_once() -> anyhow::Result<()> {
    let env = env_with_topics("outbox", &["late"], 1).await?;
    let topic = env.settings.topic("late");
    let late = event(0);
    let mut late_tx = env.db.begin().await?;
    outbox::enqueue(&mut late_tx, &topic, None, &late).await?;
    let events: Vec<CloudEvent> = (1..=12).map(event).collect();
    let mut tx = env.db.begin().await?;
    for e in &events {
        outbox::enqueue(&mut tx, &topic, None, e).await?;
    }
    tx.commit().await?;

    let relay = Relay::new(env.db.clone(), producer(&env)?, &relay_settings(5));
    assert_eq!(
        relay.run_once().await?,
        5,
        "a full claim of the committed rows"
    );
    late_tx.commit().await?;
    let mut relayed = 5;
    for _ in 0..10 {
        if outbox_rows(&env.db).await? == 0 {
            break;
        }
        relayed += relay.run_once().await?;
    }
    assert_eq!(relayed, 13);
    assert_eq!(outbox_rows(&env.db).await?, 0);
    let seen = read_topic(&env, &topic, 1, 13, Duration::from_millis(500)).await?;
    let mut ids: Vec<String> = seen.iter().filter_map(|s| s.header("ce_id")).collect();
    ids.sort();
    let mut expected: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    expected.push(late.id.clone());
    expected.sort();
    assert_eq!(ids, expected, "every row once, the late one included");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_relays_publish_each_row_exactly_once() -> anyhow::Result<()> {
    const ROWS: usize = 500;
    let env = env_with_topics("outbox", &["many"], 3).await?;
    let topic = env.settings.topic("many");
    let events: Vec<CloudEvent> = (0..ROWS).map(event).collect();
    for chunk in events.chunks(100) {
        let messages: Vec<OutboxMessage<'_>> = chunk
            .iter()
            .map(|e| OutboxMessage {
                topic: &topic,
                key: Some(e.id.as_bytes()),
                event: e,
            })
            .collect();
        let mut tx = env.db.begin().await?;
        outbox::enqueue_many(&mut tx, &messages).await?;
        tx.commit().await?;
    }

    let shutdown = CancellationToken::new();
    let relays: Vec<_> = (0..2)
        .map(|_| {
            let relay = Relay::new(env.db.clone(), producer(&env)?, &relay_settings(25));
            let token = shutdown.clone();
            anyhow::Ok(tokio::spawn(async move { relay.run(token).await }))
        })
        .collect::<Result<_, _>>()?;
    eventually(WAIT, "outbox drained by two relays", || async {
        Ok(outbox_rows(&env.db).await? == 0)
    })
    .await?;
    shutdown.cancel();
    for relay in relays {
        relay.await??;
    }

    let seen = read_topic(&env, &topic, 3, ROWS, Duration::from_secs(2)).await?;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for s in &seen {
        *counts
            .entry(s.header("ce_id").context("ce_id")?)
            .or_default() += 1;
    }
    assert_eq!(counts.len(), ROWS, "every row published");
    let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(dupes.is_empty(), "published more than once: {dupes:?}");
    for e in &events {
        assert_eq!(counts.get(&e.id), Some(&1));
    }
    Ok(())
}

type OutboxRow = (i64, String, Option<Vec<u8>>, Vec<u8>, serde_json::Value);

/// Applies each event's effect (a row in `test_effects`) once, recording the
/// event id in the same transaction.
struct EffectHandler {
    pool: PgPool,
    calls: Arc<AtomicUsize>,
}

impl Handler for EffectHandler {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let event = record
            .cloud_event()
            .map_err(|e| HandlerError::permanent("invalid_event", e))?;
        let mut tx = self.pool.begin().await?;
        if processed::first_time(&mut tx, "effects", &event.id).await? {
            sqlx::query("INSERT INTO test_effects (event_id) VALUES ($1)")
                .bind(&event.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_killed_mid_batch_loses_nothing_and_effects_apply_once() -> anyhow::Result<()> {
    const ROWS: usize = 20;
    const PUBLISHED_BEFORE_CRASH: i64 = 8;
    let env = env_with_topics("outbox", &["crash"], 2).await?;
    let topic = env.settings.topic("crash");
    sqlx::query("CREATE TABLE test_effects (event_id text NOT NULL)")
        .execute(&env.db)
        .await?;
    let events: Vec<CloudEvent> = (0..ROWS).map(event).collect();
    let mut tx = env.db.begin().await?;
    for e in &events {
        outbox::enqueue(&mut tx, &topic, Some(e.id.as_bytes()), e).await?;
    }
    tx.commit().await?;

    // A relay that claims a batch and publishes part of it, then dies before
    // deleting anything: its transaction never commits.
    {
        let producer = producer(&env)?;
        let mut conn =
            sqlx::PgConnection::connect(suite_testkit::expose(&env.primary_url())).await?;
        let mut tx = conn.begin().await?;
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT id, topic, key, payload, headers FROM outbox ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (_, topic, key, payload, headers) in
            rows.into_iter().take(PUBLISHED_BEFORE_CRASH as usize)
        {
            let headers = headers
                .as_array()
                .context("headers array")?
                .iter()
                .map(|h| {
                    (
                        h["name"].as_str().unwrap_or_default().to_owned(),
                        h["value"].as_str().unwrap_or_default().as_bytes().to_vec(),
                    )
                })
                .collect();
            producer
                .send(OutgoingRecord {
                    topic,
                    key,
                    payload,
                    headers,
                })
                .await?;
        }
        drop(tx); // the crash: no DELETE, no COMMIT
        drop(conn);
    }
    assert_eq!(outbox_rows(&env.db).await?, ROWS as i64, "nothing lost");

    let relay = Relay::new(env.db.clone(), producer(&env)?, &relay_settings(7));
    let mut relayed = 0;
    while outbox_rows(&env.db).await? > 0 {
        relayed += relay.run_once().await?;
    }
    assert_eq!(relayed, ROWS);

    let total = ROWS + PUBLISHED_BEFORE_CRASH as usize;
    let seen = read_topic(&env, &topic, 2, total, Duration::from_secs(1)).await?;
    assert_eq!(
        seen.len(),
        total,
        "duplicates of the crashed batch are expected"
    );

    let calls = Arc::new(AtomicUsize::new(0));
    let handler = EffectHandler {
        pool: env.db.clone(),
        calls: calls.clone(),
    };
    let running = start(&env, &env.settings, &["crash"], handler)?;
    eventually(WAIT, "consumer handled every copy", || async {
        Ok(calls.load(Ordering::SeqCst) >= total)
    })
    .await?;
    running.stop().await??;

    let effects: Vec<(String, i64)> =
        sqlx::query_as("SELECT event_id, count(*) FROM test_effects GROUP BY event_id")
            .fetch_all(&env.db)
            .await?;
    assert_eq!(effects.len(), ROWS, "every event applied");
    assert!(
        effects.iter().all(|(_, n)| *n == 1),
        "an effect applied twice: {effects:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processed_first_time_and_prune() -> anyhow::Result<()> {
    common::init_tracing();
    let env = suite_testkit::TestEnv::new("processed").await?;
    let mut tx = env.db.begin().await?;
    assert!(processed::first_time(&mut tx, "c1", "e1").await?);
    assert!(!processed::first_time(&mut tx, "c1", "e1").await?);
    assert!(processed::first_time(&mut tx, "c2", "e1").await?);
    tx.commit().await?;

    let mut tx = env.db.begin().await?;
    assert!(processed::first_time(&mut tx, "c1", "e2").await?);
    tx.rollback().await?;
    let mut tx = env.db.begin().await?;
    assert!(
        processed::first_time(&mut tx, "c1", "e2").await?,
        "a rolled-back record does not count"
    );
    tx.commit().await?;

    sqlx::query("UPDATE processed_events SET processed_at = now() - interval '10 days' WHERE event_id = 'e1'")
        .execute(&env.db)
        .await?;
    let pruned = processed::prune(&env.db, Duration::from_secs(7 * 86_400)).await?;
    assert_eq!(pruned, 2);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
        .fetch_one(&env.db)
        .await?;
    assert_eq!(left, 1);
    Ok(())
}

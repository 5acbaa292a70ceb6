//! Consumer runner against the real Postgres and broker.
#![allow(missing_docs)]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use common::{
    committed, env_with_topics, eventually, producer, read_topic, start, ScriptedHandler, WAIT,
};
use opentelemetry::trace::TraceContextExt as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use serde_json::json;
use suite_bus::{
    dead_letters, BusError, CloudEvent, ConsumerError, ConsumerStatus, Handler, HandlerError,
    Record, TopicSpec,
};
use suite_testkit::TestEnv;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Produces `n` records to exactly `partition` (bypassing the partitioner)
/// with keys `k<i>` and bodies `{"i": i}`; returns their offsets.
async fn produce_to(
    env: &TestEnv,
    topic: &str,
    partition: i32,
    n: usize,
) -> anyhow::Result<Vec<i64>> {
    let raw: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &env.settings.kafka.brokers)
        .set("enable.idempotence", "true")
        .create()?;
    let mut offsets = Vec::new();
    for i in 0..n {
        let key = format!("k{i}");
        let body = json!({ "i": i }).to_string();
        let headers = rdkafka::message::OwnedHeaders::new().insert(rdkafka::message::Header {
            key: "x-origin",
            value: Some("test"),
        });
        let d = raw
            .send(
                FutureRecord::to(topic)
                    .partition(partition)
                    .key(&key)
                    .payload(&body)
                    .headers(headers),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)?;
        assert_eq!(d.partition, partition);
        offsets.push(d.offset);
    }
    Ok(offsets)
}

fn index(record: &Record) -> i64 {
    serde_json::from_slice::<serde_json::Value>(record.body())
        .ok()
        .and_then(|v| v["i"].as_i64())
        .unwrap_or(-1)
}

fn fast_retries(env: &TestEnv) -> suite_config::Settings {
    let mut s = env.settings.clone();
    s.consumer.retry_base_ms = 10;
    s.consumer.retry_attempts = 3;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_record_is_dead_lettered_with_exact_provenance_and_the_partition_moves_on(
) -> anyhow::Result<()> {
    let env = env_with_topics("consumer", &["poison"], 3).await?;
    let topic = env.settings.topic("poison");
    // Partition 2, and records before the poison one so its offset (3) differs from its partition.
    let offsets = produce_to(&env, &topic, 2, 6).await?;
    let poison_offset = offsets[3];
    assert_ne!(i64::from(2), poison_offset);

    let handler = ScriptedHandler::new(|r, _| {
        if index(r) == 3 {
            Err(HandlerError::permanent(
                "invalid_payload",
                "field `i` must not be 3",
            ))
        } else {
            Ok(())
        }
    });
    let mut settings = fast_retries(&env);
    settings.consumer.max_in_flight_per_partition = 4;
    let running = start(&env, &settings, &["poison"], handler.clone())?;

    eventually(WAIT, "records after the poison one handled", || async {
        let done: HashSet<i64> = handler.calls().iter().map(|(r, _)| index(r)).collect();
        Ok((0..6).all(|i| done.contains(&i)))
    })
    .await?;
    eventually(WAIT, "dead_letters row", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters")
            .fetch_one(&env.db)
            .await?;
        Ok(n == 1)
    })
    .await?;
    let attempts_of_poison = handler
        .calls()
        .iter()
        .filter(|(r, _)| index(r) == 3)
        .count();
    assert_eq!(attempts_of_poison, 1, "a permanent failure is not retried");

    let dlq = read_topic(&env, &format!("{topic}.dlq"), 3, 1, Duration::from_secs(1)).await?;
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let d = &dlq[0];
    assert_eq!(
        d.header("dlq_original_topic").as_deref(),
        Some(topic.as_str())
    );
    assert_eq!(d.header("dlq_original_partition").as_deref(), Some("2"));
    assert_eq!(
        d.header("dlq_original_offset"),
        Some(poison_offset.to_string())
    );
    assert_eq!(
        d.header("dlq_error_class").as_deref(),
        Some("invalid_payload")
    );
    assert_eq!(
        d.header("dlq_error_message").as_deref(),
        Some("field `i` must not be 3")
    );
    assert_eq!(
        d.header("dlq_consumer_group").as_deref(),
        Some(settings.group_id())
    );
    let failed_at: DateTime<Utc> = d
        .header("dlq_failed_at")
        .context("dlq_failed_at")?
        .parse()?;
    assert!((Utc::now() - failed_at).num_seconds().abs() < 120);
    assert_eq!(
        d.header("x-origin").as_deref(),
        Some("test"),
        "original headers kept"
    );
    assert_eq!(d.key.as_deref(), Some(&b"k3"[..]));
    assert_eq!(d.payload, br#"{"i":3}"#);

    let row: (String, String, i32, i64, String, String, Option<Vec<u8>>) = sqlx::query_as(
        r#"SELECT consumer, topic, "partition", "offset", error_class, error_message, key FROM dead_letters"#,
    )
    .fetch_one(&env.db)
    .await?;
    assert_eq!(
        row,
        (
            settings.group_id().to_owned(),
            topic.clone(),
            2,
            poison_offset,
            "invalid_payload".to_owned(),
            "field `i` must not be 3".to_owned(),
            Some(b"k3".to_vec()),
        )
    );

    running.stop().await??;
    let committed = committed(&env, settings.group_id(), &topic, 3).await?;
    assert_eq!(
        committed.get(&2),
        Some(&(offsets[5] + 1)),
        "committed past the poison record"
    );

    // Replay puts the original record back on its topic, once.
    let letters = dead_letters::list(&env.db, 10).await?;
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!((letter.partition, letter.offset), (2, poison_offset));
    assert_eq!(
        letter.headers,
        vec![("x-origin".to_owned(), b"test".to_vec())]
    );
    let producer = producer(&env)?;
    dead_letters::replay(&env.db, &producer, letter.id).await?;
    assert!(matches!(
        dead_letters::replay(&env.db, &producer, letter.id).await,
        Err(BusError::AlreadyReplayed(_))
    ));
    assert!(dead_letters::get(&env.db, letter.id)
        .await?
        .replayed_at
        .is_some());
    let all = read_topic(&env, &topic, 3, 7, Duration::from_millis(500)).await?;
    let replayed: Vec<_> = all.iter().filter(|s| s.payload == br#"{"i":3}"#).collect();
    assert_eq!(replayed.len(), 2, "original and replayed copy");
    assert_eq!(replayed[1].key.as_deref(), Some(&b"k3"[..]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_then_succeed_or_are_dead_lettered() -> anyhow::Result<()> {
    let env = env_with_topics("consumer", &["flaky"], 1).await?;
    let topic = env.settings.topic("flaky");
    produce_to(&env, &topic, 0, 3).await?;
    // Record 0 fails twice then succeeds; record 1 always fails; record 2 succeeds.
    let handler = ScriptedHandler::new(|r, attempt| match index(r) {
        0 if attempt < 3 => Err(HandlerError::transient("database unavailable")),
        1 => Err(HandlerError::transient("still unavailable")),
        _ => Ok(()),
    });
    let settings = fast_retries(&env);
    let running = start(&env, &settings, &["flaky"], handler.clone())?;
    eventually(
        WAIT,
        "dead letter for the always-failing record",
        || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters")
                .fetch_one(&env.db)
                .await?;
            Ok(n == 1 && handler.calls().iter().any(|(r, _)| index(r) == 2))
        },
    )
    .await?;
    running.stop().await??;

    let attempts = |i: i64| {
        handler
            .calls()
            .iter()
            .filter(|(r, _)| index(r) == i)
            .count()
    };
    assert_eq!(attempts(0), 3, "two failures, then success");
    assert_eq!(
        attempts(1),
        3,
        "retry_attempts attempts, then dead-lettered"
    );
    assert_eq!(attempts(2), 1);
    let (class, message, offset): (String, String, i64) =
        sqlx::query_as(r#"SELECT error_class, error_message, "offset" FROM dead_letters"#)
            .fetch_one(&env.db)
            .await?;
    assert_eq!(class, "transient_exhausted");
    assert_eq!(message, "still unavailable");
    assert_eq!(offset, 1);
    let dlq = read_topic(
        &env,
        &format!("{topic}.dlq"),
        1,
        1,
        Duration::from_millis(500),
    )
    .await?;
    assert_eq!(dlq.len(), 1);
    assert_eq!(
        dlq[0].header("dlq_error_class").as_deref(),
        Some("transient_exhausted")
    );
    assert_eq!(dlq[0].header("dlq_original_offset").as_deref(), Some("1"));
    assert_eq!(
        dlq[0].header("dlq_original_partition").as_deref(),
        Some("0")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_rate_guard_stops_the_consumer() -> anyhow::Result<()> {
    let env = env_with_topics("consumer", &["bad-deploy"], 1).await?;
    let topic = env.settings.topic("bad-deploy");
    produce_to(&env, &topic, 0, 6).await?;
    let handler =
        ScriptedHandler::new(|_, _| Err(HandlerError::permanent("bug", "everything fails")));
    let mut settings = fast_retries(&env);
    settings.consumer.dlq_max_per_minute = 2;
    settings.consumer.max_in_flight_per_partition = 1;
    let running = start(&env, &settings, &["bad-deploy"], handler.clone())?;

    let result = tokio::time::timeout(WAIT, running.handle)
        .await
        .context("runner did not stop on its own")??;
    assert!(
        matches!(result, Err(ConsumerError::DlqRateExceeded { limit: 2 })),
        "{result:?}"
    );
    match running.health.status() {
        ConsumerStatus::Stopped {
            reason: Some(reason),
        } => {
            assert!(reason.contains("rate guard"), "{reason}");
        }
        other => panic!("unexpected status {other:?}"),
    }
    assert!(!running.health.is_ready());
    let letters: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters")
        .fetch_one(&env.db)
        .await?;
    assert_eq!(letters, 2, "no more than the limit dead-lettered");
    let committed = committed(&env, settings.group_id(), &topic, 1).await?;
    assert_eq!(
        committed.get(&0),
        Some(&2),
        "the record that tripped the guard is not committed"
    );
    Ok(())
}

/// Records the trace id of the span each record is handled in.
#[derive(Clone, Default)]
struct TraceRecorder {
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Handler for TraceRecorder {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let trace_id = tracing::Span::current()
            .context()
            .span()
            .span_context()
            .trace_id()
            .to_string();
        let id = record
            .cloud_event()
            .map_err(|e| HandlerError::permanent("bad", e))?
            .id;
        self.seen.lock().expect("lock").push((id, trace_id));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceparent_survives_produce_and_consume() -> anyhow::Result<()> {
    let env = env_with_topics("consumer", &["traced"], 2).await?;
    let topic = env.settings.topic("traced");
    let producer = producer(&env)?;

    // Direct publish inside a span.
    let direct = CloudEvent::new("test.traced.v1", "/tests", None, json!({}));
    let direct_trace = async {
        producer.publish_event(&topic, Some(b"a"), &direct).await?;
        anyhow::Ok(current_trace_id())
    }
    .instrument(tracing::info_span!("producer-span"))
    .await?;

    // Through the outbox and relay: the trace of the enqueueing request.
    let outboxed = CloudEvent::new("test.traced.v1", "/tests", None, json!({}));
    let outbox_trace = async {
        let mut tx = env.db.begin().await?;
        suite_bus::outbox::enqueue(&mut tx, &topic, Some(b"b"), &outboxed).await?;
        tx.commit().await?;
        anyhow::Ok(current_trace_id())
    }
    .instrument(tracing::info_span!("request-span"))
    .await?;
    let relay = suite_bus::Relay::new(env.db.clone(), producer.clone(), &env.settings.outbox);
    assert_eq!(relay.run_once().await?, 1);
    assert_ne!(direct_trace, outbox_trace);
    assert_ne!(direct_trace, "00000000000000000000000000000000");

    let recorder = TraceRecorder::default();
    let running = start(&env, &env.settings, &["traced"], recorder.clone())?;
    eventually(WAIT, "both events handled", || async {
        Ok(recorder.seen.lock().expect("lock").len() >= 2)
    })
    .await?;
    running.stop().await??;
    let seen = recorder.seen.lock().expect("lock").clone();
    let trace_of = |id: &str| seen.iter().find(|(e, _)| e == id).map(|(_, t)| t.clone());
    assert_eq!(trace_of(&direct.id), Some(direct_trace));
    assert_eq!(trace_of(&outboxed.id), Some(outbox_trace));
    Ok(())
}

fn current_trace_id() -> String {
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .trace_id()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_are_not_redelivered_to_the_next_runner() -> anyhow::Result<()> {
    let env = env_with_topics("consumer", &["resume"], 2).await?;
    let topic = env.settings.topic("resume");
    let producer = producer(&env)?;
    let publish = |range: std::ops::Range<usize>| {
        let (producer, topic) = (producer.clone(), topic.clone());
        async move {
            let mut ids = Vec::new();
            for i in range {
                let e = CloudEvent::new("test.n.v1", "/tests", None, json!({ "i": i }));
                producer
                    .publish_event(&topic, Some(format!("key-{i}").as_bytes()), &e)
                    .await?;
                ids.push(e.id);
            }
            anyhow::Ok(ids)
        }
    };
    let first: HashSet<String> = publish(0..10).await?.into_iter().collect();

    let handler = ScriptedHandler::ok();
    let running = start(&env, &env.settings, &["resume"], handler.clone())?;
    eventually(WAIT, "first runner handled 10 records", || async {
        Ok(handler.call_count() >= 10)
    })
    .await?;
    running.stop().await??;
    let ids = |h: &ScriptedHandler| -> anyhow::Result<Vec<String>> {
        h.calls()
            .iter()
            .map(|(r, _)| Ok(r.cloud_event()?.id))
            .collect()
    };
    assert_eq!(ids(&handler)?.into_iter().collect::<HashSet<_>>(), first);

    let second: HashSet<String> = publish(10..15).await?.into_iter().collect();
    let handler2 = ScriptedHandler::ok();
    let running = start(&env, &env.settings, &["resume"], handler2.clone())?;
    eventually(WAIT, "second runner handled the 5 new records", || async {
        let seen: HashSet<String> = ids(&handler2)?.into_iter().collect();
        Ok(second.is_subset(&seen))
    })
    .await?;
    running.stop().await??;
    // Records of a partition arrive in order, so any redelivered old record
    // would have been handled before the new ones.
    let seen = ids(&handler2)?;
    let old: Vec<_> = seen.iter().filter(|id| first.contains(*id)).collect();
    assert!(old.is_empty(), "committed records redelivered: {old:?}");
    assert_eq!(seen.len(), 5);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_topics_is_idempotent_and_a_prefix_is_deleted_whole() -> anyhow::Result<()> {
    common::init_tracing();
    let env = TestEnv::new("topics").await?;
    let brokers = &env.settings.kafka.brokers;
    let specs: Vec<TopicSpec> = ["a", "a.dlq"]
        .iter()
        .map(|n| TopicSpec {
            name: env.settings.topic(n),
            compacted: *n == "a",
        })
        .collect();
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let first = suite_bus::ensure_topics(brokers, &specs, 2).await?;
    assert_eq!(first.created.len(), 2, "{first:?}");
    let again = suite_bus::ensure_topics(brokers, &specs, 2).await?;
    assert!(again.created.is_empty(), "{again:?}");
    assert_eq!(again.existing.len(), 2, "{again:?}");
    // a compacted topic keeps the latest record per key, so the broker refuses records without one
    let event = CloudEvent::new("t.v1", "/t", None, json!(1));
    let unkeyed = producer(&env)?.publish_event(&names[0], None, &event).await;
    assert!(
        unkeyed.is_err(),
        "a compacted topic took a record without key"
    );
    let delivery = producer(&env)?
        .publish_event(&names[0], Some(b"campaign-1"), &event)
        .await?;
    assert!(delivery.partition == 0 || delivery.partition == 1);

    let purged = suite_bus::delete_prefixed(brokers, &env.settings.kafka.topic_prefix).await?;
    let mut deleted = purged.topics.clone();
    deleted.sort();
    assert_eq!(deleted, names, "{purged:?}");
    let (left, _) =
        suite_bus::topics::names_with_prefix(brokers, &env.settings.kafka.topic_prefix).await?;
    assert!(left.is_empty(), "still there: {left:?}");
    Ok(())
}

/// Abandoned work (a scheduled step) kept with the dead letters is listed for
/// operators, kept once however often it is kept, and never replayed: there
/// is no topic it came from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_work_is_kept_once_and_cannot_be_replayed() -> anyhow::Result<()> {
    let env = env_with_topics("consumer", &["unused"], 1).await?;
    let payload = json!({"step_id": "s-1", "claims": 2});
    let work = dead_letters::Abandoned {
        consumer: "test.scheduler",
        source: "test.steps",
        position: 42,
        key: Some(b"lead-1"),
        payload: &payload,
        error_class: "indeterminate",
        error_message: "the process died during the provider call",
    };
    for _ in 0..2 {
        let mut tx = env.db.begin().await?;
        dead_letters::keep(&mut tx, &work).await?;
        tx.commit().await?;
    }
    let kept: Vec<_> = dead_letters::list(&env.db, 10)
        .await?
        .into_iter()
        .filter(|d| d.consumer == "test.scheduler")
        .collect();
    assert_eq!(kept.len(), 1, "kept once");
    let letter = &kept[0];
    assert_eq!((letter.topic.as_str(), letter.offset), ("test.steps", 42));
    assert_eq!(letter.error_class, "indeterminate");
    let stored: serde_json::Value =
        serde_json::from_slice(letter.payload.as_deref().context("payload")?)?;
    assert_eq!(stored, payload);
    let producer = producer(&env)?;
    assert!(matches!(
        dead_letters::replay(&env.db, &producer, letter.id).await,
        Err(BusError::NotReplayable(id)) if id == letter.id
    ));
    assert!(
        dead_letters::get(&env.db, letter.id)
            .await?
            .replayed_at
            .is_none(),
        "a refused replay marks nothing"
    );
    Ok(())
}

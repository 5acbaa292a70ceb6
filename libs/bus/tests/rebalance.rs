//! Consumer runner behaviour across rebalances and shutdown.
#![allow(missing_docs)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{committed, env_with_topics, eventually, producer, start, WAIT};
use serde_json::json;
use suite_bus::{CloudEvent, Handler, HandlerError, Record};
use tokio_util::sync::CancellationToken;

/// Sleeps `delay` per record, then records its event id; tracks the highest
/// number of records of one partition, and of all partitions, in flight at once.
#[derive(Clone)]
struct SlowHandler {
    delay: Duration,
    done: Arc<Mutex<Vec<String>>>,
    in_flight: Arc<Mutex<HashMap<i32, usize>>>,
    max_in_flight: Arc<AtomicUsize>,
    max_total: Arc<AtomicUsize>,
}

impl SlowHandler {
    fn new(delay: Duration) -> Self {
        Self {
            delay,
            done: Arc::default(),
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
            max_total: Arc::default(),
        }
    }

    fn ids(&self) -> Vec<String> {
        self.done.lock().expect("lock").clone()
    }
}

impl Handler for SlowHandler {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        {
            let mut m = self.in_flight.lock().expect("lock");
            let n = m.entry(record.partition).or_default();
            *n += 1;
            self.max_in_flight.fetch_max(*n, Ordering::SeqCst);
            self.max_total.fetch_max(m.values().sum(), Ordering::SeqCst);
        }
        // Uneven durations make records of a partition finish out of order.
        let jitter = (record.offset % 3) as u32;
        tokio::time::sleep(self.delay * (1 + jitter)).await;
        *self
            .in_flight
            .lock()
            .expect("lock")
            .entry(record.partition)
            .or_default() -= 1;
        let id = record
            .cloud_event()
            .map_err(|e| HandlerError::permanent("bad", e))?
            .id;
        self.done.lock().expect("lock").push(id);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_runner_takes_over_partitions_without_losing_records() -> anyhow::Result<()> {
    const PARTITIONS: i32 = 4;
    let env = env_with_topics("rebalance", &["work"], PARTITIONS).await?;
    let topic = env.settings.topic("work");
    let producer = producer(&env)?;
    let mut settings = env.settings.clone();
    settings.consumer.max_in_flight_per_partition = 3;

    // Publish steadily until the second runner has handled some records.
    let published: Arc<Mutex<Vec<(String, i32, i64)>>> = Arc::default();
    let stop_publishing = CancellationToken::new();
    let publisher = {
        let (producer, topic) = (producer.clone(), topic.clone());
        let (published, stop) = (published.clone(), stop_publishing.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.is_cancelled() {
                for _ in 0..8 {
                    let e = CloudEvent::new("test.work.v1", "/tests", None, json!({ "i": i }));
                    let d = producer
                        .publish_event(&topic, Some(format!("k{i}").as_bytes()), &e)
                        .await?;
                    published
                        .lock()
                        .expect("lock")
                        .push((e.id, d.partition, d.offset));
                    i += 1;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            anyhow::Ok(())
        })
    };

    let a = SlowHandler::new(Duration::from_millis(20));
    let running_a = start(&env, &settings, &["work"], a.clone())?;
    eventually(WAIT, "first runner handles records", || async {
        Ok(a.ids().len() >= 20)
    })
    .await?;
    let b = SlowHandler::new(Duration::from_millis(20));
    let running_b = start(&env, &settings, &["work"], b.clone())?;
    eventually(WAIT, "second runner gets partitions", || async {
        Ok(b.ids().len() >= 20)
    })
    .await?;
    stop_publishing.cancel();
    publisher.await??;

    let all: HashSet<String> = published
        .lock()
        .expect("lock")
        .iter()
        .map(|(id, _, _)| id.clone())
        .collect();
    eventually(
        WAIT,
        "every published record handled by one of them",
        || async {
            let seen: HashSet<String> = a.ids().into_iter().chain(b.ids()).collect();
            Ok(all.is_subset(&seen))
        },
    )
    .await?;
    running_a.stop().await??;
    running_b.stop().await??;

    let mut expected: HashMap<i32, i64> = HashMap::new();
    for (_, p, o) in published.lock().expect("lock").iter() {
        let e = expected.entry(*p).or_insert(0);
        *e = (*e).max(o + 1);
    }
    let got = committed(&env, settings.group_id(), &topic, PARTITIONS).await?;
    assert_eq!(
        got, expected,
        "committed offsets are the end of every partition"
    );
    assert!(
        a.max_in_flight.load(Ordering::SeqCst) > 1,
        "records of one partition ran concurrently"
    );
    assert!(
        a.max_in_flight.load(Ordering::SeqCst) <= 3,
        "in-flight bound held"
    );
    let handled = a.ids().len() + b.ids().len();
    eprintln!(
        "published {}, handled {handled} (redelivered {})",
        all.len(),
        handled - all.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_in_flight_records_and_commits_them() -> anyhow::Result<()> {
    let env = env_with_topics("drain", &["slow"], 1).await?;
    let topic = env.settings.topic("slow");
    let producer = producer(&env)?;
    for i in 0..3 {
        let e = CloudEvent::new("test.slow.v1", "/tests", None, json!({ "i": i }));
        producer.publish_event(&topic, None, &e).await?;
    }
    let handler = SlowHandler::new(Duration::from_millis(700));
    let running = start(&env, &env.settings, &["slow"], handler.clone())?;
    eventually(WAIT, "records in flight", || async {
        Ok(handler.in_flight.lock().expect("lock").get(&0).copied() == Some(3))
    })
    .await?;
    assert!(handler.ids().is_empty());
    let started = std::time::Instant::now();
    running.stop().await??;
    assert_eq!(
        handler.ids().len(),
        3,
        "in-flight records finished before stopping"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let got = committed(&env, env.settings.group_id(), &topic, 1).await?;
    assert_eq!(got.get(&0), Some(&3));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_in_flight_stay_within_the_consumer_bound_over_all_partitions() -> anyhow::Result<()>
{
    const PARTITIONS: i32 = 4;
    let env = env_with_topics("bounded", &["backlog"], PARTITIONS).await?;
    let topic = env.settings.topic("backlog");
    let producer = producer(&env)?;
    // A backlog over every partition, as when the broker hands over a burst.
    let mut partitions = HashSet::new();
    for i in 0..48 {
        let e = CloudEvent::new("test.backlog.v1", "/tests", None, json!({ "i": i }));
        let d = producer
            .publish_event(&topic, Some(format!("k{i}").as_bytes()), &e)
            .await?;
        partitions.insert(d.partition);
    }
    assert_eq!(
        partitions.len(),
        PARTITIONS as usize,
        "keys spread over the partitions"
    );
    let mut settings = env.settings.clone();
    settings.consumer.max_in_flight_per_partition = 64;
    settings.consumer.max_in_flight = 3;
    let handler = SlowHandler::new(Duration::from_millis(30));
    let running = start(&env, &settings, &["backlog"], handler.clone())?;
    eventually(WAIT, "the backlog handled", || async {
        Ok(handler.ids().len() >= 48)
    })
    .await?;
    running.stop().await??;
    assert_eq!(handler.ids().iter().collect::<HashSet<_>>().len(), 48);
    assert_eq!(
        handler.max_total.load(Ordering::SeqCst),
        3,
        "the consumer's places are used, and never more of them"
    );
    Ok(())
}

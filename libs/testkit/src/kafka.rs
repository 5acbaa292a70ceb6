//! Reading topics back and producing raw records, for assertions in tests.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// A record read back from a topic.
#[derive(Debug, Clone)]
pub struct Consumed {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Body.
    pub payload: Vec<u8>,
    /// Headers in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Consumed {
    /// A header as UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }
}

/// Reads `topic` from the beginning of every partition until `expect`
/// records arrived and then `settle` passed (to catch duplicates), or —
/// with `expect == usize::MAX`, "everything there is" — until every partition
/// is read up to the end it had when the read began; never longer than
/// `timeout`.
pub async fn read_topic(
    brokers: &str,
    topic: &str,
    expect: usize,
    timeout: Duration,
    settle: Duration,
) -> anyhow::Result<Vec<Consumed>> {
    let brokers = brokers.to_owned();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || read_blocking(&brokers, &topic, expect, timeout, settle))
        .await
        .context("reader task")?
}

fn read_blocking(
    brokers: &str,
    topic: &str,
    expect: usize,
    timeout: Duration,
    settle: Duration,
) -> anyhow::Result<Vec<Consumed>> {
    // No consumer group: every partition is assigned at offset 0 (test
    // topics are created fresh, so that is their beginning), and a reader
    // needs no join or rebalance.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("reader-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(30))?;
    let partitions = metadata
        .topics()
        .first()
        .map_or(0, |t| t.partitions().len());
    anyhow::ensure!(partitions > 0, "topic {topic} has no partitions");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment.add_partition_offset(topic, i32::try_from(p)?, Offset::Offset(0))?;
    }
    consumer.assign(&assignment)?;
    // where each partition ended when the read began: "everything there is"
    let mut ends: Vec<i64> = Vec::with_capacity(partitions);
    for p in 0..partitions {
        let (_, high) =
            consumer.fetch_watermarks(topic, i32::try_from(p)?, Duration::from_secs(30))?;
        ends.push(high);
    }
    let mut next: Vec<i64> = vec![0; partitions];
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut reached: Option<Instant> = None;
    while Instant::now() < deadline {
        if let Some(at) = reached {
            if at.elapsed() >= settle {
                break;
            }
        }
        if expect == usize::MAX && next.iter().zip(&ends).all(|(n, end)| n >= end) {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if let Some(n) = usize::try_from(m.partition())
                    .ok()
                    .and_then(|p| next.get_mut(p))
                {
                    *n = m.offset() + 1;
                }
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|Header { key, value }| {
                                (key.to_owned(), value.unwrap_or_default().to_vec())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Consumed {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().unwrap_or_default().to_vec(),
                    headers,
                });
                if out.len() >= expect && reached.is_none() {
                    reached = Some(Instant::now());
                }
            }
            Some(Err(e)) => anyhow::bail!("consume {topic}: {e}"),
            None => {}
        }
    }
    Ok(out)
}

/// A raw record for [`produce_many`].
#[derive(Debug, Clone, Default)]
pub struct RawRecord {
    /// The key, if any.
    pub key: Option<String>,
    /// The value.
    pub payload: Vec<u8>,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
}

/// Produces one raw record with an idempotent producer, as an external system would.
pub async fn produce(
    brokers: &str,
    topic: &str,
    key: Option<&str>,
    payload: &[u8],
    headers: &[(&str, &str)],
) -> anyhow::Result<()> {
    let record = RawRecord {
        key: key.map(str::to_owned),
        payload: payload.to_vec(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    produce_many(brokers, topic, &[record]).await
}

/// Produces a tombstone (a record with `key` and no value), as an owner
/// erasing an entity from a compacted topic does.
pub async fn produce_tombstone(brokers: &str, topic: &str, key: &str) -> anyhow::Result<()> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?;
    let record: FutureRecord<'_, str, [u8]> = FutureRecord::to(topic).key(key);
    producer
        .send(record, Duration::from_secs(30))
        .await
        .map_err(|(e, _)| anyhow::anyhow!("produce to {topic}: {e}"))?;
    Ok(())
}

/// Produces `records` with one idempotent producer, all in flight at once
/// (records of one key keep their order), and waits until every one is
/// acknowledged.
pub async fn produce_many(brokers: &str, topic: &str, records: &[RawRecord]) -> anyhow::Result<()> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()?;
    let sends = records.iter().map(|r| {
        let mut owned = OwnedHeaders::new();
        for (k, v) in &r.headers {
            owned = owned.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
        let mut record = FutureRecord::to(topic).payload(&r.payload).headers(owned);
        if let Some(key) = &r.key {
            record = record.key(key);
        }
        producer.send(record, Duration::from_secs(30))
    });
    for sent in futures::future::join_all(sends).await {
        sent.map_err(|(e, _)| anyhow::anyhow!("produce to {topic}: {e}"))?;
    }
    Ok(())
}

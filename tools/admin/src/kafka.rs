//! The broker commands of `suite-admin`: the suite's topics, clean-up by
//! prefix, and an end-to-end check (produce a record, consume it back).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};
use suite_bus::{HeaderList, OutgoingRecord, Producer, TopicSpec};
use suite_config::Settings;
use uuid::Uuid;

/// The topic `check` writes to (under the configured prefix).
const CHECK_TOPIC: &str = "suite.check";

/// Every topic of the suite with its `.dlq` twin, prefixed as configured.
pub fn suite_topics(settings: &Settings) -> Vec<TopicSpec> {
    suite_domain::topics::ALL
        .iter()
        .flat_map(|t| {
            [
                TopicSpec {
                    name: settings.topic(t),
                    compacted: suite_domain::topics::is_compacted(t),
                },
                TopicSpec {
                    name: settings.topic(&suite_domain::topics::dlq(t)),
                    compacted: false,
                },
            ]
        })
        .collect()
}

/// Prints the suite's topics, one JSON object a line.
pub fn list(settings: &Settings) {
    for t in suite_topics(settings) {
        println!(
            "{}",
            serde_json::json!({"name": t.name, "compacted": t.compacted})
        );
    }
}

/// Creates the missing topics of the suite and reports what it did.
pub async fn ensure(settings: &Settings, partitions: i32) -> anyhow::Result<()> {
    let topics = suite_topics(settings);
    let report = suite_bus::ensure_topics(&settings.kafka.brokers, &topics, partitions).await?;
    for name in &report.created {
        println!("created {name}");
    }
    println!(
        "{} topics present ({} created, {} already there)",
        topics.len(),
        report.created.len(),
        report.existing.len()
    );
    Ok(())
}

/// Deletes every topic and consumer group whose name starts with `prefix`.
pub async fn purge(settings: &Settings, prefix: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !prefix.is_empty(),
        "an empty prefix would delete every topic"
    );
    let report = suite_bus::delete_prefixed(&settings.kafka.brokers, prefix).await?;
    println!(
        "deleted {} topics and {} consumer groups starting with {prefix:?}",
        report.topics.len(),
        report.groups.len()
    );
    if !report.groups_in_use.is_empty() {
        println!(
            "{} groups still have members and were kept: {}",
            report.groups_in_use.len(),
            report.groups_in_use.join(", ")
        );
    }
    Ok(())
}

/// Produces one record with the suite's (idempotent, `acks=all`) producer
/// and reads it back from the offset the broker acknowledged.
pub async fn check(settings: &Settings, timeout: Duration) -> anyhow::Result<()> {
    let topic = settings.topic(CHECK_TOPIC);
    let spec = TopicSpec {
        name: topic.clone(),
        compacted: false,
    };
    suite_bus::ensure_topics(&settings.kafka.brokers, &[spec], 1).await?;
    let token = Uuid::new_v4().to_string();
    let producer = Producer::new(&settings.kafka)?;
    let delivery = producer
        .send(OutgoingRecord {
            topic: topic.clone(),
            key: Some(b"suite-admin-check".to_vec()),
            payload: token.clone().into_bytes(),
            headers: HeaderList::default(),
        })
        .await
        .with_context(|| format!("produce to {topic}"))?;
    println!(
        "produced {token} to {topic} [{}] at offset {}",
        delivery.partition, delivery.offset
    );
    let brokers = settings.kafka.brokers.clone();
    let found = tokio::task::spawn_blocking(move || {
        read_back(
            &brokers,
            &topic,
            delivery.partition,
            delivery.offset,
            &token,
            timeout,
        )
    })
    .await??;
    println!("consumed it back at offset {found}: ok");
    Ok(())
}

fn read_back(
    brokers: &str,
    topic: &str,
    partition: i32,
    offset: i64,
    token: &str,
    timeout: Duration,
) -> anyhow::Result<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "suite-admin-check")
        .set("enable.auto.commit", "false")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    consumer.assign(&assignment)?;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) if m.payload() == Some(token.as_bytes()) => return Ok(m.offset()),
            Some(Ok(_)) | None => {}
            Some(Err(e)) => anyhow::bail!("consume {topic}: {e}"),
        }
    }
    anyhow::bail!("did not read the record back from {topic} within {timeout:?}")
}

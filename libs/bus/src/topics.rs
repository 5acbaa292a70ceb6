//! Topic administration: creating the suite's topics (brokers here do not
//! auto-create them) and deleting every topic and consumer group under a name
//! prefix (test runs and shared clusters clean up after themselves).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::types::RDKafkaErrorCode;

use crate::error::BusError;

/// How long an admin request may take before it fails.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Full topic name (prefix applied).
    pub name: String,
    /// `cleanup.policy=compact`: the broker keeps the latest record per key.
    pub compacted: bool,
}

/// What [`ensure_topics`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnsureReport {
    /// Topics created by this call.
    pub created: Vec<String>,
    /// Topics that already existed (left as they are).
    pub existing: Vec<String>,
}

/// What [`delete_prefixed`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// Topics deleted.
    pub topics: Vec<String>,
    /// Consumer groups deleted.
    pub groups: Vec<String>,
    /// Consumer groups that still have members (Kafka refuses to delete
    /// those); they expire on their own once their members leave.
    pub groups_in_use: Vec<String>,
}

fn admin(brokers: &str) -> Result<AdminClient<DefaultClientContext>, BusError> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?)
}

fn options() -> AdminOptions {
    AdminOptions::new()
        .operation_timeout(Some(ADMIN_TIMEOUT))
        .request_timeout(Some(ADMIN_TIMEOUT))
}

/// Creates each topic in `topics` with `partitions` partitions and the
/// broker's default replication factor (`default.replication.factor`).
/// Topics that already exist are left as they are.
pub async fn ensure_topics(
    brokers: &str,
    topics: &[TopicSpec],
    partitions: i32,
) -> Result<EnsureReport, BusError> {
    let mut report = EnsureReport::default();
    if topics.is_empty() {
        return Ok(report);
    }
    let admin = admin(brokers)?;
    let compact = [("cleanup.policy", "compact")];
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            let topic = NewTopic::new(&t.name, partitions, TopicReplication::Fixed(-1));
            if t.compacted {
                compact
                    .iter()
                    .fold(topic, |topic, (key, value)| topic.set(key, value))
            } else {
                topic
            }
        })
        .collect();
    for result in admin.create_topics(&new, &options()).await? {
        match result {
            Ok(topic) => report.created.push(topic),
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => report.existing.push(topic),
            Err((topic, code)) => return Err(BusError::TopicCreation { topic, code }),
        }
    }
    Ok(report)
}

/// Deletes every topic and every consumer group whose name starts with
/// `prefix` (which must not be empty).
pub async fn delete_prefixed(brokers: &str, prefix: &str) -> Result<PurgeReport, BusError> {
    let mut report = PurgeReport::default();
    if prefix.is_empty() {
        return Ok(report);
    }
    let (topics, groups) = names_with_prefix(brokers, prefix).await?;
    let admin = admin(brokers)?;
    if !topics.is_empty() {
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        for result in admin.delete_topics(&names, &options()).await? {
            match result {
                Ok(topic) => report.topics.push(topic),
                Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                Err((name, code)) => return Err(BusError::Deletion { name, code }),
            }
        }
    }
    if !groups.is_empty() {
        let names: Vec<&str> = groups.iter().map(String::as_str).collect();
        for result in admin.delete_groups(&names, &options()).await? {
            match result {
                Ok(group) => report.groups.push(group),
                Err((group, RDKafkaErrorCode::NonEmptyGroup)) => report.groups_in_use.push(group),
                Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
                Err((name, code)) => return Err(BusError::Deletion { name, code }),
            }
        }
    }
    Ok(report)
}

/// The names of the topics and of the consumer groups that start with `prefix`.
pub async fn names_with_prefix(
    brokers: &str,
    prefix: &str,
) -> Result<(Vec<String>, Vec<String>), BusError> {
    let brokers = brokers.to_owned();
    let prefix = prefix.to_owned();
    tokio::task::spawn_blocking(move || list_prefixed(&brokers, &prefix))
        .await
        .map_err(|_| BusError::from(rdkafka::error::KafkaError::Canceled))?
}

fn list_prefixed(brokers: &str, prefix: &str) -> Result<(Vec<String>, Vec<String>), BusError> {
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let metadata = client.fetch_metadata(None, ADMIN_TIMEOUT)?;
    let topics = metadata
        .topics()
        .iter()
        .map(|t| t.name().to_owned())
        .filter(|name| name.starts_with(prefix))
        .collect();
    let groups = client
        .fetch_group_list(None, ADMIN_TIMEOUT)?
        .groups()
        .iter()
        .map(|g| g.name().to_owned())
        .filter(|name| name.starts_with(prefix))
        .collect();
    Ok((topics, groups))
}

/// The dead-letter topic of `topic`.
pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

//! Typed errors of the bus, classified as transient (retrying may help) or not.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Errors of the producer, outbox, relay, topics and dead-letter operations.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The Kafka client could not be created or an admin call failed.
    #[error("kafka client error: {0}")]
    Kafka(#[from] KafkaError),
    /// The broker did not acknowledge a record.
    #[error("delivery to topic {topic} failed: {source}")]
    Delivery {
        /// Destination topic.
        topic: String,
        /// Cause reported by the client.
        #[source]
        source: KafkaError,
    },
    /// A Postgres statement failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// An event could not be encoded or decoded.
    #[error("cloud event error: {0}")]
    CloudEvent(#[from] CloudEventError),
    /// Headers stored in a `jsonb` column are not in the bus's format.
    #[error("stored headers are malformed: {0}")]
    StoredHeaders(String),
    /// Deleting a topic or a consumer group failed for a reason other than
    /// "it does not exist" (or, for a group, "it still has members").
    #[error("deleting {name} failed: {code}")]
    Deletion {
        /// Topic or group name.
        name: String,
        /// Broker error code.
        code: RDKafkaErrorCode,
    },
    /// Creating a topic failed for a reason other than "already exists".
    #[error("creating topic {topic} failed: {code}")]
    TopicCreation {
        /// Topic name.
        topic: String,
        /// Broker error code.
        code: RDKafkaErrorCode,
    },
    /// No dead letter has this id.
    #[error("dead letter {0} not found")]
    DeadLetterNotFound(i64),
    /// The dead letter was replayed before; replaying twice is refused.
    #[error("dead letter {0} was already replayed")]
    AlreadyReplayed(i64),
    /// The dead letter is abandoned work (a scheduled step), not a Kafka
    /// record: there is no topic to replay it to.
    #[error("dead letter {0} is not a Kafka record and cannot be replayed")]
    NotReplayable(i64),
    /// Some records of a relay batch were not acknowledged (the rest were released).
    #[error("{failed} of {total} outbox records were not delivered: {first}")]
    RelayIncomplete {
        /// Records that stay in the outbox.
        failed: usize,
        /// Records in the batch.
        total: usize,
        /// First failure, as text.
        first: String,
    },
}

impl BusError {
    /// True when retrying the same operation later may succeed (broker or
    /// database unavailable, timeouts), false for bugs and bad data.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Kafka(_) | Self::Delivery { .. } | Self::RelayIncomplete { .. } => true,
            Self::Database(e) => suite_store::db::is_transient(e),
            Self::TopicCreation { .. } | Self::Deletion { .. } => true,
            Self::CloudEvent(_)
            | Self::StoredHeaders(_)
            | Self::DeadLetterNotFound(_)
            | Self::AlreadyReplayed(_)
            | Self::NotReplayable(_) => false,
        }
    }

    /// A short stable name of the error kind, for metrics labels and logs.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Kafka(_) => "kafka",
            Self::Delivery { .. } => "delivery",
            Self::Database(_) => "database",
            Self::CloudEvent(_) => "cloud_event",
            Self::StoredHeaders(_) => "stored_headers",
            Self::TopicCreation { .. } => "topic_creation",
            Self::Deletion { .. } => "deletion",
            Self::DeadLetterNotFound(_) => "not_found",
            Self::AlreadyReplayed(_) => "already_replayed",
            Self::NotReplayable(_) => "not_replayable",
            Self::RelayIncomplete { .. } => "relay_incomplete",
        }
    }
}

/// Why a Kafka record could not be read as a CloudEvent.
#[derive(Debug, thiserror::Error)]
pub enum CloudEventError {
    /// Neither binary mode (`ce_specversion` header) nor structured mode
    /// (`content-type: application/cloudevents+json`).
    #[error("record is not a CloudEvent (no ce_specversion header and no application/cloudevents+json content type)")]
    NotACloudEvent,
    /// Only CloudEvents 1.0 is understood.
    #[error("unsupported CloudEvents spec version {0:?}")]
    UnsupportedSpecVersion(String),
    /// A required attribute is absent or empty.
    #[error("required attribute {0} is missing")]
    MissingAttribute(&'static str),
    /// A header value is not valid UTF-8.
    #[error("header {0} is not valid UTF-8")]
    InvalidHeader(String),
    /// `time` is not an RFC 3339 timestamp.
    #[error("attribute time is not RFC 3339: {0:?}")]
    InvalidTime(String),
    /// The data is not JSON.
    #[error("unsupported data content type {0:?}")]
    UnsupportedContentType(String),
    /// The body is not valid JSON (or not a valid structured event).
    #[error("invalid JSON: {0}")]
    InvalidJson(#[from] serde_json::Error),
}

/// Why a consumer runner stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// The Kafka consumer could not be created, subscribed or committed.
    #[error("kafka consumer error: {0}")]
    Kafka(#[from] KafkaError),
    /// More records were dead-lettered within a minute than allowed: the
    /// runner stopped instead of dead-lettering everything.
    #[error(
        "dead-letter rate guard tripped: more than {limit} records dead-lettered within a minute"
    )]
    DlqRateExceeded {
        /// The configured `consumer.dlq_max_per_minute`.
        limit: u32,
    },
    /// A record could not be dead-lettered (DLQ topic or database unavailable);
    /// its offset was not stored.
    #[error("dead-lettering {topic}/{partition}@{offset} failed: {source}")]
    DeadLetterFailed {
        /// Source topic.
        topic: String,
        /// Source partition.
        partition: i32,
        /// Source offset.
        offset: i64,
        /// Cause.
        #[source]
        source: Box<BusError>,
    },
    /// The runner's configuration is unusable.
    #[error("invalid consumer configuration: {0}")]
    Config(String),
    /// The thread polling the broker ended unexpectedly.
    #[error("kafka poll thread failed: {0}")]
    PollThread(String),
}

impl ConsumerError {
    /// A short stable name of the error kind, for health reporting and metrics.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Kafka(_) => "kafka",
            Self::DlqRateExceeded { .. } => "dlq_rate_exceeded",
            Self::DeadLetterFailed { .. } => "dead_letter_failed",
            Self::Config(_) => "config",
            Self::PollThread(_) => "poll_thread",
        }
    }
}

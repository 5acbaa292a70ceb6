//! The Kafka producer: `acks=all`, lz4, and a `send` that returns only once
//! the broker acknowledged the record.

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use suite_config::KafkaSettings;
use tracing::Instrument as _;

use crate::cloudevents::CloudEvent;
use crate::error::BusError;
use crate::headers::{self, HeaderList};
use crate::metric_names::KAFKA_RECORDS_PRODUCED_TOTAL;
use crate::trace;

/// A record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRecord {
    /// Full (prefixed) topic name.
    pub topic: String,
    /// Partitioning key; `None` spreads records over partitions.
    pub key: Option<Vec<u8>>,
    /// Body.
    pub payload: Vec<u8>,
    /// Headers, in order.
    pub headers: HeaderList,
}

/// Where the broker stored an acknowledged record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Partition the record went to.
    pub partition: i32,
    /// Offset of the record in that partition.
    pub offset: i64,
}

/// A cheaply cloneable Kafka producer shared by a process.
#[derive(Clone)]
pub struct Producer {
    inner: FutureProducer,
    /// How long `send` waits for room in the local queue before failing.
    queue_timeout: Duration,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").finish_non_exhaustive()
    }
}

impl Producer {
    /// Succeeds when the brokers answer a metadata request on this
    /// producer's own connection within two seconds (readiness probes).
    pub async fn ping(&self) -> Result<(), BusError> {
        let client = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            client
                .client()
                .fetch_metadata(None, Duration::from_secs(2))
                .map(|_| ())
        })
        .await
        .map_err(|_| BusError::from(rdkafka::error::KafkaError::Canceled))?
        .map_err(BusError::from)
    }

    /// Creates an idempotent producer (`enable.idempotence`, `acks=all`, `lz4`;
    /// `linger.ms` and `message.timeout.ms` from the Kafka settings): a retried
    /// send is never written twice, and records of a partition keep their order.
    pub fn new(settings: &KafkaSettings) -> Result<Self, BusError> {
        let inner: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &settings.brokers)
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("linger.ms", settings.linger_ms.to_string())
            .set("enable.idempotence", "true")
            .set(
                "message.timeout.ms",
                settings.delivery_timeout_ms.to_string(),
            )
            // Same key → partition mapping as the Java client, so external
            // producers and ours agree.
            .set("partitioner", "murmur2_random")
            // Bound the local queue (default 1 GiB); when full, `send` waits.
            .set("queue.buffering.max.kbytes", "32768")
            .create()?;
        Ok(Self {
            inner,
            queue_timeout: Duration::from_millis(u64::from(settings.delivery_timeout_ms)),
        })
    }

    /// Publishes one record and waits for the broker's acknowledgement.
    pub async fn send(&self, record: OutgoingRecord) -> Result<Delivery, BusError> {
        let span = tracing::debug_span!(
            "kafka.produce",
            otel.kind = "producer",
            messaging.system = "kafka",
            messaging.destination.name = %record.topic,
        );
        self.send_inner(record).instrument(span).await
    }

    async fn send_inner(&self, record: OutgoingRecord) -> Result<Delivery, BusError> {
        let mut future = FutureRecord::to(&record.topic)
            .payload(&record.payload)
            .headers(headers::to_kafka(&record.headers));
        if let Some(key) = &record.key {
            future = future.key(key);
        }
        match self
            .inner
            .send(future, Timeout::After(self.queue_timeout))
            .await
        {
            Ok(d) => {
                metrics::counter!(KAFKA_RECORDS_PRODUCED_TOTAL, "topic" => record.topic.clone())
                    .increment(1);
                Ok(Delivery {
                    partition: d.partition,
                    offset: d.offset,
                })
            }
            Err((source, _)) => Err(BusError::Delivery {
                topic: record.topic.clone(),
                source,
            }),
        }
    }

    /// Publishes an event in binary content mode; when the event has no
    /// `traceparent`, the current span's trace context is attached.
    pub async fn publish_event(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        event: &CloudEvent,
    ) -> Result<Delivery, BusError> {
        let mut encoded = event.to_binary()?;
        trace::inject_current(&mut encoded.headers);
        self.send(OutgoingRecord {
            topic: topic.to_owned(),
            key: key.map(<[u8]>::to_vec),
            payload: encoded.payload,
            headers: encoded.headers,
        })
        .await
    }

    /// Waits until every queued record is delivered or `timeout` passes
    /// (call on shutdown).
    pub async fn flush(&self, timeout: Duration) -> Result<(), BusError> {
        let inner = self.inner.clone();
        match tokio::task::spawn_blocking(move || inner.flush(Timeout::After(timeout))).await {
            Ok(result) => Ok(result?),
            Err(e) => {
                tracing::error!(error = %e, "producer flush task failed");
                Err(BusError::Kafka(rdkafka::error::KafkaError::Flush(
                    rdkafka::types::RDKafkaErrorCode::Fail,
                )))
            }
        }
    }
}

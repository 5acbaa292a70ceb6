//! Kafka producer, consumer runner, transactional outbox and relay, DLQ and
//! CloudEvents: the messaging layer every service shares.
//!
//! - [`batch`]: group commit, applying what handlers queued as one set.
//! - [`cloudevents`]: CloudEvents 1.0 in Kafka binary mode (and structured
//!   mode on input).
//! - [`producer`]: `acks=all` producer whose `send` returns after the broker
//!   acknowledged.
//! - [`outbox`] and [`relay`]: events written in the caller's transaction,
//!   published afterwards; nothing accepted is lost.
//! - [`consumer`]: at-least-once consumption with offsets stored after
//!   durable work, retries, DLQ and a DLQ rate guard.
//! - [`processed`]: exactly-once effects on at-least-once delivery.
//! - [`dead_letters`]: listing and replay of dead letters.
//! - [`topics`]: creating the suite's topics, deleting a prefix's topics and groups.

pub mod batch;
pub mod cloudevents;
pub mod consumer;
pub mod dead_letters;
mod error;
mod headers;
mod metric_names;
pub mod outbox;
pub mod processed;
pub mod producer;
pub mod relay;
pub mod topics;
mod trace;

pub use cloudevents::CloudEvent;
pub use consumer::{ConsumerHealth, ConsumerRunner, ConsumerStatus, Handler, HandlerError, Record};
pub use error::{BusError, CloudEventError, ConsumerError};
pub use headers::HeaderList;
pub use outbox::OutboxMessage;
pub use producer::{Delivery, OutgoingRecord, Producer};
pub use relay::Relay;
pub use topics::{delete_prefixed, dlq_topic, ensure_topics, EnsureReport, PurgeReport, TopicSpec};
pub use trace::{continue_trace, continue_trace_linked, current_traceparent, TRACEPARENT};

//! What a service implements to consume records.

use std::future::Future;
use std::sync::Arc;

use crate::error::BusError;

use super::Record;

/// Handles one record. Implement it with a plain `async fn`:
///
/// ```
/// use suite_bus::{Handler, HandlerError, Record};
///
/// struct Printer;
///
/// impl Handler for Printer {
///     async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
///         let event = record
///             .cloud_event()
///             .map_err(|e| HandlerError::permanent("invalid_event", e))?;
///         println!("{} at {}@{}", event.type_, record.partition, record.offset);
///         Ok(())
///     }
/// }
/// ```
///
/// Return `Ok` only after the effects are durable (the handler commits its
/// own Postgres transaction, recording the event id with
/// [`processed::first_time`](crate::processed::first_time) in it). The same
/// record may be handled more than once. Records with the same key are handled
/// one at a time in offset order; records of one partition with different
/// keys (or none) are handled concurrently, up to
/// `consumer.max_in_flight_per_partition`, and at most `consumer.max_in_flight`
/// records of the consumer at once (see [`Handler::connection_per_record`]).
pub trait Handler: Send + Sync + 'static {
    /// Processes `record`.
    fn handle(&self, record: &Record) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Whether records with the same key are handled one at a time in offset
    /// order (the default). A handler whose effects commute (counters deduped
    /// by event id, say) returns `false`, and a partition's records are then
    /// handled concurrently up to the in-flight bound whatever their keys.
    fn ordered_by_key(&self) -> bool {
        true
    }

    /// Whether each record in flight holds a database connection of its own
    /// (the default), so that `consumer.max_in_flight` bounds them to leave
    /// the rest of the pool to HTTP requests. A handler that hands records to
    /// one shared writer (a batcher committing many in one transaction)
    /// returns `false`: its records in flight are what fills a batch, and only
    /// the per-partition bound applies.
    fn connection_per_record(&self) -> bool {
        true
    }
}

impl<T: Handler> Handler for Arc<T> {
    fn handle(&self, record: &Record) -> impl Future<Output = Result<(), HandlerError>> + Send {
        T::handle(self, record)
    }

    fn ordered_by_key(&self) -> bool {
        T::ordered_by_key(self)
    }

    fn connection_per_record(&self) -> bool {
        T::connection_per_record(self)
    }
}

/// How a handler failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Retrying later may succeed (database or downstream unavailable); the
    /// record is retried with backoff, then dead-lettered.
    #[error("transient failure: {0}")]
    Transient(String),
    /// Retrying cannot succeed (malformed record, rejected by validation);
    /// the record is dead-lettered at once.
    #[error("permanent failure ({class}): {message}")]
    Permanent {
        /// Stable error class, e.g. `invalid_payload`; goes to `dlq_error_class`.
        class: String,
        /// Human-readable detail; goes to `dlq_error_message`.
        message: String,
    },
}

impl HandlerError {
    /// A transient failure from any error.
    pub fn transient(error: impl std::fmt::Display) -> Self {
        Self::Transient(error.to_string())
    }

    /// A permanent failure of class `class`.
    pub fn permanent(class: impl Into<String>, error: impl std::fmt::Display) -> Self {
        Self::Permanent {
            class: class.into(),
            message: error.to_string(),
        }
    }
}

impl From<BusError> for HandlerError {
    fn from(e: BusError) -> Self {
        if e.is_transient() {
            Self::Transient(e.to_string())
        } else {
            Self::permanent(e.class(), e)
        }
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        BusError::from(e).into()
    }
}

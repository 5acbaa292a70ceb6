//! The service's error type, mapped once to HTTP problems and to consumer
//! failure classes.

use std::time::Duration;

use suite_bus::{BusError, HandlerError};
use suite_http::ApiError;

/// A failure below the API and the consumer: Postgres or the outbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Enqueueing an event failed.
    #[error(transparent)]
    Bus(#[from] BusError),
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Db(e) => ApiError::from(e),
            Error::Bus(e) if e.is_transient() => ApiError::Unavailable {
                reason: "event store busy",
                retry_after: Duration::from_secs(1),
            },
            Error::Bus(e) => ApiError::internal(e),
        }
    }
}

impl From<Error> for HandlerError {
    fn from(err: Error) -> Self {
        match err {
            Error::Db(e) => HandlerError::from(e),
            Error::Bus(e) => HandlerError::from(e),
        }
    }
}

//! The service's error type, mapped once to HTTP problems and to consumer
//! outcomes.

use suite_bus::{BusError, HandlerError};
use suite_http::ApiError;

use crate::outreach::CapError;

/// What can go wrong in engagement's own code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Postgres.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Redis (caps, memory).
    #[error("redis: {0}")]
    Store(#[from] suite_store::StoreError),
    /// The outbox.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
    /// A statement or call shared by a batch failed: every item of the batch
    /// reports it (transient; the items are tried again).
    #[error("batch: {0}")]
    Batch(String),
    /// A stored value that cannot be read back (a bug or a manual edit).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

impl From<CapError> for Error {
    fn from(e: CapError) -> Self {
        match e {
            CapError::Store(s) => Self::Store(s),
        }
    }
}

impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Self {
        Self::Store(e.into())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::Corrupt(e.to_string())
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            // The outbox's query too: a lost connection is a 503, not a 500.
            Error::Db(db) | Error::Bus(BusError::Database(db)) => db.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<Error> for HandlerError {
    fn from(e: Error) -> Self {
        match e {
            Error::Db(db) => db.into(),
            Error::Bus(bus) => bus.into(),
            Error::Store(s) => HandlerError::transient(s),
            Error::Batch(m) => HandlerError::transient(m),
            Error::Corrupt(m) => HandlerError::permanent("corrupt_value", m),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn status(err: Error) -> StatusCode {
        ApiError::from(err).parts().0
    }

    #[test]
    fn a_lost_connection_is_a_503_also_from_the_outbox_and_a_corrupt_value_is_a_500() {
        let reset = || std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        assert_eq!(
            status(Error::Db(sqlx::Error::Io(reset()))),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let outbox = BusError::Database(sqlx::Error::Io(reset()));
        assert_eq!(status(Error::Bus(outbox)), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            status(Error::Corrupt("not json".into())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}

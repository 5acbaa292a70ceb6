//! The crate's error type.

use std::time::Duration;

/// Errors of the store layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A setting cannot be used (bad URL, bad key prefix, …).
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// Postgres returned an error or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A Redis command failed.
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    /// No pooled Redis connection could be obtained.
    #[error("redis pool error: {0}")]
    RedisPool(#[from] deadpool_redis::cluster::PoolError),
    /// Redis is considered down after a recent connection failure; retried after a short back-off.
    #[error("redis unavailable (recent connection failure)")]
    RedisUnavailable,
    /// An operation did not finish within its deadline.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// What timed out.
        operation: &'static str,
        /// The deadline that passed.
        after: Duration,
    },
    /// A value could not be encoded or decoded as JSON.
    #[error("serialization error: {0}")]
    Serde(#[from] serde_json::Error),
    /// Postgres returned a value that could not be interpreted (e.g. a malformed LSN).
    #[error("unexpected value from the database: {0}")]
    Unexpected(String),
}

/// Result alias of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

//! The error of the lead write path, mapped once to HTTP problems.

use suite_bus::BusError;
use suite_http::ApiError;

/// A failure of the write path: Postgres, or the bus's tables (outbox,
/// `processed_events`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Enqueueing events or recording processed events failed.
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// A query failure maps as every query failure does, also when it was the
/// bus's query (a lost connection or a pool timeout is a 503); any other bus
/// failure is a 500. The `leads.inbound` consumer retries any failure of the
/// group commit ([`crate::intake`]), whatever its class.
impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Db(e) | Error::Bus(BusError::Database(e)) => ApiError::from(e),
            Error::Bus(e) => ApiError::internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn status(err: Error) -> StatusCode {
        ApiError::from(err).parts().0
    }

    #[test]
    fn a_query_failure_maps_as_any_query_failure_and_another_bus_failure_is_a_500() {
        assert_eq!(
            status(Error::Db(sqlx::Error::PoolTimedOut)),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(Error::Db(sqlx::Error::RowNotFound)),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let bus = BusError::Database(sqlx::Error::PoolTimedOut);
        assert_eq!(status(Error::Bus(bus)), StatusCode::SERVICE_UNAVAILABLE);
        let bus = BusError::StoredHeaders("not an object".into());
        assert_eq!(status(Error::Bus(bus)), StatusCode::INTERNAL_SERVER_ERROR);
    }
}

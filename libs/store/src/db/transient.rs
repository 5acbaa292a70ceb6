//! Which Postgres failures are worth trying again: the database was briefly
//! unreachable, restarting or busy, not wrong about the request.

/// True when the same statement may succeed later: the connection was lost
/// or refused (I/O, protocol, SQLSTATE class 08), the server is shutting down
/// or starting (57P01–57P03), it has no connection slot free (53300), the
/// pool had no connection in time or is closed, or the transaction lost a
/// serialization race or a deadlock (40001, 40P01).
///
/// HTTP answers these with 503 and `Retry-After`; consumers retry them
/// instead of dead-lettering the record.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            code.starts_with("08")
                || matches!(
                    code,
                    "40001" | "40P01" | "57P01" | "57P02" | "57P03" | "53300"
                )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_and_pool_timeouts_are_transient_and_a_missing_row_is_not() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        assert!(is_transient(&sqlx::Error::Io(reset)));
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::PoolClosed));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::ColumnNotFound("id".into())));
    }
}

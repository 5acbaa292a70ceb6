//! Metric names this crate emits, from the shared definitions.

pub(crate) use suite_telemetry::names::{
    CACHE_REDIS_ERRORS as CACHE_REDIS_ERRORS_TOTAL, CACHE_REQUESTS as CACHE_REQUESTS_TOTAL,
    DB_READS as DB_READS_TOTAL, REPLICA_HEALTHY as DB_REPLICA_HEALTHY,
    REPLICA_LAG as DB_REPLICA_LAG_BYTES,
};

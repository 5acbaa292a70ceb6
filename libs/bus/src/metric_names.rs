//! Metric names used by the bus: those of `suite_telemetry::names`, under
//! the names this crate's code uses.

/// Counter, labels `agent_type`, `error_type`.
pub(crate) use suite_telemetry::names::AGENT_ERRORS as AGENT_ERRORS_TOTAL;
/// Gauge, label `agent_type`: records received and not yet finished by a consumer.
pub(crate) use suite_telemetry::names::AGENT_QUEUE_LENGTH;
/// Histogram, labels `agent_type`, `method` (`consume <topic>` for records).
pub(crate) use suite_telemetry::names::AGENT_REQUEST_DURATION;
/// Counter, label `topic` (the source topic).
pub(crate) use suite_telemetry::names::DEAD_LETTERS as DEAD_LETTERS_TOTAL;
/// Counter, labels `topic`, `outcome` (`ok`, `retried`, `dead_lettered`).
pub(crate) use suite_telemetry::names::KAFKA_CONSUMED as KAFKA_RECORDS_CONSUMED_TOTAL;
/// Counter, label `topic`.
pub(crate) use suite_telemetry::names::KAFKA_PRODUCED as KAFKA_RECORDS_PRODUCED_TOTAL;
/// Gauge: outbox rows waiting to be relayed.
pub(crate) use suite_telemetry::names::OUTBOX_BACKLOG;

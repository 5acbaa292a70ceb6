//! Dead-lettering: the original record goes to `<topic>.dlq` with provenance
//! headers and into the `dead_letters` table; a sliding-window rate guard
//! stops the consumer instead of dead-lettering everything after a bad deploy.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use sqlx::PgPool;

use crate::error::BusError;
use crate::headers;
use crate::metric_names::{DEAD_LETTERS_TOTAL, KAFKA_RECORDS_CONSUMED_TOTAL};
use crate::producer::{OutgoingRecord, Producer};
use crate::topics::dlq_topic;

use super::Record;

/// Names of the provenance headers added to dead-lettered records.
pub mod header {
    /// Topic the record was consumed from.
    pub const ORIGINAL_TOPIC: &str = "dlq_original_topic";
    /// Its partition (decimal).
    pub const ORIGINAL_PARTITION: &str = "dlq_original_partition";
    /// Its offset (decimal).
    pub const ORIGINAL_OFFSET: &str = "dlq_original_offset";
    /// Error class (`transient_exhausted` or the handler's permanent class).
    pub const ERROR_CLASS: &str = "dlq_error_class";
    /// Error message (at most 1 KiB).
    pub const ERROR_MESSAGE: &str = "dlq_error_message";
    /// Consumer group that gave up.
    pub const CONSUMER_GROUP: &str = "dlq_consumer_group";
    /// RFC 3339 time of dead-lettering.
    pub const FAILED_AT: &str = "dlq_failed_at";
}

/// Longest error message put in a header.
const HEADER_MESSAGE_MAX: usize = 1024;
/// Longest error message stored in the table.
const STORED_MESSAGE_MAX: usize = 16 * 1024;

/// Allows at most `limit` dead letters within any sliding minute.
#[derive(Debug)]
pub(crate) struct DlqGuard {
    limit: u32,
    window: Duration,
    recent: Mutex<VecDeque<Instant>>,
}

impl DlqGuard {
    pub(crate) fn new(limit: u32) -> Self {
        Self {
            limit,
            window: Duration::from_secs(60),
            recent: Mutex::new(VecDeque::new()),
        }
    }

    /// Reserves one dead letter; `false` when the limit is reached.
    pub(crate) fn try_acquire(&self) -> bool {
        let now = Instant::now();
        let mut recent = match self.recent.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        while recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            recent.pop_front();
        }
        if recent.len() >= self.limit as usize {
            return false;
        }
        recent.push_back(now);
        true
    }
}

/// Why a record is dead-lettered.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) class: String,
    pub(crate) message: String,
}

/// Publishes `record` to its DLQ topic and records it in `dead_letters`.
/// Idempotent per (group, topic, partition, offset) in the table.
pub(crate) async fn dead_letter(
    producer: &Producer,
    pool: &PgPool,
    group: &str,
    record: &Record,
    failure: &Failure,
) -> Result<(), BusError> {
    let mut dlq_headers = record.headers.clone();
    for (name, value) in [
        (header::ORIGINAL_TOPIC, record.topic.clone()),
        (header::ORIGINAL_PARTITION, record.partition.to_string()),
        (header::ORIGINAL_OFFSET, record.offset.to_string()),
        (header::ERROR_CLASS, failure.class.clone()),
        (
            header::ERROR_MESSAGE,
            truncate(&failure.message, HEADER_MESSAGE_MAX).to_owned(),
        ),
        (header::CONSUMER_GROUP, group.to_owned()),
        (
            header::FAILED_AT,
            Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        ),
    ] {
        headers::set(&mut dlq_headers, name, value.into_bytes());
    }
    producer
        .send(OutgoingRecord {
            topic: dlq_topic(&record.topic),
            key: record.key.clone(),
            payload: record.body().to_vec(),
            headers: dlq_headers,
        })
        .await?;
    sqlx::query(
        r#"INSERT INTO dead_letters
             (consumer, topic, "partition", "offset", key, payload, headers, error_class, error_message)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)
           ON CONFLICT (consumer, topic, "partition", "offset") DO NOTHING"#,
    )
    .bind(group)
    .bind(&record.topic)
    .bind(record.partition)
    .bind(record.offset)
    .bind(&record.key)
    .bind(&record.payload)
    .bind(headers::to_json(&record.headers).to_string())
    .bind(&failure.class)
    .bind(truncate(&failure.message, STORED_MESSAGE_MAX))
    .execute(pool)
    .await?;
    metrics::counter!(DEAD_LETTERS_TOTAL, "topic" => record.topic.clone()).increment(1);
    metrics::counter!(
        KAFKA_RECORDS_CONSUMED_TOTAL,
        "topic" => record.topic.clone(),
        "outcome" => "dead_lettered"
    )
    .increment(1);
    tracing::warn!(
        topic = %record.topic,
        partition = record.partition,
        offset = record.offset,
        error_class = %failure.class,
        "record dead-lettered"
    );
    Ok(())
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_allows_the_limit_then_refuses() {
        let guard = DlqGuard::new(3);
        assert!(guard.try_acquire());
        assert!(guard.try_acquire());
        assert!(guard.try_acquire());
        assert!(!guard.try_acquire());
    }

    #[test]
    fn guard_window_slides() {
        let guard = DlqGuard {
            limit: 1,
            window: Duration::from_millis(20),
            recent: Mutex::new(VecDeque::new()),
        };
        assert!(guard.try_acquire());
        assert!(!guard.try_acquire());
        std::thread::sleep(Duration::from_millis(30));
        assert!(guard.try_acquire());
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}

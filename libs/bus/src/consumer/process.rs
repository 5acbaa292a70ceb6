//! Handling of one record: a span parented on the record's trace context,
//! retries of transient failures, dead-lettering of the rest.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::error::ConsumerError;
use crate::metric_names::{
    AGENT_ERRORS_TOTAL, AGENT_REQUEST_DURATION, KAFKA_RECORDS_CONSUMED_TOTAL,
};
use crate::producer::Producer;
use crate::trace;

use super::dlq::{self, DlqGuard, Failure};
use super::retry::backoff;
use super::{Handler, HandlerError, Record};

/// Attempts at dead-lettering one record before the consumer stops.
const DEAD_LETTER_ATTEMPTS: u32 = 3;

/// Everything record tasks share.
pub(crate) struct Shared<H> {
    pub(crate) handler: H,
    pub(crate) producer: Producer,
    pub(crate) pool: PgPool,
    pub(crate) group: String,
    pub(crate) service: String,
    pub(crate) retry_attempts: u32,
    pub(crate) retry_base: Duration,
    pub(crate) dlq_limit: u32,
    pub(crate) guard: DlqGuard,
    /// Cancelled when the runner stops: retry waits end early.
    pub(crate) stopping: CancellationToken,
}

/// How handling of one record ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Handled or dead-lettered: its offset may be committed.
    Finished,
    /// Given up without finishing (runner stopping): it will be redelivered.
    Abandoned,
    /// The runner must stop; the record was not finished.
    Fatal(ConsumerError),
}

/// Handles `record` to completion.
pub(crate) async fn process<H: Handler>(shared: Arc<Shared<H>>, record: Record) -> Outcome {
    let span = tracing::info_span!(
        "kafka.consume",
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.destination.name = %record.topic,
        messaging.kafka.partition = record.partition,
        messaging.kafka.offset = record.offset,
        messaging.consumer.group.name = %shared.group,
        messaging.message.id = record.header_str(crate::cloudevents::header::ID).unwrap_or(""),
        correlation_id = record.header_str(crate::cloudevents::header::CORRELATION_ID).unwrap_or(""),
    );
    span.set_parent(trace::extract(&record.headers));
    let started = std::time::Instant::now();
    let outcome = run(&shared, &record).instrument(span.clone()).await;
    span.in_scope(|| tracing::debug!(outcome = ?outcome, "record handled"));
    metrics::histogram!(
        AGENT_REQUEST_DURATION,
        "agent_type" => shared.service.clone(),
        "method" => format!("consume {}", record.topic)
    )
    .record(started.elapsed().as_secs_f64());
    outcome
}

async fn run<H: Handler>(shared: &Shared<H>, record: &Record) -> Outcome {
    let attempts = shared.retry_attempts.max(1);
    let mut attempt = 1;
    let failure = loop {
        let result = AssertUnwindSafe(shared.handler.handle(record))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(HandlerError::permanent("panic", panic_message(&panic))));
        match result {
            Ok(()) => {
                count_consumed(record, "ok");
                return Outcome::Finished;
            }
            Err(HandlerError::Permanent { class, message }) => {
                count_error(shared, "permanent");
                tracing::warn!(error_class = %class, error = %message, "permanent handler failure");
                break Failure { class, message };
            }
            Err(HandlerError::Transient(message)) => {
                count_error(shared, "transient");
                if attempt >= attempts {
                    tracing::warn!(attempt, error = %message, "transient failure, retries exhausted");
                    break Failure {
                        class: "transient_exhausted".into(),
                        message,
                    };
                }
                let delay = backoff(shared.retry_base, attempt);
                tracing::info!(attempt, retry_in_ms = delay.as_millis() as u64, error = %message, "transient failure, retrying");
                count_consumed(record, "retried");
                tokio::select! {
                    () = shared.stopping.cancelled() => return Outcome::Abandoned,
                    () = tokio::time::sleep(delay) => {}
                }
                attempt += 1;
            }
        }
    };
    dead_letter(shared, record, &failure).await
}

async fn dead_letter<H>(shared: &Shared<H>, record: &Record, failure: &Failure) -> Outcome {
    if !shared.guard.try_acquire() {
        tracing::error!(
            limit = shared.dlq_limit,
            "dead-letter rate guard tripped, stopping the consumer"
        );
        count_error(shared, "dlq_rate_exceeded");
        return Outcome::Fatal(ConsumerError::DlqRateExceeded {
            limit: shared.dlq_limit,
        });
    }
    let mut attempt = 1;
    loop {
        match dlq::dead_letter(
            &shared.producer,
            &shared.pool,
            &shared.group,
            record,
            failure,
        )
        .await
        {
            Ok(()) => return Outcome::Finished,
            Err(e) if attempt < DEAD_LETTER_ATTEMPTS && e.is_transient() => {
                tracing::warn!(error = %e, attempt, "dead-lettering failed, retrying");
                tokio::select! {
                    () = shared.stopping.cancelled() => return Outcome::Abandoned,
                    () = tokio::time::sleep(backoff(shared.retry_base, attempt)) => {}
                }
                attempt += 1;
            }
            Err(source) => {
                count_error(shared, "dead_letter_failed");
                return Outcome::Fatal(ConsumerError::DeadLetterFailed {
                    topic: record.topic.clone(),
                    partition: record.partition,
                    offset: record.offset,
                    source: Box::new(source),
                });
            }
        }
    }
}

fn count_consumed(record: &Record, outcome: &'static str) {
    metrics::counter!(
        KAFKA_RECORDS_CONSUMED_TOTAL,
        "topic" => record.topic.clone(),
        "outcome" => outcome
    )
    .increment(1);
}

fn count_error<H>(shared: &Shared<H>, error_type: &'static str) {
    metrics::counter!(
        AGENT_ERRORS_TOTAL,
        "agent_type" => shared.service.clone(),
        "error_type" => error_type
    )
    .increment(1);
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "handler panicked".to_owned())
}

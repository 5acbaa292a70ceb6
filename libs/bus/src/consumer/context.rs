//! The rdkafka consumer context: on revoke, the runner drains the revoked
//! partitions and stores their offsets, then the context commits
//! synchronously before the partitions are given up (the broker may lose
//! commits that are in flight during a rebalance).

use std::sync::mpsc::{sync_channel, SyncSender};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::TopicPartitionList;
use tokio::sync::mpsc::UnboundedSender;

/// A (topic, partition) pair.
pub(crate) type PartitionKey = (String, i32);

/// Requests from the poll thread to the runner.
pub(crate) enum Control {
    /// Stop these partitions, finish their in-flight records (bounded), store
    /// their offsets, then signal `done`.
    Revoke {
        partitions: Vec<PartitionKey>,
        done: SyncSender<()>,
    },
}

/// Consumer context of a runner.
pub(crate) struct RunnerContext {
    pub(crate) control: UnboundedSender<Control>,
    /// How long a revoke waits for the runner to drain.
    pub(crate) drain_timeout: Duration,
}

impl ClientContext for RunnerContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", fac, "{log_message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{log_message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, "{log_message}");
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{log_message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(target: "librdkafka", %error, reason, "kafka client error");
    }
}

impl ConsumerContext for RunnerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => {
                let partitions = keys(tpl);
                tracing::info!(?partitions, "partitions revoked: draining");
                let (done, wait) = sync_channel(1);
                if self
                    .control
                    .send(Control::Revoke { partitions, done })
                    .is_ok()
                    && wait.recv_timeout(self.drain_timeout).is_err()
                {
                    tracing::warn!("revoked partitions not fully drained in time; their unfinished records will be redelivered");
                }
                commit_stored(consumer);
            }
            Rebalance::Assign(tpl) => {
                tracing::info!(partitions = ?keys(tpl), "partitions assigned");
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance error"),
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => tracing::debug!(?offsets, "offsets committed"),
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => tracing::warn!(error = %e, "offset commit failed"),
        }
    }
}

fn keys(tpl: &TopicPartitionList) -> Vec<PartitionKey> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

/// Commits the stored offsets synchronously; "nothing to commit" is fine.
pub(crate) fn commit_stored(consumer: &BaseConsumer<RunnerContext>) {
    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => tracing::warn!(error = %e, "synchronous offset commit failed"),
    }
}

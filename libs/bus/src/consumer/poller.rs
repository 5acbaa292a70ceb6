//! The thread that polls the consumer. Polling runs the rebalance callbacks,
//! which block while the runner drains revoked partitions, so it lives on its
//! own OS thread rather than on the async runtime.

use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::consumer::BaseConsumer;
use tokio::sync::mpsc::Sender;

use crate::error::ConsumerError;

use super::context::{commit_stored, RunnerContext};
use super::Record;

const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// Handle of the running poll thread.
pub(crate) struct Poller {
    thread: JoinHandle<()>,
    finish: mpsc::Sender<()>,
}

/// Starts polling `consumer`, forwarding records to `records`. When
/// `records` is closed the thread stops polling and waits for
/// [`Poller::finish`].
pub(crate) fn spawn(
    consumer: Arc<BaseConsumer<RunnerContext>>,
    records: Sender<Record>,
) -> Result<Poller, ConsumerError> {
    let (finish, finish_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("kafka-poll".into())
        .spawn(move || poll_loop(consumer, records, finish_rx))
        .map_err(|e| ConsumerError::PollThread(e.to_string()))?;
    Ok(Poller { thread, finish })
}

fn poll_loop(
    consumer: Arc<BaseConsumer<RunnerContext>>,
    records: Sender<Record>,
    finish: mpsc::Receiver<()>,
) {
    loop {
        match finish.try_recv() {
            Ok(()) | Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {}
        }
        if records.is_closed() {
            // The runner is draining: stop fetching, wait to be finished.
            match finish.recv_timeout(POLL_TIMEOUT) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => continue,
            }
        }
        match consumer.poll(POLL_TIMEOUT) {
            None => {}
            Some(Ok(message)) => {
                let record = Record::from_message(&message);
                drop(message);
                // Blocks while the runner's buffer is full (backpressure).
                let _ = records.blocking_send(record);
            }
            Some(Err(e)) => tracing::warn!(error = %e, "kafka consumer poll error"),
        }
    }
    commit_stored(&consumer);
    // Last reference: dropping closes the consumer (leaves the group).
    drop(consumer);
}

impl Poller {
    /// Makes the thread commit the stored offsets, close the consumer and
    /// exit; waits for it at most `timeout`.
    pub(crate) async fn finish(self, timeout: Duration) -> Result<(), ConsumerError> {
        let _ = self.finish.send(());
        let thread = self.thread;
        let join = tokio::task::spawn_blocking(move || thread.join());
        match tokio::time::timeout(timeout, join).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(_))) => Err(ConsumerError::PollThread("poll thread panicked".into())),
            Ok(Err(e)) => Err(ConsumerError::PollThread(e.to_string())),
            Err(_) => {
                tracing::warn!("kafka consumer did not close in time");
                Ok(())
            }
        }
    }
}

//! The runner's event loop: dispatches records to handler tasks with bounded
//! concurrency per partition and over the whole consumer, stores each
//! partition's watermark as records finish, and drains on revoke, shutdown or
//! a fatal error.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::BaseConsumer;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::ConsumerError;
use crate::metric_names::AGENT_QUEUE_LENGTH;

use super::context::{Control, PartitionKey, RunnerContext};
use super::partition::PartitionState;
use super::process::{process, Outcome, Shared};
use super::{Handler, Record};

/// Result of one record task: partition, assignment generation, offset, outcome.
type Done = (PartitionKey, u64, i64, Outcome);

/// The runner's event loop state.
pub(crate) struct Dispatcher<H: Handler> {
    consumer: Arc<BaseConsumer<RunnerContext>>,
    shared: Arc<Shared<H>>,
    max_in_flight: usize,
    /// Records in flight over all partitions at most.
    max_total: usize,
    /// The partition that last got a place in [`Dispatcher::dispatch_all`]:
    /// the next round starts after it, so partitions take turns at places
    /// that free up.
    last_served: Option<PartitionKey>,
    drain_timeout: Duration,
    partitions: HashMap<PartitionKey, PartitionState>,
    tasks: JoinSet<Done>,
    next_generation: u64,
    /// This runner's last contribution to the queue-length gauge.
    reported_queue_length: f64,
    fatal: Option<ConsumerError>,
    records: mpsc::Receiver<Record>,
    control: mpsc::UnboundedReceiver<Control>,
}

impl<H: Handler> Dispatcher<H> {
    pub(crate) fn new(
        consumer: Arc<BaseConsumer<RunnerContext>>,
        shared: Arc<Shared<H>>,
        max_in_flight: usize,
        max_total: usize,
        drain_timeout: Duration,
        records: mpsc::Receiver<Record>,
        control: mpsc::UnboundedReceiver<Control>,
    ) -> Self {
        Self {
            consumer,
            shared,
            max_in_flight,
            max_total,
            last_served: None,
            drain_timeout,
            partitions: HashMap::new(),
            tasks: JoinSet::new(),
            next_generation: 0,
            reported_queue_length: 0.0,
            fatal: None,
            records,
            control,
        }
    }

    /// The fatal error that ended consumption, if any.
    pub(crate) fn into_fatal(self) -> Option<ConsumerError> {
        self.fatal
    }

    /// Runs until shutdown or a fatal error. Finished work is handled before
    /// new records are taken.
    pub(crate) async fn consume(&mut self, shutdown: &CancellationToken) {
        while self.fatal.is_none() {
            tokio::select! {
                biased;
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => self.on_done(done),
                Some(control) = self.control.recv() => self.on_control(control).await,
                () = shutdown.cancelled() => return,
                // Backpressure: past the bound, records stay in the channel and
                // the poll thread waits to hand over the next one, so the
                // client's prefetch (bounded by queued.max.messages.kbytes)
                // fills and fetching stops by itself. librdkafka's
                // pause/resume is not used: cycled as often as a busy partition
                // needs it, it can leave a partition paused for good
                // (confluentinc/librdkafka#5591, #5111), and did so here.
                record = self.records.recv(), if self.queued() < self.max_queued() => match record {
                    Some(record) => self.on_record(record),
                    None => {
                        self.fatal = Some(ConsumerError::PollThread("poll thread stopped".into()));
                    }
                },
            }
        }
    }

    fn on_record(&mut self, record: Record) {
        let key = (record.topic.clone(), record.partition);
        let generation = &mut self.next_generation;
        self.partitions
            .entry(key.clone())
            .or_insert_with(|| {
                *generation += 1;
                PartitionState::new(*generation)
            })
            .receive(record);
        self.dispatch(&key);
    }

    /// Records received and not started, over all partitions.
    fn queued(&self) -> usize {
        self.partitions.values().map(PartitionState::queued).sum()
    }

    /// Most records held waiting to start before the runner stops taking
    /// more: enough to keep the in-flight bounds busy.
    fn max_queued(&self) -> usize {
        self.max_in_flight
            .min(self.max_total)
            .saturating_mul(4)
            .max(64)
    }

    /// Starts queued records of `key` up to both in-flight bounds.
    fn dispatch(&mut self, key: &PartitionKey) {
        let Some(state) = self.partitions.get_mut(key) else {
            return;
        };
        let ordered = self.shared.handler.ordered_by_key();
        while self.tasks.len() < self.max_total {
            let Some(record) = state.next_ready(self.max_in_flight, ordered) else {
                break;
            };
            start(&mut self.tasks, &self.shared, key, state.generation, record);
        }
        self.report_queue_length();
    }

    /// Fills the places free under the consumer's bound from every partition,
    /// one record per partition in turn, so a partition with a backlog cannot
    /// keep the places its finished records leave.
    fn dispatch_all(&mut self) {
        let mut keys: Vec<PartitionKey> = self.partitions.keys().cloned().collect();
        if keys.is_empty() {
            self.report_queue_length();
            return;
        }
        keys.sort_unstable();
        let first = self
            .last_served
            .as_ref()
            .map_or(0, |last| keys.partition_point(|k| k <= last) % keys.len());
        keys.rotate_left(first);
        let ordered = self.shared.handler.ordered_by_key();
        let mut started = true;
        while started {
            started = false;
            for key in &keys {
                if self.tasks.len() >= self.max_total {
                    break;
                }
                let Some(state) = self.partitions.get_mut(key) else {
                    continue;
                };
                let Some(record) = state.next_ready(self.max_in_flight, ordered) else {
                    continue;
                };
                start(&mut self.tasks, &self.shared, key, state.generation, record);
                self.last_served = Some(key.clone());
                started = true;
            }
        }
        self.report_queue_length();
    }

    fn on_done(&mut self, done: Result<Done, tokio::task::JoinError>) {
        let (key, generation, offset, outcome) = match done {
            Ok(done) => done,
            Err(e) if e.is_cancelled() => return,
            Err(e) => {
                self.fatal_once(ConsumerError::PollThread(format!(
                    "record task failed: {e}"
                )));
                return;
            }
        };
        let Some(state) = self
            .partitions
            .get_mut(&key)
            .filter(|s| s.generation == generation)
        else {
            // From a revoked assignment (it will be redelivered); its place is free.
            self.refill();
            return;
        };
        match outcome {
            Outcome::Finished => state.finish(offset),
            Outcome::Abandoned => state.abandon(offset),
            Outcome::Fatal(e) => {
                state.abandon(offset);
                self.fatal_once(e);
            }
        }
        self.store(&key);
        self.refill();
    }

    /// Fills the places a finished record left, unless the runner is stopping.
    fn refill(&mut self) {
        if self.fatal.is_none() && !self.shared.stopping.is_cancelled() {
            self.dispatch_all();
        } else {
            self.report_queue_length();
        }
    }

    fn fatal_once(&mut self, e: ConsumerError) {
        if self.fatal.is_none() {
            self.fatal = Some(e);
        } else {
            tracing::warn!(error = %e, "further fatal consumer error");
        }
    }

    /// Hands the partition's watermark to the client's offset store (committed
    /// by the auto-commit timer, and synchronously on revoke and shutdown).
    fn store(&mut self, key: &PartitionKey) {
        let Some(watermark) = self
            .partitions
            .get_mut(key)
            .and_then(|s| s.take_new_watermark())
        else {
            return;
        };
        if let Err(e) = rdkafka::consumer::Consumer::store_offsets(
            &*self.consumer,
            &single(key, Offset::Offset(watermark)),
        ) {
            tracing::debug!(error = %e, ?key, watermark, "storing offset failed");
        }
    }

    /// A revoke: drop records not started, finish in-flight ones of the
    /// revoked partitions (bounded), store, forget them, and release the
    /// poll thread (which then commits synchronously).
    async fn on_control(&mut self, control: Control) {
        let Control::Revoke { partitions, done } = control;
        let revoked: HashSet<PartitionKey> = partitions.into_iter().collect();
        // The poll thread is blocked in the callback, so what is buffered is
        // everything polled before the revoke.
        while let Ok(record) = self.records.try_recv() {
            if !revoked.contains(&(record.topic.clone(), record.partition)) {
                self.on_record(record);
            }
        }
        for key in &revoked {
            if let Some(state) = self.partitions.get_mut(key) {
                state.clear_queue();
            }
        }
        let busy = |d: &Self| {
            revoked
                .iter()
                .any(|k| d.partitions.get(k).is_some_and(|s| s.in_flight() > 0))
        };
        let deadline = Instant::now() + self.drain_timeout.mul_f32(0.9);
        while busy(self) && !self.tasks.is_empty() {
            tokio::select! {
                Some(r) = self.tasks.join_next() => self.on_done(r),
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        for key in &revoked {
            self.store(key);
            self.partitions.remove(key);
        }
        self.report_queue_length();
        let _ = done.send(());
    }

    /// Stops taking records, lets in-flight ones finish (bounded), stores the
    /// final watermarks and releases any pending revoke.
    pub(crate) async fn drain(&mut self) {
        self.records.close();
        self.shared.stopping.cancel();
        for state in self.partitions.values_mut() {
            state.clear_queue();
        }
        let deadline = Instant::now() + self.drain_timeout;
        let mut pending = Vec::new();
        while !self.tasks.is_empty() {
            tokio::select! {
                Some(r) = self.tasks.join_next() => self.on_done(r),
                Some(Control::Revoke { done, .. }) = self.control.recv() => pending.push(done),
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(in_flight = self.tasks.len(), "drain deadline passed, abandoning in-flight records");
                    self.tasks.abort_all();
                    break;
                }
            }
        }
        let keys: Vec<PartitionKey> = self.partitions.keys().cloned().collect();
        for key in &keys {
            self.store(key);
        }
        self.control.close();
        while let Ok(Control::Revoke { done, .. }) = self.control.try_recv() {
            pending.push(done);
        }
        for done in pending {
            let _ = done.send(());
        }
        self.partitions.clear();
        self.report_queue_length();
    }

    /// Adjusts the service's queue-length gauge by this runner's change, so
    /// several runners in one process add up.
    fn report_queue_length(&mut self) {
        let n = self
            .partitions
            .values()
            .map(PartitionState::outstanding)
            .sum::<usize>() as f64;
        let delta = n - self.reported_queue_length;
        if delta != 0.0 {
            metrics::gauge!(AGENT_QUEUE_LENGTH, "agent_type" => self.shared.service.clone())
                .increment(delta);
            self.reported_queue_length = n;
        }
    }
}

/// Spawns the task handling `record` of partition `key` (assignment `generation`).
fn start<H: Handler>(
    tasks: &mut JoinSet<Done>,
    shared: &Arc<Shared<H>>,
    key: &PartitionKey,
    generation: u64,
    record: Record,
) {
    let (shared, key, offset) = (shared.clone(), key.clone(), record.offset);
    tasks.spawn(async move { (key, generation, offset, process(shared, record).await) });
}

fn single(key: &PartitionKey, offset: Offset) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    // Only fails for an invalid offset value, which callers never pass.
    let _ = tpl.add_partition_offset(&key.0, key.1, offset);
    tpl
}

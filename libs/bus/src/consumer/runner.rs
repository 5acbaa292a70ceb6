//! The consumer runner: configures the client, subscribes, starts the poll
//! thread and runs the [`Dispatcher`] until shutdown or a fatal error.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use sqlx::PgPool;
use suite_config::Settings;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::error::ConsumerError;
use crate::producer::Producer;

use super::context::RunnerContext;
use super::dispatcher::Dispatcher;
use super::dlq::DlqGuard;
use super::health::{ConsumerHealth, ConsumerStatus};
use super::process::Shared;
use super::{poller, Handler};

/// Records buffered between the poll thread and the runner.
const RECORD_BUFFER: usize = 256;

/// Consumes `topics` in the service's consumer group, handing each record to
/// a [`Handler`].
pub struct ConsumerRunner<H: Handler> {
    config: ClientConfig,
    topics: Vec<String>,
    shared: Arc<Shared<H>>,
    max_in_flight: usize,
    max_total: usize,
    drain_timeout: Duration,
    health: Arc<ConsumerHealth>,
}

impl<H: Handler> ConsumerRunner<H> {
    /// A runner for `topics` (full, prefixed names) in group
    /// `settings.group_id()`; dead letters go to `<topic>.dlq` through
    /// `producer` and to the `dead_letters` table in `pool`.
    pub fn new(
        settings: &Settings,
        topics: Vec<String>,
        handler: H,
        producer: Producer,
        pool: PgPool,
    ) -> Self {
        let k = &settings.kafka;
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &k.brokers)
            .set("group.id", settings.group_id())
            .set("client.id", &settings.service)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            .set("session.timeout.ms", k.session_timeout_ms.to_string())
            .set("fetch.wait.max.ms", k.fetch_wait_max_ms.to_string())
            // Prefetch at most 8 MiB (librdkafka's default is 64 MiB) to stay
            // within the services' memory budget.
            .set("queued.max.messages.kbytes", "8192");
        let c = &settings.consumer;
        let max_total = if handler.connection_per_record() {
            c.max_in_flight.max(1)
        } else {
            usize::MAX
        };
        Self {
            config,
            topics,
            shared: Arc::new(Shared {
                handler,
                producer,
                pool,
                group: settings.group_id().to_owned(),
                service: settings.service.clone(),
                retry_attempts: c.retry_attempts,
                retry_base: Duration::from_millis(c.retry_base_ms),
                dlq_limit: c.dlq_max_per_minute,
                guard: DlqGuard::new(c.dlq_max_per_minute),
                stopping: CancellationToken::new(),
            }),
            max_in_flight: c.max_in_flight_per_partition.max(1),
            max_total,
            // Drain well within the session timeout so the group does not
            // evict us while we finish.
            drain_timeout: Duration::from_millis(u64::from(k.session_timeout_ms) / 2),
            health: Arc::new(ConsumerHealth::default()),
        }
    }

    /// The runner's status, for readiness probes; valid after `run` returns.
    pub fn health(&self) -> Arc<ConsumerHealth> {
        self.health.clone()
    }

    /// Consumes until `shutdown` is cancelled (then drains in-flight records
    /// within half the session timeout, commits and leaves the group) or a
    /// fatal error such as [`ConsumerError::DlqRateExceeded`].
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ConsumerError> {
        let health = self.health.clone();
        let result = self.run_inner(shutdown).await;
        health.set(ConsumerStatus::Stopped {
            reason: result.as_ref().err().map(ToString::to_string),
        });
        if let Err(e) = &result {
            tracing::error!(error = %e, "consumer stopped");
        }
        result
    }

    async fn run_inner(self, shutdown: CancellationToken) -> Result<(), ConsumerError> {
        if self.topics.is_empty() {
            return Err(ConsumerError::Config("no topics to consume".into()));
        }
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let context = RunnerContext {
            control: control_tx,
            drain_timeout: self.drain_timeout,
        };
        let consumer: BaseConsumer<RunnerContext> = self.config.create_with_context(context)?;
        let topics: Vec<&str> = self.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        let consumer = Arc::new(consumer);
        let (records_tx, records_rx) = mpsc::channel(RECORD_BUFFER);
        let poller = poller::spawn(consumer.clone(), records_tx)?;
        self.health.set(ConsumerStatus::Running);
        tracing::info!(topics = ?self.topics, group = %self.shared.group, "consumer started");

        let mut dispatcher = Dispatcher::new(
            consumer,
            self.shared,
            self.max_in_flight,
            self.max_total,
            self.drain_timeout,
            records_rx,
            control_rx,
        );
        dispatcher.consume(&shutdown).await;
        self.health.set(ConsumerStatus::Draining);
        dispatcher.drain().await;
        // Drops the dispatcher's consumer handle: the poll thread's is the last.
        let fatal = dispatcher.into_fatal();
        poller.finish(self.drain_timeout).await?;
        fatal.map_or(Ok(()), Err)
    }
}

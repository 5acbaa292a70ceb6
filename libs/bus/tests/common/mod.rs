//! Helpers shared by the integration tests (real Postgres and broker).
#![allow(dead_code, missing_docs)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use suite_bus::{ConsumerError, ConsumerRunner, Handler, HandlerError, Producer, Record};
use suite_testkit::TestEnv;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Generous bound for anything involving a consumer-group join (a rebalance
/// waits for every member of the group, on a machine busy with other tests).
pub const WAIT: Duration = Duration::from_secs(60);

static TRACING: Once = Once::new();

/// Installs the W3C propagator and a subscriber with an OpenTelemetry layer
/// (SDK tracer provider, no exporter) so span contexts are real.
pub fn init_tracing() {
    TRACING.call_once(|| {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        use tracing_subscriber::Layer as _;

        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let tracer = provider.tracer("suite-bus-tests");
        opentelemetry::global::set_tracer_provider(provider);
        let fmt = tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            );
        let _ = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .with(fmt)
            .try_init();
    });
}

/// A fresh environment with `topics` (and their `.dlq`) created.
pub async fn env_with_topics(
    service: &str,
    topics: &[&str],
    partitions: i32,
) -> anyhow::Result<TestEnv> {
    init_tracing();
    let env = TestEnv::new(service).await?;
    let mut all: Vec<String> = Vec::new();
    for t in topics {
        all.push((*t).to_owned());
        all.push(format!("{t}.dlq"));
    }
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    env.create_topics(&refs, partitions)
        .await
        .context("create topics: is the broker on 127.0.0.1:9092 up?")?;
    Ok(env)
}

pub fn producer(env: &TestEnv) -> anyhow::Result<Producer> {
    Ok(Producer::new(&env.settings.kafka)?)
}

/// A record read back with a plain rdkafka consumer.
#[derive(Debug, Clone)]
pub struct Seen {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// Reads `topic` from the beginning of each of its `partitions` (no group
/// join) until `want` records were seen, then keeps reading for `linger` to
/// catch extras.
pub async fn read_topic(
    env: &TestEnv,
    topic: &str,
    partitions: i32,
    want: usize,
    linger: Duration,
) -> anyhow::Result<Vec<Seen>> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &env.settings.kafka.brokers)
        .set("group.id", format!("reader-{}", env.id))
        .set("enable.auto.commit", "false")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let mut seen = Vec::new();
    let started = Instant::now();
    let mut full_at: Option<Instant> = None;
    loop {
        let deadline = match full_at {
            Some(t) => t + linger,
            None => started + WAIT,
        };
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        match tokio::time::timeout(deadline - now, consumer.recv()).await {
            Err(_) => break,
            Ok(Err(e)) => bail!("reading {topic}: {e}"),
            Ok(Ok(m)) => {
                seen.push(Seen {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                                .collect()
                        })
                        .unwrap_or_default(),
                });
                if seen.len() >= want && full_at.is_none() {
                    full_at = Some(Instant::now());
                }
            }
        }
    }
    if seen.len() < want {
        bail!(
            "expected at least {want} records on {topic} within {WAIT:?}, saw {}",
            seen.len()
        );
    }
    Ok(seen)
}

/// The committed offsets of `group` on `topic` (partition → offset; absent when none).
pub async fn committed(
    env: &TestEnv,
    group: &str,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<HashMap<i32, i64>> {
    let brokers = env.settings.kafka.brokers.clone();
    let (group, topic) = (group.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", &group)
            .create()?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(&topic, p);
        }
        let got = consumer.committed_offsets(tpl, Duration::from_secs(10))?;
        Ok(got
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect())
    })
    .await?
}

/// Polls `check` until it returns true, failing with `what` after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Topic, partition, offset.
type RecordId = (String, i32, i64);

/// What a test handler does with one record.
pub type Behaviour = dyn Fn(&Record, u32) -> Result<(), HandlerError> + Send + Sync;

/// A handler that logs every call (record and attempt number per offset) and
/// answers with `behaviour(record, attempt)`.
#[derive(Clone)]
pub struct ScriptedHandler {
    pub calls: Arc<Mutex<Vec<(Record, u32)>>>,
    attempts: Arc<Mutex<HashMap<RecordId, u32>>>,
    behaviour: Arc<Behaviour>,
}

impl ScriptedHandler {
    pub fn new(
        behaviour: impl Fn(&Record, u32) -> Result<(), HandlerError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            calls: Arc::default(),
            attempts: Arc::default(),
            behaviour: Arc::new(behaviour),
        }
    }

    pub fn ok() -> Self {
        Self::new(|_, _| Ok(()))
    }

    pub fn calls(&self) -> Vec<(Record, u32)> {
        self.calls.lock().expect("lock").clone()
    }

    pub fn call_count(&self) -> usize {
        self.calls.lock().expect("lock").len()
    }
}

impl Handler for ScriptedHandler {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let attempt = {
            let mut attempts = self.attempts.lock().expect("lock");
            let n = attempts
                .entry((record.topic.clone(), record.partition, record.offset))
                .or_insert(0);
            *n += 1;
            *n
        };
        self.calls
            .lock()
            .expect("lock")
            .push((record.clone(), attempt));
        (self.behaviour)(record, attempt)
    }
}

/// A runner started in the background.
pub struct Running {
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<Result<(), ConsumerError>>,
    pub health: Arc<suite_bus::ConsumerHealth>,
}

impl Running {
    /// Cancels and waits for the runner to return.
    pub async fn stop(self) -> anyhow::Result<Result<(), ConsumerError>> {
        self.shutdown.cancel();
        Ok(tokio::time::timeout(WAIT, self.handle)
            .await
            .context("runner did not stop in time")??)
    }
}

pub fn start<H: Handler>(
    env: &TestEnv,
    settings: &suite_config::Settings,
    topics: &[&str],
    handler: H,
) -> anyhow::Result<Running> {
    let topics = topics.iter().map(|t| settings.topic(t)).collect();
    let runner = ConsumerRunner::new(settings, topics, handler, producer(env)?, env.db.clone());
    let health = runner.health();
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(runner.run(shutdown.clone()));
    Ok(Running {
        shutdown,
        handle,
        health,
    })
}

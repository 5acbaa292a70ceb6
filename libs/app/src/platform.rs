//! Connections to the backing services and the background tasks every service runs.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use suite_bus::{ConsumerRunner, Handler, Producer, Relay};
use suite_config::Settings;
use suite_http::{ApiKeys, HttpContext, RateLimiter, Readiness};
use suite_store::retention::{self, Rule};
use suite_store::{Db, Redis};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often expired processed-event ids are pruned (every instance prunes;
/// the deletes are chunked and idempotent).
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// Everything a service's handlers and consumers share.
#[derive(Clone)]
pub struct Platform {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// Postgres primary and replicas.
    pub db: Db,
    /// Redis cluster.
    pub redis: Redis,
    /// Kafka producer (used by the outbox relay and the DLQ).
    pub producer: Producer,
    /// API-key look-up.
    pub api_keys: ApiKeys,
    /// Readiness checks and the draining flag.
    pub readiness: Readiness,
    /// Cancelled when the process shuts down.
    pub shutdown: CancellationToken,
    /// Background tasks awaited (bounded) at shutdown.
    pub tasks: TaskTracker,
    /// Cancelled after HTTP has drained, to stop background work.
    pub(crate) background: CancellationToken,
}

impl Platform {
    /// Connects Postgres, Redis and Kafka and starts the shared background
    /// tasks (replica monitor, partition maintenance, outbox relay).
    pub async fn connect(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        suite_http::set_service_label(&settings.service);
        let redis = Redis::connect(&settings.redis).context("redis")?;
        let db = Db::connect(&settings.database, Some(redis.clone()))
            .await
            .context("postgres primary")?;
        let producer = Producer::new(&settings.kafka).context("kafka producer")?;
        let readiness = Readiness::new(suite_telemetry::install_metrics());
        let api_keys = ApiKeys::new(db.primary().clone(), Duration::from_secs(30));
        let background = CancellationToken::new();
        let platform = Self {
            settings: Arc::new(settings),
            db,
            redis,
            producer,
            api_keys,
            readiness,
            shutdown,
            tasks: TaskTracker::new(),
            background,
        };
        platform.add_dependency_checks();
        platform.start_background();
        Ok(platform)
    }

    fn add_dependency_checks(&self) {
        let db = self.db.clone();
        self.readiness.add_check("postgres", move || {
            let db = db.clone();
            async move { db.ping().await.map_err(|e| e.to_string()) }
        });
        let redis = self.redis.clone();
        self.readiness.add_check("redis", move || {
            let redis = redis.clone();
            async move { redis.ping().await.map_err(|e| e.to_string()) }
        });
        let producer = self.producer.clone();
        self.readiness.add_check("kafka", move || {
            let producer = producer.clone();
            async move { producer.ping().await.map_err(|e| e.to_string()) }
        });
    }

    fn start_background(&self) {
        let stop = self.background.clone();
        self.tasks.spawn(self.db.spawn_monitor(stop.clone()));
        self.tasks.spawn(suite_store::spawn_partition_maintenance(
            self.db.primary().clone(),
            stop.clone(),
        ));
        let retention = Duration::from_secs(
            u64::from(self.settings.consumer.processed_retention_hours) * 3_600,
        );
        let pool = self.db.primary().clone();
        // The shared layer's own: dead letters and the monthly partitions.
        let kept = &self.settings.retention;
        let rules = vec![Rule::days(
            "dead_letters",
            "created_at",
            kept.dead_letter_days,
        )];
        let partition_months = Some(kept.partition_months);
        self.tasks
            .spawn(crate::every(PRUNE_EVERY, stop.clone(), move || {
                let pool = pool.clone();
                let rules = rules.clone();
                async move {
                    match suite_bus::processed::prune(&pool, retention).await {
                        Ok(0) => {}
                        Ok(rows) => tracing::info!(rows, "expired processed-event ids pruned"),
                        Err(err) => {
                            tracing::warn!(error = %err, "pruning processed-event ids failed")
                        }
                    }
                    retention::run_once(&pool, &rules, partition_months).await;
                }
            }));
        let relay = Relay::new(
            self.db.primary().clone(),
            self.producer.clone(),
            &self.settings.outbox,
        );
        self.tasks.spawn(async move {
            if let Err(err) = relay.run(stop).await {
                tracing::error!(error = %err, "outbox relay stopped");
            }
        });
    }

    /// Prunes the service's own expiring tables by `rules` every hour (and
    /// once at start) until shutdown.
    pub fn spawn_retention(&self, rules: Vec<Rule>) {
        let pool = self.db.primary().clone();
        self.tasks.spawn(crate::every(
            PRUNE_EVERY,
            self.background.clone(),
            move || {
                let pool = pool.clone();
                let rules = rules.clone();
                async move { retention::run_once(&pool, &rules, None).await }
            },
        ));
    }

    /// The context of the API middleware.
    pub fn http_context(&self) -> HttpContext {
        HttpContext {
            keys: self.api_keys.clone(),
            limiter: RateLimiter::new(self.redis.clone(), self.settings.rate_limit.clone()),
            settings: Arc::new(self.settings.http.clone()),
        }
    }

    /// Runs a consumer of `topics` (unprefixed names) until shutdown; its
    /// status feeds readiness, so a consumer stopped by the DLQ guard makes
    /// the service not ready.
    pub fn spawn_consumer<H: Handler>(&self, name: &'static str, topics: &[&str], handler: H) {
        let topics = topics.iter().map(|t| self.settings.topic(t)).collect();
        let runner = ConsumerRunner::new(
            &self.settings,
            topics,
            handler,
            self.producer.clone(),
            self.db.primary().clone(),
        );
        let health = runner.health();
        self.readiness.add_check(name, move || {
            let health = health.clone();
            async move {
                if health.is_ready() {
                    Ok(())
                } else {
                    Err(format!("{:?}", health.status()))
                }
            }
        });
        let stop = self.background.clone();
        self.tasks.spawn(async move {
            if let Err(err) = runner.run(stop).await {
                tracing::error!(consumer = name, error = %err, "consumer stopped");
            }
        });
    }

    /// Runs `task` until shutdown; it receives the background stop token.
    pub fn spawn<F, Fut>(&self, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task(self.background.clone()));
    }
}

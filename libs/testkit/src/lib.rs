//! Test helpers for tests that run against the real local stack
//! (`scripts/stack up --backing`): every [`TestEnv`] gets its own Postgres
//! database (cloned from a migrated template), its own Redis key prefix and
//! its own Kafka topic prefix, so tests run in parallel without seeing each
//! other's data.
//!
//! Topics and consumer groups of tests are named `test.<run>.<env>.…`, where
//! `<run>` is `SUITE_TEST_RUN` (set by `scripts/test`, which deletes the run's
//! topics and groups when it ends) or else `<unix seconds>-<pid>` of the test
//! process. Runs older than two hours are deleted by the next test that
//! starts, like stale test databases, so an aborted run leaves nothing for long.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use suite_bus::TopicSpec;
use suite_config::Settings;

pub mod contract;
pub mod kafka;
pub mod llm;
pub mod otlp;
pub mod process;

/// The workspace's migrations, embedded.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

const SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const REPLICA_SERVER: &str = "postgres://postgres@127.0.0.1:5433";
/// Test databases older than this are dropped by later test runs.
const STALE_AFTER: Duration = Duration::from_secs(2 * 3600);
/// Every test topic and consumer group starts with this.
pub const TEST_PREFIX: &str = "test.";
/// The environment variable that names the test run (see the crate docs).
pub const RUN_VAR: &str = "SUITE_TEST_RUN";

/// One isolated slice of the local stack.
pub struct TestEnv {
    /// Settings pointing at this environment's database, prefixes and the local stack.
    pub settings: Settings,
    /// Pool on this environment's database on the primary.
    pub db: PgPool,
    /// Name of this environment's database.
    pub db_name: String,
    /// Unique token used in the Redis key prefix and the topic prefix.
    pub id: String,
}

impl TestEnv {
    /// Creates a fresh environment for `service`.
    pub async fn new(service: &str) -> anyhow::Result<Self> {
        let id = unique_id();
        let db_name = format!("suite_t_{}_{id}", unix_secs());
        let template = ensure_template().await?;
        let mut admin = PgConnection::connect(SERVER_URL).await.context(
            "connect to the local Postgres primary: is `scripts/stack up --backing` running?",
        )?;
        drop_stale_databases(&mut admin).await;
        drop_stale_topics().await;
        sqlx::query(&format!(
            r#"CREATE DATABASE "{db_name}" TEMPLATE "{template}""#
        ))
        .execute(&mut admin)
        .await
        .context("create test database")?;
        admin.close().await.ok();

        let primary_url = format!("postgres://postgres@127.0.0.1:5432/{db_name}");
        let replica_url = format!("{REPLICA_SERVER}/{db_name}");
        let settings = settings_for(service, &id, &primary_url, &replica_url)?;
        let db = PgPoolOptions::new()
            .max_connections(8)
            .connect(&primary_url)
            .await
            .context("connect to test database")?;
        Ok(Self {
            settings,
            db,
            db_name,
            id,
        })
    }

    /// Creates `names` (without prefix) as prefixed topics with `partitions` partitions each.
    pub async fn create_topics(&self, names: &[&str], partitions: i32) -> anyhow::Result<()> {
        let topics: Vec<TopicSpec> = names
            .iter()
            .map(|n| TopicSpec {
                name: self.settings.topic(n),
                compacted: false,
            })
            .collect();
        suite_bus::ensure_topics(&self.settings.kafka.brokers, &topics, partitions).await?;
        Ok(())
    }

    /// The name of a consumer group of this environment (under its topic
    /// prefix, so that the run's clean-up deletes it with the topics).
    pub fn group(&self, name: &str) -> String {
        format!("{}{name}", self.settings.kafka.topic_prefix)
    }

    /// A second primary URL for this environment's database, as a secret.
    pub fn primary_url(&self) -> SecretString {
        self.settings.database.url.clone()
    }
}

fn settings_for(service: &str, id: &str, primary: &str, replica: &str) -> anyhow::Result<Settings> {
    use figment::providers::Serialized;
    let figment = suite_config::figment(service, 0)
        .merge(Serialized::default("http.bind", "127.0.0.1:0"))
        .merge(Serialized::default("database.url", primary))
        .merge(Serialized::default("database.replica_urls", replica))
        .merge(Serialized::default("redis.key_prefix", format!("t{id}:")))
        .merge(Serialized::default(
            "kafka.topic_prefix",
            format!("{}{id}.", run_prefix()),
        ))
        .merge(Serialized::default(
            "kafka.group_id",
            format!("{}{id}.{service}", run_prefix()),
        ))
        .merge(Serialized::default("telemetry.log_format", "pretty"));
    Ok(suite_config::from_figment(&figment)?)
}

/// Returns the name of a template database holding the current migrations,
/// creating it once (under an advisory lock) when the migrations change.
async fn ensure_template() -> anyhow::Result<String> {
    let digest: u64 = MIGRATOR.iter().fold(0xcbf2_9ce4_8422_2325, |h, m| {
        m.checksum
            .iter()
            .fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
    });
    let template = format!("suite_tpl_{digest:016x}");
    let mut admin = PgConnection::connect(SERVER_URL).await.context(
        "connect to the local Postgres primary: is `scripts/stack up --backing` running?",
    )?;
    sqlx::query("SELECT pg_advisory_lock(727001)")
        .execute(&mut admin)
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut admin)
            .await?;
    let result = if exists {
        Ok(())
    } else {
        build_template(&mut admin, &template).await
    };
    sqlx::query("SELECT pg_advisory_unlock(727001)")
        .execute(&mut admin)
        .await?;
    result.map(|()| template)
}

async fn build_template(admin: &mut PgConnection, template: &str) -> anyhow::Result<()> {
    let building = format!("{template}_building");
    sqlx::query(&format!(
        r#"DROP DATABASE IF EXISTS "{building}" WITH (FORCE)"#
    ))
    .execute(&mut *admin)
    .await?;
    sqlx::query(&format!(r#"CREATE DATABASE "{building}""#))
        .execute(&mut *admin)
        .await?;
    let url = format!("postgres://postgres@127.0.0.1:5432/{building}");
    let mut conn = PgConnectOptions::from_url(&url.parse()?)?.connect().await?;
    MIGRATOR.run(&mut conn).await.context("migrate template")?;
    conn.close().await?;
    sqlx::query(&format!(
        r#"ALTER DATABASE "{building}" RENAME TO "{template}""#
    ))
    .execute(&mut *admin)
    .await?;
    Ok(())
}

async fn drop_stale_databases(admin: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'suite_t\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    let now = unix_secs();
    for name in names {
        let created = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(now);
        if now.saturating_sub(created) > STALE_AFTER.as_secs() {
            let _ = sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                .execute(&mut *admin)
                .await;
        }
    }
}

/// `test.<run>.`: the prefix of every topic and group this test process creates.
pub fn run_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let run = std::env::var(RUN_VAR)
            .ok()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| format!("{}-{}", unix_secs(), std::process::id()));
        format!("{TEST_PREFIX}{run}.")
    })
}

/// Deletes the topics and consumer groups of test runs older than
/// [`STALE_AFTER`] (once per test process; failures are ignored: the next
/// process tries again).
async fn drop_stale_topics() {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let brokers = suite_config::KafkaSettings::default().brokers;
        let Ok((topics, groups)) =
            suite_bus::topics::names_with_prefix(&brokers, TEST_PREFIX).await
        else {
            return;
        };
        let now = unix_secs();
        let mut stale: Vec<String> = topics
            .iter()
            .chain(&groups)
            .filter_map(|name| stale_run(name, now))
            .collect();
        stale.sort();
        stale.dedup();
        for run in stale {
            let _ = suite_bus::delete_prefixed(&brokers, &run).await;
        }
    })
    .await;
}

/// `test.<run>.` of `name` if that run started more than [`STALE_AFTER`] ago.
fn stale_run(name: &str, now: u64) -> Option<String> {
    let run = name.strip_prefix(TEST_PREFIX)?.split('.').next()?;
    let started: u64 = run.split('-').next()?.parse().ok()?;
    (now.saturating_sub(started) > STALE_AFTER.as_secs()).then(|| format!("{TEST_PREFIX}{run}."))
}

fn unique_id() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{:012x}", n & 0xffff_ffff_ffff)
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Exposes a secret for tests that need the raw value (e.g. to build a URL).
pub fn expose(secret: &SecretString) -> &str {
    secret.expose_secret()
}

//! Helpers shared by the integration tests (real local stack: `scripts/stack up --backing`).
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::SecretString;
use sqlx::{Connection as _, PgConnection, PgPool};
use suite_config::{DatabaseSettings, RedisSettings};
use suite_store::{Db, Redis};
use suite_testkit::{expose, TestEnv};
use tokio_util::sync::CancellationToken;

/// Advisory lock taken shared by tests that need the replica replaying, exclusively by the one
/// that pauses replay (tests run as separate processes under nextest).
const REPLAY_LOCK: i64 = 727_100;
/// Upper bound for the replica to replay a fresh test database and be probed usable.
pub const REPLICA_READY: Duration = Duration::from_secs(30);

/// A fresh isolated environment.
pub async fn env() -> anyhow::Result<TestEnv> {
    prometheus();
    TestEnv::new("store-test").await
}

/// The environment's database on the real replica (127.0.0.1:5433).
pub fn replica_url(env: &TestEnv) -> String {
    expose(&env.settings.database.replica_urls[0]).to_owned()
}

/// The environment's database on a port where nothing listens (a stopped replica).
pub fn dead_replica_url(env: &TestEnv) -> String {
    format!("postgres://postgres@127.0.0.1:5999/{}", env.db_name)
}

/// Database settings of `env` with the given replicas and a fast probe.
pub fn db_settings(env: &TestEnv, replicas: &[String]) -> DatabaseSettings {
    let mut settings = env.settings.database.clone();
    settings.replica_urls = replicas.iter().cloned().map(SecretString::from).collect();
    settings.replica_probe_interval_ms = 100;
    settings
}

/// Connects a [`Db`] with the environment's Redis and starts its monitor.
pub async fn db_with_monitor(
    env: &TestEnv,
    settings: &DatabaseSettings,
    shutdown: &CancellationToken,
) -> anyhow::Result<Db> {
    let redis = Redis::connect(&env.settings.redis)?;
    let db = Db::connect(settings, Some(redis)).await?;
    db.spawn_monitor(shutdown.clone());
    Ok(db)
}

/// Polls `check` every 20 ms until it holds or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until replica `index` is usable for reads (the test database has been replayed).
pub async fn wait_usable(db: &Db, index: usize) -> anyhow::Result<()> {
    eventually(
        REPLICA_READY,
        &format!("replica {index} to be usable"),
        || async {
            db.replica_status()
                .get(index)
                .is_some_and(|status| status.usable)
        },
    )
    .await
    .with_context(|| format!("replica status: {:?}", db.replica_status()))
}

/// Whether `pool` is connected to a server in recovery (a replica).
pub async fn in_recovery(pool: &PgPool) -> anyhow::Result<bool> {
    Ok(sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(pool)
        .await?)
}

/// Holds the replay lock for the life of the connection.
pub struct ReplayLock(PgConnection);

/// Takes the replay lock shared (no test pauses replay meanwhile) and resumes replay
/// if a crashed run left it paused.
pub async fn replay_running() -> anyhow::Result<ReplayLock> {
    let mut conn = PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres").await?;
    sqlx::query("SELECT pg_advisory_lock_shared($1)")
        .bind(REPLAY_LOCK)
        .execute(&mut conn)
        .await?;
    let mut replica = PgConnection::connect("postgres://postgres@127.0.0.1:5433/postgres").await?;
    let paused: bool = sqlx::query_scalar("SELECT pg_is_wal_replay_paused()")
        .fetch_one(&mut replica)
        .await?;
    if paused {
        sqlx::query("SELECT pg_wal_replay_resume()")
            .execute(&mut replica)
            .await?;
    }
    replica.close().await.ok();
    Ok(ReplayLock(conn))
}

/// Takes the replay lock exclusively (for the test that pauses replay).
pub async fn replay_exclusive() -> anyhow::Result<ReplayLock> {
    let mut conn = PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres").await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(REPLAY_LOCK)
        .execute(&mut conn)
        .await?;
    Ok(ReplayLock(conn))
}

/// A TCP port on which nothing listens.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(1)
}

/// Redis settings pointing at a single node where nothing listens.
pub fn dead_redis_settings(env: &TestEnv) -> RedisSettings {
    let mut settings = env.settings.redis.clone();
    settings.nodes = vec![SecretString::from(format!(
        "redis://127.0.0.1:{}",
        closed_port()
    ))];
    settings.command_timeout_ms = 200;
    settings
}

/// The process-wide Prometheus recorder (installed on first use).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another test of this process may have installed it first: fine, then ours is unused.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Value of the sample `name{labels…}` in the rendered metrics (0 if absent).
pub fn metric(name: &str, labels: &[(&str, &str)]) -> f64 {
    let rendered = prometheus().render();
    rendered
        .lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .filter(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A TCP forwarder standing in for a replica that can be "stopped".
pub struct Proxy {
    /// Local port to connect to.
    pub port: u16,
    stop: CancellationToken,
}

impl Proxy {
    /// Forwards connections on a fresh local port to `target`.
    pub async fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let stop = CancellationToken::new();
        let token = stop.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = token.cancelled() => break,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut inbound, _)) = accepted else {
                    continue;
                };
                let token = token.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        () = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    }
                });
            }
        });
        Ok(Self { port, stop })
    }

    /// Closes the port and every forwarded connection.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

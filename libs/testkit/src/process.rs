//! Runs a service binary as a real process against a [`TestEnv`].

use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use secrecy::ExposeSecret;
use tokio::process::{Child, Command};

use crate::TestEnv;

/// A service process; killed when dropped.
pub struct ServiceProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl ServiceProcess {
    /// Starts `bin` with environment variables pointing at `env`, plus `extra`.
    /// Its standard output (the logs) is discarded.
    pub async fn start(bin: &str, env: &TestEnv, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::spawn(bin, env, extra, Stdio::null())
    }

    /// Like [`ServiceProcess::start`], with the process's logs as JSON lines
    /// (at `log_level`) written to `log`, for tests that read what it logged.
    pub async fn start_logged(
        bin: &str,
        env: &TestEnv,
        extra: &[(&str, &str)],
        log_level: &str,
        log: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let file =
            std::fs::File::create(log).with_context(|| format!("create {}", log.display()))?;
        let mut vars = vec![
            ("SUITE__TELEMETRY__LOG_FORMAT", "json"),
            ("SUITE__TELEMETRY__LOG_LEVEL", log_level),
        ];
        vars.extend_from_slice(extra);
        Self::spawn(bin, env, &vars, Stdio::from(file))
    }

    fn spawn(
        bin: &str,
        env: &TestEnv,
        extra: &[(&str, &str)],
        stdout: Stdio,
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let s = &env.settings;
        let replicas: Vec<&str> = s
            .database
            .replica_urls
            .iter()
            .map(|u| u.expose_secret())
            .collect();
        let mut cmd = Command::new(bin);
        cmd.env("SUITE__HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("SUITE__DATABASE__URL", s.database.url.expose_secret())
            .env("SUITE__DATABASE__REPLICA_URLS", replicas.join(","))
            .env("SUITE__REDIS__KEY_PREFIX", &s.redis.key_prefix)
            .env("SUITE__KAFKA__TOPIC_PREFIX", &s.kafka.topic_prefix)
            .env("SUITE__KAFKA__GROUP_ID", s.group_id())
            .env("SUITE__TELEMETRY__LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().with_context(|| format!("spawn {bin}"))?;
        Ok(Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let http = reqwest::Client::new();
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("process exited early: {status}");
            }
            if let Ok(resp) = http.get(format!("{}/readyz", self.base)).send().await {
                if resp.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                anyhow::bail!("not ready within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit, failing after `within`.
    pub async fn terminate(&mut self, within: Duration) -> anyhow::Result<ExitStatus> {
        let pid = self.child.id().context("process already exited")?;
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        tokio::time::timeout(within, self.child.wait())
            .await
            .with_context(|| format!("no exit within {within:?} of SIGTERM"))?
            .map_err(Into::into)
    }
}

/// Starts `bin`, waits for readiness, checks `/healthz` and `/metrics`, then
/// asserts a clean exit within 15 s of SIGTERM.
pub async fn assert_lifecycle(bin: &str, service: &str) -> anyhow::Result<()> {
    let env = TestEnv::new(service).await?;
    let mut process = ServiceProcess::start(bin, &env, &[]).await?;
    process.wait_ready(Duration::from_secs(30)).await?;
    let http = reqwest::Client::new();
    let health = http.get(format!("{}/healthz", process.base)).send().await?;
    anyhow::ensure!(health.status() == 200, "healthz {}", health.status());
    let metrics = http
        .get(format!("{}/metrics", process.base))
        .send()
        .await?
        .text()
        .await?;
    anyhow::ensure!(metrics.contains("# TYPE"), "metrics exposition: {metrics}");
    let started = Instant::now();
    let status = process.terminate(Duration::from_secs(15)).await?;
    anyhow::ensure!(status.success(), "exit status {status}");
    eprintln!(
        "{service}: exited {status} {:?} after SIGTERM",
        started.elapsed()
    );
    Ok(())
}

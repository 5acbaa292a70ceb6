//! Helpers of the tests that run the three services as processes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::Value;
use suite_domain::topics;
use suite_http::Scope;
use suite_testkit::process::ServiceProcess;
use suite_testkit::TestEnv;

/// Engagement settings for tests: no quiet hours, the scheduler polling
/// every 100 ms, so a due step is sent at once.
pub const SEND_NOW: [(&str, &str); 4] = [
    ("SUITE__ENGAGEMENT__QUIET_START", "00:00"),
    ("SUITE__ENGAGEMENT__QUIET_END", "00:00"),
    ("SUITE__ENGAGEMENT__QUIET_WEEKENDS", "false"),
    ("SUITE__ENGAGEMENT__SCHEDULER_POLL_MS", "100"),
];

/// Creates every topic of the suite and its dead-letter topic in `env`.
pub async fn create_topics(env: &TestEnv) {
    let names: Vec<String> = topics::ALL
        .iter()
        .flat_map(|t| [(*t).to_owned(), topics::dlq(t)])
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    env.create_topics(&names, 2).await.expect("topics");
}

/// A workspace in `env` and an API key with every scope.
pub async fn workspace(env: &TestEnv) -> (suite_http::tenancy::Workspace, String) {
    let ws = suite_http::tenancy::create_workspace(&env.db, "acme")
        .await
        .unwrap();
    let key = suite_http::tenancy::create_api_key(
        &env.db,
        ws.id,
        "t",
        &[Scope::Read, Scope::Write, Scope::Admin],
        None,
    )
    .await
    .unwrap()
    .key;
    (ws, key)
}

/// The path of the workspace binary `name`, next to this package's.
pub fn binary(name: &str) -> String {
    let own = PathBuf::from(env!("CARGO_BIN_EXE_campaign-optimization"));
    let path = own.with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p {name} --bins`",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// A client of the services' APIs with one workspace's key.
pub struct Http {
    /// The client.
    pub client: reqwest::Client,
    /// The API key.
    pub key: String,
}

impl Http {
    /// Sends `body` (as JSON) with the key (and `corr` as the correlation
    /// id); returns the status and the JSON answer (`Null` if none).
    pub async fn send(
        &self,
        method: reqwest::Method,
        url: String,
        body: Option<&Value>,
        corr: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, url).bearer_auth(&self.key);
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some(corr) = corr {
            req = req.header("x-correlation-id", corr);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// Starts `service` in its own consumer group, with `extra` settings, its
/// JSON logs in `logs/<service>.log`.
pub async fn start_service(
    env: &TestEnv,
    service: &str,
    logs: &std::path::Path,
    extra: &[(&str, &str)],
) -> ServiceProcess {
    let group = env.group(service);
    // Small pools: the suite's tests share one Postgres (max_connections 100)
    // while this one runs three services; waiting for a connection is fine.
    let mut vars = vec![
        ("SUITE__KAFKA__GROUP_ID", group.as_str()),
        ("SUITE__DATABASE__MAX_CONNECTIONS", "6"),
        ("SUITE__DATABASE__REPLICA_MAX_CONNECTIONS", "4"),
        ("SUITE__DATABASE__ACQUIRE_TIMEOUT_SECS", "60"),
    ];
    vars.extend_from_slice(extra);
    ServiceProcess::start_logged(
        &binary(service),
        env,
        &vars,
        LOG_LEVEL,
        &logs.join(format!("{service}.log")),
    )
    .await
    .unwrap()
}

/// Per-record and per-send events are at debug; the test follows them.
const LOG_LEVEL: &str =
    "info,suite_bus=debug,lead_triage=debug,engagement=debug,campaign_optimization=debug";

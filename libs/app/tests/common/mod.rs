//! `spawn_app`: a real app (Platform + shared middleware) on port 0 against
//! an isolated slice of the local stack, with a small test API.

use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use suite_app::Platform;
use suite_config::Settings;
use suite_http::{FieldError, Principal, Scope, ValidJson, Validate};
use suite_testkit::TestEnv;
use tokio_util::sync::CancellationToken;

/// A running app.
pub struct TestApp {
    pub base: String,
    pub shutdown: CancellationToken,
    pub _handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Echo {
    pub name: String,
    pub count: u32,
    #[serde(default)]
    pub items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub email: String,
}

impl Validate for Echo {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.count > 10 {
            errors.push(FieldError::new("/count", "must be at most 10"));
        }
        for (i, item) in self.items.iter().enumerate() {
            if !item.email.contains('@') {
                errors.push(FieldError::new(
                    format!("/items/{i}/email"),
                    "not an email address",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn test_api() -> Router {
    Router::new()
        .route(
            "/v1/echo",
            post(|p: Principal, ValidJson(body): ValidJson<Echo>| async move {
                Json(serde_json::json!({"workspace": p.workspace_id, "name": body.name, "count": body.count}))
            }),
        )
        .route(
            "/v1/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "done"
            }),
        )
        .route(
            "/v1/admin-only",
            get(|p: Principal| async move { p.require(Scope::Admin).map(|()| "ok") }),
        )
}

/// Starts an app with `settings` on port 0.
pub async fn spawn_app(settings: Settings) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    let platform = Platform::connect(settings, shutdown.clone())
        .await
        .expect("platform connects to the local stack");
    let handle = tokio::spawn(suite_app::serve(
        platform,
        listener,
        test_api(),
        Router::new(),
    ));
    TestApp {
        base,
        shutdown,
        _handle: handle,
    }
}

/// A fresh environment with the given overrides applied to its settings.
pub async fn env_with(overrides: &[(&str, &str)]) -> (TestEnv, Settings) {
    let env = TestEnv::new("app-test").await.expect("test env");
    let mut figment = figment::Figment::new();
    for (k, v) in overrides {
        figment = figment.merge(figment::providers::Serialized::default(k, v.to_string()));
    }
    let settings = apply(&env.settings, figment);
    (env, settings)
}

fn apply(base: &Settings, overrides: figment::Figment) -> Settings {
    let mut s = base.clone();
    let get = |k: &str| overrides.extract_inner::<String>(k).ok();
    if let Some(v) = get("rate_limit.burst") {
        s.rate_limit.burst = v.parse().expect("burst");
    }
    if let Some(v) = get("rate_limit.lease_ms") {
        s.rate_limit.lease_ms = v.parse().expect("lease_ms");
    }
    if let Some(v) = get("http.max_concurrency") {
        s.http.max_concurrency = v.parse().expect("concurrency");
    }
    if let Some(v) = get("http.max_connections") {
        s.http.max_connections = v.parse().expect("connections");
    }
    if let Some(v) = get("http.idle_timeout_secs") {
        s.http.idle_timeout_secs = v.parse().expect("idle timeout");
    }
    if let Some(v) = get("http.body_limit_bytes") {
        s.http.body_limit_bytes = v.parse().expect("limit");
    }
    s
}

/// A workspace with a key holding `scopes`; returns (workspace id, key).
pub async fn workspace_with_key(
    env: &TestEnv,
    scopes: &[Scope],
    rate: Option<i32>,
) -> (uuid::Uuid, String) {
    let ws = suite_http::tenancy::create_workspace(&env.db, "test")
        .await
        .expect("workspace");
    let key = suite_http::tenancy::create_api_key(&env.db, ws.id, "k", scopes, rate)
        .await
        .expect("key");
    (ws.id, key.key)
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(resp: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: serde_json::Value = resp.json().await.expect("json body");
    assert_eq!(body["status"], status);
    assert!(body["type"]
        .as_str()
        .unwrap_or("")
        .starts_with("urn:suite:problem:"));
    body
}

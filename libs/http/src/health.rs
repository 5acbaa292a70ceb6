//! `/healthz`, `/readyz` and `/metrics`, kept apart from the API routes.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use suite_telemetry::MetricsHandle;

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Check = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// Readiness: every dependency check passes and the process is not draining.
#[derive(Clone)]
pub struct Readiness {
    draining: Arc<AtomicBool>,
    checks: Arc<std::sync::RwLock<Vec<(&'static str, Check)>>>,
    metrics: MetricsHandle,
}

impl Readiness {
    /// Readiness with no checks yet.
    pub fn new(metrics: MetricsHandle) -> Self {
        Self {
            draining: Arc::new(AtomicBool::new(false)),
            checks: Arc::default(),
            metrics,
        }
    }

    /// Adds a named dependency check (run with a 2 s bound on every probe).
    pub fn add_check<F, Fut>(&self, name: &'static str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let check: Check = Arc::new(move || Box::pin(check()));
        if let Ok(mut checks) = self.checks.write() {
            checks.push((name, check));
        }
    }

    /// Marks the process as draining: `/readyz` answers 503 from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Runs every check concurrently; the failures by name.
    pub async fn failures(&self) -> Vec<(&'static str, String)> {
        let checks: Vec<(&'static str, Check)> = match self.checks.read() {
            Ok(checks) => checks.clone(),
            Err(_) => return vec![("process", "readiness state poisoned".to_owned())],
        };
        let runs = checks.into_iter().map(|(name, check)| {
            let fut = check();
            async move {
                match tokio::time::timeout(Duration::from_secs(2), fut).await {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some((name, e)),
                    Err(_) => Some((name, "timed out".to_owned())),
                }
            }
        });
        let mut failures: Vec<_> = futures::future::join_all(runs)
            .await
            .into_iter()
            .flatten()
            .collect();
        if self.draining.load(Ordering::SeqCst) {
            failures.push(("process", "draining".to_owned()));
        }
        failures
    }
}

/// The health and metrics routes.
pub fn health_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(readiness)
}

async fn ready(State(readiness): State<Readiness>) -> impl IntoResponse {
    let failures = readiness.failures().await;
    if failures.is_empty() {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        let failing: serde_json::Map<_, _> = failures
            .into_iter()
            .map(|(name, why)| (name.to_owned(), json!(why)))
            .collect();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "failing": failing})),
        )
    }
}

async fn metrics(State(readiness): State<Readiness>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        readiness.metrics.render(),
    )
}

//! Serving HTTP and the bounded graceful shutdown.

use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::accept::{serve_connections, ConnectionLimits};
use crate::Platform;

/// Serves `api` (routes under `/v1`, wrapped in the shared middleware, plus
/// the tenancy routes) and `public` (unauthenticated: API docs) next to
/// `/healthz`, `/readyz` and `/metrics` until
/// `platform.shutdown` is cancelled; then flips readiness, drains HTTP,
/// stops consumers and the relay (they commit offsets and finish batches),
/// and flushes the producer — all within `http.shutdown_grace_secs`.
pub async fn serve(
    platform: Platform,
    listener: TcpListener,
    api: Router,
    public: Router,
) -> anyhow::Result<()> {
    let tenancy = suite_http::tenancy::router(suite_http::tenancy::TenancyState {
        pool: platform.db.primary().clone(),
        keys: platform.api_keys.clone(),
    });
    let api = suite_http::api_stack(api.merge(tenancy), platform.http_context());
    let app = suite_http::with_fallbacks(
        suite_http::health_router(platform.readiness.clone())
            .merge(public)
            .merge(api),
    );
    let grace = Duration::from_secs(platform.settings.http.shutdown_grace_secs);
    tracing::info!(addr = %listener.local_addr()?, service = %platform.settings.service, "listening");

    let limits = ConnectionLimits {
        max_connections: platform.settings.http.max_connections,
        idle_timeout: Duration::from_secs(platform.settings.http.idle_timeout_secs),
    };
    let drained = serve_connections(listener, app, limits, platform.shutdown.clone()).await;
    platform.readiness.start_draining();
    if tokio::time::timeout(grace, drained).await.is_err() {
        tracing::warn!("HTTP drain exceeded the grace period");
    }

    platform.background.cancel();
    platform.tasks.close();
    if tokio::time::timeout(grace, platform.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not finish within the grace period");
    }
    if let Err(err) = platform.producer.flush(Duration::from_secs(5)).await {
        tracing::warn!(error = %err, "producer flush failed");
    }
    tracing::info!("shut down");
    Ok(())
}

//! Engagement agent: plans and sends outreach across channels.
//!
//! The binary is thin: [`run`] is the whole service, so tests can start it
//! on port 0 against an isolated environment.

use axum::Router;
use suite_app::Platform;
use suite_config::Settings;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
pub mod outreach;

/// Service name: telemetry label and default consumer group.
pub const SERVICE: &str = "engagement";
/// Default HTTP port on the local stack.
pub const DEFAULT_PORT: u16 = 8082;

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let platform = Platform::connect(settings, shutdown).await?;
    let api = Router::new();
    suite_app::serve(platform, listener, api, Router::new()).await
}

//! Campaign-optimization agent: owns campaigns, aggregates outcomes and
//! allocates traffic (docs/architecture.md §6.3).
//!
//! The binary is thin: [`run`] is the whole service, so tests can start it
//! on port 0 against an isolated environment. Parts:
//!
//! - [`api`]: campaigns CRUD and lifecycle, performance and allocation reports;
//! - [`consumer`]: counts `engagement.interactions` exactly once and enforces budgets;
//! - [`optimizer`]: recomputes and publishes allocations, refreshes the summary;
//! - [`allocation`]: the I/O-free decision core (posteriors, Thompson sampling, pacing).

pub mod allocation;
pub mod api;
pub mod campaign;
pub mod consumer;
pub mod error;
pub mod events;
pub mod metric_names;
pub mod optimizer;
pub mod state;
pub mod store;

use suite_app::Platform;
use suite_config::Settings;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Service name: telemetry label and default consumer group.
pub const SERVICE: &str = "campaign-optimization";
/// Default HTTP port on the local stack.
pub const DEFAULT_PORT: u16 = 8083;

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let platform = Platform::connect(settings, shutdown).await?;
    metric_names::describe();
    let state = state::AppState::new(platform.clone());
    platform.spawn_consumer(
        "engagement.interactions",
        &[suite_domain::topics::ENGAGEMENT_INTERACTIONS],
        consumer::InteractionHandler::new(consumer::Batcher::start(state.clone())),
    );
    let allocator = state.clone();
    platform.spawn(move |stop| optimizer::run_allocator(allocator, stop));
    let refresher = state.clone();
    platform.spawn(move |stop| optimizer::summary::run_refresher(refresher, stop));
    let pool = platform.db.primary().clone();
    platform.spawn(move |stop| optimizer::housekeeping::run_pruner(pool, stop));
    suite_app::serve(platform, listener, api::router(state), api::docs_router()).await
}

//! `campaign-optimization` binary: configuration, telemetry, then [`campaign_optimization::run`].

use anyhow::Context as _;

/// mimalloc instead of glibc malloc: under load glibc's allocator was a
/// quarter of the service's CPU (`perf`, docs/benchmarks.md) and kept
/// fragmented memory resident after bursts.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = suite_config::load(
        campaign_optimization::SERVICE,
        campaign_optimization::DEFAULT_PORT,
    )?;
    let _telemetry = suite_telemetry::Telemetry::init(&settings)?;
    let listener = tokio::net::TcpListener::bind(settings.http.bind)
        .await
        .with_context(|| format!("bind {}", settings.http.bind))?;
    campaign_optimization::run(settings, listener, suite_app::shutdown_on_signal()).await
}

//! `campaign-optimization` binary: configuration, telemetry, then [`campaign_optimization::run`].

use anyhow::Context as _;

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

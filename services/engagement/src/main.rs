//! `engagement` binary: configuration, telemetry, then [`engagement::run`].

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = suite_config::load(engagement::SERVICE, engagement::DEFAULT_PORT)?;
    let _telemetry = suite_telemetry::Telemetry::init(&settings)?;
    let listener = tokio::net::TcpListener::bind(settings.http.bind)
        .await
        .with_context(|| format!("bind {}", settings.http.bind))?;
    engagement::run(settings, listener, suite_app::shutdown_on_signal()).await
}

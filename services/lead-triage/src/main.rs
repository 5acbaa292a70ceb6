//! `lead-triage` binary: configuration, telemetry, then [`lead_triage::run`].

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = suite_config::load(lead_triage::SERVICE, lead_triage::DEFAULT_PORT)?;
    let _telemetry = suite_telemetry::Telemetry::init(&settings)?;
    let listener = tokio::net::TcpListener::bind(settings.http.bind)
        .await
        .with_context(|| format!("bind {}", settings.http.bind))?;
    lead_triage::run(settings, listener, suite_app::shutdown_on_signal()).await
}

//! Lead-triage agent: scores, classifies and routes leads.
//!
//! The binary is thin: [`run`] is the whole service, so tests can start it
//! on port 0 against an isolated environment.

pub mod api;
pub mod error;
pub mod events;
pub mod group_commit;
pub mod intake;
pub mod lead;
pub mod scoring;
pub mod state;
pub mod store;
pub mod triage;

use suite_app::Platform;
use suite_config::Settings;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Service name: telemetry label and default consumer group.
pub const SERVICE: &str = "lead-triage";
/// Default HTTP port on the local stack.
pub const DEFAULT_PORT: u16 = 8081;

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Load the disposable-domain list now, not on the first request.
    tokio::task::spawn_blocking(scoring::email_domain::warm_up).await?;
    let platform = Platform::connect(settings, shutdown).await?;
    let state = state::AppState::new(platform.clone());
    platform.spawn_consumer(
        "leads.inbound",
        &[suite_domain::topics::LEADS_INBOUND],
        intake::InboundHandler::new(state.clone()),
    );
    platform.spawn_retention(retention_rules(&platform.settings.retention));
    suite_app::serve(platform, listener, api::router(state), api::docs_router()).await
}

/// The service's expiring tables: idempotency keys and tracking message ids.
pub fn retention_rules(
    kept: &suite_config::RetentionSettings,
) -> Vec<suite_store::retention::Rule> {
    use suite_store::retention::Rule;
    vec![
        Rule::hours("idempotency_keys", "created_at", kept.idempotency_key_hours),
        Rule::days(
            "lead_event_messages",
            "received_at",
            kept.tracking_message_days,
        ),
    ]
}

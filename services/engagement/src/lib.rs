//! Engagement agent: plans and sends outreach across channels.
//!
//! The binary is thin: [`run`] is the whole service, so tests can start it
//! on port 0 against an isolated environment ([`run_with`] also takes the
//! clock of the send path).

pub mod api;
pub mod clock;
pub mod config;
pub mod error;
pub mod intake;
pub mod memory;
pub mod outreach;
pub mod personalise;
pub mod providers;
pub mod scheduler;
pub mod send;
pub mod state;
pub mod store;

use std::sync::Arc;

use suite_app::Platform;
use suite_config::Settings;
use suite_domain::topics;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::{SharedClock, SystemClock};

/// Service name: telemetry label and default consumer group.
pub const SERVICE: &str = "engagement";
/// Default HTTP port on the local stack.
pub const DEFAULT_PORT: u16 = 8082;
/// Topics the service consumes.
pub const CONSUMED: [&str; 6] = [
    topics::LEADS_HOT,
    topics::LEADS_WARM,
    topics::LEADS_NURTURE,
    topics::CAMPAIGN_ALLOCATIONS,
    topics::LEADS_CONTACTS,
    topics::CAMPAIGN_DEFINITIONS,
];

/// Runs the service on `listener` until `shutdown` is cancelled.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_with(settings, listener, shutdown, Arc::new(SystemClock)).await
}

/// [`run`] with the send path reading time from `clock`.
pub async fn run_with(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
    clock: SharedClock,
) -> anyhow::Result<()> {
    let platform = Platform::connect(settings, shutdown).await?;
    let state = build_state(platform.clone(), clock)?;
    platform.spawn_consumer(
        "engagement",
        &CONSUMED,
        intake::IntakeHandler::new(state.clone()),
    );
    let scheduler_state = state.clone();
    platform.spawn(move |stop| scheduler::run(scheduler_state, stop));
    if let Some(personaliser) = state.personaliser.clone() {
        let composer_state = state.clone();
        platform.spawn(move |stop| personalise::compose::run(composer_state, personaliser, stop));
    }
    platform.spawn_retention(retention_rules(&platform.settings.retention));
    suite_app::serve(platform, listener, api::router(state), api::docs_router()).await
}

/// The service's expiring tables: provider event ids, and the steps of
/// finished plans (the plan row stays: one plan per lead and campaign).
pub fn retention_rules(
    kept: &suite_config::RetentionSettings,
) -> Vec<suite_store::retention::Rule> {
    use suite_store::retention::Rule;
    vec![
        Rule::days(
            "interaction_provider_events",
            "created_at",
            kept.provider_event_days,
        ),
        Rule::days("scheduled_steps", "updated_at", kept.finished_step_days).only(
            "status NOT IN ('pending', 'running') \
             AND plan_id IN (SELECT id FROM outreach_plans WHERE status <> 'active')",
        ),
    ]
}

/// The service's state on a connected platform.
pub fn build_state(platform: Platform, clock: SharedClock) -> anyhow::Result<state::AppState> {
    let settings = &platform.settings.engagement;
    let config = config::SendConfig::from_settings(settings)?;
    let providers = providers::Providers::from_settings(settings, config.breaker)?;
    let personaliser =
        personalise::Personaliser::from_settings(&platform.settings.llm, config.breaker)?;
    let mut state = state::AppState::new(platform, config, clock, providers);
    state.personaliser = personaliser.map(std::sync::Arc::new);
    Ok(state)
}

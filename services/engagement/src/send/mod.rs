//! The send path of one claimed step, in the order docs/architecture.md §6.2 and issue #4
//! give: campaign still sending → consent → address → quiet hours →
//! template → frequency caps → send reservation → provider (breaker,
//! retries) → communication + `sent` interaction (outbox).
//!
//! A step blocked by quiet hours, caps, an open breaker or a paused
//! campaign is rescheduled; one that cannot use its channel (no consent, no
//! address, no content, a permanent failure, exhausted retries) ends and
//! the plan falls back to the next step on another channel, due at once.

pub mod deliver;
pub mod record;

use chrono::{DateTime, Duration, Utc};
use suite_domain::{Channel, LeadId};
use tracing::Instrument as _;

use crate::error::Result;
use crate::memory::MemoryEntry;
use crate::outreach::budget::{self, BudgetReservation};
use crate::outreach::{caps, quiet_hours, CapReservation};
use crate::providers::OutgoingMessage;
use crate::state::AppState;
use crate::store::reservations::{self, Reserved};
use crate::store::steps::{self, ClaimedStep};
use crate::store::{campaigns, consent, leads};
use deliver::Delivery;

/// How long a step of a paused campaign waits before it looks again.
const PAUSED_RECHECK: Duration = Duration::minutes(15);

/// What happened to a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Sent and recorded.
    Sent,
    /// Put back, due later, for the reason given.
    Rescheduled(&'static str),
    /// Ended without a send for the reason given (a fallback may follow).
    Skipped(&'static str),
    /// The provider rejected it for good.
    Failed,
    /// Transient failures exhausted the retries: dead-lettered.
    Dead,
    /// An earlier claim reserved the send and did not finish: never repeated.
    Indeterminate,
}

impl Outcome {
    /// The `outcome` label of the steps counter.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Rescheduled(_) => "rescheduled",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed => "failed",
            Outcome::Dead => "dead",
            Outcome::Indeterminate => "indeterminate",
        }
    }
}

/// Runs the send path for `step`, then drops the lead's cached
/// conversation and context (its next step or history changed).
pub async fn execute(state: &AppState, step: &ClaimedStep) -> Result<Outcome> {
    let span = tracing::info_span!(
        "engagement.send",
        step_id = %step.id,
        plan_id = %step.plan_id,
        lead_id = %step.lead_id,
        campaign_id = %step.campaign_id,
        channel = %step.channel,
        correlation_id = %step.correlation_id,
    );
    let outcome = run(state, step).instrument(span.clone()).await?;
    span.in_scope(|| tracing::debug!(outcome = outcome.label(), "step executed"));
    state.lead_changed(step.workspace_id, step.lead_id).await;
    Ok(outcome)
}

async fn run(state: &AppState, step: &ClaimedStep) -> Result<Outcome> {
    let now = state.clock.now();
    let pool = state.platform.db.primary();
    match campaigns::status(pool, step.campaign_id).await?.as_deref() {
        Some("active") => {}
        Some("paused") => {
            return reschedule(state, step, now + PAUSED_RECHECK, "campaign_paused").await
        }
        _ => return stop(state, step, "campaign_archived").await,
    }
    let Some(lead) = leads::get(pool, step.workspace_id, step.lead_id).await? else {
        return stop(state, step, "lead_gone").await;
    };
    let latest = consent::latest(pool, step.workspace_id, step.lead_id).await?;
    let consents = consent::current(&lead, &latest);
    let refused: Vec<Channel> = consents
        .iter()
        .filter(|(_, c)| !c.allowed)
        .map(|(ch, _)| *ch)
        .collect();
    if refused.contains(&step.channel) {
        return end(state, step, "skipped", "no_consent", &refused, now).await;
    }
    let Some(address) = lead.address(step.channel) else {
        return end(state, step, "skipped", "no_address", &[step.channel], now).await;
    };
    // The workspace's own default zone, else the deployment's.
    let fallback_tz = lead
        .workspace_timezone
        .as_deref()
        .and_then(|tz| tz.parse().ok())
        .unwrap_or(state.config.default_tz);
    let tz = quiet_hours::recipient_tz(
        lead.timezone.as_deref(),
        lead.country.as_deref(),
        fallback_tz,
    );
    let allowed_at = quiet_hours::next_allowed(now, tz, &state.config.quiet);
    if allowed_at > now {
        return reschedule(state, step, allowed_at, "quiet_hours").await;
    }
    let content = state
        .variants
        .get_or_load(&step.variant_id.simple().to_string(), async {
            campaigns::variant_content(pool, step.variant_id).await
        })
        .await?;
    let Some(template) = content.and_then(|c| c.get(&step.channel).cloned()) else {
        return end(state, step, "skipped", "no_content", &[step.channel], now).await;
    };
    let rendered = match template.render(&lead.fields()) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(step_id = %step.id, error = %e, "template does not render");
            return end(
                state,
                step,
                "failed",
                "template_error",
                &[step.channel],
                now,
            )
            .await;
        }
    };
    let Some(route) = state.providers.route(step.channel).cloned() else {
        return end(state, step, "skipped", "no_provider", &[step.channel], now).await;
    };
    let key = reservations::key(step);
    let decision = caps::reserve(
        &state.platform.redis,
        LeadId::from(step.lead_id),
        step.channel,
        &key,
        now,
        state.config.caps,
    )
    .await?;
    let (true, Some(cap)) = (decision.allowed, decision.reservation) else {
        let retry_at = decision.retry_at.unwrap_or(now + Duration::hours(1));
        return reschedule(state, step, retry_at, "frequency_cap").await;
    };
    // The campaign's day budget, after the caps (a capped step holds no budget).
    let Some((daily_budget, cost)) =
        campaigns::budget(pool, step.campaign_id, step.channel).await?
    else {
        Held { cap, spend: None }.release(state).await;
        return stop(state, step, "campaign_archived").await;
    };
    let Some(spend) = budget::reserve(
        &state.platform.redis,
        step.campaign_id,
        &key,
        cost,
        daily_budget,
        now,
    )
    .await?
    else {
        Held { cap, spend: None }.release(state).await;
        return reschedule(state, step, caps::next_day_start(now), "budget_spent").await;
    };
    let held = Held {
        cap,
        spend: Some(spend),
    };
    let send_id = match reservations::reserve(pool, step, route.provider.name()).await? {
        Reserved::Fresh(id) => id,
        Reserved::Existing { id, status } => {
            return settle_existing(state, step, id, &status, &held, now).await
        }
    };
    let message = OutgoingMessage {
        idempotency_key: key,
        send_id,
        lead_id: step.lead_id,
        campaign_id: step.campaign_id,
        channel: step.channel,
        to: address.to_owned(),
        subject: rendered.subject.clone(),
        body: rendered.body.clone(),
    };
    match deliver::deliver(&route, &message, &state.config.retry).await {
        Delivery::Sent { receipt, calls } => {
            let accepted = record::Accepted {
                send_id,
                provider: route.provider.name(),
                message: &rendered,
                receipt: &receipt,
                calls,
            };
            record::sent(state, step, &accepted, now).await?;
            let entry = MemoryEntry::message(
                now,
                step.channel.as_str(),
                step.campaign_id,
                rendered.subject,
                &rendered.body,
            );
            state.memory.remember(step.lead_id, &entry).await;
            Ok(Outcome::Sent)
        }
        Delivery::Refused { retry_after } => {
            reservations::abandon(pool, send_id).await?;
            held.release(state).await;
            let at = now + Duration::from_std(retry_after).unwrap_or(Duration::seconds(30));
            reschedule(state, step, at, "breaker_open").await
        }
        Delivery::Permanent { failure, calls } => {
            held.release(state).await;
            let error = format!("{failure:?}");
            let mut tx = pool.begin().await?;
            reservations::settle(&mut tx, send_id, "failed", calls, None, Some(&error)).await?;
            record::fall_back(
                &mut tx,
                step,
                "failed",
                "permanent_failure",
                &[step.channel],
                now,
            )
            .await?;
            tx.commit().await?;
            tracing::info!(step_id = %step.id, error, "permanent provider failure; falling back");
            state.wake.notify_one();
            Ok(Outcome::Failed)
        }
        Delivery::Exhausted { failure, calls } => {
            held.release(state).await;
            let error = format!("{failure:?}");
            let mut tx = pool.begin().await?;
            reservations::settle(&mut tx, send_id, "failed", calls, None, Some(&error)).await?;
            record::dead_letter(&mut tx, step, Some(send_id), "transient_exhausted", &error)
                .await?;
            record::fall_back(
                &mut tx,
                step,
                "dead",
                "retries_exhausted",
                &[step.channel],
                now,
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(step_id = %step.id, error, calls, "provider retries exhausted; dead-lettered, falling back");
            state.wake.notify_one();
            Ok(Outcome::Dead)
        }
    }
}

/// The key of this step was reserved before.
async fn settle_existing(
    state: &AppState,
    step: &ClaimedStep,
    id: uuid::Uuid,
    status: &str,
    held: &Held,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    let mut tx = state.platform.db.primary().begin().await?;
    let outcome = match status {
        "sent" => {
            steps::finish(&mut tx, step, "sent", "already_sent").await?;
            Outcome::Sent
        }
        "reserved" => {
            // A claim before this one reserved the send and never finished:
            // the provider may have the message. Never send it again.
            reservations::settle(
                &mut tx,
                id,
                "indeterminate",
                0,
                None,
                Some("claim lost during the provider call"),
            )
            .await?;
            record::dead_letter(
                &mut tx,
                step,
                Some(id),
                "indeterminate",
                "the process died during the provider call; not repeated",
            )
            .await?;
            steps::finish(&mut tx, step, "indeterminate", "claim_lost_during_send").await?;
            Outcome::Indeterminate
        }
        _ => {
            if status == "failed" {
                // Nothing went out: the places taken again for this attempt go back.
                held.release(state).await;
            }
            record::fall_back(
                &mut tx,
                step,
                "failed",
                "already_failed",
                &[step.channel],
                now,
            )
            .await?;
            Outcome::Failed
        }
    };
    steps::complete_plan_if_done(&mut tx, step.plan_id).await?;
    tx.commit().await?;
    Ok(outcome)
}

async fn reschedule(
    state: &AppState,
    step: &ClaimedStep,
    at: DateTime<Utc>,
    reason: &'static str,
) -> Result<Outcome> {
    let mut conn = state.platform.db.primary().acquire().await?;
    steps::reschedule(&mut conn, step, at, reason).await?;
    tracing::debug!(step_id = %step.id, reason, due_at = %at, "step rescheduled");
    Ok(Outcome::Rescheduled(reason))
}

async fn end(
    state: &AppState,
    step: &ClaimedStep,
    status: &str,
    reason: &'static str,
    avoid: &[Channel],
    now: DateTime<Utc>,
) -> Result<Outcome> {
    let mut tx = state.platform.db.primary().begin().await?;
    let next = record::fall_back(&mut tx, step, status, reason, avoid, now).await?;
    tx.commit().await?;
    tracing::info!(step_id = %step.id, reason, fallback = ?next, "step ended without a send");
    if next.is_some() {
        state.wake.notify_one();
    }
    Ok(if status == "failed" {
        Outcome::Failed
    } else {
        Outcome::Skipped(reason)
    })
}

/// Ends the step and the rest of its plan.
async fn stop(state: &AppState, step: &ClaimedStep, reason: &'static str) -> Result<Outcome> {
    let mut tx = state.platform.db.primary().begin().await?;
    steps::finish(&mut tx, step, "skipped", reason).await?;
    steps::stop_plan(&mut tx, step.plan_id, reason).await?;
    tx.commit().await?;
    tracing::info!(step_id = %step.id, plan_id = %step.plan_id, reason, "plan stopped");
    Ok(Outcome::Skipped(reason))
}

/// The places a send holds until it is made: one under the lead's frequency
/// caps and, once reserved, its cost in the campaign's day budget.
struct Held {
    cap: CapReservation,
    spend: Option<BudgetReservation>,
}

impl Held {
    /// Gives the places back when no message went out (failures are logged:
    /// a place not given back only expires with its window).
    async fn release(&self, state: &AppState) {
        let redis = &state.platform.redis;
        if let Err(e) = caps::release(redis, &self.cap).await {
            tracing::warn!(error = %e, "frequency cap place not released");
        }
        if let Some(spend) = &self.spend {
            if let Err(e) = budget::release(redis, spend).await {
                tracing::warn!(error = %e, "budget place not released");
            }
        }
    }
}

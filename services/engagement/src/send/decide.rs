//! The send path's decisions that need no I/O: from a step and what
//! [`gather::load`](crate::store::gather::load) read for it, either how the
//! step ends now or the message it is ready to send.

use chrono::{DateTime, Duration, Utc};
use suite_domain::Channel;

use super::record::End;
use super::Outcome;
use crate::outreach::{ladder, quiet_hours, RenderedMessage};
use crate::providers::Route;
use crate::state::AppState;
use crate::store::campaigns::VariantContent;
use crate::store::consent;
use crate::store::gather::SendContext;
use crate::store::reservations;
use crate::store::steps::ClaimedStep;

/// How long a step of a paused campaign waits before it looks again.
const PAUSED_RECHECK: Duration = Duration::minutes(15);
/// How long after its plan a step waits for its lead's contact data
/// (`lead.contact.v1` travels on its own topic and may arrive after the
/// triage) before it stops as `lead_gone`.
const LEAD_WAIT: Duration = Duration::minutes(10);
/// How soon a step waiting for its lead's contact data looks again.
const LEAD_RECHECK: Duration = Duration::seconds(2);

/// A step that passed every check up to the template.
pub struct Ready {
    /// The step.
    pub step: ClaimedStep,
    /// The lead's address on the step's channel.
    pub address: String,
    /// The rendered message.
    pub rendered: RenderedMessage,
    /// The channel's provider.
    pub route: Route,
    /// The send's unique key (reservation token, idempotency key).
    pub key: String,
    /// Its cost (micros).
    pub cost: i64,
    /// The campaign's day budget (micros).
    pub daily_budget: i64,
    /// The variant asks for a generated body and generation is on: the send
    /// path reads the step's generation before it goes on.
    pub generated: bool,
    /// What the step's generation cost (micros), once read.
    pub generation_cost: Option<i64>,
}

/// What the checks decided.
pub enum Decision {
    /// The step ends now, with this outcome.
    End(End, Outcome),
    /// The step goes on to the caps, budget and provider.
    Go(Box<Ready>),
}

/// When the step's plan was made (its id is a UUIDv7).
fn planned_at(step: &ClaimedStep) -> Option<DateTime<Utc>> {
    let (secs, nanos) = step.plan_id.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
}

/// The later step a fallback makes due: the first one on a channel not in `avoid`.
pub fn next_avoiding(step: &ClaimedStep, avoid: &[Channel]) -> Option<u32> {
    ladder::next_step_avoiding(&step.ladder, step.step_index, avoid).map(|n| n.index)
}

/// Decides `step` at `now` from its `context` (`None`: neither its campaign
/// nor its lead was found) and its variant's `content`.
pub fn decide(
    state: &AppState,
    step: &ClaimedStep,
    context: Option<&SendContext>,
    content: Option<&VariantContent>,
    now: DateTime<Utc>,
) -> Decision {
    let campaign = context.and_then(|c| c.campaign.as_ref());
    let Some(campaign) = campaign.filter(|c| c.status != "archived") else {
        return stop(step, "campaign_archived");
    };
    match campaign.status.as_str() {
        "active" => {}
        "paused" => {
            let at = now + PAUSED_RECHECK;
            return Decision::End(
                End::Reschedule {
                    at,
                    reason: "campaign_paused",
                },
                Outcome::Rescheduled("campaign_paused"),
            );
        }
        _ => return stop(step, "campaign_archived"),
    }
    let Some((lead, latest)) = context.and_then(|c| c.lead.as_ref().map(|l| (l, &c.consents)))
    else {
        if planned_at(step).is_some_and(|at| now - at < LEAD_WAIT) {
            return Decision::End(
                End::Reschedule {
                    at: now + LEAD_RECHECK,
                    reason: "lead_pending",
                },
                Outcome::Rescheduled("lead_pending"),
            );
        }
        return stop(step, "lead_gone");
    };
    let refused: Vec<Channel> = consent::current(lead, latest)
        .iter()
        .filter(|(_, c)| !c.allowed)
        .map(|(ch, _)| *ch)
        .collect();
    if refused.contains(&step.channel) {
        return end(step, "skipped", "no_consent", &refused);
    }
    let Some(address) = lead.address(step.channel) else {
        return end(step, "skipped", "no_address", &[step.channel]);
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
        return Decision::End(
            End::Reschedule {
                at: allowed_at,
                reason: "quiet_hours",
            },
            Outcome::Rescheduled("quiet_hours"),
        );
    }
    let Some(template) = content.and_then(|c| c.get(&step.channel)) else {
        return end(step, "skipped", "no_content", &[step.channel]);
    };
    let rendered = match template.render(&lead.fields()) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(step_id = %step.id, error = %e, "template does not render");
            return end(step, "failed", "template_error", &[step.channel]);
        }
    };
    let Some(route) = state.providers.route(step.channel).cloned() else {
        return end(step, "skipped", "no_provider", &[step.channel]);
    };
    Decision::Go(Box::new(Ready {
        step: step.clone(),
        address: address.to_owned(),
        rendered,
        route,
        key: reservations::key(step),
        cost: campaign.cost,
        daily_budget: campaign.daily_budget,
        generated: template.generation.is_some() && state.personaliser.is_some(),
        generation_cost: None,
    }))
}

/// The step ends with `status` for `reason`; the plan falls back to its next
/// step on a channel not in `avoid`.
fn end(
    step: &ClaimedStep,
    status: &'static str,
    reason: &'static str,
    avoid: &[Channel],
) -> Decision {
    let next = next_avoiding(step, avoid);
    tracing::info!(step_id = %step.id, reason, fallback = ?next, "step ended without a send");
    let outcome = if status == "failed" {
        Outcome::Failed
    } else {
        Outcome::Skipped(reason)
    };
    Decision::End(
        End::Finish {
            status,
            reason,
            next,
        },
        outcome,
    )
}

/// The step and the rest of its plan end.
fn stop(step: &ClaimedStep, reason: &'static str) -> Decision {
    tracing::info!(step_id = %step.id, plan_id = %step.plan_id, reason, "plan stopped");
    Decision::End(End::Stop { reason }, Outcome::Skipped(reason))
}

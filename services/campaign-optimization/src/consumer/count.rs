//! Counting one interaction inside the batch's transaction, and the
//! budget rule that runs after each send.

use chrono::Utc;
use sqlx::PgConnection;
use suite_bus::HandlerError;
use suite_domain::{CampaignStatus, InteractionKind, InteractionV1};

use crate::error::Error;
use crate::optimizer::decide;
use crate::state::AppState;
use crate::store::allocations::{self, reason};
use crate::store::campaigns::{self, CampaignView};
use crate::store::counters::{self, Count, Counted};

/// What handling one interaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Counted; `status_changed` when the campaign was paused or held back.
    Counted {
        /// The campaign's status or pacing hold changed.
        status_changed: bool,
    },
    /// Seen before (redelivery) or a repeated outcome of one send.
    Duplicate,
    /// Not about a campaign variant: nothing to count.
    Ignored,
}

fn invalid(class: &str, message: impl std::fmt::Display) -> HandlerError {
    HandlerError::permanent(class, message)
}

/// Counts `interaction` exactly once in `conn`'s transaction (see the
/// module docs of [`super`]); nothing is committed here.
pub async fn count_in(
    state: &AppState,
    conn: &mut PgConnection,
    interaction: &InteractionV1,
) -> Result<Outcome, HandlerError> {
    let (Some(campaign_id), Some(variant_id)) = (interaction.campaign_id, interaction.variant_id)
    else {
        return Ok(Outcome::Ignored);
    };
    let workspace = *interaction.workspace_id.as_uuid();
    let campaign_id = *campaign_id.as_uuid();
    let event_id = interaction.interaction_id.to_string();
    if !suite_bus::processed::first_time(conn, super::CONSUMER, &event_id).await? {
        return Ok(Outcome::Duplicate);
    }
    let Some(campaign) = campaigns::get(conn, workspace, campaign_id, true).await? else {
        return Err(invalid(
            "unknown_campaign",
            format!("no campaign {campaign_id} in workspace {workspace}"),
        ));
    };
    let sent = interaction.kind == InteractionKind::Sent;
    let count = Count {
        campaign: campaign_id,
        variant: *variant_id.as_uuid(),
        send: interaction.send_id,
        kind: interaction.kind,
        cost_micros: if sent {
            decide::cost(&campaign, interaction.channel)
        } else {
            0
        },
        day: interaction.occurred_at.date_naive(),
    };
    match counters::apply(conn, &count).await? {
        Counted::Counted => {}
        Counted::RepeatedOutcome => return Ok(Outcome::Duplicate),
        Counted::UnknownVariant => {
            return Err(invalid(
                "unknown_variant",
                format!("variant {variant_id} is not part of campaign {campaign_id}"),
            ))
        }
    }
    let status_changed = if sent && campaign.status == CampaignStatus::Active {
        enforce_budget(state, conn, &campaign)
            .await
            .map_err(HandlerError::from)?
    } else {
        false
    };
    Ok(Outcome::Counted { status_changed })
}

/// After a send of an active campaign: pauses it when the day's budget is
/// spent, or holds its sends back while spend runs ahead of the pace.
/// Returns whether anything changed. The caller holds the campaign's lock.
async fn enforce_budget(
    state: &AppState,
    conn: &mut PgConnection,
    campaign: &CampaignView,
) -> Result<bool, Error> {
    let now = Utc::now();
    let spend = counters::spend_on(conn, campaign.id, now.date_naive()).await?;
    let Some(pacing) = decide::pacing(campaign, spend, now) else {
        return Ok(false);
    };
    if pacing.exhausted {
        campaigns::set_status(conn, campaign.id, CampaignStatus::Paused, Some("budget")).await?;
        counters::set_pacing_hold(conn, campaign.id, false).await?;
        publish_current(
            state,
            conn,
            campaign,
            CampaignStatus::Paused,
            reason::BUDGET_EXHAUSTED,
        )
        .await?;
        tracing::info!(campaign_id = %campaign.id, spend_micros = spend, "daily budget spent: campaign paused");
        return Ok(true);
    }
    if !pacing.allowed_now && !counters::pacing_hold(conn, campaign.id).await? {
        counters::set_pacing_hold(conn, campaign.id, true).await?;
        publish_current(
            state,
            conn,
            campaign,
            CampaignStatus::Paused,
            reason::PACING_HOLD,
        )
        .await?;
        return Ok(true);
    }
    Ok(false)
}

/// Publishes the campaign's freshly computed shares with `status`.
pub async fn publish_current(
    state: &AppState,
    conn: &mut PgConnection,
    campaign: &CampaignView,
    status: CampaignStatus,
    why: &str,
) -> Result<(), Error> {
    let stats = counters::variant_stats(conn, campaign.id, campaign.objective).await?;
    let allocation = decide::allocation(campaign, &stats);
    let shares = decide::shares(&stats, &allocation);
    allocations::publish(
        conn,
        &state.allocations_topic,
        campaign.workspace_id,
        campaign.id,
        status,
        shares,
        why,
    )
    .await?;
    Ok(())
}

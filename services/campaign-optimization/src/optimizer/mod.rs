//! Background work: the allocation loop and the refresh of the
//! performance summary.
//!
//! Every [`TICK`] the allocation loop revisits the campaigns that counted
//! interactions since their last published allocation, are held back by
//! pacing, or are paused for budget. For each, under the campaign's row
//! lock, it recomputes the shares and publishes them when
//! [`crate::allocation::should_publish`] says so (a share moved by more
//! than [`decide::PUBLISH_THRESHOLD`], or [`decide::HEARTBEAT`] passed
//! while traffic flowed), releases a pacing hold once spend is back on
//! pace, and resumes a campaign paused for budget when a new day (or a
//! larger budget) leaves room. Several instances share the work: each
//! campaign's state row is claimed with `SKIP LOCKED`.

pub mod decide;
pub mod housekeeping;
pub mod summary;

use std::time::Duration;

use chrono::Utc;
use suite_domain::CampaignStatus;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::allocation::should_publish;
use crate::consumer::publish_current;
use crate::error::Error;
use crate::state::AppState;
use crate::store::allocations::{self, reason};
use crate::store::campaigns;
use crate::store::counters;

/// How often the allocation loop runs.
pub const TICK: Duration = Duration::from_millis(1_000);
/// Campaigns revisited per tick at most (the oldest first).
const BATCH: i64 = 200;

/// Runs the allocation loop until `stop` is cancelled.
pub async fn run_allocator(state: AppState, stop: CancellationToken) {
    suite_app::every(TICK, stop, || async {
        if let Err(err) = allocate_once(&state).await {
            tracing::warn!(error = %err, "allocation pass failed");
        }
    })
    .await;
}

/// One pass over the campaigns with work; returns how many changed.
pub async fn allocate_once(state: &AppState) -> Result<usize, Error> {
    let due: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT s.campaign_id, s.workspace_id FROM campaign_optimizer_state s \
         JOIN campaigns c ON c.id = s.campaign_id \
         WHERE s.pending_interactions > 0 OR s.pacing_hold \
            OR (c.status = 'paused' AND c.pause_reason = 'budget') \
         ORDER BY s.updated_at LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(state.platform.db.primary())
    .await?;
    let mut changed = 0;
    for (campaign, workspace) in due {
        if revisit(state, workspace, campaign).await? {
            changed += 1;
            state.invalidate(workspace, campaign).await;
        }
    }
    Ok(changed)
}

/// Revisits one campaign; returns whether something was published.
async fn revisit(state: &AppState, workspace: Uuid, campaign_id: Uuid) -> Result<bool, Error> {
    let mut tx = state.platform.db.primary().begin().await?;
    let Some(campaign) = campaigns::get(&mut tx, workspace, campaign_id, true).await? else {
        return Ok(false);
    };
    let claimed: Option<(i64, bool)> = sqlx::query_as(
        "SELECT pending_interactions, pacing_hold FROM campaign_optimizer_state \
         WHERE campaign_id = $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(campaign_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((pending, hold)) = claimed else {
        return Ok(false);
    };
    let now = Utc::now();
    let published = match campaign.status {
        CampaignStatus::Archived => {
            counters::set_pacing_hold(&mut tx, campaign_id, false).await?;
            clear_pending(&mut tx, campaign_id).await?;
            false
        }
        CampaignStatus::Paused => {
            let budget_paused = campaign.pause_reason.as_deref() == Some("budget");
            let spend = counters::spend_on(&mut tx, campaign_id, now.date_naive()).await?;
            let room = decide::pacing(&campaign, spend, now).is_some_and(|p| !p.exhausted);
            if budget_paused && room {
                campaigns::set_status(
                    &mut tx,
                    &state.definitions_topic,
                    campaign_id,
                    CampaignStatus::Active,
                    None,
                )
                .await?;
                publish_current(
                    state,
                    &mut tx,
                    &campaign,
                    CampaignStatus::Active,
                    reason::BUDGET_RESTORED,
                )
                .await?;
                true
            } else {
                // Shares of a paused campaign are not followed; the next
                // resume publishes fresh ones.
                clear_pending(&mut tx, campaign_id).await?;
                false
            }
        }
        CampaignStatus::Active => {
            let spend = counters::spend_on(&mut tx, campaign_id, now.date_naive()).await?;
            let pacing = decide::pacing(&campaign, spend, now);
            if hold {
                if pacing.is_some_and(|p| p.allowed_now) {
                    counters::set_pacing_hold(&mut tx, campaign_id, false).await?;
                    publish_current(
                        state,
                        &mut tx,
                        &campaign,
                        CampaignStatus::Active,
                        reason::PACING_RELEASED,
                    )
                    .await?;
                    true
                } else {
                    false
                }
            } else {
                publish_if_due(state, &mut tx, &campaign, pending > 0, now).await?
            }
        }
    };
    tx.commit().await?;
    Ok(published)
}

async fn publish_if_due(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    campaign: &campaigns::CampaignView,
    traffic: bool,
    now: chrono::DateTime<Utc>,
) -> Result<bool, Error> {
    let stats = counters::variant_stats(conn, campaign.id, campaign.objective).await?;
    let next = decide::allocation(campaign, &stats);
    let latest = allocations::latest(conn, campaign.workspace_id, campaign.id).await?;
    let previous = latest
        .as_ref()
        .and_then(|l| decide::as_allocation(&stats, &l.shares));
    // An allocation announced while held back or paused must be replaced.
    let status_stale = latest
        .as_ref()
        .is_some_and(|l| l.status != CampaignStatus::Active);
    let moved = previous.as_ref().is_none_or(|p| {
        p.shares
            .iter()
            .zip(&next.shares)
            .any(|(a, b)| (a - b).abs() > decide::PUBLISH_THRESHOLD)
    });
    let due = should_publish(
        previous.as_ref(),
        &next,
        latest.as_ref().map(|l| l.computed_at),
        now,
        decide::PUBLISH_THRESHOLD,
        decide::HEARTBEAT,
        traffic,
    );
    if !(due || status_stale) {
        return Ok(false);
    }
    let why = if moved || status_stale {
        reason::CHANGED
    } else {
        reason::HEARTBEAT
    };
    let score = stats
        .iter()
        .map(|(_, s)| s.posterior().mean())
        .fold(0.0_f64, f64::max);
    sqlx::query("UPDATE campaigns SET performance_score = $2 WHERE id = $1")
        .bind(campaign.id)
        .bind(score)
        .execute(&mut *conn)
        .await?;
    allocations::publish(
        conn,
        &state.allocations_topic,
        campaign.workspace_id,
        campaign.id,
        CampaignStatus::Active,
        decide::shares(&stats, &next),
        why,
    )
    .await?;
    Ok(true)
}

async fn clear_pending(conn: &mut sqlx::PgConnection, campaign: Uuid) -> Result<(), Error> {
    sqlx::query(
        "UPDATE campaign_optimizer_state SET pending_interactions = 0, updated_at = now() \
         WHERE campaign_id = $1",
    )
    .bind(campaign)
    .execute(conn)
    .await?;
    Ok(())
}

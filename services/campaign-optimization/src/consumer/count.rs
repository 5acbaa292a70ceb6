//! Counting a batch of interactions as one set inside the batch's
//! transaction, and the budget rule that runs once per campaign after a
//! batch with sends.
//!
//! Whatever the batch size, counting takes a constant number of statements:
//! the batch's campaigns (locked, with their variants), the interaction ids
//! into `processed_events`, the outcomes into `campaign_send_outcomes` (both
//! `RETURNING` what is new), then the counters aggregated in memory by
//! variant, day and campaign, one statement per table.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, Utc};
use sqlx::PgConnection;
use suite_bus::HandlerError;
use suite_domain::{CampaignStatus, InteractionKind, InteractionV1};
use uuid::Uuid;

use crate::error::Error;
use crate::optimizer::decide;
use crate::state::AppState;
use crate::store::allocations::{self, reason};
use crate::store::campaigns::{self, CampaignView};
use crate::store::counters::{self, kind_index, VariantDelta};

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

/// Counts each of `interactions` exactly once in `conn`'s transaction (see
/// the module docs of [`super`]); nothing is committed here. Returns one
/// result per interaction, in order: an interaction that names an unknown
/// campaign or variant gets a permanent error and changes nothing, without
/// failing the others. `Err` means the batch failed as a whole.
pub async fn count_batch(
    state: &AppState,
    conn: &mut PgConnection,
    interactions: &[&InteractionV1],
) -> Result<Vec<Result<Outcome, HandlerError>>, Error> {
    let mut results: Vec<Option<Result<Outcome, HandlerError>>> =
        interactions.iter().map(|_| None).collect();
    let mut about: Vec<(usize, Uuid, Uuid)> = Vec::new();
    for (i, interaction) in interactions.iter().enumerate() {
        match (interaction.campaign_id, interaction.variant_id) {
            (Some(c), Some(v)) => about.push((i, *c.as_uuid(), *v.as_uuid())),
            _ => results[i] = Some(Ok(Outcome::Ignored)),
        }
    }

    let ids: Vec<(Uuid, Uuid)> = about
        .iter()
        .map(|&(i, c, _)| (*interactions[i].workspace_id.as_uuid(), c))
        .collect();
    let campaigns = campaigns::get_many(conn, &ids, true).await?;
    about.retain(|&(i, campaign, variant)| {
        let workspace = interactions[i].workspace_id;
        let error = match campaigns.get(&campaign) {
            None => invalid(
                "unknown_campaign",
                format!("no campaign {campaign} in workspace {workspace}"),
            ),
            Some(c) if !c.variants.iter().any(|v| v.id == variant) => invalid(
                "unknown_variant",
                format!("variant {variant} is not part of campaign {campaign}"),
            ),
            Some(_) => return true,
        };
        results[i] = Some(Err(error));
        false
    });

    // Redeliveries: the ids recorded before, or earlier in this batch.
    let event_ids: Vec<String> = about
        .iter()
        .map(|&(i, ..)| interactions[i].interaction_id.to_string())
        .collect();
    let refs: Vec<&str> = event_ids.iter().map(String::as_str).collect();
    let mut first = suite_bus::processed::first_times(conn, super::CONSUMER, &refs).await?;
    let mut fresh = Vec::with_capacity(about.len());
    for (entry, id) in about.into_iter().zip(&event_ids) {
        if first.remove(id.as_str()) {
            fresh.push(entry);
        } else {
            results[entry.0] = Some(Ok(Outcome::Duplicate));
        }
    }

    // An outcome (anything but `sent`) counts once per send.
    let outcomes: Vec<(Uuid, InteractionKind, Uuid)> = fresh
        .iter()
        .filter_map(|&(i, campaign, _)| {
            let x = interactions[i];
            let send = x.send_id.filter(|_| x.kind != InteractionKind::Sent)?;
            Some((send, x.kind, campaign))
        })
        .collect();
    let mut new_outcomes = counters::first_outcomes(conn, &outcomes).await?;
    fresh.retain(|&(i, ..)| {
        let x = interactions[i];
        let repeated = match x.send_id.filter(|_| x.kind != InteractionKind::Sent) {
            Some(send) => !new_outcomes.remove(&(send, x.kind.as_str().to_owned())),
            None => false,
        };
        if repeated {
            results[i] = Some(Ok(Outcome::Duplicate));
        }
        !repeated
    });

    // The counters, aggregated by variant, (campaign, day) and campaign.
    let mut variants: BTreeMap<Uuid, VariantDelta> = BTreeMap::new();
    let mut days: BTreeMap<(Uuid, NaiveDate), (i64, i64)> = BTreeMap::new();
    let mut pending: BTreeMap<Uuid, i64> = BTreeMap::new();
    let mut with_sends: Vec<Uuid> = Vec::new();
    for &(i, campaign_id, variant) in &fresh {
        let x = interactions[i];
        let sent = x.kind == InteractionKind::Sent;
        // A send costs its channel's price plus, for a generated message,
        // what writing it cost: both are charged to the variant and the day.
        let (channel_cost, generation_cost) = match campaigns.get(&campaign_id) {
            Some(campaign) if sent => (
                decide::cost(campaign, x.channel),
                x.generation_cost_micros.unwrap_or(0).max(0),
            ),
            _ => (0, 0),
        };
        let cost = channel_cost.saturating_add(generation_cost);
        let delta = variants.entry(variant).or_insert_with(|| VariantDelta {
            campaign: campaign_id,
            variant,
            ..VariantDelta::default()
        });
        delta.counts[kind_index(x.kind)] += 1;
        delta.spend_micros = delta.spend_micros.saturating_add(cost);
        delta.generation_spend_micros = delta
            .generation_spend_micros
            .saturating_add(generation_cost);
        if sent {
            let day = days
                .entry((campaign_id, x.occurred_at.date_naive()))
                .or_default();
            day.0 = day.0.saturating_add(cost);
            day.1 += 1;
            if !with_sends.contains(&campaign_id) {
                with_sends.push(campaign_id);
            }
        }
        *pending.entry(campaign_id).or_default() += 1;
    }
    let deltas: Vec<VariantDelta> = variants.into_values().collect();
    counters::add(conn, &deltas).await?;
    let days: Vec<(Uuid, NaiveDate, i64, i64)> = days
        .into_iter()
        .map(|((campaign, day), (spend, sends))| (campaign, day, spend, sends))
        .collect();
    counters::add_daily_spend(conn, &days).await?;
    let pending: Vec<(Uuid, i64)> = pending.into_iter().collect();
    counters::add_pending(conn, &pending).await?;

    // The budget rule, once per active campaign with sends in the batch.
    let active: Vec<&CampaignView> = with_sends
        .iter()
        .filter_map(|id| campaigns.get(id))
        .filter(|c| c.status == CampaignStatus::Active)
        .collect();
    let changed = enforce_budgets(state, conn, &active).await?;
    for (i, campaign, _) in fresh {
        results[i] = Some(Ok(Outcome::Counted {
            status_changed: changed.contains(&campaign)
                && interactions[i].kind == InteractionKind::Sent,
        }));
    }
    Ok(results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Err(HandlerError::transient("an interaction without a result")))
        })
        .collect())
}

/// Runs [`enforce_budget`] for each of `campaigns` with one read of their
/// day's spend; returns the campaigns whose status or hold changed.
async fn enforce_budgets(
    state: &AppState,
    conn: &mut PgConnection,
    campaigns: &[&CampaignView],
) -> Result<HashSet<Uuid>, Error> {
    let mut changed = HashSet::new();
    if campaigns.is_empty() {
        return Ok(changed);
    }
    let now = Utc::now();
    let ids: Vec<Uuid> = campaigns.iter().map(|c| c.id).collect();
    let spends: HashMap<Uuid, i64> = counters::spends_on(conn, &ids, now.date_naive()).await?;
    for campaign in campaigns {
        let spend = spends.get(&campaign.id).copied().unwrap_or(0);
        if enforce_budget(state, conn, campaign, spend).await? {
            changed.insert(campaign.id);
        }
    }
    Ok(changed)
}

/// After sends of an active campaign that has spent `spend` today: pauses
/// it when the day's budget is spent, or holds its sends back while spend
/// runs ahead of the pace. Returns whether anything changed. The caller
/// holds the campaign's lock.
async fn enforce_budget(
    state: &AppState,
    conn: &mut PgConnection,
    campaign: &CampaignView,
    spend: i64,
) -> Result<bool, Error> {
    let now = Utc::now();
    let Some(pacing) = decide::pacing(campaign, spend, now) else {
        return Ok(false);
    };
    if pacing.exhausted {
        campaigns::set_status(
            conn,
            &state.definitions_topic,
            campaign.id,
            CampaignStatus::Paused,
            Some("budget"),
        )
        .await?;
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

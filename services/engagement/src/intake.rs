//! The consumer of `leads.hot`, `leads.warm`, `leads.nurture` (plans
//! outreach) and `campaigns.allocations` (keeps the latest allocation per
//! campaign). One consumer in the service's group subscribes to all four.

use rand::Rng as _;
use suite_bus::{Handler, HandlerError, Record};
use suite_domain::{CampaignAllocationV1, Category, LeadTriagedV1};
use uuid::Uuid;

use crate::outreach::ladder;
use crate::state::AppState;
use crate::store::campaigns::{self, CampaignTarget};
use crate::store::{allocations, leads, plans};

/// Consumer name in `processed_events`.
pub const CONSUMER: &str = "engagement.triaged";

/// Handles the engagement consumer's records.
pub struct IntakeHandler {
    state: AppState,
}

impl IntakeHandler {
    /// A handler working through `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl Handler for IntakeHandler {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let event = record
            .cloud_event()
            .map_err(|e| HandlerError::permanent("invalid_event", e))?;
        match event.type_.as_str() {
            LeadTriagedV1::CE_TYPE => {
                let triaged: LeadTriagedV1 = event
                    .data_as()
                    .map_err(|e| HandlerError::permanent("invalid_event", e))?;
                plan_lead(&self.state, &event.id, &triaged).await
            }
            CampaignAllocationV1::CE_TYPE => {
                let allocation: CampaignAllocationV1 = event
                    .data_as()
                    .map_err(|e| HandlerError::permanent("invalid_event", e))?;
                apply_allocation(&self.state, &allocation).await
            }
            other => Err(HandlerError::permanent(
                "unknown_event_type",
                format!("engagement does not handle {other}"),
            )),
        }
    }
}

/// Plans outreach for a triaged lead: exactly one plan per (lead, campaign).
pub async fn plan_lead(
    state: &AppState,
    event_id: &str,
    event: &LeadTriagedV1,
) -> Result<(), HandlerError> {
    if !matches!(
        event.category,
        Category::Hot | Category::Warm | Category::Nurture
    ) {
        return Ok(());
    }
    let workspace = Uuid::from(event.workspace_id);
    let lead = Uuid::from(event.lead_id);
    let category = event.category.as_str();
    let pool = state.platform.db.primary().clone();
    let target = state
        .targets
        .get_or_load(&AppState::target_key(workspace, category), async {
            campaigns::active_targeting(&pool, workspace, category).await
        })
        .await?;
    let mut tx = pool.begin().await?;
    if !suite_bus::processed::first_time(&mut tx, CONSUMER, event_id).await? {
        return Ok(());
    }
    if !leads::exists(&mut *tx, workspace, lead).await? {
        return Err(HandlerError::permanent(
            "unknown_lead",
            "no such lead in the workspace",
        ));
    }
    let Some(target) = target else {
        tx.commit().await?;
        tracing::info!(lead_id = %lead, category, "no active campaign targets the category; nothing planned");
        return Ok(());
    };
    let Some(variant) = choose_variant(&target, rand::rng().random()) else {
        tx.commit().await?;
        return Ok(());
    };
    let now = state.clock.now();
    let ladder_steps = (!target.ladder.is_empty()).then_some(target.ladder.as_slice());
    let steps = ladder::plan(event.category, ladder_steps, now);
    let plan = plans::NewPlan {
        id: Uuid::now_v7(),
        workspace_id: workspace,
        lead_id: lead,
        campaign_id: target.id,
        variant_id: variant,
        category: category.to_owned(),
        correlation_id: event.correlation_id.as_str().to_owned(),
        steps,
    };
    let planned = plans::insert(&mut tx, &plan).await?;
    tx.commit().await?;
    if planned {
        tracing::info!(lead_id = %lead, campaign_id = %target.id, variant_id = %variant, steps = plan.steps.len(), "outreach planned");
        state.wake.notify_one();
        // A context read before the plan (cached with no current step) would
        // otherwise hide it until the first send, days away for a drip.
        state
            .contexts
            .invalidate(&AppState::conversation_key(workspace, lead))
            .await;
    }
    Ok(())
}

/// The variant for a lead: by the allocation's shares (uniform until one
/// arrived, or when the shares name none of the campaign's variants).
/// `draw` is uniform in [0, 1).
pub fn choose_variant(target: &CampaignTarget, draw: f64) -> Option<Uuid> {
    let weighted: Vec<(Uuid, f64)> = target
        .shares
        .iter()
        .flatten()
        .filter(|s| s.share.is_finite() && s.share > 0.0)
        .map(|s| (Uuid::from(s.variant_id), s.share))
        .filter(|(id, _)| target.variants.contains(id))
        .collect();
    let total: f64 = weighted.iter().map(|(_, w)| w).sum();
    if weighted.is_empty() || total <= 0.0 {
        let n = target.variants.len();
        let pick = ((draw * n as f64) as usize).min(n.checked_sub(1)?);
        return target.variants.get(pick).copied();
    }
    let mut point = draw * total;
    for (id, weight) in &weighted {
        if point < *weight {
            return Some(*id);
        }
        point -= weight;
    }
    weighted.last().map(|(id, _)| *id)
}

/// Keeps the allocation with the highest sequence; a change drops the
/// cached campaign choice of the workspace.
pub async fn apply_allocation(
    state: &AppState,
    event: &CampaignAllocationV1,
) -> Result<(), HandlerError> {
    let changed = allocations::upsert(state.platform.db.primary(), event).await?;
    if changed {
        let workspace = Uuid::from(event.workspace_id);
        for category in [Category::Hot, Category::Warm, Category::Nurture] {
            state
                .targets
                .invalidate(&AppState::target_key(workspace, category.as_str()))
                .await;
        }
        tracing::info!(campaign_id = %event.campaign_id, sequence = event.sequence, status = %event.status, "allocation applied");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use suite_domain::{AllocationShare, VariantId};

    fn target(shares: Option<Vec<(Uuid, f64)>>) -> (CampaignTarget, Uuid, Uuid) {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let shares = shares.map(|s| {
            s.into_iter()
                .map(|(id, share)| AllocationShare {
                    variant_id: VariantId::from(id),
                    share,
                })
                .collect()
        });
        let t = CampaignTarget {
            id: Uuid::now_v7(),
            ladder: vec![],
            variants: vec![a, b],
            shares,
        };
        (t, a, b)
    }

    #[test]
    fn uniform_until_an_allocation_arrives() {
        let (t, a, b) = target(None);
        assert_eq!(choose_variant(&t, 0.1), Some(a));
        assert_eq!(choose_variant(&t, 0.9), Some(b));
        assert_eq!(choose_variant(&t, 0.999_999), Some(b));
    }

    #[test]
    fn shares_weight_the_choice_and_unknown_variants_are_ignored() {
        let (mut t, a, b) = target(None);
        t.shares = Some(vec![
            AllocationShare {
                variant_id: VariantId::from(a),
                share: 0.2,
            },
            AllocationShare {
                variant_id: VariantId::from(b),
                share: 0.8,
            },
            AllocationShare {
                variant_id: VariantId::new(),
                share: 5.0,
            },
        ]);
        assert_eq!(choose_variant(&t, 0.1), Some(a));
        assert_eq!(choose_variant(&t, 0.25), Some(b));
        t.shares = Some(vec![AllocationShare {
            variant_id: VariantId::new(),
            share: 1.0,
        }]);
        assert_eq!(choose_variant(&t, 0.7), Some(b), "falls back to uniform");
        t.variants.clear();
        assert_eq!(choose_variant(&t, 0.7), None);
    }
}

//! The consumer of `leads.hot`, `leads.warm`, `leads.nurture` (plans
//! outreach, as sets: [`plan`]), `campaigns.allocations` (keeps the latest
//! allocation per campaign) and the compacted `leads.contacts` and
//! `campaigns.definitions` (keep engagement's copies of leads and
//! campaigns: [`copies`]). One consumer in the service's group subscribes
//! to all six.

pub mod copies;
pub mod plan;

pub use copies::Contacts;
pub use plan::{Planned, Planner};

use suite_bus::{Handler, HandlerError, Record};
use suite_domain::{
    topics, CampaignAllocationV1, CampaignDefinitionV1, Category, LeadContactV1, LeadTriagedV1,
};
use uuid::Uuid;

use crate::state::AppState;
use crate::store::allocations;
use crate::store::campaigns::CampaignTarget;

/// Consumer name in `processed_events`.
pub const CONSUMER: &str = "engagement.triaged";

/// Handles the engagement consumer's records.
pub struct IntakeHandler {
    state: AppState,
    planner: Planner,
    contacts: Contacts,
    contacts_topic: String,
}

impl IntakeHandler {
    /// A handler working through `state`, planning through a [`Planner`]
    /// and keeping contact data through [`Contacts`] of its own.
    pub fn new(state: AppState) -> Self {
        let planner = Planner::start(state.clone());
        let contacts = Contacts::start(state.clone());
        let contacts_topic = state.platform.settings.topic(topics::LEADS_CONTACTS);
        Self {
            state,
            planner,
            contacts,
            contacts_topic,
        }
    }
}

impl Handler for IntakeHandler {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        if record.payload.is_none() && record.topic == self.contacts_topic {
            return copies::forget_lead(&self.state, record.key.as_deref()).await;
        }
        let event = record
            .cloud_event()
            .map_err(|e| HandlerError::permanent("invalid_event", e))?;
        match event.type_.as_str() {
            LeadTriagedV1::CE_TYPE => {
                let triaged: LeadTriagedV1 = event
                    .data_as()
                    .map_err(|e| HandlerError::permanent("invalid_event", e))?;
                if !matches!(
                    triaged.category,
                    Category::Hot | Category::Warm | Category::Nurture
                ) {
                    return Ok(());
                }
                let lead = triaged.lead_id;
                let planned = self.planner.plan(&event.id, triaged).await?;
                tracing::debug!(lead_id = %lead, outcome = ?planned, "triaged lead handled");
                Ok(())
            }
            CampaignAllocationV1::CE_TYPE => {
                let allocation: CampaignAllocationV1 = event
                    .data_as()
                    .map_err(|e| HandlerError::permanent("invalid_event", e))?;
                apply_allocation(&self.state, &allocation).await
            }
            LeadContactV1::CE_TYPE => {
                let contact: LeadContactV1 = event
                    .data_as()
                    .map_err(|e| HandlerError::permanent("invalid_event", e))?;
                self.contacts.keep(contact).await
            }
            CampaignDefinitionV1::CE_TYPE => {
                let definition: CampaignDefinitionV1 = event
                    .data_as()
                    .map_err(|e| HandlerError::permanent("invalid_event", e))?;
                copies::apply_definition(&self.state, &definition).await
            }
            other => Err(HandlerError::permanent(
                "unknown_event_type",
                format!("engagement does not handle {other}"),
            )),
        }
    }

    /// Triaged leads are planned by the [`Planner`] (contact data kept by
    /// [`Contacts`]), which writes every queued event in one transaction:
    /// records in flight share its connection, and bounding them would only
    /// cap the batch size.
    fn connection_per_record(&self) -> bool {
        false
    }
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
            generating: false,
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

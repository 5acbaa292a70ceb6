//! The `lead.triaged.v1` and `lead.contact.v1` events (schema:
//! `suite_domain` and docs/events.md).

use suite_bus::CloudEvent;
use uuid::Uuid;

use crate::store::view::LeadView;

/// CloudEvents `source` of every event this service emits.
pub const SOURCE: &str = "/lead-triage";

/// The event announcing `lead`'s current triage: (category, lead id, event).
pub fn triaged_event(
    lead: &LeadView,
    workspace: Uuid,
    previous: Option<&str>,
) -> (String, Uuid, CloudEvent) {
    tracing::debug!(
        lead_id = %lead.id,
        correlation_id = %lead.correlation_id,
        category = %lead.category,
        previous_category = previous,
        "lead triaged"
    );
    let data = serde_json::json!({
        "lead_id": lead.id,
        "workspace_id": workspace,
        "score": lead.score,
        "category": lead.category,
        "previous_category": previous,
        "breakdown": lead.breakdown.0,
        "model_version": lead.model_version,
        "correlation_id": lead.correlation_id,
        "triaged_at": lead.updated_at,
    });
    let event = CloudEvent::new(
        suite_domain::events::CE_TYPE_LEAD_TRIAGED,
        SOURCE,
        Some(lead.id.to_string()),
        data,
    )
    .with_correlation_id(lead.correlation_id.clone());
    (lead.category.clone(), lead.id, event)
}

/// The contact data of `lead` as `lead.contact.v1` carries it, without its
/// time: two leads with equal values need no new event.
pub fn contact_data(lead: &LeadView, workspace: Uuid) -> serde_json::Value {
    serde_json::json!({
        "lead_id": lead.id,
        "workspace_id": workspace,
        "email": lead.email,
        "phone": lead.phone,
        "name": lead.name,
        "company": lead.company,
        "title": lead.title,
        "industry": lead.industry,
        "country": lead.country,
        "timezone": lead.timezone,
        "consent": lead.consent.0,
        "correlation_id": lead.correlation_id,
    })
}

/// The event announcing `lead`'s current contact data: (lead id, event).
pub fn contact_event(lead: &LeadView, workspace: Uuid) -> (Uuid, CloudEvent) {
    let mut data = contact_data(lead, workspace);
    data["updated_at"] = serde_json::json!(lead.updated_at);
    let event = CloudEvent::new(
        suite_domain::events::CE_TYPE_LEAD_CONTACT,
        SOURCE,
        Some(lead.id.to_string()),
        data,
    )
    .with_correlation_id(lead.correlation_id.clone());
    (lead.id, event)
}

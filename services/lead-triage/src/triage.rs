//! Scores a stored lead record with the pure scoring core.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use suite_domain::Email;

use crate::scoring::{score, BehaviourEvent, LeadSignals};
use crate::store::models::VersionedModel;
use crate::store::view::LeadView;

/// Recomputes `lead`'s score, category, breakdown and model version.
pub fn apply(
    lead: &mut LeadView,
    events: &[BehaviourEvent],
    model: &VersionedModel,
    now: DateTime<Utc>,
) {
    // Stored emails were validated on the way in; one that no longer parses
    // (a stricter parser after an upgrade) keeps its previous triage.
    let Ok(email) = Email::parse(&lead.email) else {
        tracing::warn!(lead_id = %lead.id, "stored email no longer parses; triage unchanged");
        return;
    };
    let signals = LeadSignals {
        email,
        has_valid_phone: lead.phone.is_some(),
        company_size: lead.company_size.and_then(|n| u32::try_from(n).ok()),
        title: lead.title.clone(),
        industry: lead.industry.clone(),
        country: lead.country.clone(),
        source: lead.source.clone(),
        opted_out: lead
            .consent
            .0
            .get("opt_out")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
    };
    let triage = score(&signals, events, &model.model, now);
    lead.score = i16::from(triage.score.get());
    lead.category = triage.category.to_string();
    lead.breakdown = Json(serde_json::to_value(&triage.breakdown).unwrap_or_default());
    lead.model_version = model.version;
}

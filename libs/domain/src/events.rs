//! Event payloads carried as CloudEvents `data` (docs/architecture.md §3).
//!
//! Each payload type names its versioned `ce_type`. Payloads do not deny
//! unknown fields: a producer may add optional fields within a version,
//! and consumers deployed earlier must keep reading. Removing or changing
//! a field needs a new version (`lead.triaged.v2`) on the same topic.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use uuid::Uuid;

use crate::{
    CampaignId, CampaignStatus, Category, Channel, CorrelationId, EmailHash, FactorScore,
    InteractionId, InteractionKind, LeadId, Score, VariantId, WorkspaceId,
};

mod contact;
mod definition;
#[cfg(test)]
mod tests;

pub use contact::LeadContactV1;
pub use definition::{CampaignDefinitionV1, VariantDefinition};

/// `ce_type` of [`LeadTriagedV1`].
pub const CE_TYPE_LEAD_TRIAGED: &str = "lead.triaged.v1";
/// `ce_type` of [`InteractionV1`].
pub const CE_TYPE_INTERACTION: &str = "engagement.interaction.v1";
/// `ce_type` of [`CampaignAllocationV1`].
pub const CE_TYPE_CAMPAIGN_ALLOCATION: &str = "campaign.allocation.v1";
/// `ce_type` of [`LeadContactV1`].
pub const CE_TYPE_LEAD_CONTACT: &str = "lead.contact.v1";
/// `ce_type` of [`CampaignDefinitionV1`].
pub const CE_TYPE_CAMPAIGN_DEFINITION: &str = "campaign.definition.v1";

/// A lead was scored and categorised: published by lead-triage on
/// `leads.{category}`, keyed by lead id, when a lead is created and again
/// whenever a rescore changes its category.
///
/// JSON (field names as in Rust; times RFC 3339 in UTC):
///
/// ```json
/// {
///   "lead_id": "0190c6c1-…", "workspace_id": "0190c6c0-…",
///   "email_hash": "cb37bc85…",            // optional, see below
///   "score": 72, "category": "warm",
///   "breakdown": [{"factor": "seniority", "points": 20, "max": 20,
///                  "reason": "title \"VP Sales\" is vp, a target seniority"}],
///   "model_version": 3, "correlation_id": "req-8f2…",
///   "triaged_at": "2025-06-01T12:00:00Z", "previous_category": null
/// }
/// ```
///
/// The lead's email address and phone number are never in the event:
/// Kafka topics are retained, replicated and read by every consumer, and
/// docs/architecture.md §8 keeps personal data out of logs and such side channels. A
/// consumer that needs to contact the lead keeps the lead's
/// [`LeadContactV1`] from the compacted `leads.contacts` topic. `email_hash` is an HMAC of the address under a
/// deployment secret ([`EmailHash`]); it is absent when no key is
/// configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadTriagedV1 {
    /// The lead; also the Kafka key and the CloudEvents subject.
    pub lead_id: LeadId,
    /// The lead's workspace.
    pub workspace_id: WorkspaceId,
    /// Keyed hash of the lead's email, when the deployment has a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_hash: Option<EmailHash>,
    /// 0–100.
    pub score: Score,
    /// The category, which also names the topic.
    pub category: Category,
    /// Per-factor points; they add up to `score`.
    pub breakdown: Vec<FactorScore>,
    /// Version of the workspace's scoring model that produced the score.
    pub model_version: i32,
    /// Follows the lead through all three agents.
    pub correlation_id: CorrelationId,
    /// When the lead was scored.
    pub triaged_at: DateTime<Utc>,
    /// The category before this rescore; `null` on the first triage.
    #[serde(default)]
    pub previous_category: Option<Category>,
}

impl LeadTriagedV1 {
    /// The CloudEvents type, [`CE_TYPE_LEAD_TRIAGED`].
    pub const CE_TYPE: &'static str = CE_TYPE_LEAD_TRIAGED;

    /// The topic the event goes to: `leads.{category}`.
    pub fn topic(&self) -> &'static str {
        self.category.topic()
    }

    /// The Kafka key and CloudEvents subject: the lead id.
    pub fn key(&self) -> String {
        self.lead_id.to_string()
    }
}

/// Something happened to a send or a lead: published by engagement on
/// `engagement.interactions`, keyed by campaign id (by lead id when the
/// interaction belongs to no campaign), for every send (`sent`) and every
/// provider callback or user action accepted by `POST /v1/interactions`.
///
/// The CloudEvents id is `interaction_id`, so a consumer dedupes
/// redeliveries by it.
///
/// ```json
/// {
///   "interaction_id": "0190c6d0-…", "workspace_id": "0190c6c0-…",
///   "lead_id": "0190c6c1-…", "campaign_id": "0190c6c2-…",
///   "variant_id": "0190c6c3-…", "send_id": "0190c6c4-…",
///   "channel": "email", "kind": "clicked",
///   "occurred_at": "2025-06-01T12:00:00Z", "correlation_id": "req-8f2…",
///   "provider_event_id": "evt_123"
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionV1 {
    /// Unique per interaction; also the CloudEvents id.
    pub interaction_id: InteractionId,
    /// The lead's workspace.
    pub workspace_id: WorkspaceId,
    /// The lead.
    pub lead_id: LeadId,
    /// The campaign of the send, when the interaction belongs to one.
    #[serde(default)]
    pub campaign_id: Option<CampaignId>,
    /// The variant of the send, when the interaction belongs to one.
    #[serde(default)]
    pub variant_id: Option<VariantId>,
    /// The send (communication) the interaction is about, when known.
    #[serde(default)]
    pub send_id: Option<Uuid>,
    /// The channel of the send.
    pub channel: Channel,
    /// What happened.
    pub kind: InteractionKind,
    /// When it happened (the provider's time for callbacks).
    pub occurred_at: DateTime<Utc>,
    /// Follows the lead through all three agents.
    pub correlation_id: CorrelationId,
    /// The provider's own event id, for callbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_event_id: Option<String>,
    /// On a `sent` interaction: what writing the message with a language
    /// model cost (micros), charged to the campaign's day like the send's
    /// own cost (docs/personalisation.md). Absent when nothing was generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_cost_micros: Option<i64>,
}

impl InteractionV1 {
    /// The CloudEvents type, [`CE_TYPE_INTERACTION`].
    pub const CE_TYPE: &'static str = CE_TYPE_INTERACTION;

    /// The Kafka key: the campaign id, or the lead id without a campaign.
    pub fn key(&self) -> String {
        match self.campaign_id {
            Some(campaign) => campaign.to_string(),
            None => self.lead_id.to_string(),
        }
    }
}

/// One variant's share of a campaign's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AllocationShare {
    /// The variant.
    pub variant_id: VariantId,
    /// Its share of new sends, in 0–1; the shares of a campaign sum to 1.
    pub share: f64,
}

/// The traffic allocation of a campaign: published by
/// campaign-optimization on `campaigns.allocations` (compacted), keyed by
/// campaign id, when the allocation or the campaign's status changes and
/// at least every few seconds while interactions flow.
///
/// Consumers keep the event with the highest `sequence` per campaign and
/// ignore older ones (a compacted topic may redeliver). A campaign whose
/// `status` is not `active` gets no new sends.
///
/// ```json
/// {
///   "campaign_id": "0190c6c2-…", "workspace_id": "0190c6c0-…",
///   "status": "active", "sequence": 42,
///   "shares": [{"variant_id": "0190c6c3-…", "share": 0.83},
///              {"variant_id": "0190c6c5-…", "share": 0.17}],
///   "reason": "changed", "computed_at": "2025-06-01T12:00:00Z"
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignAllocationV1 {
    /// The campaign; also the Kafka key and the CloudEvents subject.
    pub campaign_id: CampaignId,
    /// The campaign's workspace.
    pub workspace_id: WorkspaceId,
    /// The campaign's status when the allocation was computed.
    pub status: CampaignStatus,
    /// Increases with every allocation of the campaign.
    pub sequence: i64,
    /// Per-variant shares.
    pub shares: Vec<AllocationShare>,
    /// Why it was published (`changed`, `heartbeat`, `budget_exhausted`, `status`).
    pub reason: String,
    /// When it was computed.
    pub computed_at: DateTime<Utc>,
    /// The best variant's posterior mean rate when it was computed: where
    /// several active campaigns target a category, new leads go to the
    /// highest. Optional (added within v1); absent means unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performance_score: Option<f64>,
}

impl CampaignAllocationV1 {
    /// The CloudEvents type, [`CE_TYPE_CAMPAIGN_ALLOCATION`].
    pub const CE_TYPE: &'static str = CE_TYPE_CAMPAIGN_ALLOCATION;

    /// The Kafka key and CloudEvents subject: the campaign id.
    pub fn key(&self) -> String {
        self.campaign_id.to_string()
    }
}

//! Event payloads carried as CloudEvents `data` (DESIGN §3).
//!
//! Each payload type names its versioned `ce_type`. Payloads do not deny
//! unknown fields: a producer may add optional fields within a version,
//! and consumers deployed earlier must keep reading. Removing or changing
//! a field needs a new version (`lead.triaged.v2`) on the same topic.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Category, CorrelationId, EmailHash, FactorScore, LeadId, Score, WorkspaceId};

#[cfg(test)]
mod tests;

/// `ce_type` of [`LeadTriagedV1`].
pub const CE_TYPE_LEAD_TRIAGED: &str = "lead.triaged.v1";

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
/// DESIGN §8 keeps personal data out of logs and such side channels. A
/// consumer that needs to contact the lead reads it by `lead_id` from
/// lead-triage. `email_hash` is an HMAC of the address under a
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

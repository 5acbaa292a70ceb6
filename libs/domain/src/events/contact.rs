//! `lead.contact.v1`: what a lead's contact data is now.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CE_TYPE_LEAD_CONTACT;
use crate::{CorrelationId, LeadId, WorkspaceId};

/// The lead's contact data as lead-triage holds it now: published on
/// `leads.contacts` (compacted), keyed by lead id, when a lead is created
/// and whenever a merge or an `identify` changes one of these fields.
/// Engagement keeps the latest per lead (the one with the latest
/// `updated_at`) to address and personalise its sends.
///
/// This is the one event that carries personal data. Its topic is
/// compacted, so Kafka keeps only the latest record per lead, and erasing
/// a lead publishes a tombstone (a record with no value) that removes it
/// from the topic and from every consumer's copy.
///
/// ```json
/// {
///   "lead_id": "0190c6c1-…", "workspace_id": "0190c6c0-…",
///   "email": "dana@initech.com", "phone": "+14155550100", "name": "Dana Scully",
///   "company": "Initech", "title": "VP of Engineering", "industry": "software",
///   "country": "US", "timezone": "America/Los_Angeles",
///   "consent": {"email": true, "sms": false},
///   "correlation_id": "req-8f2…", "updated_at": "2025-06-01T12:00:00.123456Z"
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadContactV1 {
    /// The lead; also the Kafka key and the CloudEvents subject.
    pub lead_id: LeadId,
    /// The lead's workspace.
    pub workspace_id: WorkspaceId,
    /// Normalised email address.
    pub email: String,
    /// E.164 phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Full name.
    #[serde(default)]
    pub name: Option<String>,
    /// Company.
    #[serde(default)]
    pub company: Option<String>,
    /// Job title.
    #[serde(default)]
    pub title: Option<String>,
    /// Industry.
    #[serde(default)]
    pub industry: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Consent flags given at intake (`{"email": true, "sms": false, "opt_out": false}`).
    #[serde(default)]
    pub consent: serde_json::Value,
    /// Follows the lead through all three agents.
    pub correlation_id: CorrelationId,
    /// When the lead last changed; a consumer keeps the latest.
    pub updated_at: DateTime<Utc>,
}

impl LeadContactV1 {
    /// The CloudEvents type, [`CE_TYPE_LEAD_CONTACT`].
    pub const CE_TYPE: &'static str = CE_TYPE_LEAD_CONTACT;

    /// The Kafka key and CloudEvents subject: the lead id.
    pub fn key(&self) -> String {
        self.lead_id.to_string()
    }

    /// Whether `other` carries the same contact data (times aside).
    pub fn same_contact(&self, other: &Self) -> bool {
        let strip = |c: &Self| Self {
            updated_at: DateTime::<Utc>::MIN_UTC,
            ..c.clone()
        };
        strip(self) == strip(other)
    }
}

//! `campaign.definition.v1`: what a campaign is now.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::CE_TYPE_CAMPAIGN_DEFINITION;
use crate::{CampaignId, CampaignStatus, Category, VariantId, WorkspaceId};

/// A campaign's definition as campaign-optimization holds it now:
/// published on `campaigns.definitions` (compacted), keyed by campaign id,
/// when a campaign is created and on every change (update, pause, resume,
/// archive, a pause for budget). Consumers keep the one with the highest
/// `version` per campaign.
///
/// `ladder` and each variant's `content` are passed as campaign-optimization
/// validated them (docs/campaign-optimization.md shows their shape): a
/// ladder step is `{"channel": "email", "delay_secs": 0}`, a variant's
/// content is one message template per channel.
///
/// ```json
/// {
///   "campaign_id": "0190c6c2-…", "workspace_id": "0190c6c0-…", "version": 3,
///   "status": "active", "target_categories": ["hot", "warm"],
///   "ladder": [{"channel": "email", "delay_secs": 0}, {"channel": "sms", "delay_secs": 86400}],
///   "daily_budget_micros": 50000000, "channel_costs": {"email": 1000, "sms": 8000},
///   "variants": [{"variant_id": "0190c6c3-…", "position": 0,
///                 "content": {"email": {"subject": "Hi {{ first_name }}", "body": "…"}}}],
///   "created_at": "2025-06-01T12:00:00Z", "updated_at": "2025-06-02T08:30:00Z"
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignDefinitionV1 {
    /// The campaign; also the Kafka key and the CloudEvents subject.
    pub campaign_id: CampaignId,
    /// The campaign's workspace.
    pub workspace_id: WorkspaceId,
    /// Increases with every change of the campaign.
    pub version: i32,
    /// `active`, `paused` or `archived`.
    pub status: CampaignStatus,
    /// The lead categories it plans.
    pub target_categories: Vec<Category>,
    /// The channel ladder.
    pub ladder: serde_json::Value,
    /// The day's budget in micros.
    pub daily_budget_micros: i64,
    /// The cost of one send per channel, in micros.
    #[serde(default)]
    pub channel_costs: BTreeMap<String, i64>,
    /// The variants, in position order.
    pub variants: Vec<VariantDefinition>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One variant of a [`CampaignDefinitionV1`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantDefinition {
    /// The variant (the `variant_id` of allocations and interactions).
    pub variant_id: VariantId,
    /// Its position in the campaign, from 0.
    pub position: i16,
    /// One message template per channel.
    pub content: serde_json::Value,
}

impl CampaignDefinitionV1 {
    /// The CloudEvents type, [`CE_TYPE_CAMPAIGN_DEFINITION`].
    pub const CE_TYPE: &'static str = CE_TYPE_CAMPAIGN_DEFINITION;

    /// The Kafka key and CloudEvents subject: the campaign id.
    pub fn key(&self) -> String {
        self.campaign_id.to_string()
    }
}

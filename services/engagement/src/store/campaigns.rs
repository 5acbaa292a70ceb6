//! Campaign reads (campaigns are owned by campaign-optimization): the
//! active campaign targeting a category, a variant's content, a campaign's
//! sendability.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::PgExecutor;
use suite_domain::{AllocationShare, Channel};
use uuid::Uuid;

use crate::outreach::{MessageTemplate, StepSpec};

/// The campaign a lead of some category is planned under.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CampaignTarget {
    /// The campaign.
    pub id: Uuid,
    /// Its ladder; empty when unusable (the category default applies).
    pub ladder: Vec<StepSpec>,
    /// Its variants, in position order.
    pub variants: Vec<Uuid>,
    /// The latest allocation's shares; `None` until one arrived.
    pub shares: Option<Vec<AllocationShare>>,
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    id: Uuid,
    ladder: serde_json::Value,
    shares: Option<Json<Vec<AllocationShare>>>,
}

/// The active campaign of `workspace` that targets `category` (best
/// performance score first, then the oldest), or `None`. A campaign whose
/// latest allocation says it is paused or archived does not count.
pub async fn active_targeting(
    db: &sqlx::PgPool,
    workspace: Uuid,
    category: &str,
) -> Result<Option<CampaignTarget>, sqlx::Error> {
    let row: Option<TargetRow> = sqlx::query_as(
        "SELECT c.id, c.ladder, a.shares FROM campaigns c \
         LEFT JOIN engagement_allocations a ON a.campaign_id = c.id \
         WHERE c.workspace_id = $1 AND c.status = 'active' AND $2 = ANY (c.target_categories) \
           AND (a.status IS NULL OR a.status = 'active') \
           AND EXISTS (SELECT 1 FROM campaign_variants v WHERE v.campaign_id = c.id) \
         ORDER BY c.performance_score DESC, c.created_at, c.id LIMIT 1",
    )
    .bind(workspace)
    .bind(category)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let variants: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM campaign_variants WHERE campaign_id = $1 ORDER BY position",
    )
    .bind(row.id)
    .fetch_all(db)
    .await?;
    let ladder = serde_json::from_value::<Vec<StepSpec>>(row.ladder).unwrap_or_else(|e| {
        tracing::warn!(campaign_id = %row.id, error = %e, "unusable campaign ladder; using the category default");
        Vec::new()
    });
    Ok(Some(CampaignTarget {
        id: row.id,
        ladder,
        variants,
        shares: row.shares.map(|s| s.0),
    }))
}

/// A variant's message templates per channel.
pub type VariantContent = BTreeMap<Channel, MessageTemplate>;

/// The content of variant `id`; channels whose template does not parse are left out.
pub async fn variant_content(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<VariantContent>, sqlx::Error> {
    let content: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT content FROM campaign_variants WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(content.map(|content| {
        Channel::ALL
            .into_iter()
            .filter_map(|channel| {
                let part = content.get(channel.as_str())?.clone();
                serde_json::from_value::<MessageTemplate>(part)
                    .ok()
                    .map(|t| (channel, t))
            })
            .collect()
    }))
}

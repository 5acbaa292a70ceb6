//! Engagement's copy of each campaign (`engagement_campaigns`,
//! `engagement_variants`), kept from `campaign.definition.v1` events on
//! `campaigns.definitions` (campaign-optimization owns the campaigns), and
//! its reads: the active campaign targeting a category, a variant's content.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor};
use suite_domain::{AllocationShare, CampaignDefinitionV1, Channel};
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
    /// Some variant asks for generated messages: its plans keep the lead's
    /// score and breakdown for the prompt (docs/personalisation.md).
    #[serde(default)]
    pub generating: bool,
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
        "SELECT c.id, c.ladder, a.shares FROM engagement_campaigns c \
         LEFT JOIN engagement_allocations a ON a.campaign_id = c.id \
         WHERE c.workspace_id = $1 AND c.status = 'active' AND $2 = ANY (c.target_categories) \
           AND (a.status IS NULL OR a.status = 'active') \
           AND EXISTS (SELECT 1 FROM engagement_variants v WHERE v.campaign_id = c.id) \
         ORDER BY coalesce(a.performance_score, 0) DESC, c.created_at, c.id LIMIT 1",
    )
    .bind(workspace)
    .bind(category)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let variants: Vec<(Uuid, bool)> = sqlx::query_as(
        "SELECT id, jsonb_path_exists(content, '$.*.generation') FROM engagement_variants \
         WHERE campaign_id = $1 ORDER BY position",
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
        generating: variants.iter().any(|(_, generating)| *generating),
        variants: variants.into_iter().map(|(id, _)| id).collect(),
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
        sqlx::query_scalar("SELECT content FROM engagement_variants WHERE id = $1")
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

/// Whether workspace `workspace` has campaign `id`.
pub async fn exists(
    db: impl PgExecutor<'_>,
    workspace: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM engagement_campaigns WHERE id = $1 AND workspace_id = $2)",
    )
    .bind(id)
    .bind(workspace)
    .fetch_one(db)
    .await
}

/// Keeps `definition` unless the copy already holds its version or a later
/// one: the campaign row and its variants (variants no longer named are
/// dropped), in the caller's transaction. Returns whether it changed
/// anything.
pub async fn apply(
    conn: &mut PgConnection,
    definition: &CampaignDefinitionV1,
) -> Result<bool, sqlx::Error> {
    let id = definition.campaign_id.as_uuid();
    let categories: Vec<&str> = definition
        .target_categories
        .iter()
        .map(|c| c.as_str())
        .collect();
    let changed = sqlx::query(
        "INSERT INTO engagement_campaigns AS c (id, workspace_id, version, status, target_categories, \
           ladder, daily_budget_micros, channel_costs, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET workspace_id = EXCLUDED.workspace_id, version = EXCLUDED.version, \
           status = EXCLUDED.status, target_categories = EXCLUDED.target_categories, \
           ladder = EXCLUDED.ladder, daily_budget_micros = EXCLUDED.daily_budget_micros, \
           channel_costs = EXCLUDED.channel_costs, created_at = EXCLUDED.created_at, received_at = now() \
         WHERE c.version < EXCLUDED.version",
    )
    .bind(id)
    .bind(definition.workspace_id.as_uuid())
    .bind(definition.version)
    .bind(definition.status.as_str())
    .bind(&categories)
    .bind(&definition.ladder)
    .bind(definition.daily_budget_micros)
    .bind(Json(&definition.channel_costs))
    .bind(definition.created_at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !changed {
        return Ok(false);
    }
    let variants: Vec<Uuid> = definition
        .variants
        .iter()
        .map(|v| *v.variant_id.as_uuid())
        .collect();
    let positions: Vec<i16> = definition.variants.iter().map(|v| v.position).collect();
    let contents: Vec<&serde_json::Value> =
        definition.variants.iter().map(|v| &v.content).collect();
    sqlx::query(
        "WITH gone AS (DELETE FROM engagement_variants WHERE campaign_id = $1 AND id <> ALL ($2)) \
         INSERT INTO engagement_variants (id, campaign_id, position, content) \
         SELECT v, $1, p, c FROM UNNEST($2::uuid[], $3::int2[], $4::jsonb[]) AS u(v, p, c) \
         ON CONFLICT (id) DO UPDATE SET position = EXCLUDED.position, content = EXCLUDED.content",
    )
    .bind(id)
    .bind(&variants)
    .bind(&positions)
    .bind(&contents)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

//! Campaign rows: insert, read, list, update and status changes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use suite_domain::{CampaignStatus, Category, Objective};
use utoipa::ToSchema;
use uuid::Uuid;

use super::definitions;
use crate::campaign::{schema, ChannelCosts, LadderStep, VariantContent};
use crate::error::Error;

/// A variant as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VariantView {
    /// Variant id (the `variant_id` of allocations and interactions).
    pub id: Uuid,
    /// Name, unique within the campaign.
    pub name: String,
    /// Position in the campaign, from 0.
    pub position: i16,
    /// Message per channel.
    pub content: VariantContent,
}

/// A campaign as stored and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CampaignView {
    /// Campaign id.
    pub id: Uuid,
    /// The owning workspace.
    pub workspace_id: Uuid,
    /// Name.
    pub name: String,
    /// `active`, `paused` or `archived`.
    #[schema(schema_with = schema::status)]
    pub status: CampaignStatus,
    /// Why a paused campaign is paused: `manual` or `budget`; null unless paused.
    #[schema(schema_with = schema::pause_reason)]
    pub pause_reason: Option<String>,
    /// Targeted lead categories.
    #[schema(schema_with = schema::target_categories)]
    pub target_categories: Vec<Category>,
    /// Channel ladder.
    #[schema(schema_with = schema::ladder)]
    pub ladder: Vec<LadderStep>,
    /// `click`, `reply` or `conversion`.
    #[schema(schema_with = schema::objective)]
    pub objective: Objective,
    /// Daily budget in micros.
    pub daily_budget_micros: i64,
    /// Cost of one send per channel, in micros.
    #[schema(schema_with = schema::channel_costs)]
    pub channel_costs: ChannelCosts,
    /// Minimum share per variant.
    pub min_share: f64,
    /// Sends per variant before the allocation adapts.
    pub warmup_sends: i32,
    /// Burst allowance over the linear pace, in basis points of the budget.
    pub pacing_burst_bps: i32,
    /// The best variant's posterior mean rate.
    pub performance_score: f64,
    /// Incremented by every change.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Variants in position order.
    pub variants: Vec<VariantView>,
}

#[derive(sqlx::FromRow)]
struct CampaignRow {
    id: Uuid,
    workspace_id: Uuid,
    name: String,
    status: String,
    pause_reason: Option<String>,
    target_categories: Vec<String>,
    ladder: Json<Vec<LadderStep>>,
    objective: String,
    daily_budget_micros: i64,
    channel_costs: Json<ChannelCosts>,
    min_share: f64,
    warmup_sends: i32,
    pacing_burst_bps: i32,
    performance_score: f64,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct VariantRow {
    id: Uuid,
    campaign_id: Uuid,
    name: String,
    position: i16,
    content: Json<VariantContent>,
}

const COLUMNS: &str =
    "id, workspace_id, name, status, pause_reason, target_categories, ladder, objective, \
    daily_budget_micros, channel_costs, min_share, warmup_sends, pacing_burst_bps, \
    performance_score, version, created_at, updated_at";

fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored campaign has an invalid {what}").into())
}

impl CampaignRow {
    fn into_view(self, variants: Vec<VariantView>) -> Result<CampaignView, sqlx::Error> {
        let target_categories = self
            .target_categories
            .iter()
            .map(|c| Category::parse(c).map_err(|_| corrupt("category")))
            .collect::<Result<_, _>>()?;
        Ok(CampaignView {
            id: self.id,
            workspace_id: self.workspace_id,
            name: self.name,
            status: self.status.parse().map_err(|_| corrupt("status"))?,
            pause_reason: self.pause_reason,
            target_categories,
            ladder: self.ladder.0,
            objective: self.objective.parse().map_err(|_| corrupt("objective"))?,
            daily_budget_micros: self.daily_budget_micros,
            channel_costs: self.channel_costs.0,
            min_share: self.min_share,
            warmup_sends: self.warmup_sends,
            pacing_burst_bps: self.pacing_burst_bps,
            performance_score: self.performance_score,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            variants,
        })
    }
}

/// Everything needed to insert a campaign (validated by the caller).
#[derive(Debug, Clone)]
pub struct NewCampaign {
    /// Name (trimmed).
    pub name: String,
    /// Targets.
    pub target_categories: Vec<Category>,
    /// Ladder.
    pub ladder: Vec<LadderStep>,
    /// Objective.
    pub objective: Objective,
    /// Daily budget.
    pub daily_budget_micros: i64,
    /// Costs.
    pub channel_costs: ChannelCosts,
    /// Minimum share.
    pub min_share: f64,
    /// Warm-up.
    pub warmup_sends: i32,
    /// Burst.
    pub pacing_burst_bps: i32,
    /// Variants: (name, content).
    pub variants: Vec<(String, VariantContent)>,
}

fn category_texts(categories: &[Category]) -> Vec<String> {
    categories.iter().map(|c| c.as_str().to_owned()).collect()
}

/// Inserts `campaign` (status active) with its variants and their zeroed
/// counters, and enqueues its definition on `topic`; returns its id.
pub async fn insert(
    conn: &mut PgConnection,
    topic: &str,
    workspace: Uuid,
    campaign: &NewCampaign,
) -> Result<Uuid, Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO campaigns (id, workspace_id, name, target_categories, ladder, objective, \
         daily_budget_micros, channel_costs, min_share, warmup_sends, pacing_burst_bps) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(workspace)
    .bind(&campaign.name)
    .bind(category_texts(&campaign.target_categories))
    .bind(Json(&campaign.ladder))
    .bind(campaign.objective.as_str())
    .bind(campaign.daily_budget_micros)
    .bind(Json(&campaign.channel_costs))
    .bind(campaign.min_share)
    .bind(campaign.warmup_sends)
    .bind(campaign.pacing_burst_bps)
    .execute(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = campaign.variants.iter().map(|_| Uuid::now_v7()).collect();
    let names: Vec<&str> = campaign.variants.iter().map(|(n, _)| n.as_str()).collect();
    let positions: Vec<i16> = (0..campaign.variants.len())
        .map(|i| i16::try_from(i).unwrap_or(i16::MAX))
        .collect();
    let contents: Vec<Json<&VariantContent>> =
        campaign.variants.iter().map(|(_, c)| Json(c)).collect();
    sqlx::query(
        "INSERT INTO campaign_variants (id, campaign_id, workspace_id, name, position, content) \
         SELECT v, $2, $3, n, p, c FROM UNNEST($1::uuid[], $4::text[], $5::int2[], $6::jsonb[]) \
         AS u(v, n, p, c)",
    )
    .bind(&ids)
    .bind(id)
    .bind(workspace)
    .bind(&names)
    .bind(&positions)
    .bind(&contents)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO campaign_variant_stats (variant_id, campaign_id, workspace_id) \
         SELECT v, $2, $3 FROM UNNEST($1::uuid[]) AS u(v)",
    )
    .bind(&ids)
    .bind(id)
    .bind(workspace)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO campaign_optimizer_state (campaign_id, workspace_id) VALUES ($1, $2)")
        .bind(id)
        .bind(workspace)
        .execute(&mut *conn)
        .await?;
    definitions::publish(conn, topic, id).await?;
    Ok(id)
}

async fn variants_of(
    conn: &mut PgConnection,
    campaigns: &[Uuid],
) -> Result<Vec<VariantRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, campaign_id, name, position, content FROM campaign_variants \
         WHERE campaign_id = ANY($1) ORDER BY campaign_id, position",
    )
    .bind(campaigns)
    .fetch_all(conn)
    .await
}

fn attach(
    rows: Vec<CampaignRow>,
    variants: Vec<VariantRow>,
) -> Result<Vec<CampaignView>, sqlx::Error> {
    rows.into_iter()
        .map(|row| {
            let own = variants
                .iter()
                .filter(|v| v.campaign_id == row.id)
                .map(|v| VariantView {
                    id: v.id,
                    name: v.name.clone(),
                    position: v.position,
                    content: v.content.0.clone(),
                })
                .collect();
            row.into_view(own)
        })
        .collect()
}

/// One campaign of `workspace`; with `lock`, the row is locked `FOR UPDATE`
/// (every change of a campaign and its allocation takes this lock).
pub async fn get(
    conn: &mut PgConnection,
    workspace: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Option<CampaignView>, sqlx::Error> {
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let row: Option<CampaignRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE id = $1 AND workspace_id = $2{suffix}"
    ))
    .bind(id)
    .bind(workspace)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let variants = variants_of(conn, &[id]).await?;
    Ok(attach(vec![row], variants)?.pop())
}

/// The campaigns of `ids` (with their variants), keyed by id; with `lock`
/// their rows are locked `FOR UPDATE` in id order (the same order in every
/// caller, so two batches cannot deadlock). A campaign of another workspace
/// than the one given with its id is left out.
pub async fn get_many(
    conn: &mut PgConnection,
    ids: &[(Uuid, Uuid)],
    lock: bool,
) -> Result<HashMap<Uuid, CampaignView>, sqlx::Error> {
    let mut campaigns: Vec<Uuid> = ids.iter().map(|(_, id)| *id).collect();
    campaigns.sort_unstable();
    campaigns.dedup();
    let suffix = if lock { " FOR UPDATE" } else { "" };
    let rows: Vec<CampaignRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM campaigns WHERE id = ANY($1) ORDER BY id{suffix}"
    ))
    .bind(&campaigns)
    .fetch_all(&mut *conn)
    .await?;
    let rows: Vec<CampaignRow> = rows
        .into_iter()
        .filter(|row| ids.contains(&(row.workspace_id, row.id)))
        .collect();
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let found: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let variants = variants_of(conn, &found).await?;
    Ok(attach(rows, variants)?
        .into_iter()
        .map(|view| (view.id, view))
        .collect())
}

/// Keyset position of a page boundary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Position {
    /// `created_at` of the last campaign returned.
    pub t: DateTime<Utc>,
    /// Its id.
    pub id: Uuid,
}

/// Up to `limit` campaigns after `after`, newest first, plus whether more exist.
pub async fn list(
    pool: &PgPool,
    workspace: Uuid,
    status: Option<CampaignStatus>,
    after: Option<&Position>,
    limit: i64,
) -> Result<(Vec<CampaignView>, bool), sqlx::Error> {
    let mut q = sqlx::QueryBuilder::new(format!(
        "SELECT {COLUMNS} FROM campaigns WHERE workspace_id = "
    ));
    q.push_bind(workspace);
    if let Some(status) = status {
        q.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(p) = after {
        q.push(" AND (created_at, id) < (")
            .push_bind(p.t)
            .push(", ")
            .push_bind(p.id)
            .push(")");
    }
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(limit + 1);
    let mut conn = pool.acquire().await?;
    let mut rows: Vec<CampaignRow> = q.build_query_as().fetch_all(&mut *conn).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let variants = variants_of(&mut conn, &ids).await?;
    Ok((attach(rows, variants)?, more))
}

/// Writes the settings of `campaign` (already validated and merged), bumps
/// its version and enqueues its definition on `topic`.
pub async fn update(
    conn: &mut PgConnection,
    topic: &str,
    workspace: Uuid,
    campaign: &CampaignView,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE campaigns SET name = $3, target_categories = $4, ladder = $5, objective = $6, \
         daily_budget_micros = $7, channel_costs = $8, min_share = $9, warmup_sends = $10, \
         pacing_burst_bps = $11, version = version + 1, updated_at = now() \
         WHERE id = $1 AND workspace_id = $2",
    )
    .bind(campaign.id)
    .bind(workspace)
    .bind(&campaign.name)
    .bind(category_texts(&campaign.target_categories))
    .bind(Json(&campaign.ladder))
    .bind(campaign.objective.as_str())
    .bind(campaign.daily_budget_micros)
    .bind(Json(&campaign.channel_costs))
    .bind(campaign.min_share)
    .bind(campaign.warmup_sends)
    .bind(campaign.pacing_burst_bps)
    .execute(&mut *conn)
    .await?;
    for variant in &campaign.variants {
        sqlx::query("UPDATE campaign_variants SET content = $2 WHERE id = $1")
            .bind(variant.id)
            .bind(Json(&variant.content))
            .execute(&mut *conn)
            .await?;
    }
    definitions::publish(conn, topic, campaign.id).await
}

/// Sets the status (and pause reason), bumps the version and enqueues the
/// campaign's definition on `topic`.
pub async fn set_status(
    conn: &mut PgConnection,
    topic: &str,
    id: Uuid,
    status: CampaignStatus,
    pause_reason: Option<&str>,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE campaigns SET status = $2, pause_reason = $3, version = version + 1, \
         updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(pause_reason)
    .execute(&mut *conn)
    .await?;
    definitions::publish(conn, topic, id).await
}

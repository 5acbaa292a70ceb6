//! Read queries: one lead, a filtered page of leads, a lead's score history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::view::{LeadView, LEAD_COLUMNS};

/// One lead of a workspace.
pub async fn get(
    pool: &PgPool,
    workspace: Uuid,
    id: Uuid,
) -> Result<Option<LeadView>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {LEAD_COLUMNS} FROM leads WHERE id = $1 AND workspace_id = $2"
    ))
    .bind(id)
    .bind(workspace)
    .fetch_optional(pool)
    .await
}

/// Keyset position of a page boundary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Position {
    /// `created_at` of the last lead returned.
    pub t: DateTime<Utc>,
    /// Its id.
    pub id: Uuid,
}

/// Filters of `GET /v1/leads`.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Only this category.
    pub category: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only this source.
    pub source: Option<String>,
    /// Created at or after.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
}

/// Up to `limit` leads after `after`, newest first, plus whether more exist.
///
/// Only the filters in use are put in the SQL, so the planner sees each as
/// an index condition on `(workspace_id[, category | source], created_at,
/// id)` — with `($n IS NULL OR …)` a generic plan would filter row by row and
/// deep pages would scan from the top.
pub async fn list(
    pool: &PgPool,
    workspace: Uuid,
    filter: &ListFilter,
    after: Option<&Position>,
    limit: i64,
) -> Result<(Vec<LeadView>, bool), sqlx::Error> {
    let mut q = sqlx::QueryBuilder::new(format!(
        "SELECT {LEAD_COLUMNS} FROM leads WHERE workspace_id = "
    ));
    q.push_bind(workspace);
    for (column, value) in [
        ("category", &filter.category),
        ("status", &filter.status),
        ("source", &filter.source),
    ] {
        if let Some(value) = value {
            q.push(format!(" AND {column} = ")).push_bind(value.clone());
        }
    }
    if let Some(t) = filter.created_after {
        q.push(" AND created_at >= ").push_bind(t);
    }
    if let Some(t) = filter.created_before {
        q.push(" AND created_at < ").push_bind(t);
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
    let mut rows: Vec<LeadView> = q.build_query_as().fetch_all(pool).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}

/// One entry of a lead's score history.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct ScoreEntry {
    /// Score 0–100.
    pub score: i16,
    /// Category.
    pub category: String,
    /// Per-factor breakdown.
    #[schema(value_type = Vec<Object>)]
    pub breakdown: Json<serde_json::Value>,
    /// Model version used.
    pub model_version: i32,
    /// Why it was scored: `created`, `merged`, `track`, `identify`.
    pub reason: String,
    /// When.
    pub scored_at: DateTime<Utc>,
}

/// The lead's scores, newest first (`None` if the lead is not in the workspace).
pub async fn score_history(
    pool: &PgPool,
    workspace: Uuid,
    id: Uuid,
    limit: i64,
) -> Result<Option<Vec<ScoreEntry>>, sqlx::Error> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM leads WHERE id = $1 AND workspace_id = $2)",
    )
    .bind(id)
    .bind(workspace)
    .fetch_one(pool)
    .await?;
    if !exists {
        return Ok(None);
    }
    let rows = sqlx::query_as(
        "SELECT score, category, breakdown, model_version, reason, scored_at FROM lead_scores \
         WHERE workspace_id = $1 AND lead_id = $2 ORDER BY scored_at DESC, id DESC LIMIT $3",
    )
    .bind(workspace)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(Some(rows))
}

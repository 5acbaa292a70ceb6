//! Outreach plans: exactly one per (lead, campaign), with their steps.

use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::outreach::PlannedStep;

/// A plan to store.
#[derive(Debug, Clone)]
pub struct NewPlan {
    /// The plan.
    pub id: Uuid,
    /// Workspace.
    pub workspace_id: Uuid,
    /// Lead.
    pub lead_id: Uuid,
    /// Campaign.
    pub campaign_id: Uuid,
    /// Variant chosen for this lead.
    pub variant_id: Uuid,
    /// The lead's category when planned.
    pub category: String,
    /// Follows the lead through the agents.
    pub correlation_id: String,
    /// The planned ladder.
    pub steps: Vec<PlannedStep>,
}

/// Stores `plan` and its steps, unless the lead already has a plan for the
/// campaign. Returns whether it was stored.
pub async fn insert(conn: &mut PgConnection, plan: &NewPlan) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO outreach_plans (id, workspace_id, lead_id, campaign_id, variant_id, category, \
         correlation_id, steps) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (lead_id, campaign_id) DO NOTHING",
    )
    .bind(plan.id)
    .bind(plan.workspace_id)
    .bind(plan.lead_id)
    .bind(plan.campaign_id)
    .bind(plan.variant_id)
    .bind(&plan.category)
    .bind(&plan.correlation_id)
    .bind(Json(&plan.steps))
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    let ids: Vec<Uuid> = plan.steps.iter().map(|_| Uuid::now_v7()).collect();
    let indexes: Vec<i32> = plan.steps.iter().map(|s| s.index as i32).collect();
    let channels: Vec<&str> = plan.steps.iter().map(|s| s.channel.as_str()).collect();
    let due: Vec<chrono::DateTime<chrono::Utc>> = plan.steps.iter().map(|s| s.due_at).collect();
    sqlx::query(
        "INSERT INTO scheduled_steps (id, plan_id, workspace_id, lead_id, campaign_id, step_index, \
         channel, due_at) SELECT u.id, $2, $3, $4, $5, u.ix, u.ch, u.due \
         FROM UNNEST($1::uuid[], $6::int[], $7::text[], $8::timestamptz[]) AS u(id, ix, ch, due)",
    )
    .bind(&ids)
    .bind(plan.id)
    .bind(plan.workspace_id)
    .bind(plan.lead_id)
    .bind(plan.campaign_id)
    .bind(&indexes)
    .bind(&channels)
    .bind(&due)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Ends the active plans of a lead (of one campaign, or all of them) and
/// skips their pending steps, e.g. after a reply or a conversion. Returns
/// the steps skipped.
pub async fn complete(
    conn: &mut PgConnection,
    workspace: Uuid,
    lead: Uuid,
    campaign: Option<Uuid>,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let plans: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE outreach_plans SET status = 'completed', updated_at = now() \
         WHERE workspace_id = $1 AND lead_id = $2 AND status = 'active' \
           AND ($3::uuid IS NULL OR campaign_id = $3) RETURNING id",
    )
    .bind(workspace)
    .bind(lead)
    .bind(campaign)
    .fetch_all(&mut *conn)
    .await?;
    let skipped = sqlx::query(
        "UPDATE scheduled_steps SET status = 'skipped', outcome = $2, updated_at = now() \
         WHERE plan_id = ANY ($1) AND status = 'pending'",
    )
    .bind(&plans)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(skipped.rows_affected())
}

//! Outreach plans: exactly one per (lead, campaign), with their steps.

use std::collections::HashSet;

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
    /// W3C trace context of the record it was planned from: its steps and
    /// interactions continue that trace.
    pub traceparent: Option<String>,
    /// The lead's score when planned (a generated message's prompt may use it).
    pub score: Option<i16>,
    /// Its score breakdown when planned (`[{factor, points, max, reason}]`).
    pub breakdown: Option<serde_json::Value>,
}

/// Stores `plan` and its steps, unless the lead already has a plan for the
/// campaign. Returns whether it was stored.
pub async fn insert(conn: &mut PgConnection, plan: &NewPlan) -> Result<bool, sqlx::Error> {
    Ok(!insert_many(conn, std::slice::from_ref(plan))
        .await?
        .is_empty())
}

/// Stores `plans` and their steps with two statements, skipping each plan
/// whose lead already has one for the campaign (stored before, or earlier in
/// `plans`). Returns the ids of the plans stored.
pub async fn insert_many(
    conn: &mut PgConnection,
    plans: &[NewPlan],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    if plans.is_empty() {
        return Ok(HashSet::new());
    }
    let column = |f: fn(&NewPlan) -> Uuid| plans.iter().map(f).collect::<Vec<Uuid>>();
    let categories: Vec<&str> = plans.iter().map(|p| p.category.as_str()).collect();
    let correlations: Vec<&str> = plans.iter().map(|p| p.correlation_id.as_str()).collect();
    let steps: Vec<Json<&Vec<PlannedStep>>> = plans.iter().map(|p| Json(&p.steps)).collect();
    let traces: Vec<Option<&str>> = plans.iter().map(|p| p.traceparent.as_deref()).collect();
    let scores: Vec<Option<i16>> = plans.iter().map(|p| p.score).collect();
    let breakdowns: Vec<Option<&serde_json::Value>> =
        plans.iter().map(|p| p.breakdown.as_ref()).collect();
    let stored: HashSet<Uuid> = sqlx::query_scalar(
        "INSERT INTO outreach_plans (id, workspace_id, lead_id, campaign_id, variant_id, category, \
         correlation_id, steps, traceparent, score, breakdown) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], \
                              $6::text[], $7::text[], $8::jsonb[], $9::text[], $10::int2[], $11::jsonb[]) \
         ON CONFLICT (lead_id, campaign_id) DO NOTHING RETURNING id",
    )
    .bind(column(|p| p.id))
    .bind(column(|p| p.workspace_id))
    .bind(column(|p| p.lead_id))
    .bind(column(|p| p.campaign_id))
    .bind(column(|p| p.variant_id))
    .bind(&categories)
    .bind(&correlations)
    .bind(&steps)
    .bind(&traces)
    .bind(&scores)
    .bind(&breakdowns)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();

    let mut rows = StepRows::default();
    for plan in plans.iter().filter(|p| stored.contains(&p.id)) {
        for step in &plan.steps {
            rows.ids.push(Uuid::now_v7());
            rows.plans.push(plan.id);
            rows.workspaces.push(plan.workspace_id);
            rows.leads.push(plan.lead_id);
            rows.campaigns.push(plan.campaign_id);
            rows.indexes.push(step.index as i32);
            rows.channels.push(step.channel.as_str());
            rows.due.push(step.due_at);
        }
    }
    if !rows.ids.is_empty() {
        sqlx::query(
            "INSERT INTO scheduled_steps (id, plan_id, workspace_id, lead_id, campaign_id, \
             step_index, channel, due_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], \
                                  $6::int[], $7::text[], $8::timestamptz[])",
        )
        .bind(&rows.ids)
        .bind(&rows.plans)
        .bind(&rows.workspaces)
        .bind(&rows.leads)
        .bind(&rows.campaigns)
        .bind(&rows.indexes)
        .bind(&rows.channels)
        .bind(&rows.due)
        .execute(&mut *conn)
        .await?;
    }
    Ok(stored)
}

/// The columns of `scheduled_steps` rows to insert, one array each.
#[derive(Default)]
struct StepRows<'a> {
    ids: Vec<Uuid>,
    plans: Vec<Uuid>,
    workspaces: Vec<Uuid>,
    leads: Vec<Uuid>,
    campaigns: Vec<Uuid>,
    indexes: Vec<i32>,
    channels: Vec<&'a str>,
    due: Vec<chrono::DateTime<chrono::Utc>>,
}

/// The trace context of the lead's plan for `campaign` (or, without one,
/// of its latest plan): what an interaction reported about the lead
/// continues. `None` when the lead has no plan or the plan kept no trace.
pub async fn traceparent(
    db: impl sqlx::PgExecutor<'_>,
    workspace: Uuid,
    lead: Uuid,
    campaign: Option<Uuid>,
) -> Result<Option<String>, sqlx::Error> {
    let found: Option<Option<String>> = sqlx::query_scalar(
        "SELECT traceparent FROM outreach_plans \
         WHERE workspace_id = $1 AND lead_id = $2 AND ($3::uuid IS NULL OR campaign_id = $3) \
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(workspace)
    .bind(lead)
    .bind(campaign)
    .fetch_optional(db)
    .await?;
    Ok(found.flatten())
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

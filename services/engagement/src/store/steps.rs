//! The durable scheduler's table: claiming due steps with `FOR UPDATE SKIP
//! LOCKED` and finishing them under the claim's fencing token.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};
use suite_domain::Channel;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::outreach::PlannedStep;

/// A step this process has claimed.
#[derive(Debug, Clone)]
pub struct ClaimedStep {
    /// The step.
    pub id: Uuid,
    /// Its sequence number (dead-letter offset).
    pub seq: i64,
    /// Its plan.
    pub plan_id: Uuid,
    /// Workspace.
    pub workspace_id: Uuid,
    /// Lead.
    pub lead_id: Uuid,
    /// Campaign.
    pub campaign_id: Uuid,
    /// Variant of the plan.
    pub variant_id: Uuid,
    /// Position in the ladder.
    pub step_index: u32,
    /// Channel.
    pub channel: Channel,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// Claims so far, this one included: the fencing token.
    pub attempts: i32,
    /// The plan's correlation id.
    pub correlation_id: String,
    /// The plan's ladder.
    pub ladder: Vec<PlannedStep>,
    /// The plan's W3C trace context: the step's send continues it.
    pub traceparent: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    seq: i64,
    plan_id: Uuid,
    workspace_id: Uuid,
    lead_id: Uuid,
    campaign_id: Uuid,
    variant_id: Uuid,
    step_index: i32,
    channel: String,
    due_at: DateTime<Utc>,
    attempts: i32,
    correlation_id: String,
    steps: Json<Vec<PlannedStep>>,
    traceparent: Option<String>,
}

impl TryFrom<Row> for ClaimedStep {
    type Error = Error;
    fn try_from(r: Row) -> Result<Self> {
        Ok(Self {
            id: r.id,
            seq: r.seq,
            plan_id: r.plan_id,
            workspace_id: r.workspace_id,
            lead_id: r.lead_id,
            campaign_id: r.campaign_id,
            variant_id: r.variant_id,
            step_index: u32::try_from(r.step_index).map_err(|e| Error::Corrupt(e.to_string()))?,
            channel: r
                .channel
                .parse()
                .map_err(|_| Error::Corrupt(format!("channel {}", r.channel)))?,
            due_at: r.due_at,
            attempts: r.attempts,
            correlation_id: r.correlation_id,
            ladder: r.steps.0,
            traceparent: r.traceparent,
        })
    }
}

/// Claims up to `limit` steps due at `now` (and steps whose earlier claim
/// expired: a crashed instance), holding them until `lease_until`. Steps
/// other instances are claiming are skipped, not waited for.
///
/// Each kind of due work is read from its own partial index, in due order,
/// stopping at `limit`: pending steps from `scheduled_steps_due_idx`
/// (finished steps leave it, so a claim's cost does not grow with history
/// or with steps due later), expired leases from `scheduled_steps_lease_idx`.
/// A single `OR` of the two would make Postgres collect and sort every due
/// step before the limit, which under a backlog is hundreds of thousands.
pub async fn claim(
    pool: &PgPool,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ClaimedStep>> {
    let rows: Vec<Row> = sqlx::query_as(
        "WITH expired AS (SELECT id FROM scheduled_steps \
            WHERE status = 'running' AND locked_until <= $1 \
            ORDER BY locked_until LIMIT $3 FOR UPDATE SKIP LOCKED), \
         pending AS (SELECT id FROM scheduled_steps \
            WHERE status = 'pending' AND due_at <= $1 \
            ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED), \
         due AS (SELECT id FROM expired UNION ALL SELECT id FROM pending LIMIT $3) \
         UPDATE scheduled_steps s SET status = 'running', locked_until = $2, attempts = s.attempts + 1, \
            updated_at = now() \
         FROM due, outreach_plans p WHERE s.id = due.id AND p.id = s.plan_id \
         RETURNING s.id, s.seq, s.plan_id, s.workspace_id, s.lead_id, s.campaign_id, p.variant_id, \
            s.step_index, s.channel, s.due_at, s.attempts, p.correlation_id, p.steps, p.traceparent",
    )
    .bind(now)
    .bind(lease_until)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(ClaimedStep::try_from).collect()
}

/// The next step a lead has pending (any campaign), for the context API.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct NextStep {
    /// The campaign.
    pub campaign_id: Uuid,
    /// Position in the ladder.
    pub step_index: i32,
    /// Channel.
    #[schema(value_type = crate::api::schemas::ChannelName)]
    pub channel: String,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// `pending` or `running`.
    #[schema(value_type = crate::api::schemas::StepStatus)]
    pub status: String,
}

/// The lead's earliest pending or running step.
pub async fn next_for_lead(
    db: impl sqlx::PgExecutor<'_>,
    workspace: Uuid,
    lead: Uuid,
) -> Result<Option<NextStep>> {
    Ok(sqlx::query_as(
        "SELECT campaign_id, step_index, channel, due_at, status FROM scheduled_steps \
         WHERE workspace_id = $1 AND lead_id = $2 AND status IN ('pending', 'running') \
         ORDER BY due_at LIMIT 1",
    )
    .bind(workspace)
    .bind(lead)
    .fetch_optional(db)
    .await?)
}

/// Makes the pending steps of `leads` that wait for their lead's contact
/// data (`outcome = 'lead_pending'`) due now, in one statement; returns how
/// many.
pub async fn release_lead_waits(
    db: impl PgExecutor<'_>,
    leads: &[(Uuid, Uuid)],
) -> Result<u64, sqlx::Error> {
    if leads.is_empty() {
        return Ok(0);
    }
    let (workspaces, ids): (Vec<Uuid>, Vec<Uuid>) = leads.iter().copied().unzip();
    let done = sqlx::query(
        "UPDATE scheduled_steps s SET due_at = now() \
         FROM unnest($1::uuid[], $2::uuid[]) AS x(ws, lead) \
         WHERE s.workspace_id = x.ws AND s.lead_id = x.lead \
           AND s.status = 'pending' AND s.outcome = 'lead_pending'",
    )
    .bind(&workspaces)
    .bind(&ids)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

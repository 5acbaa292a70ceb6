//! `step_generations`: the text a language model wrote for a step, kept
//! ahead of its send (docs/personalisation.md). The composer claims steps
//! due soon whose variant asks for generation ([`claim`]) and records how
//! each went ([`finish`]); the send path reads the rows of its batch and
//! marks the ones it gave up waiting for ([`sync`]). Each takes a constant
//! number of statements (one, or two for a claim) for the whole set.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use suite_domain::Channel;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::outreach::LeadFields;

/// A step the composer holds, with what its prompt needs.
#[derive(Debug, Clone)]
pub struct ComposeTask {
    /// The step.
    pub step_id: Uuid,
    /// The claim's fencing token.
    pub attempts: i32,
    /// When the send path first found it due without its text.
    pub requested_at: Option<DateTime<Utc>>,
    /// Workspace.
    pub workspace_id: Uuid,
    /// Lead.
    pub lead_id: Uuid,
    /// Campaign.
    pub campaign_id: Uuid,
    /// Variant of the plan.
    pub variant_id: Uuid,
    /// Channel.
    pub channel: Channel,
    /// The lead's category when planned.
    pub category: String,
    /// Its score when planned (plans before personalisation have none).
    pub score: Option<i16>,
    /// Its score breakdown when planned.
    pub breakdown: Option<serde_json::Value>,
    /// The plan's W3C trace context.
    pub traceparent: Option<String>,
    /// The campaign's day budget (micros).
    pub daily_budget: i64,
    /// The lead's fields; `None` when engagement has no copy of the lead.
    pub lead: Option<LeadFields>,
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    step_id: Uuid,
    attempts: i32,
    requested_at: Option<DateTime<Utc>>,
    workspace_id: Uuid,
    lead_id: Uuid,
    campaign_id: Uuid,
    variant_id: Uuid,
    channel: String,
    category: String,
    score: Option<i16>,
    breakdown: Option<serde_json::Value>,
    traceparent: Option<String>,
    daily_budget_micros: Option<i64>,
    has_lead: bool,
    email: Option<String>,
    phone: Option<String>,
    name: Option<String>,
    company: Option<String>,
    title: Option<String>,
    industry: Option<String>,
    country: Option<String>,
}

/// Claims up to `limit` steps due by `horizon` whose variant asks for a
/// generated message on the step's channel, whose lead's contact data is
/// here (it may follow the triage; an erased lead's is gone), and that have no usable row yet
/// (none, `wanted`, or a `composing` lease that ended), holding them until
/// `lease_until`. Steps another composer holds are skipped. Two
/// statements: the campaigns that use generation, then the claim (none
/// when no campaign does).
pub async fn claim(
    pool: &PgPool,
    now: DateTime<Utc>,
    horizon: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ComposeTask>> {
    // The campaigns that use generation at all (a small table): with none,
    // the steps are not looked at.
    let generating: Vec<Uuid> = sqlx::query_scalar(
        "SELECT DISTINCT v.campaign_id FROM engagement_variants v \
         JOIN engagement_campaigns c ON c.id = v.campaign_id \
         WHERE c.status = 'active' AND jsonb_path_exists(v.content, '$.*.generation')",
    )
    .fetch_all(pool)
    .await?;
    if generating.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<TaskRow> = sqlx::query_as(
        "WITH candidates AS (SELECT s.id FROM scheduled_steps s \
            JOIN outreach_plans p ON p.id = s.plan_id \
            JOIN engagement_variants v ON v.id = p.variant_id \
            JOIN engagement_leads l ON l.id = s.lead_id AND l.workspace_id = s.workspace_id \
            WHERE s.status = 'pending' AND s.due_at <= $2 \
              AND s.campaign_id = ANY ($5) \
              AND (v.content -> s.channel) ? 'generation' \
              AND NOT EXISTS (SELECT 1 FROM step_generations g WHERE g.step_id = s.id \
                AND (g.state IN ('done', 'fallback') OR (g.state = 'composing' AND g.lease_until > $1))) \
            ORDER BY s.due_at LIMIT $4), \
         taken AS (INSERT INTO step_generations AS g (step_id, state, lease_until, attempts) \
            SELECT id, 'composing', $3, 1 FROM candidates ORDER BY id \
            ON CONFLICT (step_id) DO UPDATE SET state = 'composing', lease_until = EXCLUDED.lease_until, \
              attempts = g.attempts + 1, updated_at = now() \
            WHERE g.state = 'wanted' OR (g.state = 'composing' AND g.lease_until <= $1) \
            RETURNING g.step_id, g.attempts, g.requested_at) \
         SELECT t.step_id, t.attempts, t.requested_at, s.workspace_id, s.lead_id, s.campaign_id, \
            p.variant_id, s.channel, p.category, p.score, p.breakdown, p.traceparent, \
            c.daily_budget_micros, l.id IS NOT NULL AS has_lead, l.email, l.phone, l.name, \
            l.company, l.title, l.industry, l.country \
         FROM taken t JOIN scheduled_steps s ON s.id = t.step_id \
         JOIN outreach_plans p ON p.id = s.plan_id \
         LEFT JOIN engagement_campaigns c ON c.id = s.campaign_id \
         LEFT JOIN engagement_leads l ON l.id = s.lead_id",
    )
    .bind(now)
    .bind(horizon)
    .bind(lease_until)
    .bind(limit)
    .bind(&generating)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let channel = r
                .channel
                .parse()
                .map_err(|_| Error::Corrupt(format!("channel {}", r.channel)))?;
            let lead = r.has_lead.then(|| LeadFields {
                name: r.name,
                email: r.email,
                phone: r.phone,
                company: r.company,
                title: r.title,
                industry: r.industry,
                country: r.country,
                ..LeadFields::default()
            });
            Ok(ComposeTask {
                step_id: r.step_id,
                attempts: r.attempts,
                requested_at: r.requested_at,
                workspace_id: r.workspace_id,
                lead_id: r.lead_id,
                campaign_id: r.campaign_id,
                variant_id: r.variant_id,
                channel,
                category: r.category,
                score: r.score,
                breakdown: r.breakdown,
                traceparent: r.traceparent,
                daily_budget: r.daily_budget_micros.unwrap_or(0),
                lead,
            })
        })
        .collect()
}

/// How one claimed generation ended.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// The step.
    pub step_id: Uuid,
    /// The claim's fencing token.
    pub attempts: i32,
    /// `done`, `fallback`, or `composing` (put off until `lease_until`).
    pub state: &'static str,
    /// When a put-off generation may be tried again.
    pub lease_until: Option<DateTime<Utc>>,
    /// Model asked.
    pub model: Option<String>,
    /// Prompt version.
    pub prompt_version: Option<String>,
    /// The checked text (`done` only).
    pub body: Option<String>,
    /// Prompt tokens.
    pub tokens_in: i32,
    /// Completion tokens.
    pub tokens_out: i32,
    /// Time spent on the provider's calls, in ms.
    pub latency_ms: i32,
    /// Answered from the cache.
    pub cache_hit: bool,
    /// The response-cache entry it came from or went to.
    pub cache_key: Option<String>,
    /// What it cost (micros).
    pub cost_micros: i64,
    /// Why the template is sent (`fallback` only).
    pub fallback_reason: Option<&'static str>,
}

/// Records `finished` where the claim still holds (state `composing`, same
/// attempt). A generation the send path gave up waiting for (`not_ready`)
/// keeps its state, but what it used and cost is still recorded. Rows are
/// written in step id order, like every statement on this table, so
/// concurrent statements never deadlock. Returns how many rows it changed.
pub async fn finish(pool: &PgPool, finished: &[Finished]) -> Result<u64> {
    if finished.is_empty() {
        return Ok(0);
    }
    let mut finished: Vec<&Finished> = finished.iter().collect();
    finished.sort_by_key(|f| f.step_id);
    let col =
        |f: fn(&Finished) -> Option<String>| finished.iter().map(|x| f(x)).collect::<Vec<_>>();
    let ids: Vec<Uuid> = finished.iter().map(|f| f.step_id).collect();
    let attempts: Vec<i32> = finished.iter().map(|f| f.attempts).collect();
    let states = col(|f| Some(f.state.to_owned()));
    let leases: Vec<Option<DateTime<Utc>>> = finished.iter().map(|f| f.lease_until).collect();
    let models = col(|f| f.model.clone());
    let versions = col(|f| f.prompt_version.clone());
    let bodies = col(|f| f.body.clone());
    let tokens_in: Vec<i32> = finished.iter().map(|f| f.tokens_in).collect();
    let tokens_out: Vec<i32> = finished.iter().map(|f| f.tokens_out).collect();
    let latency: Vec<i32> = finished.iter().map(|f| f.latency_ms).collect();
    let hits: Vec<bool> = finished.iter().map(|f| f.cache_hit).collect();
    let costs: Vec<i64> = finished.iter().map(|f| f.cost_micros).collect();
    let reasons = col(|f| f.fallback_reason.map(str::to_owned));
    let keys = col(|f| f.cache_key.clone());
    let changed = sqlx::query(
        "UPDATE step_generations g SET \
           state = CASE WHEN g.state = 'composing' THEN u.state ELSE g.state END, \
           lease_until = CASE WHEN g.state = 'composing' THEN u.lease_until ELSE g.lease_until END, \
           body = CASE WHEN g.state = 'composing' THEN u.body ELSE g.body END, \
           fallback_reason = CASE WHEN g.state = 'composing' THEN u.reason ELSE g.fallback_reason END, \
           model = coalesce(u.model, g.model), prompt_version = coalesce(u.version, g.prompt_version), \
           tokens_in = u.tokens_in, tokens_out = u.tokens_out, latency_ms = u.latency, \
           cache_hit = u.hit, cache_key = coalesce(u.key, g.cache_key), cost_micros = u.cost, \
           updated_at = now() \
         FROM UNNEST($1::uuid[], $2::int4[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], \
                     $7::text[], $8::int4[], $9::int4[], $10::int4[], $11::bool[], $12::int8[], $13::text[], \
                     $14::text[]) \
           AS u(step_id, attempts, state, lease_until, model, version, body, tokens_in, tokens_out, \
                latency, hit, cost, reason, key) \
         WHERE g.step_id = u.step_id AND g.attempts = u.attempts \
           AND (g.state = 'composing' OR (g.state = 'fallback' AND g.fallback_reason = 'not_ready'))",
    )
    .bind(&ids)
    .bind(&attempts)
    .bind(&states)
    .bind(&leases)
    .bind(&models)
    .bind(&versions)
    .bind(&bodies)
    .bind(&tokens_in)
    .bind(&tokens_out)
    .bind(&latency)
    .bind(&hits)
    .bind(&costs)
    .bind(&reasons)
    .bind(&keys)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(changed)
}

/// A step's generation as the send path sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Generation {
    /// The step.
    pub step_id: Uuid,
    /// `wanted`, `composing`, `done` or `fallback`.
    pub state: String,
    /// The text (`done`).
    pub body: Option<String>,
    /// What it cost (micros).
    pub cost_micros: i64,
    /// Why the template is sent (`fallback`).
    pub fallback_reason: Option<String>,
}

/// The generations of `steps` (due now, their variant asking for one): a
/// step without a row gets a `wanted` one requested at `now`; a `wanted` or
/// `composing` one requested at or before `give_up` becomes `fallback`
/// (`not_ready`), and its template is sent.
pub async fn sync(
    pool: &PgPool,
    steps: &[Uuid],
    now: DateTime<Utc>,
    give_up: DateTime<Utc>,
) -> Result<Vec<Generation>> {
    if steps.is_empty() {
        return Ok(Vec::new());
    }
    let mut steps = steps.to_vec();
    steps.sort_unstable();
    Ok(sqlx::query_as(
        "INSERT INTO step_generations AS g (step_id, state, requested_at) \
         SELECT id, 'wanted', $2 FROM UNNEST($1::uuid[]) AS u(id) ORDER BY id \
         ON CONFLICT (step_id) DO UPDATE SET \
           requested_at = coalesce(g.requested_at, EXCLUDED.requested_at), \
           fallback_reason = CASE WHEN g.state IN ('wanted', 'composing') \
             AND coalesce(g.requested_at, EXCLUDED.requested_at) <= $3 THEN 'not_ready' \
             ELSE g.fallback_reason END, \
           state = CASE WHEN g.state IN ('wanted', 'composing') \
             AND coalesce(g.requested_at, EXCLUDED.requested_at) <= $3 THEN 'fallback' \
             ELSE g.state END, \
           updated_at = now() \
         RETURNING g.step_id, g.state, g.body, g.cost_micros, g.fallback_reason",
    )
    .bind(&steps)
    .bind(now)
    .bind(give_up)
    .fetch_all(pool)
    .await?)
}

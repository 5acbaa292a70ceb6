//! What the send path needs to decide a claimed batch, read with one
//! statement for the whole batch: each step's campaign state (status, day
//! budget, the cost of a send on its channel), its lead's contact data and
//! the lead's latest consent entry per channel, all from engagement's own
//! tables (its copies of campaigns and leads, its consent ledger).

use std::collections::HashMap;

use sqlx::types::Json;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::store::consent::ConsentEntry;
use crate::store::leads::LeadContact;
use crate::store::steps::ClaimedStep;

/// The campaign of a step, as the send path sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignState {
    /// `active`, `paused` or `archived` (the campaign's own status, else its
    /// latest allocation's).
    pub status: String,
    /// The day's budget (micros).
    pub daily_budget: i64,
    /// The cost of one send on the step's channel (micros; 0 when unpriced).
    pub cost: i64,
}

/// Everything the send path reads for one step.
#[derive(Debug, Clone)]
pub struct SendContext {
    /// `None` when the campaign is gone.
    pub campaign: Option<CampaignState>,
    /// `None` when the lead is gone.
    pub lead: Option<LeadContact>,
    /// The lead's latest consent entry per channel.
    pub consents: Vec<ConsentEntry>,
}

#[derive(sqlx::FromRow)]
struct Row {
    step_id: Uuid,
    workspace_id: Uuid,
    campaign_status: Option<String>,
    daily_budget_micros: Option<i64>,
    cost: Option<i64>,
    #[sqlx(flatten)]
    lead: LeadRow,
    consents: Json<Vec<ConsentEntry>>,
}

#[derive(sqlx::FromRow)]
struct LeadRow {
    lead_id: Option<Uuid>,
    email: Option<String>,
    phone: Option<String>,
    name: Option<String>,
    company: Option<String>,
    title: Option<String>,
    industry: Option<String>,
    country: Option<String>,
    timezone: Option<String>,
    consent: Option<serde_json::Value>,
    correlation_id: Option<String>,
    workspace_timezone: Option<String>,
}

/// The send context of every step of `steps`, by step id, in one statement.
pub async fn load(
    db: impl PgExecutor<'_>,
    steps: &[ClaimedStep],
) -> Result<HashMap<Uuid, SendContext>, sqlx::Error> {
    if steps.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<Uuid> = steps.iter().map(|s| s.id).collect();
    let campaigns: Vec<Uuid> = steps.iter().map(|s| s.campaign_id).collect();
    let workspaces: Vec<Uuid> = steps.iter().map(|s| s.workspace_id).collect();
    let leads: Vec<Uuid> = steps.iter().map(|s| s.lead_id).collect();
    let channels: Vec<&str> = steps.iter().map(|s| s.channel.as_str()).collect();
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT x.step_id, x.ws AS workspace_id, \
            CASE WHEN c.status <> 'active' THEN c.status ELSE coalesce(a.status, 'active') END AS campaign_status, \
            c.daily_budget_micros, coalesce((c.channel_costs ->> x.channel)::bigint, 0) AS cost, \
            l.id AS lead_id, l.email, l.phone, l.name, l.company, l.title, l.industry, l.country, \
            l.timezone, l.consent, l.correlation_id, w.settings ->> 'timezone' AS workspace_timezone, \
            coalesce(( \
              SELECT jsonb_agg(jsonb_build_object('id', e.id, 'lead_id', e.lead_id, 'channel', e.channel, \
                'status', e.status, 'source', e.source, 'legal_basis', e.legal_basis, \
                'recorded_at', e.recorded_at)) \
              FROM (SELECT DISTINCT ON (channel) * FROM consent_ledger \
                    WHERE workspace_id = x.ws AND lead_id = x.lead ORDER BY channel, id DESC) e \
            ), '[]'::jsonb) AS consents \
         FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[]) \
            AS x(step_id, campaign_id, ws, lead, channel) \
         LEFT JOIN engagement_campaigns c ON c.id = x.campaign_id \
         LEFT JOIN engagement_allocations a ON a.campaign_id = c.id \
         LEFT JOIN engagement_leads l ON l.id = x.lead AND l.workspace_id = x.ws \
         LEFT JOIN workspaces w ON w.id = l.workspace_id",
    )
    .bind(&ids)
    .bind(&campaigns)
    .bind(&workspaces)
    .bind(&leads)
    .bind(&channels)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let campaign = match (row.campaign_status, row.daily_budget_micros) {
                (Some(status), Some(daily_budget)) => Some(CampaignState {
                    status,
                    daily_budget,
                    cost: row.cost.unwrap_or(0),
                }),
                _ => None,
            };
            let lead = row.lead.into_contact(row.workspace_id);
            let context = SendContext {
                campaign,
                lead,
                consents: row.consents.0,
            };
            (row.step_id, context)
        })
        .collect())
}

impl LeadRow {
    fn into_contact(self, workspace_id: Uuid) -> Option<LeadContact> {
        Some(LeadContact {
            id: self.lead_id?,
            workspace_id,
            email: self.email?,
            phone: self.phone,
            name: self.name,
            company: self.company,
            title: self.title,
            industry: self.industry,
            country: self.country,
            timezone: self.timezone,
            consent: self.consent.unwrap_or_default(),
            correlation_id: self.correlation_id.unwrap_or_default(),
            workspace_timezone: self.workspace_timezone,
        })
    }
}

//! Engagement's copy of each lead's contact data (`engagement_leads`),
//! kept from `lead.contact.v1` events on `leads.contacts`: lead-triage owns
//! the leads, engagement reads only its copy.

use sqlx::types::Json;
use sqlx::PgExecutor;
use suite_domain::{Channel, LeadContactV1};
use uuid::Uuid;

use crate::outreach::LeadFields;

/// What engagement needs to contact a lead.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LeadContact {
    /// The lead.
    pub id: Uuid,
    /// Its workspace.
    pub workspace_id: Uuid,
    /// Email address.
    pub email: String,
    /// Phone (E.164).
    pub phone: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// ISO country code.
    pub country: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// Consent flags given at intake: `{"email": true, "sms": false, "opt_out": false}`.
    pub consent: serde_json::Value,
    /// The lead's correlation id.
    pub correlation_id: String,
    /// The workspace's default time zone (`workspaces.settings.timezone`), if set.
    pub workspace_timezone: Option<String>,
}

impl LeadContact {
    /// The fields templates see.
    pub fn fields(&self) -> LeadFields {
        LeadFields {
            name: self.name.clone(),
            email: Some(self.email.clone()),
            phone: self.phone.clone(),
            company: self.company.clone(),
            title: self.title.clone(),
            industry: self.industry.clone(),
            country: self.country.clone(),
            ..LeadFields::default()
        }
    }

    /// The lead's address on `channel`, if it has one.
    pub fn address(&self, channel: Channel) -> Option<&str> {
        let address = match channel {
            Channel::Email => Some(self.email.as_str()),
            Channel::Sms | Channel::Phone => self.phone.as_deref(),
        };
        address.map(str::trim).filter(|a| !a.is_empty())
    }

    /// Consent for `channel` as given at intake: an explicit `true`, and no
    /// global opt-out. Absent means no consent (opt-in).
    pub fn intake_consent(&self, channel: Channel) -> bool {
        let opted_out = self.consent["opt_out"].as_bool().unwrap_or(false);
        !opted_out && self.consent[channel.as_str()].as_bool().unwrap_or(false)
    }
}

/// The lead `id` of workspace `workspace`.
pub async fn get(
    db: impl PgExecutor<'_>,
    workspace: Uuid,
    id: Uuid,
) -> Result<Option<LeadContact>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.id, l.workspace_id, l.email, l.phone, l.name, l.company, l.title, l.industry, \
         l.country, l.timezone, l.consent, l.correlation_id, w.settings ->> 'timezone' AS workspace_timezone \
         FROM engagement_leads l LEFT JOIN workspaces w ON w.id = l.workspace_id \
         WHERE l.id = $1 AND l.workspace_id = $2",
    )
    .bind(id)
    .bind(workspace)
    .fetch_optional(db)
    .await
}

/// Whether workspace `workspace` has lead `id`.
pub async fn exists(
    db: impl PgExecutor<'_>,
    workspace: Uuid,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM engagement_leads WHERE id = $1 AND workspace_id = $2)",
    )
    .bind(id)
    .bind(workspace)
    .fetch_one(db)
    .await
}

/// The correlation id of lead `id` of workspace `workspace`, if it is known.
pub async fn correlation_id(
    db: impl PgExecutor<'_>,
    workspace: Uuid,
    id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT correlation_id FROM engagement_leads WHERE id = $1 AND workspace_id = $2",
    )
    .bind(id)
    .bind(workspace)
    .fetch_optional(db)
    .await
}

/// What keeping a set of contact records changed.
#[derive(Debug, Default)]
pub struct Kept {
    /// Leads that were known and changed (their cached contexts are stale).
    pub updated: Vec<(Uuid, Uuid)>,
    /// Leads new to the copy (steps may be waiting for them).
    pub inserted: Vec<(Uuid, Uuid)>,
}

/// Keeps each of `contacts` unless the copy already holds a later (or the
/// same) `updated_at` for its lead, in one statement; a lead repeated in
/// `contacts` keeps its latest. Returns the `(workspace, lead)` pairs that
/// changed, split into updated and new leads.
pub async fn upsert_many(
    db: impl PgExecutor<'_>,
    contacts: &[&LeadContactV1],
) -> Result<Kept, sqlx::Error> {
    if contacts.is_empty() {
        return Ok(Kept::default());
    }
    let rows: Vec<(Uuid, Uuid, bool)> = sqlx::query_as(
        "INSERT INTO engagement_leads AS l (id, workspace_id, email, phone, name, company, title, \
           industry, country, timezone, consent, correlation_id, updated_at) \
         SELECT DISTINCT ON (x.lead_id) x.lead_id, x.workspace_id, x.email, x.phone, x.name, x.company, \
           x.title, x.industry, x.country, x.timezone, coalesce(x.consent, '{}'::jsonb), \
           x.correlation_id, x.updated_at \
         FROM jsonb_to_recordset($1) AS x(lead_id uuid, workspace_id uuid, email text, phone text, \
           name text, company text, title text, industry text, country text, timezone text, \
           consent jsonb, correlation_id text, updated_at timestamptz) \
         ORDER BY x.lead_id, x.updated_at DESC \
         ON CONFLICT (id) DO UPDATE SET workspace_id = EXCLUDED.workspace_id, email = EXCLUDED.email, \
           phone = EXCLUDED.phone, name = EXCLUDED.name, company = EXCLUDED.company, \
           title = EXCLUDED.title, industry = EXCLUDED.industry, country = EXCLUDED.country, \
           timezone = EXCLUDED.timezone, consent = EXCLUDED.consent, \
           correlation_id = EXCLUDED.correlation_id, updated_at = EXCLUDED.updated_at, \
           received_at = now() \
         WHERE l.updated_at < EXCLUDED.updated_at \
         RETURNING l.workspace_id, l.id, l.xmax <> 0 AS updated",
    )
    .bind(Json(contacts))
    .fetch_all(db)
    .await?;
    let mut kept = Kept::default();
    for (workspace, lead, updated) in rows {
        let list = if updated {
            &mut kept.updated
        } else {
            &mut kept.inserted
        };
        list.push((workspace, lead));
    }
    Ok(kept)
}

/// Removes lead `id` from the copy (its `leads.contacts` tombstone: the
/// lead was erased), with the messages a language model wrote for it.
/// Returns its workspace if it was there, and the response-cache entries
/// those messages came from or went to (for the caller to remove).
pub async fn forget(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<(Uuid, Vec<String>)>, sqlx::Error> {
    sqlx::query_as(
        "WITH gone AS (DELETE FROM engagement_leads WHERE id = $1 RETURNING workspace_id), \
         texts AS (DELETE FROM step_generations g USING scheduled_steps s, gone \
           WHERE s.workspace_id = gone.workspace_id AND s.lead_id = $1 AND g.step_id = s.id \
           RETURNING g.cache_key) \
         SELECT workspace_id, coalesce((SELECT array_agg(DISTINCT cache_key) FROM texts \
           WHERE cache_key IS NOT NULL), '{}') FROM gone",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

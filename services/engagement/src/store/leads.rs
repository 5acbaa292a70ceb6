//! The lead's contact data, read directly from lead-triage's `leads` table
//! by id (same database; see docs/engagement.md for why).

use sqlx::PgExecutor;
use suite_domain::Channel;
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
         FROM leads l LEFT JOIN workspaces w ON w.id = l.workspace_id \
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
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM leads WHERE id = $1 AND workspace_id = $2)")
        .bind(id)
        .bind(workspace)
        .fetch_one(db)
        .await
}

/// Which of `(workspace, lead)` pairs exist, in one statement.
pub async fn existing(
    db: impl PgExecutor<'_>,
    pairs: &[(Uuid, Uuid)],
) -> Result<std::collections::HashSet<(Uuid, Uuid)>, sqlx::Error> {
    if pairs.is_empty() {
        return Ok(Default::default());
    }
    let (workspaces, ids): (Vec<Uuid>, Vec<Uuid>) = pairs.iter().copied().unzip();
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT l.workspace_id, l.id FROM UNNEST($1::uuid[], $2::uuid[]) AS x(ws, id) \
         JOIN leads l ON l.workspace_id = x.ws AND l.id = x.id",
    )
    .bind(&workspaces)
    .bind(&ids)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().collect())
}

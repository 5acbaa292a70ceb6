//! The consent ledger: append-only rows; the current state of a lead's
//! channel is its latest row, else the flag the lead arrived with.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;
use suite_domain::Channel;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::leads::LeadContact;

/// One ledger entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct ConsentEntry {
    /// Ledger position.
    pub id: i64,
    /// The lead.
    pub lead_id: Uuid,
    /// `email`, `sms` or `phone`.
    #[schema(value_type = crate::api::schemas::ChannelName)]
    pub channel: String,
    /// `granted` or `withdrawn`.
    #[schema(value_type = crate::api::schemas::ConsentStatus)]
    pub status: String,
    /// Where it came from (`api`, `interaction:unsubscribed`, …).
    pub source: String,
    /// The legal basis (`consent`, `legitimate_interest`, …).
    #[schema(value_type = crate::api::schemas::LegalBasis)]
    pub legal_basis: String,
    /// When it was given or withdrawn.
    pub recorded_at: DateTime<Utc>,
}

/// The current consent of one channel.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelConsent {
    /// Whether outreach on the channel is allowed.
    pub allowed: bool,
    /// `granted` or `withdrawn`; `intake` when only the lead's intake flags speak.
    #[schema(value_type = crate::api::schemas::CurrentConsentStatus)]
    pub status: String,
    /// Source of the deciding entry (`intake` for the lead's flags).
    pub source: String,
    /// Legal basis of the deciding entry (null for the lead's flags).
    #[schema(value_type = Option<crate::api::schemas::LegalBasis>, required = true)]
    pub legal_basis: Option<String>,
    /// When the deciding entry was recorded (null for the lead's flags).
    #[schema(required = true)]
    pub recorded_at: Option<DateTime<Utc>>,
}

/// An entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// Workspace.
    pub workspace_id: Uuid,
    /// Lead.
    pub lead_id: Uuid,
    /// Channel.
    pub channel: Channel,
    /// Granted or not.
    pub granted: bool,
    /// Source.
    pub source: &'a str,
    /// Legal basis.
    pub legal_basis: &'a str,
    /// When.
    pub recorded_at: DateTime<Utc>,
    /// The interaction that caused it, if any.
    pub interaction_id: Option<Uuid>,
}

/// Appends an entry.
pub async fn append(
    db: impl PgExecutor<'_>,
    e: &NewEntry<'_>,
) -> Result<ConsentEntry, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO consent_ledger (workspace_id, lead_id, channel, status, source, legal_basis, \
         recorded_at, interaction_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id, lead_id, channel, status, source, legal_basis, recorded_at",
    )
    .bind(e.workspace_id)
    .bind(e.lead_id)
    .bind(e.channel.as_str())
    .bind(if e.granted { "granted" } else { "withdrawn" })
    .bind(e.source)
    .bind(e.legal_basis)
    .bind(e.recorded_at)
    .bind(e.interaction_id)
    .fetch_one(db)
    .await
}

/// The latest entry per channel of a lead.
pub async fn latest(
    db: impl PgExecutor<'_>,
    workspace: Uuid,
    lead: Uuid,
) -> Result<Vec<ConsentEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT DISTINCT ON (channel) id, lead_id, channel, status, source, legal_basis, recorded_at \
         FROM consent_ledger WHERE workspace_id = $1 AND lead_id = $2 ORDER BY channel, id DESC",
    )
    .bind(workspace)
    .bind(lead)
    .fetch_all(db)
    .await
}

/// A lead's ledger, newest first.
pub async fn history(
    db: impl PgExecutor<'_>,
    workspace: Uuid,
    lead: Uuid,
    limit: i64,
) -> Result<Vec<ConsentEntry>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, lead_id, channel, status, source, legal_basis, recorded_at FROM consent_ledger \
         WHERE workspace_id = $1 AND lead_id = $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(workspace)
    .bind(lead)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The current state of every channel: the latest ledger entry, else the
/// intake flag.
pub fn current(lead: &LeadContact, latest: &[ConsentEntry]) -> BTreeMap<Channel, ChannelConsent> {
    Channel::ALL
        .into_iter()
        .map(|channel| {
            let state = match latest.iter().find(|e| e.channel == channel.as_str()) {
                Some(e) => ChannelConsent {
                    allowed: e.status == "granted",
                    status: e.status.clone(),
                    source: e.source.clone(),
                    legal_basis: Some(e.legal_basis.clone()),
                    recorded_at: Some(e.recorded_at),
                },
                None => ChannelConsent {
                    allowed: lead.intake_consent(channel),
                    status: "intake".into(),
                    source: "intake".into(),
                    legal_basis: None,
                    recorded_at: None,
                },
            };
            (channel, state)
        })
        .collect()
}

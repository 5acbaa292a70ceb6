//! Storing `track` / `identify` calls: resolve the leads, drop message ids
//! seen before, record the events, rescore the touched leads.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::models::VersionedModel;
use super::writer::Writer;
use crate::error::Error;
use crate::lead::LeadFields;

/// How a call names its lead.
#[derive(Debug, Clone)]
pub enum LeadRef {
    /// By lead id.
    Id(Uuid),
    /// By normalised email.
    Email(String),
    /// By external id.
    External(String),
}

/// One validated call.
#[derive(Debug)]
pub struct Incoming {
    /// Idempotency key of the call.
    pub message_id: String,
    /// The lead.
    pub lead: LeadRef,
    /// `track` or `identify`.
    pub kind: &'static str,
    /// Event name.
    pub name: String,
    /// Event properties.
    pub properties: Json<serde_json::Value>,
    /// Event time.
    pub occurred_at: DateTime<Utc>,
    /// Trait updates (`identify`).
    pub traits: Option<LeadFields>,
}

/// What happened to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded and applied to this lead.
    Applied(Uuid),
    /// Its message id was applied before.
    Duplicate,
    /// No lead matches in this workspace.
    UnknownLead,
}

#[derive(Serialize)]
struct EventRow<'a> {
    lead_id: Uuid,
    message_id: &'a str,
    kind: &'a str,
    name: &'a str,
    properties: &'a serde_json::Value,
    occurred_at: DateTime<Utc>,
}

/// Applies `calls` (index, call) inside the caller's transaction.
pub async fn apply(
    conn: &mut PgConnection,
    writer: &Writer,
    workspace: Uuid,
    model: &VersionedModel,
    calls: Vec<(usize, Incoming)>,
) -> Result<Vec<(usize, Outcome)>, Error> {
    let resolved = resolve(conn, workspace, &calls).await?;
    let mut outcomes = Vec::with_capacity(calls.len());
    let mut seen = HashSet::new();
    let mut candidates = Vec::new();
    for (index, call) in calls {
        match resolved.get(&key_of(&call.lead)) {
            None => outcomes.push((index, Outcome::UnknownLead)),
            Some(_) if !seen.insert(call.message_id.clone()) => {
                outcomes.push((index, Outcome::Duplicate))
            }
            Some(id) => candidates.push((index, *id, call)),
        }
    }
    let ids: Vec<&str> = candidates
        .iter()
        .map(|(_, _, c)| c.message_id.as_str())
        .collect();
    let fresh: HashSet<String> = sqlx::query_scalar(
        "INSERT INTO lead_event_messages (workspace_id, message_id) SELECT $1, unnest($2::text[]) \
         ON CONFLICT DO NOTHING RETURNING message_id",
    )
    .bind(workspace)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();

    let mut rows = Vec::new();
    let mut patches = Vec::new();
    let mut reason = "track";
    for (index, id, call) in &candidates {
        if !fresh.contains(&call.message_id) {
            outcomes.push((*index, Outcome::Duplicate));
            continue;
        }
        outcomes.push((*index, Outcome::Applied(*id)));
        rows.push(EventRow {
            lead_id: *id,
            message_id: &call.message_id,
            kind: call.kind,
            name: &call.name,
            properties: &call.properties.0,
            occurred_at: call.occurred_at,
        });
        if call.traits.is_some() {
            reason = "identify";
        }
        patches.push((*id, call.traits.clone()));
    }
    if !rows.is_empty() {
        sqlx::query(
            "INSERT INTO lead_events (workspace_id, lead_id, message_id, kind, name, properties, occurred_at) \
             SELECT $1, lead_id, message_id, kind, name, properties, occurred_at \
             FROM jsonb_to_recordset($2) AS x(lead_id uuid, message_id text, kind text, name text, \
                  properties jsonb, occurred_at timestamptz)",
        )
        .bind(workspace)
        .bind(Json(&rows))
        .execute(&mut *conn)
        .await?;
        writer
            .rescore(conn, workspace, model, patches, reason)
            .await?;
    }
    outcomes.sort_by_key(|(index, _)| *index);
    Ok(outcomes)
}

fn key_of(reference: &LeadRef) -> (char, String) {
    match reference {
        LeadRef::Id(id) => ('i', id.to_string()),
        LeadRef::Email(e) => ('e', e.clone()),
        LeadRef::External(x) => ('x', x.clone()),
    }
}

async fn resolve(
    conn: &mut PgConnection,
    workspace: Uuid,
    calls: &[(usize, Incoming)],
) -> Result<HashMap<(char, String), Uuid>, sqlx::Error> {
    let (mut ids, mut emails, mut externals) = (Vec::new(), Vec::new(), Vec::new());
    for (_, call) in calls {
        match &call.lead {
            LeadRef::Id(id) => ids.push(*id),
            LeadRef::Email(e) => emails.push(e.as_str()),
            LeadRef::External(x) => externals.push(x.as_str()),
        }
    }
    let rows: Vec<(String, String, Uuid)> = sqlx::query_as(
        "SELECT 'i', id::text, id FROM leads WHERE workspace_id = $1 AND id = ANY($2) \
         UNION ALL SELECT 'e', email, lead_id FROM lead_emails WHERE workspace_id = $1 AND email = ANY($3) \
         UNION ALL SELECT 'x', external_id, lead_id FROM lead_external_ids WHERE workspace_id = $1 AND external_id = ANY($4)",
    )
    .bind(workspace)
    .bind(&ids)
    .bind(&emails)
    .bind(&externals)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, key, id)| ((kind.chars().next().unwrap_or('?'), key), id))
        .collect())
}

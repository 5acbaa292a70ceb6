//! The lead write path, shared by single posts, batches and `leads.inbound`:
//! a constant number of round trips per call whatever the number of leads.
//!
//! 1. lock the emails / external ids involved (advisory, sorted: no deadlocks);
//! 2. resolve which already belong to a lead (merge) and load those leads and
//!    their recent behavioural events;
//! 3. merge and score in memory (leads repeated inside one call merge too);
//! 4. insert new leads, their look-up rows, updates of merged leads, score
//!    history and the `lead.triaged.v1` events (outbox), in the caller's
//!    transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use sqlx::PgConnection;
use suite_bus::OutboxMessage;
use suite_domain::topics;
use utoipa::ToSchema;
use uuid::Uuid;

use super::merge::{apply, new_record};
use super::models::VersionedModel;
use super::view::{LeadView, LEAD_COLUMNS};
use crate::error::Error;
use crate::events::{contact_data, contact_event, triaged_event};
use crate::lead::{LeadFields, NewLead};
use crate::scoring::BehaviourEvent;

/// How far back behavioural events are read for rescoring.
const EVENT_HORIZON_DAYS: i64 = 180;

/// One lead to write.
#[derive(Debug, Clone)]
pub struct WriteItem {
    /// The validated lead.
    pub lead: NewLead,
    /// Correlation id to use if this creates a lead (a merged lead keeps its own).
    pub correlation_id: Option<String>,
    /// W3C `traceparent` for the lead's event, when it is written outside the
    /// request's span (group commit); `None` takes the current span's.
    pub traceparent: Option<String>,
}

/// What happened to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A new lead.
    Created,
    /// Merged into an existing lead (same email or external id).
    Merged,
}

/// The result for one item, in input order.
#[derive(Debug, Clone)]
pub struct Written {
    /// Created or merged.
    pub outcome: Outcome,
    /// The lead after the whole call.
    pub lead: LeadView,
}

/// Writes leads for one workspace.
pub struct Writer {
    topic_prefix: String,
}

struct Target {
    lead: LeadView,
    existed: bool,
    previous: Option<(i16, String)>,
    /// The contact data of an existing lead before this call.
    contact_before: Option<serde_json::Value>,
    /// When an existing lead last changed before this call (read under its lock).
    updated_before: Option<DateTime<Utc>>,
    /// The `traceparent` of the last item written into the lead, if given.
    trace: Option<String>,
}

impl Target {
    /// Makes an existing lead's `updated_at` later than the one it had: the
    /// time was read before the lead's lock was taken, and instances' clocks
    /// differ, yet consumers of `lead.contact.v1` keep the latest by it.
    fn advance_time(&mut self) {
        if let Some(before) = self.updated_before {
            if self.lead.updated_at <= before {
                self.lead.updated_at = before + chrono::Duration::microseconds(1);
            }
        }
    }
}

impl Writer {
    /// A writer publishing to topics under `topic_prefix`.
    pub fn new(topic_prefix: String) -> Self {
        Self { topic_prefix }
    }

    /// Writes `items` inside the caller's transaction (see the module docs).
    pub async fn write(
        &self,
        conn: &mut PgConnection,
        workspace: Uuid,
        model: &VersionedModel,
        items: Vec<WriteItem>,
    ) -> Result<Vec<Written>, Error> {
        let now = stored_now();
        lock_keys(conn, workspace, &items).await?;
        let (by_email, by_external) = resolve(conn, workspace, &items).await?;
        let mut existing_ids: Vec<Uuid> = by_email
            .values()
            .chain(by_external.values())
            .copied()
            .collect();
        existing_ids.sort_unstable();
        existing_ids.dedup();
        let mut targets = load(conn, workspace, &existing_ids).await?;
        let events = load_events(conn, workspace, &existing_ids, now).await?;

        // Assign every item to a lead, merging repeats within the call.
        let mut order: Vec<Uuid> = Vec::new();
        let mut assigned: Vec<(Uuid, Outcome)> = Vec::with_capacity(items.len());
        let mut email_seen: HashMap<String, Uuid> = by_email;
        let mut external_seen: HashMap<String, Uuid> = by_external;
        for item in items {
            let email_key = item.lead.email.match_key();
            let found = email_seen
                .get(&email_key)
                .or_else(|| {
                    item.lead
                        .fields
                        .external_id
                        .as_ref()
                        .and_then(|x| external_seen.get(x))
                })
                .copied();
            let (id, outcome) = match found.and_then(|id| targets.get_mut(&id).map(|t| (id, t))) {
                Some((id, target)) => {
                    apply(&mut target.lead, &item.lead.fields, now);
                    if item.traceparent.is_some() {
                        target.trace.clone_from(&item.traceparent);
                    }
                    (id, Outcome::Merged)
                }
                None => {
                    let lead = new_record(&item.lead, item.correlation_id, now);
                    let id = lead.id;
                    targets.insert(
                        id,
                        Target {
                            lead,
                            existed: false,
                            previous: None,
                            contact_before: None,
                            updated_before: None,
                            trace: item.traceparent.clone(),
                        },
                    );
                    order.push(id);
                    (id, Outcome::Created)
                }
            };
            email_seen.insert(email_key, id);
            if let Some(x) = &item.lead.fields.external_id {
                external_seen.insert(x.clone(), id);
            }
            assigned.push((id, outcome));
        }

        // Score every touched lead once, with its final fields.
        let no_events = Vec::new();
        for (id, target) in &mut targets {
            let evs = events.get(id).unwrap_or(&no_events);
            crate::triage::apply(&mut target.lead, evs, model, now);
            target.advance_time();
        }

        let lookup_emails: Vec<(String, Uuid)> = email_seen.into_iter().collect();
        let lookup_external: Vec<(String, Uuid)> = external_seen.into_iter().collect();
        self.persist(
            conn,
            workspace,
            &targets,
            &order,
            &lookup_emails,
            &lookup_external,
        )
        .await?;
        self.record_changes(conn, workspace, &targets, &order, "merged")
            .await?;

        Ok(assigned
            .into_iter()
            .filter_map(|(id, outcome)| {
                targets.get(&id).map(|t| Written {
                    outcome,
                    lead: t.lead.clone(),
                })
            })
            .collect())
    }

    /// Applies optional trait updates to existing leads and rescores them
    /// (after new behavioural events), recording history and a new triage
    /// event where the category changed. Leads are locked for the transaction.
    pub async fn rescore(
        &self,
        conn: &mut PgConnection,
        workspace: Uuid,
        model: &VersionedModel,
        patches: Vec<(Uuid, Option<LeadFields>)>,
        reason: &'static str,
    ) -> Result<Vec<LeadView>, Error> {
        let now = stored_now();
        let mut ids: Vec<Uuid> = patches.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        sqlx::query(
            "SELECT 1 FROM leads WHERE workspace_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE",
        )
        .bind(workspace)
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
        let mut targets = load(conn, workspace, &ids).await?;
        let events = load_events(conn, workspace, &ids, now).await?;
        for (id, patch) in &patches {
            if let (Some(target), Some(fields)) = (targets.get_mut(id), patch) {
                apply(&mut target.lead, fields, now);
            }
        }
        let no_events = Vec::new();
        for (id, target) in &mut targets {
            crate::triage::apply(
                &mut target.lead,
                events.get(id).unwrap_or(&no_events),
                model,
                now,
            );
            target.lead.updated_at = now;
            target.advance_time();
        }
        self.persist(conn, workspace, &targets, &[], &[], &[])
            .await?;
        self.record_changes(conn, workspace, &targets, &[], reason)
            .await?;
        Ok(targets.into_values().map(|t| t.lead).collect())
    }

    async fn persist(
        &self,
        conn: &mut PgConnection,
        workspace: Uuid,
        targets: &HashMap<Uuid, Target>,
        created_order: &[Uuid],
        emails: &[(String, Uuid)],
        externals: &[(String, Uuid)],
    ) -> Result<(), sqlx::Error> {
        let created: Vec<&LeadView> = created_order
            .iter()
            .filter_map(|id| targets.get(id))
            .map(|t| &t.lead)
            .collect();
        let updated: Vec<&LeadView> = targets
            .values()
            .filter(|t| t.existed)
            .map(|t| &t.lead)
            .collect();
        if !created.is_empty() {
            sqlx::query(&format!(
                "INSERT INTO leads (workspace_id, {LEAD_COLUMNS}) SELECT $1, {LEAD_COLUMNS} \
                 FROM jsonb_populate_recordset(NULL::leads, $2)"
            ))
            .bind(workspace)
            .bind(Json(&created))
            .execute(&mut *conn)
            .await?;
        }
        if !updated.is_empty() {
            sqlx::query(
                "UPDATE leads l SET name = x.name, phone = x.phone, company = x.company, title = x.title, \
                 company_size = x.company_size, industry = x.industry, country = x.country, \
                 timezone = x.timezone, source = x.source, external_id = x.external_id, utm = x.utm, \
                 consent = x.consent, attributes = x.attributes, score = x.score, category = x.category, \
                 breakdown = x.breakdown, model_version = x.model_version, updated_at = x.updated_at \
                 FROM jsonb_populate_recordset(NULL::leads, $2) x \
                 WHERE l.id = x.id AND l.workspace_id = $1",
            )
            .bind(workspace)
            .bind(Json(&updated))
            .execute(&mut *conn)
            .await?;
        }
        if emails.is_empty() && externals.is_empty() {
            return Ok(());
        }
        let (email_keys, email_ids): (Vec<&str>, Vec<Uuid>) =
            emails.iter().map(|(e, id)| (e.as_str(), *id)).unzip();
        let (ext_keys, ext_ids): (Vec<&str>, Vec<Uuid>) =
            externals.iter().map(|(e, id)| (e.as_str(), *id)).unzip();
        sqlx::query(
            "WITH e AS (INSERT INTO lead_emails (workspace_id, email, lead_id) \
               SELECT $1, * FROM UNNEST($2::text[], $3::uuid[]) ON CONFLICT DO NOTHING) \
             INSERT INTO lead_external_ids (workspace_id, external_id, lead_id) \
               SELECT $1, * FROM UNNEST($4::text[], $5::uuid[]) ON CONFLICT DO NOTHING",
        )
        .bind(workspace)
        .bind(&email_keys)
        .bind(&email_ids)
        .bind(&ext_keys)
        .bind(&ext_ids)
        .execute(&mut *conn)
        .await?;

        Ok(())
    }

    /// History and events: every new lead, and existing leads whose triage
    /// (`lead.triaged.v1`) or contact data (`lead.contact.v1`) changed.
    async fn record_changes(
        &self,
        conn: &mut PgConnection,
        workspace: Uuid,
        targets: &HashMap<Uuid, Target>,
        created_order: &[Uuid],
        reason: &'static str,
    ) -> Result<(), Error> {
        let mut history: Vec<(&LeadView, &'static str)> = Vec::new();
        let mut events = Vec::new();
        for id in created_order {
            if let Some(t) = targets.get(id) {
                history.push((&t.lead, "created"));
                events.push(traced(triaged_event(&t.lead, workspace, None), t));
            }
        }
        for t in targets.values().filter(|t| t.existed) {
            let Some((score, category)) = &t.previous else {
                continue;
            };
            if *score != t.lead.score || *category != t.lead.category {
                history.push((&t.lead, reason));
            }
            if *category != t.lead.category {
                events.push(traced(
                    triaged_event(&t.lead, workspace, Some(category.as_str())),
                    t,
                ));
            }
        }
        insert_history(conn, workspace, &history).await?;
        // Contact data first (every new lead, and leads whose contact data
        // changed): the relay publishes in outbox order, so engagement
        // usually has a lead's contact data before its triage.
        let contacts_topic = format!("{}{}", self.topic_prefix, topics::LEADS_CONTACTS);
        let created = created_order.iter().filter_map(|id| targets.get(id));
        let changed = targets.values().filter(|t| {
            t.existed && t.contact_before.as_ref() != Some(&contact_data(&t.lead, workspace))
        });
        let mut outgoing: Vec<(String, Vec<u8>, suite_bus::CloudEvent)> = created
            .chain(changed)
            .map(|t| {
                let (_, lead_id, event) = traced(
                    (
                        String::new(),
                        t.lead.id,
                        contact_event(&t.lead, workspace).1,
                    ),
                    t,
                );
                (
                    contacts_topic.clone(),
                    lead_id.to_string().into_bytes(),
                    event,
                )
            })
            .collect();
        outgoing.extend(events.into_iter().map(|(category, lead_id, event)| {
            (
                format!("{}leads.{category}", self.topic_prefix),
                lead_id.to_string().into_bytes(),
                event,
            )
        }));
        let messages: Vec<OutboxMessage<'_>> = outgoing
            .iter()
            .map(|(topic, key, event)| OutboxMessage {
                topic,
                key: Some(key),
                event,
            })
            .collect();
        suite_bus::outbox::enqueue_many(conn, &messages).await?;
        Ok(())
    }
}

/// Now, at the precision Postgres stores, so a response equals a later read.
fn stored_now() -> DateTime<Utc> {
    use chrono::SubsecRound as _;
    Utc::now().trunc_subsecs(6)
}

/// Appends score-history rows.
pub async fn insert_history(
    conn: &mut PgConnection,
    workspace: Uuid,
    rows: &[(&LeadView, &'static str)],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let payload: Vec<serde_json::Value> = rows
        .iter()
        .map(|(l, reason)| {
            serde_json::json!({"lead_id": l.id, "score": l.score, "category": l.category,
                "breakdown": l.breakdown, "model_version": l.model_version, "reason": reason,
                "scored_at": l.updated_at})
        })
        .collect();
    sqlx::query(
        "INSERT INTO lead_scores (workspace_id, lead_id, score, category, breakdown, model_version, reason, scored_at) \
         SELECT $1, lead_id, score, category, breakdown, model_version, reason, scored_at \
         FROM jsonb_to_recordset($2) AS x(lead_id uuid, score smallint, category text, breakdown jsonb, \
              model_version int, reason text, scored_at timestamptz)",
    )
    .bind(workspace)
    .bind(Json(payload))
    .execute(conn)
    .await?;
    Ok(())
}

fn lock_id(workspace: Uuid, kind: &str, value: &str) -> i64 {
    let digest = Sha256::digest(format!("{workspace}:{kind}:{value}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

async fn lock_keys(
    conn: &mut PgConnection,
    workspace: Uuid,
    items: &[WriteItem],
) -> Result<(), sqlx::Error> {
    let mut ids: Vec<i64> = items
        .iter()
        .flat_map(|i| {
            let email = Some(lock_id(workspace, "e", &i.lead.email.match_key()));
            let external = i
                .lead
                .fields
                .external_id
                .as_deref()
                .map(|x| lock_id(workspace, "x", x));
            email.into_iter().chain(external)
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    // unnest yields the array in order, so every transaction locks in the same order.
    sqlx::query("SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k")
        .bind(&ids)
        .execute(conn)
        .await?;
    Ok(())
}

type Resolved = (HashMap<String, Uuid>, HashMap<String, Uuid>);

async fn resolve(
    conn: &mut PgConnection,
    workspace: Uuid,
    items: &[WriteItem],
) -> Result<Resolved, sqlx::Error> {
    let emails: Vec<String> = items.iter().map(|i| i.lead.email.match_key()).collect();
    let externals: Vec<&str> = items
        .iter()
        .filter_map(|i| i.lead.fields.external_id.as_deref())
        .collect();
    let rows: Vec<(bool, String, Uuid)> = sqlx::query_as(
        "SELECT true, email, lead_id FROM lead_emails WHERE workspace_id = $1 AND email = ANY($2) \
         UNION ALL \
         SELECT false, external_id, lead_id FROM lead_external_ids WHERE workspace_id = $1 AND external_id = ANY($3)",
    )
    .bind(workspace)
    .bind(&emails)
    .bind(&externals)
    .fetch_all(conn)
    .await?;
    let mut by_email = HashMap::new();
    let mut by_external = HashMap::new();
    for (is_email, key, id) in rows {
        if is_email {
            by_email.insert(key, id);
        } else {
            by_external.insert(key, id);
        }
    }
    Ok((by_email, by_external))
}

async fn load(
    conn: &mut PgConnection,
    workspace: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Target>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<LeadView> = sqlx::query_as(&format!(
        "SELECT {LEAD_COLUMNS} FROM leads WHERE workspace_id = $1 AND id = ANY($2)"
    ))
    .bind(workspace)
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|lead| {
            let previous = Some((lead.score, lead.category.clone()));
            let contact_before = Some(contact_data(&lead, workspace));
            let updated_before = Some(lead.updated_at);
            (
                lead.id,
                Target {
                    lead,
                    existed: true,
                    previous,
                    contact_before,
                    updated_before,
                    trace: None,
                },
            )
        })
        .collect())
}

/// Recent behavioural events of `ids`, by lead.
pub async fn load_events(
    conn: &mut PgConnection,
    workspace: Uuid,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, Vec<BehaviourEvent>>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT lead_id, name, occurred_at FROM lead_events \
         WHERE workspace_id = $1 AND lead_id = ANY($2) AND kind = 'track' AND occurred_at > $3",
    )
    .bind(workspace)
    .bind(ids)
    .bind(now - chrono::Duration::days(EVENT_HORIZON_DAYS))
    .fetch_all(conn)
    .await?;
    let mut by_lead: HashMap<Uuid, Vec<BehaviourEvent>> = HashMap::new();
    for (id, name, at) in rows {
        by_lead
            .entry(id)
            .or_default()
            .push(BehaviourEvent::new(name, at));
    }
    Ok(by_lead)
}

/// Gives a lead's event the trace of the item that wrote it, if one was given.
fn traced(
    (category, id, mut event): (String, Uuid, suite_bus::CloudEvent),
    target: &Target,
) -> (String, Uuid, suite_bus::CloudEvent) {
    if target.trace.is_some() {
        event.traceparent.clone_from(&target.trace);
    }
    (category, id, event)
}

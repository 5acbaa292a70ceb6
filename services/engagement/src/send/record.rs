//! Writing how claimed steps ended, as sets: the [`Recorder`] is the
//! [`SetWork`] of the send path's group commit. Whatever step outcomes
//! queued while the previous set was committing are written in one
//! transaction with one statement per kind of change (reservations settled,
//! communications, `sent` interactions and their outbox rows, steps finished
//! or put back, fallbacks pulled forward, plans stopped or completed), then
//! the scheduler is woken once and the leads' cached conversations and
//! contexts are dropped with one invalidation each.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use suite_bus::batch::SetWork;
use suite_bus::HandlerError;
use suite_domain::InteractionKind;
use suite_store::TwoLevelCache;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::api::context::CachedContext;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::interactions::{self, EventParts};
use crate::store::reads::Conversation;
use crate::store::steps::ClaimedStep;

/// Consumer name of dead-lettered steps in `dead_letters`.
pub const DLQ_CONSUMER: &str = "engagement.scheduler";
/// Source name of dead-lettered steps in `dead_letters` (not a Kafka topic).
pub const DLQ_SOURCE: &str = "engagement.steps";

/// What becomes of the step itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Put back, due at `at` (quiet hours, caps, budget, an open breaker, a
    /// paused campaign).
    Reschedule {
        /// When it is due again.
        at: DateTime<Utc>,
        /// Why (`outcome` of the step).
        reason: &'static str,
    },
    /// Finished with `status` for `reason`; `next` is the later step pulled
    /// forward to now (the fallback on another channel), if any.
    Finish {
        /// `sent`, `skipped`, `failed`, `dead` or `indeterminate`.
        status: &'static str,
        /// Why (`outcome` of the step).
        reason: &'static str,
        /// The step index made due now.
        next: Option<u32>,
    },
    /// Skipped for `reason`, and the rest of its plan stopped.
    Stop {
        /// Why (an archived campaign, a lead that is gone).
        reason: &'static str,
    },
}

/// The final state of a send reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settle {
    /// The reservation.
    pub send_id: Uuid,
    /// `sent`, `failed` or `indeterminate`.
    pub status: &'static str,
    /// Provider calls made.
    pub calls: u32,
    /// The provider's message id.
    pub provider_message_id: Option<String>,
    /// The failure, as text.
    pub error: Option<String>,
}

/// A message the provider accepted: its communication and `sent`
/// interaction are written with the step's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The reservation (and communication) id.
    pub send_id: Uuid,
    /// Provider name.
    pub provider: String,
    /// Rendered subject.
    pub subject: Option<String>,
    /// Rendered body.
    pub body: String,
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// The send span's trace context, carried by the interaction event.
    pub traceparent: Option<String>,
    /// What generating the message cost (micros), when it was generated or
    /// a generation was paid for before falling back to the template.
    pub generation_cost: Option<i64>,
}

/// A step kept for operators in `dead_letters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The reservation, when one was made.
    pub send_id: Option<Uuid>,
    /// Error class.
    pub class: &'static str,
    /// Error message.
    pub message: String,
}

/// How one claimed step ended, with everything to write for it.
#[derive(Debug, Clone)]
pub struct StepEnd {
    /// The step.
    pub step: ClaimedStep,
    /// What becomes of it.
    pub end: End,
    /// The send path's "now" (a fallback step is made due at it).
    pub now: DateTime<Utc>,
    /// Its reservation's final state.
    pub settle: Option<Settle>,
    /// A reservation dropped because the provider was never called.
    pub abandon: Option<Uuid>,
    /// The message sent.
    pub sent: Option<SentMessage>,
    /// A dead letter to keep.
    pub dead_letter: Option<DeadLetter>,
}

impl StepEnd {
    /// `step` ends as `end` at `now`, with nothing else to write.
    pub fn new(step: ClaimedStep, end: End, now: DateTime<Utc>) -> Self {
        Self {
            step,
            end,
            now,
            settle: None,
            abandon: None,
            sent: None,
            dead_letter: None,
        }
    }
}

/// Writes sets of [`StepEnd`]s; each answers whether the step's claim still
/// held (false: its lease expired and another instance took it over; what
/// was sent is recorded all the same).
pub struct Recorder {
    pool: PgPool,
    topic: String,
    conversations: TwoLevelCache<Conversation>,
    contexts: TwoLevelCache<CachedContext>,
    wake: std::sync::Arc<Notify>,
}

impl Recorder {
    /// A recorder writing through `state`'s primary.
    pub fn new(state: &AppState) -> Self {
        Self {
            pool: state.platform.db.primary().clone(),
            topic: state.interactions_topic.clone(),
            conversations: state.conversations.clone(),
            contexts: state.contexts.clone(),
            wake: state.wake.clone(),
        }
    }
}

impl SetWork for Recorder {
    type Item = StepEnd;
    type Output = bool;
    type Error = Error;

    async fn apply(&self, ends: &[StepEnd]) -> Result<Vec<Result<bool, HandlerError>>> {
        let mut tx = self.pool.begin().await?;
        settle(&mut tx, ends).await?;
        abandon(&mut tx, ends).await?;
        communications(&mut tx, ends).await?;
        let events: Vec<_> = ends
            .iter()
            .filter_map(|e| {
                e.sent
                    .as_ref()
                    .map(|s| (sent_event(&e.step, s), s.traceparent.clone()))
            })
            .collect();
        interactions::record_many(&mut tx, &self.topic, &events).await?;
        for end in ends {
            if let Some(dead) = &end.dead_letter {
                dead_letter(&mut tx, &end.step, dead).await?;
            }
        }
        let mut held = finish(&mut tx, ends).await?;
        held.extend(reschedule(&mut tx, ends).await?);
        pull_forward(&mut tx, ends).await?;
        stop_plans(&mut tx, ends).await?;
        complete_plans(&mut tx, ends).await?;
        tx.commit().await?;

        if ends
            .iter()
            .any(|e| matches!(e.end, End::Finish { next: Some(_), .. }))
        {
            self.wake.notify_one();
        }
        let mut leads: Vec<String> = ends
            .iter()
            .map(|e| AppState::conversation_key(e.step.workspace_id, e.step.lead_id))
            .collect();
        leads.sort_unstable();
        leads.dedup();
        tokio::join!(
            self.conversations.invalidate_many(&leads),
            self.contexts.invalidate_many(&leads)
        );
        Ok(ends.iter().map(|e| Ok(held.contains(&e.step.id))).collect())
    }
}

async fn settle(conn: &mut PgConnection, ends: &[StepEnd]) -> Result<()> {
    let settles: Vec<&Settle> = ends.iter().filter_map(|e| e.settle.as_ref()).collect();
    if settles.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE send_reservations r SET status = u.status, attempts = u.attempts, \
         provider_message_id = u.pmid, error = u.error, updated_at = now() \
         FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[]) \
            AS u(id, status, attempts, pmid, error) WHERE r.id = u.id",
    )
    .bind(settles.iter().map(|s| s.send_id).collect::<Vec<_>>())
    .bind(settles.iter().map(|s| s.status).collect::<Vec<_>>())
    .bind(settles.iter().map(|s| s.calls as i32).collect::<Vec<_>>())
    .bind(
        settles
            .iter()
            .map(|s| s.provider_message_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        settles
            .iter()
            .map(|s| s.error.as_deref())
            .collect::<Vec<_>>(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

async fn abandon(conn: &mut PgConnection, ends: &[StepEnd]) -> Result<()> {
    let ids: Vec<Uuid> = ends.iter().filter_map(|e| e.abandon).collect();
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM send_reservations WHERE id = ANY($1) AND status = 'reserved'")
        .bind(ids)
        .execute(conn)
        .await?;
    Ok(())
}

async fn communications(conn: &mut PgConnection, ends: &[StepEnd]) -> Result<()> {
    let sent: Vec<(&ClaimedStep, &SentMessage)> = ends
        .iter()
        .filter_map(|e| e.sent.as_ref().map(|s| (&e.step, s)))
        .collect();
    if sent.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO communications (id, workspace_id, lead_id, campaign_id, variant_id, step_index, \
         channel, provider, subject, body, created_at) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::int[], \
            $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[])",
    )
    .bind(sent.iter().map(|(_, s)| s.send_id).collect::<Vec<_>>())
    .bind(sent.iter().map(|(t, _)| t.workspace_id).collect::<Vec<_>>())
    .bind(sent.iter().map(|(t, _)| t.lead_id).collect::<Vec<_>>())
    .bind(sent.iter().map(|(t, _)| t.campaign_id).collect::<Vec<_>>())
    .bind(sent.iter().map(|(t, _)| t.variant_id).collect::<Vec<_>>())
    .bind(
        sent.iter()
            .map(|(t, _)| t.step_index as i32)
            .collect::<Vec<_>>(),
    )
    .bind(
        sent.iter()
            .map(|(t, _)| t.channel.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(sent.iter().map(|(_, s)| s.provider.as_str()).collect::<Vec<_>>())
    .bind(sent.iter().map(|(_, s)| s.subject.as_deref()).collect::<Vec<_>>())
    .bind(sent.iter().map(|(_, s)| s.body.as_str()).collect::<Vec<_>>())
    .bind(sent.iter().map(|(_, s)| s.at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

fn sent_event(step: &ClaimedStep, sent: &SentMessage) -> suite_domain::InteractionV1 {
    EventParts {
        workspace_id: step.workspace_id,
        lead_id: step.lead_id,
        campaign_id: Some(step.campaign_id),
        variant_id: Some(step.variant_id),
        send_id: Some(sent.send_id),
        channel: step.channel,
        kind: InteractionKind::Sent,
        occurred_at: sent.at,
        correlation_id: step.correlation_id.clone(),
        provider_event_id: None,
        generation_cost_micros: sent.generation_cost,
    }
    .into_event()
}

/// Steps finished (or stopped) under their claim; returns the ids whose
/// claim still held.
async fn finish(conn: &mut PgConnection, ends: &[StepEnd]) -> Result<HashSet<Uuid>> {
    let done: Vec<(&ClaimedStep, &str, &str)> = ends
        .iter()
        .filter_map(|e| match e.end {
            End::Finish { status, reason, .. } => Some((&e.step, status, reason)),
            End::Stop { reason } => Some((&e.step, "skipped", reason)),
            End::Reschedule { .. } => None,
        })
        .collect();
    if done.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE scheduled_steps s SET status = u.status, outcome = u.outcome, locked_until = NULL, \
         updated_at = now() \
         FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[]) AS u(id, attempts, status, outcome) \
         WHERE s.id = u.id AND s.attempts = u.attempts AND s.status = 'running' RETURNING s.id",
    )
    .bind(done.iter().map(|(s, _, _)| s.id).collect::<Vec<_>>())
    .bind(done.iter().map(|(s, _, _)| s.attempts).collect::<Vec<_>>())
    .bind(done.iter().map(|(_, status, _)| *status).collect::<Vec<_>>())
    .bind(done.iter().map(|(_, _, reason)| *reason).collect::<Vec<_>>())
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().collect())
}

/// Steps put back under their claim; returns the ids whose claim still held.
async fn reschedule(conn: &mut PgConnection, ends: &[StepEnd]) -> Result<HashSet<Uuid>> {
    let back: Vec<(&ClaimedStep, DateTime<Utc>, &str)> = ends
        .iter()
        .filter_map(|e| match e.end {
            End::Reschedule { at, reason } => Some((&e.step, at, reason)),
            _ => None,
        })
        .collect();
    if back.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE scheduled_steps s SET status = 'pending', due_at = u.due_at, outcome = u.outcome, \
         locked_until = NULL, updated_at = now() \
         FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::text[]) \
            AS u(id, attempts, due_at, outcome) \
         WHERE s.id = u.id AND s.attempts = u.attempts AND s.status = 'running' RETURNING s.id",
    )
    .bind(back.iter().map(|(s, _, _)| s.id).collect::<Vec<_>>())
    .bind(back.iter().map(|(s, _, _)| s.attempts).collect::<Vec<_>>())
    .bind(back.iter().map(|(_, at, _)| *at).collect::<Vec<_>>())
    .bind(
        back.iter()
            .map(|(_, _, reason)| *reason)
            .collect::<Vec<_>>(),
    )
    .fetch_all(conn)
    .await?;
    Ok(ids.into_iter().collect())
}

/// The fallback steps made due now (at the latest).
async fn pull_forward(conn: &mut PgConnection, ends: &[StepEnd]) -> Result<()> {
    let next: Vec<(Uuid, i32, DateTime<Utc>)> = ends
        .iter()
        .filter_map(|e| match e.end {
            End::Finish { next: Some(i), .. } => Some((e.step.plan_id, i as i32, e.now)),
            _ => None,
        })
        .collect();
    if next.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE scheduled_steps s SET due_at = LEAST(s.due_at, u.now), updated_at = now() \
         FROM unnest($1::uuid[], $2::int[], $3::timestamptz[]) AS u(plan_id, step_index, now) \
         WHERE s.plan_id = u.plan_id AND s.step_index = u.step_index AND s.status = 'pending'",
    )
    .bind(next.iter().map(|n| n.0).collect::<Vec<_>>())
    .bind(next.iter().map(|n| n.1).collect::<Vec<_>>())
    .bind(next.iter().map(|n| n.2).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// The plans of stopped steps: their pending steps skipped, the plan stopped.
async fn stop_plans(conn: &mut PgConnection, ends: &[StepEnd]) -> Result<()> {
    let stops: Vec<(Uuid, &str)> = ends
        .iter()
        .filter_map(|e| match e.end {
            End::Stop { reason } => Some((e.step.plan_id, reason)),
            _ => None,
        })
        .collect();
    if stops.is_empty() {
        return Ok(());
    }
    let plans: Vec<Uuid> = stops.iter().map(|s| s.0).collect();
    sqlx::query(
        "UPDATE scheduled_steps s SET status = 'skipped', outcome = u.reason, updated_at = now() \
         FROM unnest($1::uuid[], $2::text[]) AS u(plan_id, reason) \
         WHERE s.plan_id = u.plan_id AND s.status = 'pending'",
    )
    .bind(&plans)
    .bind(stops.iter().map(|s| s.1).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE outreach_plans SET status = 'stopped', updated_at = now() \
         WHERE id = ANY($1) AND status = 'active'",
    )
    .bind(&plans)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The plans of finished steps that have no step left to run: completed.
async fn complete_plans(conn: &mut PgConnection, ends: &[StepEnd]) -> Result<()> {
    let mut plans: Vec<Uuid> = ends
        .iter()
        .filter(|e| matches!(e.end, End::Finish { .. }))
        .map(|e| e.step.plan_id)
        .collect();
    if plans.is_empty() {
        return Ok(());
    }
    plans.sort_unstable();
    plans.dedup();
    sqlx::query(
        "UPDATE outreach_plans p SET status = 'completed', updated_at = now() \
         WHERE p.id = ANY($1) AND p.status = 'active' AND NOT EXISTS (SELECT 1 FROM scheduled_steps s \
           WHERE s.plan_id = p.id AND s.status IN ('pending', 'running'))",
    )
    .bind(&plans)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps a dead step for operators in `dead_letters` (one row per step;
/// rare, so one statement each).
async fn dead_letter(conn: &mut PgConnection, step: &ClaimedStep, dead: &DeadLetter) -> Result<()> {
    let payload = serde_json::json!({
        "step_id": step.id, "plan_id": step.plan_id, "workspace_id": step.workspace_id,
        "lead_id": step.lead_id, "campaign_id": step.campaign_id, "step_index": step.step_index,
        "channel": step.channel, "send_id": dead.send_id, "claims": step.attempts,
    });
    let key = step.lead_id.to_string();
    suite_bus::dead_letters::keep(
        conn,
        &suite_bus::dead_letters::Abandoned {
            consumer: DLQ_CONSUMER,
            source: DLQ_SOURCE,
            position: step.seq,
            key: Some(key.as_bytes()),
            payload: &payload,
            error_class: dead.class,
            error_message: &dead.message,
        },
    )
    .await?;
    Ok(())
}

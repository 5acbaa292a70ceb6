//! The transactions that end a step: a send recorded with its
//! communication and `sent` interaction, a failure with its fallback, a
//! dead letter.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use suite_domain::{Channel, InteractionKind};
use uuid::Uuid;

use crate::error::Result;
use crate::outreach::ladder;
use crate::outreach::RenderedMessage;
use crate::providers::Receipt;
use crate::state::AppState;
use crate::store::interactions::{self, EventParts};
use crate::store::reservations;
use crate::store::steps::{self, ClaimedStep};

/// Consumer name of dead-lettered steps in `dead_letters`.
pub const DLQ_CONSUMER: &str = "engagement.scheduler";
/// Source name of dead-lettered steps in `dead_letters` (not a Kafka topic).
pub const DLQ_SOURCE: &str = "engagement.steps";

/// A send the provider accepted.
#[derive(Debug)]
pub struct Accepted<'a> {
    /// The reservation (and communication) id.
    pub send_id: Uuid,
    /// Provider name.
    pub provider: &'a str,
    /// What was sent.
    pub message: &'a RenderedMessage,
    /// The provider's receipt.
    pub receipt: &'a Receipt,
    /// Provider calls made.
    pub calls: u32,
}

/// Records a successful send: reservation, communication, `sent` interaction
/// (outbox), step and plan state, in one transaction.
pub async fn sent(
    state: &AppState,
    step: &ClaimedStep,
    done: &Accepted<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    let Accepted {
        send_id,
        provider,
        message,
        receipt,
        calls,
    } = *done;
    let mut tx = state.platform.db.primary().begin().await?;
    reservations::settle(
        &mut tx,
        send_id,
        "sent",
        calls,
        receipt.provider_message_id.as_deref(),
        None,
    )
    .await?;
    sqlx::query(
        "INSERT INTO communications (id, workspace_id, lead_id, campaign_id, variant_id, step_index, channel, \
         provider, subject, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(send_id)
    .bind(step.workspace_id)
    .bind(step.lead_id)
    .bind(step.campaign_id)
    .bind(step.variant_id)
    .bind(step.step_index as i32)
    .bind(step.channel.as_str())
    .bind(provider)
    .bind(&message.subject)
    .bind(&message.body)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let event = EventParts {
        workspace_id: step.workspace_id,
        lead_id: step.lead_id,
        campaign_id: Some(step.campaign_id),
        variant_id: Some(step.variant_id),
        send_id: Some(send_id),
        channel: step.channel,
        kind: InteractionKind::Sent,
        occurred_at: now,
        correlation_id: step.correlation_id.clone(),
        provider_event_id: None,
    }
    .into_event();
    interactions::record(&mut tx, &state.interactions_topic, &event).await?;
    if !steps::finish(&mut tx, step, "sent", "sent").await? {
        tracing::warn!(step_id = %step.id, "step claim expired during the send; the send is recorded");
    }
    steps::complete_plan_if_done(&mut tx, step.plan_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends `step` with `status` for `reason` and moves the plan on to the
/// first later step on a channel not in `avoid`, due at once.
pub async fn fall_back(
    conn: &mut PgConnection,
    step: &ClaimedStep,
    status: &str,
    reason: &str,
    avoid: &[Channel],
    now: DateTime<Utc>,
) -> Result<Option<u32>> {
    steps::finish(conn, step, status, reason).await?;
    let next = ladder::next_step_avoiding(&step.ladder, step.step_index, avoid);
    if let Some(next) = next {
        steps::pull_forward(conn, step.plan_id, next.index, now).await?;
    }
    steps::complete_plan_if_done(conn, step.plan_id).await?;
    Ok(next.map(|n| n.index))
}

/// Keeps a dead step for operators in `dead_letters` (one row per step).
pub async fn dead_letter(
    conn: &mut PgConnection,
    step: &ClaimedStep,
    send_id: Option<Uuid>,
    class: &str,
    message: &str,
) -> Result<()> {
    let payload = serde_json::json!({
        "step_id": step.id, "plan_id": step.plan_id, "workspace_id": step.workspace_id,
        "lead_id": step.lead_id, "campaign_id": step.campaign_id, "step_index": step.step_index,
        "channel": step.channel, "send_id": send_id, "claims": step.attempts,
    });
    sqlx::query(
        "INSERT INTO dead_letters (consumer, topic, \"partition\", \"offset\", key, payload, error_class, error_message) \
         VALUES ($1, $2, 0, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(DLQ_CONSUMER)
    .bind(DLQ_SOURCE)
    .bind(step.seq)
    .bind(step.lead_id.to_string().into_bytes())
    .bind(serde_json::to_vec(&payload)?)
    .bind(class)
    .bind(message)
    .execute(conn)
    .await?;
    Ok(())
}

//! Send reservations: a send is reserved under its unique key (lead,
//! campaign, step, channel) and committed before the provider is called.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::Result;
use crate::store::steps::ClaimedStep;

/// The outcome of [`reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// A new reservation: the provider may be called.
    Fresh(Uuid),
    /// The key was reserved before, with this id and status.
    Existing {
        /// The earlier reservation.
        id: Uuid,
        /// Its status: `reserved` (outcome unknown), `sent`, `failed` or `indeterminate`.
        status: String,
    },
}

/// The reservation key of a step, also the provider's idempotency key.
pub fn key(step: &ClaimedStep) -> String {
    format!(
        "{}:{}:{}:{}",
        step.lead_id, step.campaign_id, step.step_index, step.channel
    )
}

/// Reserves the send of `step` through `provider` (committed at once).
pub async fn reserve(pool: &PgPool, step: &ClaimedStep, provider: &str) -> Result<Reserved> {
    let id = Uuid::now_v7();
    let inserted: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO send_reservations (id, workspace_id, lead_id, campaign_id, variant_id, step_index, \
         channel, step_id, provider) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (lead_id, campaign_id, step_index, channel) DO NOTHING RETURNING id",
    )
    .bind(id)
    .bind(step.workspace_id)
    .bind(step.lead_id)
    .bind(step.campaign_id)
    .bind(step.variant_id)
    .bind(step.step_index as i32)
    .bind(step.channel.as_str())
    .bind(step.id)
    .bind(provider)
    .fetch_optional(pool)
    .await?;
    if let Some(id) = inserted {
        return Ok(Reserved::Fresh(id));
    }
    let (id, status): (Uuid, String) = sqlx::query_as(
        "SELECT id, status FROM send_reservations \
         WHERE lead_id = $1 AND campaign_id = $2 AND step_index = $3 AND channel = $4",
    )
    .bind(step.lead_id)
    .bind(step.campaign_id)
    .bind(step.step_index as i32)
    .bind(step.channel.as_str())
    .fetch_one(pool)
    .await?;
    Ok(Reserved::Existing { id, status })
}

/// Drops a reservation whose provider was never called (an open breaker).
pub async fn abandon(pool: &PgPool, id: Uuid) -> Result<()> {
    sqlx::query("DELETE FROM send_reservations WHERE id = $1 AND status = 'reserved'")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Records the final state of a reservation.
pub async fn settle(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    attempts: u32,
    provider_message_id: Option<&str>,
    error: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE send_reservations SET status = $2, attempts = $3, provider_message_id = $4, error = $5, \
         updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(attempts as i32)
    .bind(provider_message_id)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

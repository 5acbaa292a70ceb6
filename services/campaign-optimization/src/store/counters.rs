//! Per-variant counters and daily spend, written by the interactions
//! consumer and read by the optimizer.

use chrono::NaiveDate;
use sqlx::PgConnection;
use suite_domain::{InteractionKind, Objective};
use uuid::Uuid;

use crate::allocation::VariantStats;

/// The `campaign_variant_stats` column counting `kind`.
const fn column(kind: InteractionKind) -> &'static str {
    match kind {
        InteractionKind::Sent => "sends",
        InteractionKind::Delivered => "delivered",
        InteractionKind::Opened => "opened",
        InteractionKind::Clicked => "clicked",
        InteractionKind::Replied => "replied",
        InteractionKind::Converted => "converted",
        InteractionKind::Bounced => "bounced",
        InteractionKind::Unsubscribed => "unsubscribed",
    }
}

/// One interaction to count.
#[derive(Debug, Clone, Copy)]
pub struct Count {
    /// The campaign.
    pub campaign: Uuid,
    /// The variant.
    pub variant: Uuid,
    /// The send it is about, if known (an outcome counts once per send).
    pub send: Option<Uuid>,
    /// What happened.
    pub kind: InteractionKind,
    /// Spend it causes (the channel's cost for a `sent`, else 0).
    pub cost_micros: i64,
    /// The UTC day the spend belongs to.
    pub day: NaiveDate,
}

/// What counting did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// The counters changed.
    Counted,
    /// The same outcome of the same send was counted before.
    RepeatedOutcome,
    /// The variant does not belong to the campaign.
    UnknownVariant,
}

/// Applies `count` in the caller's transaction.
pub async fn apply(conn: &mut PgConnection, count: &Count) -> Result<Counted, sqlx::Error> {
    if count.kind != InteractionKind::Sent {
        if let Some(send) = count.send {
            let first = sqlx::query(
                "INSERT INTO campaign_send_outcomes (send_id, kind, campaign_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (send_id, kind) DO NOTHING",
            )
            .bind(send)
            .bind(count.kind.as_str())
            .bind(count.campaign)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if first == 0 {
                return Ok(Counted::RepeatedOutcome);
            }
        }
    }
    let col = column(count.kind);
    let updated = sqlx::query(&format!(
        "UPDATE campaign_variant_stats SET {col} = {col} + 1, \
         spend_micros = spend_micros + $3, updated_at = now() \
         WHERE variant_id = $1 AND campaign_id = $2"
    ))
    .bind(count.variant)
    .bind(count.campaign)
    .bind(count.cost_micros)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(Counted::UnknownVariant);
    }
    if count.kind == InteractionKind::Sent {
        sqlx::query(
            "INSERT INTO campaign_daily_spend (campaign_id, day, spend_micros, sends) \
             VALUES ($1, $2, $3, 1) ON CONFLICT (campaign_id, day) DO UPDATE SET \
             spend_micros = campaign_daily_spend.spend_micros + EXCLUDED.spend_micros, \
             sends = campaign_daily_spend.sends + 1",
        )
        .bind(count.campaign)
        .bind(count.day)
        .bind(count.cost_micros)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "UPDATE campaign_optimizer_state SET pending_interactions = pending_interactions + 1, \
         updated_at = now() WHERE campaign_id = $1",
    )
    .bind(count.campaign)
    .execute(conn)
    .await?;
    Ok(Counted::Counted)
}

/// Spend of `campaign` on `day`, in micros.
pub async fn spend_on(
    conn: &mut PgConnection,
    campaign: Uuid,
    day: NaiveDate,
) -> Result<i64, sqlx::Error> {
    let spend: Option<i64> = sqlx::query_scalar(
        "SELECT spend_micros FROM campaign_daily_spend WHERE campaign_id = $1 AND day = $2",
    )
    .bind(campaign)
    .bind(day)
    .fetch_optional(conn)
    .await?;
    Ok(spend.unwrap_or(0))
}

/// Sends and objective outcomes per variant of `campaign`, in position order.
pub async fn variant_stats(
    conn: &mut PgConnection,
    campaign: Uuid,
    objective: Objective,
) -> Result<Vec<(Uuid, VariantStats)>, sqlx::Error> {
    let col = column(objective.outcome());
    let rows: Vec<(Uuid, i64, i64)> = sqlx::query_as(&format!(
        "SELECT v.id, COALESCE(s.sends, 0), COALESCE(s.{col}, 0) FROM campaign_variants v \
         LEFT JOIN campaign_variant_stats s ON s.variant_id = v.id \
         WHERE v.campaign_id = $1 ORDER BY v.position"
    ))
    .bind(campaign)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, sends, outcomes)| (id, stats(sends, outcomes)))
        .collect())
}

/// Counts as [`VariantStats`]; outcomes that arrived before their send
/// was counted are capped at the sends.
pub fn stats(sends: i64, outcomes: i64) -> VariantStats {
    let sends = u64::try_from(sends).unwrap_or(0);
    let outcomes = u64::try_from(outcomes).unwrap_or(0).min(sends);
    VariantStats::new(sends, outcomes).unwrap_or_default()
}

/// Whether pacing currently holds the campaign's sends back (row locked
/// `FOR UPDATE`; callers hold the campaign's lock first).
pub async fn pacing_hold(conn: &mut PgConnection, campaign: Uuid) -> Result<bool, sqlx::Error> {
    let hold: Option<bool> = sqlx::query_scalar(
        "SELECT pacing_hold FROM campaign_optimizer_state WHERE campaign_id = $1 FOR UPDATE",
    )
    .bind(campaign)
    .fetch_optional(conn)
    .await?;
    Ok(hold.unwrap_or(false))
}

/// Sets or clears the pacing hold.
pub async fn set_pacing_hold(
    conn: &mut PgConnection,
    campaign: Uuid,
    hold: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE campaign_optimizer_state SET pacing_hold = $2, updated_at = now() \
         WHERE campaign_id = $1",
    )
    .bind(campaign)
    .bind(hold)
    .execute(conn)
    .await?;
    Ok(())
}

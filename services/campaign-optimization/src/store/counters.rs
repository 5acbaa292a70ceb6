//! Per-variant counters and daily spend, written by the interactions
//! consumer and read by the optimizer.

use std::collections::{HashMap, HashSet};

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

/// What a batch adds to one variant's counters.
#[derive(Debug, Clone, Default)]
pub struct VariantDelta {
    /// The campaign.
    pub campaign: Uuid,
    /// The variant.
    pub variant: Uuid,
    /// Interactions per kind, indexed by [`kind_index`].
    pub counts: [i64; KINDS],
    /// Spend of the batch's sends, in micros (channel costs and generation).
    pub spend_micros: i64,
    /// The part of `spend_micros` that paid for generated messages.
    pub generation_spend_micros: i64,
}

/// Number of interaction kinds counted per variant.
pub const KINDS: usize = 8;

/// Every counted kind, in [`kind_index`] order.
const ALL_KINDS: [InteractionKind; KINDS] = [
    InteractionKind::Sent,
    InteractionKind::Delivered,
    InteractionKind::Opened,
    InteractionKind::Clicked,
    InteractionKind::Replied,
    InteractionKind::Converted,
    InteractionKind::Bounced,
    InteractionKind::Unsubscribed,
];

/// The place of `kind` in [`VariantDelta::counts`].
pub const fn kind_index(kind: InteractionKind) -> usize {
    match kind {
        InteractionKind::Sent => 0,
        InteractionKind::Delivered => 1,
        InteractionKind::Opened => 2,
        InteractionKind::Clicked => 3,
        InteractionKind::Replied => 4,
        InteractionKind::Converted => 5,
        InteractionKind::Bounced => 6,
        InteractionKind::Unsubscribed => 7,
    }
}

/// Records the outcomes `(send, kind, campaign)` of a batch in
/// `campaign_send_outcomes`, in one statement; returns the `(send, kind)`
/// pairs recorded now (an outcome counts once per send: a pair missing from
/// the answer was counted before).
pub async fn first_outcomes(
    conn: &mut PgConnection,
    outcomes: &[(Uuid, InteractionKind, Uuid)],
) -> Result<HashSet<(Uuid, String)>, sqlx::Error> {
    if outcomes.is_empty() {
        return Ok(HashSet::new());
    }
    let sends: Vec<Uuid> = outcomes.iter().map(|o| o.0).collect();
    let kinds: Vec<&str> = outcomes.iter().map(|o| o.1.as_str()).collect();
    let campaigns: Vec<Uuid> = outcomes.iter().map(|o| o.2).collect();
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "INSERT INTO campaign_send_outcomes (send_id, kind, campaign_id) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[]) \
         ON CONFLICT (send_id, kind) DO NOTHING RETURNING send_id, kind",
    )
    .bind(&sends)
    .bind(&kinds)
    .bind(&campaigns)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Adds a batch's counts, spend and generation spend to the variants'
/// counters, one statement for every variant.
pub async fn add(conn: &mut PgConnection, deltas: &[VariantDelta]) -> Result<(), sqlx::Error> {
    if deltas.is_empty() {
        return Ok(());
    }
    let variants: Vec<Uuid> = deltas.iter().map(|d| d.variant).collect();
    let campaigns: Vec<Uuid> = deltas.iter().map(|d| d.campaign).collect();
    let spend: Vec<i64> = deltas.iter().map(|d| d.spend_micros).collect();
    let generation: Vec<i64> = deltas.iter().map(|d| d.generation_spend_micros).collect();
    let mut q = sqlx::QueryBuilder::new("UPDATE campaign_variant_stats s SET ");
    for (i, kind) in ALL_KINDS.iter().enumerate() {
        let col = column(*kind);
        q.push(format!("{col} = s.{col} + d.k{i}, "));
    }
    q.push(
        "spend_micros = s.spend_micros + d.spend, \
         generation_spend_micros = s.generation_spend_micros + d.generation, \
         updated_at = now() FROM unnest(",
    );
    q.push_bind(variants);
    q.push("::uuid[], ");
    q.push_bind(campaigns);
    q.push("::uuid[], ");
    q.push_bind(spend);
    q.push("::bigint[], ");
    q.push_bind(generation);
    q.push("::bigint[]");
    for i in 0..KINDS {
        let counts: Vec<i64> = deltas.iter().map(|d| d.counts[i]).collect();
        q.push(", ");
        q.push_bind(counts);
        q.push("::bigint[]");
    }
    q.push(") AS d(variant, campaign, spend, generation");
    for i in 0..KINDS {
        q.push(format!(", k{i}"));
    }
    q.push(") WHERE s.variant_id = d.variant AND s.campaign_id = d.campaign");
    q.build().execute(conn).await?;
    Ok(())
}

/// Adds spend and sends per `(campaign, day)`, one statement for the batch.
pub async fn add_daily_spend(
    conn: &mut PgConnection,
    days: &[(Uuid, NaiveDate, i64, i64)],
) -> Result<(), sqlx::Error> {
    if days.is_empty() {
        return Ok(());
    }
    let campaigns: Vec<Uuid> = days.iter().map(|d| d.0).collect();
    let dates: Vec<NaiveDate> = days.iter().map(|d| d.1).collect();
    let spend: Vec<i64> = days.iter().map(|d| d.2).collect();
    let sends: Vec<i64> = days.iter().map(|d| d.3).collect();
    sqlx::query(
        "INSERT INTO campaign_daily_spend (campaign_id, day, spend_micros, sends) \
         SELECT * FROM unnest($1::uuid[], $2::date[], $3::bigint[], $4::bigint[]) \
         ON CONFLICT (campaign_id, day) DO UPDATE SET \
         spend_micros = campaign_daily_spend.spend_micros + EXCLUDED.spend_micros, \
         sends = campaign_daily_spend.sends + EXCLUDED.sends",
    )
    .bind(&campaigns)
    .bind(&dates)
    .bind(&spend)
    .bind(&sends)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds `(campaign, n)` interactions to the optimizer's pending counts, one
/// statement for the batch.
pub async fn add_pending(
    conn: &mut PgConnection,
    pending: &[(Uuid, i64)],
) -> Result<(), sqlx::Error> {
    if pending.is_empty() {
        return Ok(());
    }
    let campaigns: Vec<Uuid> = pending.iter().map(|p| p.0).collect();
    let counts: Vec<i64> = pending.iter().map(|p| p.1).collect();
    sqlx::query(
        "UPDATE campaign_optimizer_state o SET pending_interactions = o.pending_interactions + d.n, \
         updated_at = now() FROM unnest($1::uuid[], $2::bigint[]) AS d(campaign, n) \
         WHERE o.campaign_id = d.campaign",
    )
    .bind(&campaigns)
    .bind(&counts)
    .execute(conn)
    .await?;
    Ok(())
}

/// Spend of `campaign` on `day`, in micros.
pub async fn spend_on(
    conn: &mut PgConnection,
    campaign: Uuid,
    day: NaiveDate,
) -> Result<i64, sqlx::Error> {
    let spends = spends_on(conn, &[campaign], day).await?;
    Ok(spends.get(&campaign).copied().unwrap_or(0))
}

/// Spend of each of `campaigns` on `day`, in micros (absent: nothing spent).
pub async fn spends_on(
    conn: &mut PgConnection,
    campaigns: &[Uuid],
    day: NaiveDate,
) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT campaign_id, spend_micros FROM campaign_daily_spend WHERE campaign_id = ANY($1) AND day = $2",
    )
    .bind(campaigns)
    .bind(day)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
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

//! `GET /v1/campaigns/{id}/performance` and `GET /v1/campaigns/{id}/allocation`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use suite_domain::{CampaignStatus, Objective};
use suite_http::{ApiError, ApiPath, Principal};
use utoipa::ToSchema;
use uuid::Uuid;

use super::campaigns::load;
use crate::allocation::{prob_best, VariantStats};
use crate::campaign::schema;
use crate::optimizer::decide;
use crate::state::{cache_key, reader, AppState};
use crate::store::allocations::{self, StoredAllocation};
use crate::store::campaigns::CampaignView;
use crate::store::counters::stats;
use crate::store::performance::{self, SummaryRow};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/campaigns/{id}/performance", get(report))
        .route("/v1/campaigns/{id}/allocation", get(allocation))
}

/// An equal-tailed 95% credible interval of a rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Interval {
    /// 2.5% quantile of the posterior.
    pub lower: f64,
    /// 97.5% quantile of the posterior.
    pub upper: f64,
}

/// One variant's performance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VariantPerformance {
    /// The variant.
    pub variant_id: Uuid,
    /// Its name.
    pub name: String,
    /// Sends counted.
    pub sends: i64,
    /// Outcomes for the campaign's objective (each send counts once).
    pub outcomes: i64,
    /// outcomes / sends (0 without sends).
    pub rate: f64,
    /// Mean of the Beta(1 + outcomes, 1 + sends − outcomes) posterior.
    pub posterior_mean: f64,
    /// 95% credible interval of the rate.
    pub credible_interval_95: Interval,
    /// Probability of having the highest rate (Monte Carlo, seeded by the counts).
    pub prob_best: f64,
    /// Current share of new sends (latest published allocation); null without one.
    pub allocation: Option<f64>,
    /// Spend in micros: channel costs of the sends plus what generating their messages cost.
    pub spend_micros: i64,
    /// The part of `spend_micros` that paid for messages written by a language model, in micros.
    pub generation_spend_micros: i64,
}

/// Campaign totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    /// Sends of all variants.
    pub sends: i64,
    /// Outcomes of all variants.
    pub outcomes: i64,
    /// outcomes / sends (0 without sends).
    pub rate: f64,
    /// Spend of all variants, in micros.
    pub spend_micros: i64,
    /// The part of `spend_micros` that paid for generated messages, in micros.
    pub generation_spend_micros: i64,
    /// Spend today (UTC), in micros (live, not from the summary).
    pub spend_today_micros: i64,
    /// The daily budget, in micros.
    pub daily_budget_micros: i64,
}

/// `GET /v1/campaigns/{id}/performance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PerformanceReport {
    /// The campaign.
    pub campaign_id: Uuid,
    /// Its status.
    #[schema(schema_with = schema::status)]
    pub status: CampaignStatus,
    /// Its objective.
    #[schema(schema_with = schema::objective)]
    pub objective: Objective,
    /// When the summary behind the counts was refreshed (null before the first refresh).
    pub as_of: Option<DateTime<Utc>>,
    /// Sequence of the allocation behind `allocation` (null before the first).
    pub allocation_sequence: Option<i64>,
    /// Posterior draws behind `prob_best`.
    pub prob_best_draws: u32,
    /// Seed of those draws (derived from the campaign and its counts).
    pub prob_best_seed: String,
    /// Per variant, in position order.
    pub variants: Vec<VariantPerformance>,
    /// Campaign totals.
    pub totals: Totals,
}

fn ratio(outcomes: i64, sends: i64) -> f64 {
    if sends > 0 {
        outcomes.min(sends) as f64 / sends as f64
    } else {
        0.0
    }
}

/// Builds the report from the summary rows, the latest allocation and today's spend.
pub fn build(
    campaign: &CampaignView,
    rows: &[SummaryRow],
    latest: Option<&StoredAllocation>,
    spend_today: i64,
) -> PerformanceReport {
    let counts: Vec<(Uuid, VariantStats, (i64, i64))> = campaign
        .variants
        .iter()
        .map(|v| match rows.iter().find(|r| r.variant_id == v.id) {
            Some(r) => (
                v.id,
                stats(r.sends, r.outcomes),
                (r.spend_micros, r.generation_spend_micros),
            ),
            None => (v.id, VariantStats::default(), (0, 0)),
        })
        .collect();
    let keyed: Vec<(Uuid, VariantStats)> = counts.iter().map(|(id, s, _)| (*id, *s)).collect();
    let seed = decide::seed(campaign.id, &keyed);
    let only: Vec<VariantStats> = keyed.iter().map(|(_, s)| *s).collect();
    let best = prob_best(&only, decide::DRAWS, seed);
    let variants: Vec<VariantPerformance> = campaign
        .variants
        .iter()
        .zip(&counts)
        .zip(&best)
        .map(|((variant, (id, s, (spend, generation))), p)| {
            let posterior = s.posterior();
            let ci = posterior.credible_interval_95();
            let sends = i64::try_from(s.sends()).unwrap_or(i64::MAX);
            let outcomes = i64::try_from(s.successes()).unwrap_or(i64::MAX);
            VariantPerformance {
                variant_id: *id,
                name: variant.name.clone(),
                sends,
                outcomes,
                rate: ratio(outcomes, sends),
                posterior_mean: posterior.mean(),
                credible_interval_95: Interval {
                    lower: ci.lower,
                    upper: ci.upper,
                },
                prob_best: *p,
                allocation: latest.and_then(|l| {
                    l.shares
                        .iter()
                        .find(|s| s.variant_id.as_uuid() == id)
                        .map(|s| s.share)
                }),
                spend_micros: *spend,
                generation_spend_micros: *generation,
            }
        })
        .collect();
    let sends = variants.iter().map(|v| v.sends).sum();
    let outcomes = variants.iter().map(|v| v.outcomes).sum();
    PerformanceReport {
        campaign_id: campaign.id,
        status: campaign.status,
        objective: campaign.objective,
        as_of: rows.iter().map(|r| r.refreshed_at).max(),
        allocation_sequence: latest.map(|l| l.sequence),
        prob_best_draws: decide::DRAWS,
        prob_best_seed: seed.to_string(),
        totals: Totals {
            sends,
            outcomes,
            rate: ratio(outcomes, sends),
            spend_micros: variants.iter().map(|v| v.spend_micros).sum(),
            generation_spend_micros: variants.iter().map(|v| v.generation_spend_micros).sum(),
            spend_today_micros: spend_today,
            daily_budget_micros: campaign.daily_budget_micros,
        },
        variants,
    }
}

/// Per-variant sends, outcomes, rate with credible interval, probability
/// of being best, allocation and spend (with the part of it that paid for
/// generated messages), plus totals. Served from a cache
/// or a replica; counts come from `campaign_performance_summary`
/// (refreshed every 2 s), so they trail the consumer by up to a few seconds.
#[utoipa::path(get, path = "/v1/campaigns/{id}/performance", tag = "performance", params(("id" = Uuid, Path)),
    responses((status = 200, body = PerformanceReport), (status = 404, description = "No such campaign in this workspace")))]
async fn report(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<PerformanceReport>, ApiError> {
    let ws = principal.workspace_id;
    let report = state
        .performance
        .get_or_load(&cache_key(ws, id), async {
            let Some(campaign) = load(&state, &principal, id).await? else {
                return Ok(None);
            };
            let pool = state
                .platform
                .db
                .read(Some(&reader(&cache_key(ws, id))))
                .await;
            let mut conn = pool.acquire().await?;
            let rows = performance::summary(&mut conn, ws, id).await?;
            let latest = allocations::latest(&mut conn, ws, id).await?;
            let spend = performance::spend_on(&mut conn, id, Utc::now().date_naive()).await?;
            Ok::<_, ApiError>(Some(build(&campaign, &rows, latest.as_ref(), spend)))
        })
        .await?;
    report.map(Json).ok_or(ApiError::NotFound)
}

/// The latest published allocation of a campaign.
#[utoipa::path(get, path = "/v1/campaigns/{id}/allocation", tag = "performance", params(("id" = Uuid, Path)),
    responses((status = 200, body = StoredAllocation), (status = 404, description = "No such campaign in this workspace")))]
async fn allocation(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<StoredAllocation>, ApiError> {
    let pool = state.platform.db.read(Some(&principal.client_id())).await;
    let mut conn = pool.acquire().await?;
    allocations::latest(&mut conn, principal.workspace_id, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

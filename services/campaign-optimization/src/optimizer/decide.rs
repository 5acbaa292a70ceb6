//! The optimizer's decisions for one campaign, from its stored state:
//! traffic shares, the pacing verdict and the seeds that make both
//! reproducible.

use std::time::Duration;

use chrono::{DateTime, Utc};
use suite_domain::{AllocationShare, Channel, VariantId};
use uuid::Uuid;

use crate::allocation::{allocate, pace, Allocation, Pacing, PacingPolicy, Policy, VariantStats};
use crate::store::campaigns::CampaignView;

/// Joint posterior draws behind shares and probabilities of being best
/// (Monte Carlo error ≤ ±0.005).
pub const DRAWS: u32 = 10_000;
/// A share moving by more than this is published at once.
pub const PUBLISH_THRESHOLD: f64 = 0.02;
/// While interactions flow, an allocation is re-published at least this often.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// A seed that depends only on the campaign and its counts, so the same
/// data always gives the same shares and probabilities.
pub fn seed(campaign: Uuid, stats: &[(Uuid, VariantStats)]) -> u64 {
    // FNV-1a: stable across platforms and releases (unlike std's hasher).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(campaign.as_bytes());
    for (_, s) in stats {
        feed(&s.sends().to_le_bytes());
        feed(&s.successes().to_le_bytes());
    }
    hash
}

/// The Thompson-sampling policy of `campaign`.
pub fn policy(campaign: &CampaignView) -> Policy {
    Policy {
        min_share: campaign.min_share,
        warm_up: u64::try_from(campaign.warmup_sends).unwrap_or(0),
        draws: DRAWS,
    }
}

/// Traffic shares for `stats` (in variant order) under the campaign's
/// policy; uniform before the first send (no evidence, so no Monte Carlo
/// noise either) and if the policy is unusable (it was validated on write).
pub fn allocation(campaign: &CampaignView, stats: &[(Uuid, VariantStats)]) -> Allocation {
    let counts: Vec<VariantStats> = stats.iter().map(|(_, s)| *s).collect();
    if counts.iter().all(|s| s.sends() == 0) {
        return Allocation::uniform(counts.len());
    }
    allocate(&counts, &policy(campaign), seed(campaign.id, stats))
        .unwrap_or_else(|_| Allocation::uniform(counts.len()))
}

/// Pairs variant ids with shares.
pub fn shares(stats: &[(Uuid, VariantStats)], allocation: &Allocation) -> Vec<AllocationShare> {
    stats
        .iter()
        .zip(&allocation.shares)
        .map(|((id, _), share)| AllocationShare {
            variant_id: VariantId::from_uuid(*id),
            share: *share,
        })
        .collect()
}

/// The stored shares as an [`Allocation`] in the order of `stats`
/// (`None` when the variants differ).
pub fn as_allocation(
    stats: &[(Uuid, VariantStats)],
    stored: &[AllocationShare],
) -> Option<Allocation> {
    let shares = stats
        .iter()
        .map(|(id, _)| {
            stored
                .iter()
                .find(|s| s.variant_id.as_uuid() == id)
                .map(|s| s.share)
        })
        .collect::<Option<Vec<f64>>>()?;
    (shares.len() == stored.len()).then_some(Allocation { shares })
}

/// Cost of one send on `channel`, in micros (0 when not priced).
pub fn cost(campaign: &CampaignView, channel: Channel) -> i64 {
    campaign
        .channel_costs
        .get(&channel)
        .copied()
        .unwrap_or(0)
        .max(0)
}

/// The pacing verdict for `campaign` having spent `spend_micros` today, at `now` (UTC day).
pub fn pacing(campaign: &CampaignView, spend_micros: i64, now: DateTime<Utc>) -> Option<Pacing> {
    let costs: Vec<u64> = campaign
        .ladder
        .iter()
        .map(|step| u64::try_from(cost(campaign, step.channel)).unwrap_or(0))
        .collect();
    let policy = PacingPolicy {
        daily_budget_micros: u64::try_from(campaign.daily_budget_micros).unwrap_or(0),
        burst_bps: u32::try_from(campaign.pacing_burst_bps).unwrap_or(0),
    };
    pace(
        &policy,
        u64::try_from(spend_micros).unwrap_or(0),
        now.time(),
        &costs,
    )
    .ok()
}

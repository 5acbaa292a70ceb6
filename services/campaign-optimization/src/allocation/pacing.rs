//! Budget pacing: spend spread linearly over the day.
//!
//! Money is in micros (millionths of the campaign's currency unit, as in
//! ad platforms' `cost_micros`), so sub-cent channel costs such as an SMS
//! at 0.0079 are exact and comparisons at the budget's edge are exact too.
//!
//! At time-of-day `t`, the pace allows spend up to
//! `budget × elapsed(t) + burst`, never more than the budget, where
//! `elapsed(t)` is the fraction of the day gone by the end of the current
//! millisecond (so the whole budget is on pace at 23:59:59.999) and the
//! burst is a configurable fraction of the budget that lets sends go
//! ahead of the pace, e.g. just after midnight.

use chrono::{NaiveTime, Timelike};

use super::AllocationError;

#[cfg(test)]
mod tests;

/// Milliseconds in a day of 24 hours.
pub const MILLIS_PER_DAY: u64 = 86_400_000;
/// Basis points in the whole: 10,000 bp = 100%.
pub const BASIS_POINTS: u32 = 10_000;

/// A campaign's daily budget and how far spend may run ahead of pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacingPolicy {
    /// Budget for one day, in micros.
    pub daily_budget_micros: u64,
    /// Burst allowance in basis points of the daily budget (at most
    /// 10,000): spend may run this far ahead of the linear pace.
    pub burst_bps: u32,
}

impl PacingPolicy {
    /// Checks the burst allowance.
    pub fn validate(&self) -> Result<(), AllocationError> {
        if self.burst_bps > BASIS_POINTS {
            return Err(AllocationError::BurstOutOfRange(self.burst_bps));
        }
        Ok(())
    }

    /// The burst allowance in micros (rounded down).
    pub fn burst_micros(&self) -> u64 {
        mul_div(
            self.daily_budget_micros,
            u64::from(self.burst_bps),
            u64::from(BASIS_POINTS),
            false,
        )
    }
}

/// The pacing decision at one moment of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// A send on the cheapest channel fits the pace now.
    pub allowed_now: bool,
    /// The linear pace: budget × fraction of the day elapsed (rounded up).
    pub spend_target_so_far: u64,
    /// Budget not yet spent today (0 when overspent).
    pub remaining: u64,
    /// Even the cheapest channel no longer fits today's budget: pause the
    /// campaign until the day turns.
    pub exhausted: bool,
    /// Most that may have been spent by now: min(budget, target + burst).
    pub spend_cap_now: u64,
    /// Spend so far today, as given.
    pub spend_so_far: u64,
}

impl Pacing {
    /// Whether a send costing `cost_micros` (a specific channel) fits the
    /// pace now.
    pub fn allows(&self, cost_micros: u64) -> bool {
        self.spend_so_far
            .checked_add(cost_micros)
            .is_some_and(|after| after <= self.spend_cap_now)
    }
}

/// Milliseconds of the day gone by at `time_of_day`, counting the current
/// millisecond as gone: `1..=MILLIS_PER_DAY`.
///
/// A leap second (nanoseconds ≥ 10⁹ in chrono) counts as the last
/// millisecond of its second.
pub fn elapsed_millis(time_of_day: NaiveTime) -> u64 {
    let millis_in_second = u64::from(time_of_day.nanosecond() / 1_000_000).min(999);
    u64::from(time_of_day.num_seconds_from_midnight()) * 1_000 + millis_in_second + 1
}

/// Decides whether the campaign may send now.
///
/// - `spend_so_far_micros`: spend since the start of the campaign's day.
/// - `time_of_day`: the wall-clock time in the campaign's time zone (or
///   UTC); the day is taken as 24 hours, so on a daylight-saving change
///   the pace is off by up to an hour's share of the budget.
/// - `channel_costs_micros`: the cost of one send on each of the
///   campaign's channels (at least one).
///
/// A send is allowed when `spend + cost ≤ min(budget, target + burst)`;
/// the campaign is exhausted when `spend + cheapest cost > budget`.
/// A zero-cost channel is never held back by the budget.
pub fn pace(
    policy: &PacingPolicy,
    spend_so_far_micros: u64,
    time_of_day: NaiveTime,
    channel_costs_micros: &[u64],
) -> Result<Pacing, AllocationError> {
    policy.validate()?;
    let cheapest = channel_costs_micros
        .iter()
        .copied()
        .min()
        .ok_or(AllocationError::NoChannelCosts)?;
    let budget = policy.daily_budget_micros;
    let spend = spend_so_far_micros;
    let target = mul_div(budget, elapsed_millis(time_of_day), MILLIS_PER_DAY, true);
    let cap = target.saturating_add(policy.burst_micros()).min(budget);
    // None: past u64::MAX micros, which no budget reaches.
    let after_cheapest = spend.checked_add(cheapest);
    Ok(Pacing {
        allowed_now: after_cheapest.is_some_and(|after| after <= cap),
        spend_target_so_far: target,
        remaining: budget.saturating_sub(spend),
        exhausted: after_cheapest.is_none_or(|after| after > budget),
        spend_cap_now: cap,
        spend_so_far: spend,
    })
}

/// `value × numerator / denominator` without overflow, for
/// `numerator ≤ denominator` (so the result fits in u64); rounded up or
/// down.
fn mul_div(value: u64, numerator: u64, denominator: u64, round_up: bool) -> u64 {
    let product = u128::from(value) * u128::from(numerator);
    let denominator = u128::from(denominator.max(1));
    let quotient = if round_up {
        product.div_ceil(denominator)
    } else {
        product / denominator
    };
    u64::try_from(quotient).unwrap_or(u64::MAX)
}

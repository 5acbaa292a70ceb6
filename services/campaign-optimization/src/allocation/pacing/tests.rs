use proptest::prelude::*;

use super::*;

/// 100.00 a day.
const BUDGET: u64 = 100_000_000;
/// 0.01 a send (email), 0.05 (SMS).
const EMAIL: u64 = 10_000;
const SMS: u64 = 50_000;

fn at(h: u32, m: u32, s: u32, ms: u32) -> NaiveTime {
    NaiveTime::from_hms_milli_opt(h, m, s, ms).expect("valid time")
}

fn policy(budget: u64, burst_bps: u32) -> PacingPolicy {
    PacingPolicy {
        daily_budget_micros: budget,
        burst_bps,
    }
}

fn decide(policy: PacingPolicy, spend: u64, time: NaiveTime, costs: &[u64]) -> Pacing {
    pace(&policy, spend, time, costs).expect("valid inputs")
}

#[test]
fn start_of_day_needs_the_burst_allowance() {
    let midnight = at(0, 0, 0, 0);
    let strict = decide(policy(BUDGET, 0), 0, midnight, &[EMAIL]);
    // One millisecond of a 100.00 day is 0.00000116: 2 micros rounded up.
    assert_eq!(strict.spend_target_so_far, 2);
    assert!(!strict.allowed_now);
    assert!(!strict.exhausted);
    assert_eq!(strict.remaining, BUDGET);

    let bursty = decide(policy(BUDGET, 100), 0, midnight, &[EMAIL, SMS]);
    assert_eq!(bursty.spend_cap_now, 1_000_002);
    assert!(bursty.allowed_now);
    assert!(bursty.allows(SMS));
    assert!(!bursty.allows(1_000_003));
}

#[test]
fn spend_is_paced_linearly() {
    let noon = at(11, 59, 59, 999);
    assert_eq!(
        decide(policy(BUDGET, 0), 0, noon, &[EMAIL]).spend_target_so_far,
        BUDGET / 2
    );
    let on_pace = decide(policy(BUDGET, 0), BUDGET / 2 - EMAIL, noon, &[EMAIL, SMS]);
    assert!(on_pace.allowed_now);
    assert!(on_pace.allows(EMAIL));
    assert!(
        !on_pace.allows(SMS),
        "the dearer channel would run ahead of pace"
    );
    let ahead = decide(policy(BUDGET, 0), BUDGET / 2, noon, &[EMAIL]);
    assert!(!ahead.allowed_now);
    assert!(!ahead.exhausted, "ahead of pace is not out of budget");
    assert_eq!(ahead.remaining, BUDGET / 2);
}

#[test]
fn end_of_day_puts_the_whole_budget_on_pace() {
    let last = at(23, 59, 59, 999);
    let last_send = decide(policy(BUDGET, 0), BUDGET - EMAIL, last, &[EMAIL]);
    assert_eq!(last_send.spend_target_so_far, BUDGET);
    assert!(last_send.allowed_now);
    assert!(!last_send.exhausted);
    let spent = decide(policy(BUDGET, 0), BUDGET, last, &[EMAIL]);
    assert!(!spent.allowed_now);
    assert!(spent.exhausted);
    assert_eq!(spent.remaining, 0);
}

#[test]
fn exact_budget_is_not_exhausted_one_micro_more_is() {
    let late = at(23, 0, 0, 0);
    let exact = decide(policy(BUDGET, 10_000), BUDGET - SMS, late, &[SMS]);
    assert!(!exact.exhausted);
    assert!(exact.allowed_now);
    let over = decide(policy(BUDGET, 10_000), BUDGET - SMS + 1, late, &[SMS]);
    assert!(over.exhausted);
    assert!(!over.allowed_now);
    assert_eq!(over.remaining, SMS - 1);
}

#[test]
fn exhaustion_uses_the_cheapest_channel() {
    let p = policy(BUDGET, 10_000);
    let pacing = decide(p, BUDGET - EMAIL, at(18, 0, 0, 0), &[SMS, EMAIL]);
    assert!(!pacing.exhausted, "an email still fits");
    assert!(pacing.allows(EMAIL));
    assert!(!pacing.allows(SMS));
}

#[test]
fn zero_budget() {
    let noon = at(12, 0, 0, 0);
    let paid = decide(policy(0, 500), 0, noon, &[EMAIL]);
    assert!(paid.exhausted);
    assert!(!paid.allowed_now);
    assert_eq!(
        (paid.spend_target_so_far, paid.remaining, paid.spend_cap_now),
        (0, 0, 0)
    );
    // A free channel (the local `log` provider) is never held back.
    let free = decide(policy(0, 0), 0, noon, &[EMAIL, 0]);
    assert!(!free.exhausted);
    assert!(free.allowed_now);
    assert!(!free.allows(EMAIL));
}

#[test]
fn overspend_is_exhausted() {
    let p = decide(policy(BUDGET, 0), BUDGET + 5, at(23, 59, 59, 999), &[0]);
    assert!(p.exhausted);
    assert!(!p.allowed_now);
    assert_eq!(p.remaining, 0);
}

#[test]
fn burst_never_lifts_the_cap_above_the_budget() {
    let p = decide(policy(BUDGET, 10_000), 0, at(0, 0, 0, 0), &[EMAIL]);
    assert_eq!(p.spend_cap_now, BUDGET);
    assert!(p.allows(BUDGET));
    assert!(!p.allows(BUDGET + 1));
}

#[test]
fn invalid_inputs_are_typed_errors() {
    let noon = at(12, 0, 0, 0);
    assert_eq!(
        pace(&policy(BUDGET, 0), 0, noon, &[]),
        Err(AllocationError::NoChannelCosts)
    );
    assert_eq!(
        pace(&policy(BUDGET, 10_001), 0, noon, &[EMAIL]),
        Err(AllocationError::BurstOutOfRange(10_001))
    );
}

#[test]
fn leap_second_and_huge_amounts() {
    let leap = NaiveTime::from_hms_nano_opt(23, 59, 59, 1_500_000_000).expect("leap second");
    assert_eq!(elapsed_millis(leap), MILLIS_PER_DAY);
    let huge = decide(policy(u64::MAX, 10_000), u64::MAX - 1, leap, &[u64::MAX]);
    assert_eq!(huge.spend_target_so_far, u64::MAX);
    assert!(huge.exhausted);
    assert!(!huge.allows(2));
    assert!(huge.allows(1));
}

proptest! {
    #[test]
    fn pace_invariants(
        budget in 0_u64..10_000_000_000,
        burst in 0_u32..=10_000,
        spend in 0_u64..12_000_000_000,
        ms in 0_u32..86_400_000,
        costs in prop::collection::vec(0_u64..1_000_000, 1..4),
    ) {
        let time = NaiveTime::from_num_seconds_from_midnight_opt(ms / 1_000, (ms % 1_000) * 1_000_000)
            .expect("valid time");
        let p = decide(policy(budget, burst), spend, time, &costs);
        prop_assert!(p.spend_target_so_far <= budget);
        prop_assert!(p.spend_cap_now <= budget);
        prop_assert!(!(p.allowed_now && p.exhausted));
        prop_assert_eq!(p.remaining, budget.saturating_sub(spend));
        // Later in the day the pace never tightens.
        let later = NaiveTime::from_num_seconds_from_midnight_opt(86_399, 999_000_000).expect("valid");
        let end = decide(policy(budget, burst), spend, later, &costs);
        prop_assert!(end.spend_target_so_far >= p.spend_target_so_far);
        prop_assert!(end.allowed_now || !p.allowed_now);
    }
}

//! Exponential decay in fixed point: `0.5^(age / half_life)` with integer
//! arithmetic only.
//!
//! `f64::powf` and `exp2` are not correctly rounded and differ between
//! libm implementations, so a float here could move a lead across a
//! threshold on one platform and not on another. Instead the age is split
//! into whole half-lives `n` and a 32-bit binary fraction `r`; `2^-r` is
//! the product of the pre-computed roots `2^(-1/2^i)` for the set bits of
//! `r` (Q32, rounded after each product), and `2^-n` is a right shift.
//! Relative error is below 1e-8, and the result is bit-identical
//! everywhere.

/// 1.0 in Q32.
pub const ONE: u64 = 1 << 32;
/// Sub-units of a point used by all intermediate sums (1 point = 10^6).
pub const MICRO: u64 = 1_000_000;
/// Bits of the fractional part of `age / half_life`.
const FRACTION_BITS: u32 = 32;

/// `round(2^32 · 2^(-1/2^i))` for i = 1..=32 (computed with 80-digit
/// decimals).
const ROOTS: [u64; FRACTION_BITS as usize] = [
    3_037_000_500,
    3_611_622_603,
    3_938_502_376,
    4_112_874_773,
    4_202_935_003,
    4_248_701_965,
    4_271_771_996,
    4_283_353_945,
    4_289_156_690,
    4_292_061_010,
    4_293_513_907,
    4_294_240_540,
    4_294_603_903,
    4_294_785_595,
    4_294_876_445,
    4_294_921_870,
    4_294_944_583,
    4_294_955_939,
    4_294_961_618,
    4_294_964_457,
    4_294_965_876,
    4_294_966_586,
    4_294_966_941,
    4_294_967_119,
    4_294_967_207,
    4_294_967_252,
    4_294_967_274,
    4_294_967_285,
    4_294_967_290,
    4_294_967_293,
    4_294_967_295,
    4_294_967_295,
];

/// `0.5^(age_ms / half_life_ms)` in Q32 ([`ONE`] = 1.0).
///
/// A zero or negative age (an event dated in the future) counts as age 0.
/// A half-life below 1 ms is treated as 1 ms (only an unvalidated model
/// can have one).
pub fn factor_q32(age_ms: i64, half_life_ms: i64) -> u64 {
    let (Ok(age), Ok(half_life)) = (u64::try_from(age_ms), u64::try_from(half_life_ms.max(1)))
    else {
        return ONE;
    };
    let halvings = age / half_life;
    if halvings >= 33 {
        return 0;
    }
    let remainder = u128::from(age % half_life);
    let fraction = (remainder << FRACTION_BITS) / u128::from(half_life);
    let mut factor = u128::from(ONE);
    for (i, root) in ROOTS.iter().enumerate() {
        let bit = 1u128 << (FRACTION_BITS as usize - 1 - i);
        if fraction & bit != 0 {
            factor = (factor * u128::from(*root) + (1 << 31)) >> 32;
        }
    }
    u64::try_from(factor >> halvings).unwrap_or(0)
}

/// `points × factor` in micro-points, rounded down.
pub fn decayed_micro(points: u64, factor: u64) -> u64 {
    let product = (u128::from(points) * u128::from(MICRO) * u128::from(factor)) >> 32;
    u64::try_from(product).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn an_event_one_half_life_old_counts_half() {
        assert_eq!(factor_q32(168 * HOUR, 168 * HOUR), ONE / 2);
        assert_eq!(
            decayed_micro(10, factor_q32(168 * HOUR, 168 * HOUR)),
            5 * MICRO
        );
        assert_eq!(factor_q32(2 * HOUR, HOUR), ONE / 4);
        assert_eq!(factor_q32(0, HOUR), ONE);
        assert_eq!(decayed_micro(7, ONE), 7 * MICRO);
    }

    #[test]
    fn future_events_count_as_new_and_ancient_ones_as_nothing() {
        assert_eq!(factor_q32(-5 * HOUR, HOUR), ONE);
        assert_eq!(factor_q32(i64::MIN, HOUR), ONE);
        assert_eq!(factor_q32(40 * HOUR, HOUR), 0);
        assert_eq!(factor_q32(i64::MAX, HOUR), 0);
        assert_eq!(factor_q32(HOUR, 0), 0);
    }

    #[test]
    fn a_fine_grained_fraction_is_accurate() {
        // With a 20-bit fraction this case was 4e-7 off; 32 bits fix it.
        let (age, half_life) = (263_982_186, 174 * HOUR);
        let exact = 0.5f64.powf(age as f64 / half_life as f64);
        assert!((factor_q32(age, half_life) as f64 / ONE as f64 - exact).abs() < 1e-8);
    }

    #[test]
    fn half_a_half_life_is_one_over_root_two() {
        let f = factor_q32(HOUR / 2, HOUR);
        assert_eq!(f, ROOTS[0]);
    }

    proptest! {
        #[test]
        fn agrees_with_the_float_formula(age in 0i64..(60 * 24 * HOUR), hours in 1i64..=8760) {
            let half_life = hours * HOUR;
            let exact = 0.5f64.powf(age as f64 / half_life as f64);
            let got = factor_q32(age, half_life) as f64 / ONE as f64;
            prop_assert!((got - exact).abs() < 1e-8, "{got} vs {exact}");
        }

        #[test]
        fn older_is_never_worth_more(a in 0i64..(90 * 24 * HOUR), d in 0i64..(24 * HOUR), hours in 1i64..=720) {
            let half_life = hours * HOUR;
            prop_assert!(factor_q32(a + d, half_life) <= factor_q32(a, half_life) + 64);
        }
    }
}

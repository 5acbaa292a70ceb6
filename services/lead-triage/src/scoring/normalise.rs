//! From model points to the 0–100 score, in integers only.
//!
//! 1. Each factor's maximum (model points) is scaled so the maxima sum to
//!    exactly 100, by the largest-remainder method (ties to the earlier
//!    factor): `max_i`.
//! 2. Each factor's earned micro-points (10^-6 of a model point, rounded
//!    down where decay produced fractions) are scaled by `max_i / model
//!    max_i`, rounded down: `u_i`, micro-points on the 0–100 scale.
//! 3. The score is `Σ u_i / 10^6` rounded half up. It can only grow when
//!    an earned value grows, since every step is monotone.
//! 4. The factors' integer `points` are apportioned from `u_i` by the
//!    largest-remainder method, so they add up to the score *exactly* and
//!    each stays within `floor(u_i)..=ceil(u_i)`, hence within `max_i`.

use suite_domain::{Factor, FactorScore};

use super::decay::MICRO;

/// One factor before normalisation.
#[derive(Debug, Clone)]
pub(crate) struct RawFactor {
    pub factor: Factor,
    /// Earned, in micro model points (≤ `max` × [`MICRO`]).
    pub earned: u64,
    /// Maximum, in model points.
    pub max: u64,
    pub reason: String,
}

/// Integer shares of `total` proportional to `numerators / denominator`,
/// summing to `total` when the exact shares do: floors first, then one
/// more unit to the largest remainders, earlier entries winning ties.
fn largest_remainder(numerators: &[u128], denominator: u128, total: u64) -> Vec<u64> {
    if denominator == 0 {
        return vec![0; numerators.len()];
    }
    let mut shares: Vec<u64> = numerators
        .iter()
        .map(|n| u64::try_from(n / denominator).unwrap_or(u64::MAX))
        .collect();
    let assigned: u64 = shares.iter().sum();
    let deficit = usize::try_from(total.saturating_sub(assigned)).unwrap_or(usize::MAX);
    let mut order: Vec<(u128, usize)> = numerators
        .iter()
        .enumerate()
        .map(|(i, n)| (n % denominator, i))
        .filter(|(r, _)| *r > 0)
        .collect();
    order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in order.into_iter().take(deficit) {
        shares[i] += 1;
    }
    shares
}

/// Model maxima scaled to sum to 100 (all zero if they sum to zero).
pub(crate) fn apportion_maxima(maxima: &[u64]) -> Vec<u64> {
    let total: u128 = maxima.iter().map(|m| u128::from(*m)).sum();
    let numerators: Vec<u128> = maxima.iter().map(|m| u128::from(*m) * 100).collect();
    largest_remainder(&numerators, total, 100)
}

/// The score and its breakdown. A disqualified lead scores 0 and every
/// factor shows 0 points (its `max` and reason stay, for explanation).
pub(crate) fn normalise(raw: Vec<RawFactor>, disqualified: bool) -> (u8, Vec<FactorScore>) {
    let maxima = apportion_maxima(&raw.iter().map(|f| f.max).collect::<Vec<_>>());
    let scaled: Vec<u128> = raw
        .iter()
        .zip(&maxima)
        .map(|(f, max_100)| {
            if f.max == 0 {
                return 0;
            }
            let earned = u128::from(f.earned.min(f.max.saturating_mul(MICRO)));
            earned * u128::from(*max_100) / u128::from(f.max)
        })
        .collect();
    let sum: u128 = scaled.iter().sum();
    let micro = u128::from(MICRO);
    let score = if disqualified {
        0
    } else {
        ((sum + micro / 2) / micro).min(100)
    };
    let score = u64::try_from(score).unwrap_or(0);
    let points = if disqualified {
        vec![0; raw.len()]
    } else {
        largest_remainder(&scaled, micro, score)
    };
    let breakdown = raw
        .into_iter()
        .zip(maxima.iter().zip(points))
        .map(|(f, (max, points))| FactorScore {
            factor: f.factor,
            points: u8::try_from(points).unwrap_or(0),
            max: u8::try_from(*max).unwrap_or(0),
            reason: f.reason,
        })
        .collect();
    (u8::try_from(score).unwrap_or(0), breakdown)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn maxima_sum_to_100_with_ties_to_the_earlier_factor() {
        assert_eq!(apportion_maxima(&[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(
            apportion_maxima(&[15, 20, 10, 5, 10, 5, 15, 20]),
            vec![15, 20, 10, 5, 10, 5, 15, 20]
        );
        assert_eq!(apportion_maxima(&[0, 0]), vec![0, 0]);
        assert_eq!(apportion_maxima(&[1, 1000]), vec![0, 100]);
    }

    #[test]
    fn points_add_up_exactly_even_when_every_factor_has_a_fraction() {
        let raw = |earned: u64| RawFactor {
            factor: Factor::Phone,
            earned,
            max: 1,
            reason: String::new(),
        };
        // Three factors of 33⅓ max, each half earned: 16.67 × 3 = 50.
        let (score, breakdown) = normalise(vec![raw(500_000), raw(500_000), raw(500_000)], false);
        assert_eq!(score, 50);
        let points: Vec<u8> = breakdown.iter().map(|f| f.points).collect();
        assert_eq!(points, vec![17, 17, 16]);
        let (score, breakdown) = normalise(vec![raw(1_000_000), raw(0), raw(0)], true);
        assert_eq!(score, 0);
        assert!(breakdown.iter().all(|f| f.points == 0));
        assert_eq!(breakdown.iter().map(|f| u32::from(f.max)).sum::<u32>(), 100);
    }

    proptest! {
        #[test]
        fn shares_sum_to_total_and_stay_within_floor_and_ceil(
            maxima in prop::collection::vec(0u64..=1000, 1..10),
            fractions in prop::collection::vec(0u64..=MICRO, 10),
        ) {
            let raw: Vec<RawFactor> = maxima.iter().zip(&fractions).map(|(m, f)| RawFactor {
                factor: Factor::Events, earned: m * f, max: *m, reason: String::new(),
            }).collect();
            let (score, breakdown) = normalise(raw, false);
            let points: u32 = breakdown.iter().map(|f| u32::from(f.points)).sum();
            let maxes: u32 = breakdown.iter().map(|f| u32::from(f.max)).sum();
            prop_assert_eq!(points, u32::from(score));
            prop_assert!(maxes == 100 || maxes == 0);
            prop_assert!(breakdown.iter().all(|f| f.points <= f.max));
        }
    }
}

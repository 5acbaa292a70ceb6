use proptest::prelude::*;

use super::*;

fn sum(shares: &[f64]) -> f64 {
    shares.iter().sum()
}

#[test]
fn low_shares_are_raised_and_the_rest_scaled_proportionally() {
    let shares = enforce_min_share(&[0.9, 0.08, 0.02], 0.05);
    // 0.02 → 0.05; 0.9 and 0.08 share the remaining 0.95 in ratio 90:8.
    let expected = [0.95 * 90.0 / 98.0, 0.95 * 8.0 / 98.0, 0.05];
    for (s, e) in shares.iter().zip(expected) {
        assert!((s - e).abs() < 1e-12, "{shares:?}");
    }
}

#[test]
fn raising_one_share_can_push_another_under_the_floor() {
    // Round 1 fixes the zero share at 0.1; scaling the rest to 0.9 puts
    // 0.105 × 0.9 / 1.0 = 0.0945 under the floor, so round 2 fixes it too.
    let shares = enforce_min_share(&[0.895, 0.105, 0.0], 0.1);
    assert_eq!(shares[1], 0.1);
    assert_eq!(shares[2], 0.1);
    assert!((shares[0] - 0.8).abs() < 1e-12, "{shares:?}");
}

#[test]
fn edges() {
    assert!(enforce_min_share(&[], 0.1).is_empty());
    assert_eq!(enforce_min_share(&[0.0, 0.0], 0.1), vec![0.5, 0.5]);
    assert_eq!(
        enforce_min_share(&[1.0, 0.0, 0.0, 0.0], 0.25),
        vec![0.25; 4]
    );
    assert_eq!(enforce_min_share(&[0.7, 0.3], 0.0), vec![0.7, 0.3]);
    // Not normalised, NaN and negative entries count as zero.
    assert_eq!(
        enforce_min_share(&[2.0, f64::NAN, -1.0, 2.0], 0.0),
        vec![0.5, 0.0, 0.0, 0.5]
    );
}

fn raw_and_floor() -> impl Strategy<Value = (Vec<f64>, f64)> {
    prop::collection::vec(prop_oneof![Just(0.0), 0.0..1.0_f64], 1..10).prop_flat_map(|raw| {
        let n = raw.len() as f64;
        (Just(raw), 0.0..=1.0 / n)
    })
}

/// Shares summing to 1, each at least the floor (and floors leaving room).
fn above_floor() -> impl Strategy<Value = (Vec<f64>, f64)> {
    prop::collection::vec(0.001..1.0_f64, 1..10).prop_flat_map(|weights| {
        let n = weights.len() as f64;
        (Just(weights), 0.0..0.99 / n).prop_map(move |(weights, min_share)| {
            let total: f64 = weights.iter().sum();
            let spare = 1.0 - n * min_share;
            let raw = weights
                .iter()
                .map(|w| min_share + spare * w / total)
                .collect();
            (raw, min_share)
        })
    })
}

proptest! {
    #[test]
    fn shares_sum_to_one_and_respect_the_floor((raw, min_share) in raw_and_floor()) {
        let shares = enforce_min_share(&raw, min_share);
        prop_assert_eq!(shares.len(), raw.len());
        prop_assert!((sum(&shares) - 1.0).abs() <= 1e-9, "sum {}", sum(&shares));
        for &s in &shares {
            prop_assert!(s >= min_share, "{} < {}", s, min_share);
        }
    }

    #[test]
    fn order_is_kept((raw, min_share) in raw_and_floor()) {
        let shares = enforce_min_share(&raw, min_share);
        for i in 0..raw.len() {
            for j in 0..raw.len() {
                if raw[i] > raw[j] {
                    prop_assert!(shares[i] >= shares[j], "{:?} → {:?}", raw, shares);
                }
            }
        }
    }

    #[test]
    fn shares_already_above_the_floor_are_unchanged((raw, min_share) in above_floor()) {
        let shares = enforce_min_share(&raw, min_share);
        for (s, r) in shares.iter().zip(&raw) {
            prop_assert!((s - r).abs() <= 1e-12, "{:?} → {:?}", raw, shares);
        }
    }
}

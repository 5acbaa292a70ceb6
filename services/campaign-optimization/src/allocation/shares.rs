//! The minimum share per variant.
//!
//! Thompson sampling starves losing variants, which is the point, but the
//! campaign keeps a floor so every variant goes on being measured (and a
//! drift in rates can still be noticed).

#[cfg(test)]
mod tests;

/// Raises every share below `min_share` to exactly `min_share` and scales
/// the others down proportionally so the shares still sum to 1.
///
/// Scaling the rest down can push another share under the floor, so this
/// repeats (water-filling) until no free share is below it; each round
/// fixes at least one more share, so it takes at most `raw.len()` rounds.
/// Shares already at or above the floor keep their order and their
/// ratios to each other.
///
/// `raw` should hold non-negative shares summing to 1 (Thompson-sampling
/// frequencies); it is normalised first if it does not. The caller checks
/// `min_share × raw.len() ≤ 1` ([`super::Policy::validate`]); if the floors
/// fill (or nearly fill) all the traffic the result is uniform. An empty
/// or all-zero `raw` gives uniform shares (empty for empty).
pub fn enforce_min_share(raw: &[f64], min_share: f64) -> Vec<f64> {
    let n = raw.len();
    let uniform = || vec![1.0 / n as f64; n];
    let clean: Vec<f64> = raw
        .iter()
        .map(|&s| if s.is_finite() && s > 0.0 { s } else { 0.0 })
        .collect();
    let total: f64 = clean.iter().sum();
    if n == 0 || total <= 0.0 || min_share * n as f64 >= 1.0 - 1e-12 {
        return uniform();
    }
    let normalised: Vec<f64> = clean.iter().map(|s| s / total).collect();
    if min_share <= 0.0 {
        return normalised;
    }

    let mut fixed = vec![false; n];
    let mut fixed_count = 0_usize;
    loop {
        // Mass left for the free shares, spread in proportion to `raw`.
        let free_mass = 1.0 - fixed_count as f64 * min_share;
        let free_raw: f64 = (0..n).filter(|&i| !fixed[i]).map(|i| normalised[i]).sum();
        let scaled = |i: usize| normalised[i] * free_mass / free_raw;
        let newly_fixed: Vec<usize> = (0..n)
            .filter(|&i| !fixed[i] && (free_raw <= 0.0 || scaled(i) < min_share))
            .collect();
        if newly_fixed.len() == n - fixed_count {
            // Cannot happen with exact arithmetic (the free shares average
            // at least min_share, so the largest stays free), but rounding
            // must not leave mass unassigned.
            return uniform();
        }
        if newly_fixed.is_empty() {
            return (0..n)
                .map(|i| if fixed[i] { min_share } else { scaled(i) })
                .collect();
        }
        for i in newly_fixed {
            fixed[i] = true;
            fixed_count += 1;
        }
    }
}

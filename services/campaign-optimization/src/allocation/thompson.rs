//! Traffic allocation by Thompson sampling on the Beta posteriors.
//!
//! Two views of one rule. Per send, [`pick`] draws a rate from every
//! variant's posterior and takes the highest. For a published allocation,
//! [`allocate`] turns that into traffic shares: the frequency with which
//! each variant wins over `draws` joint draws (which estimates its
//! probability of being best), after a uniform warm-up and with the
//! minimum share enforced.

use rand::Rng;

use super::posterior::{prob_best, sample_best, Posterior, VariantStats};
use super::shares::enforce_min_share;
use super::AllocationError;

#[cfg(test)]
mod bandit;
#[cfg(test)]
mod tests;

/// How a campaign turns counts into traffic shares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Floor on every variant's share, in [0, 1]; `min_share × variants`
    /// must not exceed 1.
    pub min_share: f64,
    /// Sends every variant must have before shares adapt; until then the
    /// shares are uniform.
    pub warm_up: u64,
    /// Joint posterior draws behind the selection frequencies (at least 1).
    /// The Monte Carlo error of a share is about √(s(1 − s) / draws):
    /// 10,000 draws give ±0.005 at worst.
    pub draws: u32,
}

impl Policy {
    /// Checks the policy for a campaign with `variants` variants.
    pub fn validate(&self, variants: usize) -> Result<(), AllocationError> {
        if variants == 0 {
            return Err(AllocationError::NoVariants);
        }
        if !(0.0..=1.0).contains(&self.min_share) {
            return Err(AllocationError::MinShareOutOfRange(self.min_share));
        }
        // The tolerance admits floors such as 1/3 × 3 that are 1 up to
        // rounding.
        if self.min_share * variants as f64 > 1.0 + 1e-9 {
            return Err(AllocationError::MinShareTooLarge {
                min_share: self.min_share,
                variants,
            });
        }
        if self.draws == 0 {
            return Err(AllocationError::ZeroDraws);
        }
        Ok(())
    }
}

/// Traffic shares per variant, in the order of the variants given; they
/// sum to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// Fraction of new sends for each variant.
    pub shares: Vec<f64>,
}

impl Allocation {
    /// Equal shares for `variants` variants (empty for none).
    pub fn uniform(variants: usize) -> Self {
        Self {
            shares: vec![1.0 / variants as f64; variants],
        }
    }

    /// Draws a variant index with probability equal to its share: how a
    /// sender follows a published allocation. Non-finite or non-positive
    /// shares are never chosen; `None` when no share is positive.
    pub fn choose<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<usize> {
        let usable = |share: f64| share.is_finite() && share > 0.0;
        let total: f64 = self.shares.iter().copied().filter(|&s| usable(s)).sum();
        if total <= 0.0 || !total.is_finite() {
            return None;
        }
        let mut target = rng.random::<f64>() * total;
        let mut last_positive = None;
        for (i, &share) in self.shares.iter().enumerate() {
            if !usable(share) {
                continue;
            }
            if target < share {
                return Some(i);
            }
            target -= share;
            last_positive = Some(i);
        }
        // Rounding can leave `target` a hair above the last share.
        last_positive
    }
}

/// Traffic shares for `variants` under `policy`.
///
/// - Until every variant has `policy.warm_up` sends, the shares are uniform
///   (uniform traffic brings all variants out of warm-up together).
/// - Then each share is the Thompson-sampling selection frequency over
///   `policy.draws` joint posterior draws ([`prob_best`] with `rng_seed`),
/// - and shares under `policy.min_share` are raised to it, the others
///   scaled down proportionally ([`enforce_min_share`]).
///
/// The same counts, policy and seed always give the same allocation.
pub fn allocate(
    variants: &[VariantStats],
    policy: &Policy,
    rng_seed: u64,
) -> Result<Allocation, AllocationError> {
    policy.validate(variants.len())?;
    if variants.iter().any(|v| v.sends() < policy.warm_up) {
        return Ok(Allocation::uniform(variants.len()));
    }
    let frequencies = prob_best(variants, policy.draws, rng_seed);
    Ok(Allocation {
        shares: enforce_min_share(&frequencies, policy.min_share),
    })
}

/// Per-send Thompson sampling: draws one rate from each variant's
/// posterior and returns the index of the highest (ties to the lower
/// index). Fails only for an empty slice.
pub fn pick<R: Rng + ?Sized>(
    variants: &[VariantStats],
    rng: &mut R,
) -> Result<usize, AllocationError> {
    let posteriors: Vec<Posterior> = variants.iter().map(VariantStats::posterior).collect();
    sample_best(&posteriors, rng).ok_or(AllocationError::NoVariants)
}

//! Beta posteriors over each variant's success rate.
//!
//! With a uniform Beta(1, 1) prior and `s` successes in `n` sends, the
//! posterior of the rate is Beta(1 + s, 1 + n − s). Its mean is
//! (1 + s) / (2 + n), which is never 0 or 1, so a variant without data is
//! neither written off nor crowned.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution};

use super::AllocationError;

#[cfg(test)]
mod tests;

/// Sends and successes of one variant, counted for the campaign's
/// objective (click, reply or conversion).
///
/// Invariant: `successes <= sends`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct VariantStats {
    sends: u64,
    successes: u64,
}

impl VariantStats {
    /// Counts of one variant; fails when `successes > sends`.
    pub fn new(sends: u64, successes: u64) -> Result<Self, AllocationError> {
        if successes > sends {
            return Err(AllocationError::SuccessesExceedSends { sends, successes });
        }
        Ok(Self { sends, successes })
    }

    /// Messages sent with this variant.
    pub fn sends(&self) -> u64 {
        self.sends
    }

    /// Sends that reached the objective.
    pub fn successes(&self) -> u64 {
        self.successes
    }

    /// Sends that did not (yet) reach the objective.
    pub fn failures(&self) -> u64 {
        self.sends - self.successes
    }

    /// Counts one more send and whether it succeeded.
    pub fn record(&mut self, success: bool) {
        // Saturating keeps `successes <= sends` even at the (unreachable)
        // u64 ceiling.
        if self.sends < u64::MAX {
            self.sends += 1;
            self.successes += u64::from(success);
        }
    }

    /// The Beta posterior of this variant's rate.
    pub fn posterior(&self) -> Posterior {
        Posterior::from_stats(*self)
    }
}

/// An equal-tailed credible interval for a rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CredibleInterval {
    /// Quantile (1 − level) / 2.
    pub lower: f64,
    /// Quantile (1 + level) / 2.
    pub upper: f64,
}

/// Beta(α, β) posterior of a variant's success rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Posterior {
    alpha: f64,
    beta: f64,
    // Built once: the sampler's set-up costs a few square roots and
    // divisions, and prob_best draws from it thousands of times.
    sampler: Option<Beta<f64>>,
}

impl Posterior {
    /// Beta(1 + successes, 1 + failures): the uniform prior updated by the
    /// counts.
    pub fn from_stats(stats: VariantStats) -> Self {
        // u64 → f64 rounds above 2^53, far beyond any campaign's sends.
        let alpha = 1.0 + stats.successes() as f64;
        let beta = 1.0 + stats.failures() as f64;
        Self {
            alpha,
            beta,
            // Beta::new only rejects non-positive or NaN shapes; ours are
            // ≥ 1, so this is always Some.
            sampler: Beta::new(alpha, beta).ok(),
        }
    }

    /// α = 1 + successes.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// β = 1 + failures.
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// Posterior mean α / (α + β).
    pub fn mean(&self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }

    /// The `p`-quantile (inverse CDF) of the posterior, `p` in [0, 1].
    pub fn quantile(&self, p: f64) -> Result<f64, AllocationError> {
        if !(0.0..=1.0).contains(&p) {
            return Err(AllocationError::ProbabilityOutOfRange {
                value: p,
                range: "[0, 1]",
            });
        }
        Ok(self.inverse_cdf(p))
    }

    /// The equal-tailed credible interval holding `level` of the posterior
    /// mass, `level` in (0, 1).
    pub fn credible_interval(&self, level: f64) -> Result<CredibleInterval, AllocationError> {
        if !(level > 0.0 && level < 1.0) {
            return Err(AllocationError::ProbabilityOutOfRange {
                value: level,
                range: "(0, 1)",
            });
        }
        let tail = (1.0 - level) / 2.0;
        Ok(CredibleInterval {
            lower: self.quantile(tail)?,
            upper: self.quantile(1.0 - tail)?,
        })
    }

    /// The 95% equal-tailed credible interval (2.5% and 97.5% quantiles).
    pub fn credible_interval_95(&self) -> CredibleInterval {
        CredibleInterval {
            lower: self.inverse_cdf(0.025),
            upper: self.inverse_cdf(0.975),
        }
    }

    // `p` must be in [0, 1]; statrs only debug-asserts it.
    fn inverse_cdf(&self, p: f64) -> f64 {
        statrs::function::beta::inv_beta_reg(self.alpha, self.beta, p)
    }

    /// One draw of the rate from the posterior.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match &self.sampler {
            Some(beta) => beta.sample(rng),
            None => self.mean(),
        }
    }
}

/// Index of the largest of one draw from each posterior; ties go to the
/// lower index. `None` only for an empty slice.
pub(crate) fn sample_best<R: Rng + ?Sized>(posteriors: &[Posterior], rng: &mut R) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, posterior) in posteriors.iter().enumerate() {
        let draw = posterior.sample(rng);
        if best.is_none_or(|(_, top)| draw > top) {
            best = Some((i, draw));
        }
    }
    best.map(|(i, _)| i)
}

/// How often each variant's draw is the highest in `draws` joint draws
/// from the posteriors: a Monte Carlo estimate of the probability that
/// each variant has the highest rate, which is also the Thompson-sampling
/// selection frequency.
///
/// Uses `ChaCha8Rng::seed_from_u64(seed)`, so the same inputs and seed give
/// the same output bit for bit. The result sums to 1 (up to rounding);
/// it is empty for no variants and uniform when `draws` is 0, since no
/// draw means no evidence for any variant.
pub fn prob_best(variants: &[VariantStats], draws: u32, seed: u64) -> Vec<f64> {
    let n = variants.len();
    if n == 0 {
        return Vec::new();
    }
    if draws == 0 {
        return vec![1.0 / n as f64; n];
    }
    let posteriors: Vec<Posterior> = variants.iter().map(VariantStats::posterior).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut wins = vec![0_u32; n];
    for _ in 0..draws {
        if let Some(i) = sample_best(&posteriors, &mut rng) {
            wins[i] += 1;
        }
    }
    let total = f64::from(draws);
    wins.into_iter().map(|w| f64::from(w) / total).collect()
}

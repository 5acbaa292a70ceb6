//! Typed errors of the decision core; the API maps them to 422s.

use thiserror::Error;

/// Why counts, a policy or a pacing input were rejected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AllocationError {
    /// An allocation needs at least one variant.
    #[error("a campaign needs at least one variant")]
    NoVariants,
    /// A variant cannot succeed more often than it was sent.
    #[error("successes ({successes}) exceed sends ({sends})")]
    SuccessesExceedSends {
        /// Sends of the variant.
        sends: u64,
        /// Successes claimed for it.
        successes: u64,
    },
    /// `min_share` must be a finite number in [0, 1].
    #[error("min_share must be a number in [0, 1], got {0}")]
    MinShareOutOfRange(f64),
    /// The minimum shares of all variants add up to more than the traffic.
    #[error("min_share {min_share} × {variants} variants is more than 1")]
    MinShareTooLarge {
        /// The policy's minimum share per variant.
        min_share: f64,
        /// Number of variants.
        variants: usize,
    },
    /// Thompson-sampling frequencies need at least one posterior draw.
    #[error("draws must be at least 1")]
    ZeroDraws,
    /// A probability (quantile or credible level) outside its range.
    #[error("probability must be in {range}, got {value}")]
    ProbabilityOutOfRange {
        /// The value given.
        value: f64,
        /// The accepted range, for the message.
        range: &'static str,
    },
    /// The burst allowance is a fraction of the daily budget, in basis points.
    #[error("burst allowance must be at most 10000 basis points, got {0}")]
    BurstOutOfRange(u32),
    /// Pacing needs the cost of at least one channel.
    #[error("at least one channel cost is needed")]
    NoChannelCosts,
}

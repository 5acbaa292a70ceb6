//! The I/O-free decision core of campaign optimization (docs/architecture.md §6.3).
//!
//! Everything here is a pure function of its inputs (counts, policy, clock
//! readings, seeds), so the consumer, the API and the tests all reach the
//! same decisions from the same data:
//!
//! - [`posterior`]: per-variant counts → Beta posteriors, mean, credible
//!   interval and Monte Carlo probability of being best;
//! - [`thompson`]: traffic allocation by Thompson sampling with a warm-up;
//! - [`shares`]: the minimum share per variant;
//! - [`pacing`]: spend paced linearly over the day against a daily budget;
//! - [`change`]: whether a new allocation is worth publishing.
//!
//! Randomness is always seeded ChaCha8 ([`rand_chacha::ChaCha8Rng`]), whose
//! output stream is fixed across platforms and releases of `rand_chacha`,
//! so a seed names one result.

pub mod change;
pub mod error;
pub mod pacing;
pub mod posterior;
pub mod shares;
pub mod thompson;

pub use change::should_publish;
pub use error::AllocationError;
pub use pacing::{pace, Pacing, PacingPolicy};
pub use posterior::{prob_best, CredibleInterval, Posterior, VariantStats};
pub use shares::enforce_min_share;
pub use thompson::{allocate, pick, Allocation, Policy};

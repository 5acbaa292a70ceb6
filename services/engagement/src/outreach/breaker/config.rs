//! Thresholds of a circuit breaker.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Thresholds of a breaker; the defaults are the seeds' figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Share of failures (0–1) in the window at which the breaker opens (0.5).
    pub failure_rate: f64,
    /// Fewest outcomes in the window before it may open (10).
    pub min_calls: u32,
    /// Length of the sliding window (60 s).
    #[serde(with = "secs")]
    pub window: Duration,
    /// How long it stays open before half-opening (30 s).
    #[serde(with = "secs")]
    pub open_for: Duration,
    /// Probes let through when half-open; all must succeed to close (3).
    pub probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_rate: 0.5,
            min_calls: 10,
            window: Duration::from_secs(60),
            open_for: Duration::from_secs(30),
            probes: 3,
        }
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

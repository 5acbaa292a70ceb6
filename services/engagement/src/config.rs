//! The engagement section of the settings, turned into the send path's
//! typed values once at start-up.

use std::time::Duration;

use anyhow::Context as _;
use chrono::NaiveTime;
use chrono_tz::Tz;
use suite_config::EngagementSettings;

use crate::outreach::{BreakerConfig, CapLimits, QuietWindow, RetryPolicy};

/// Typed engagement configuration.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Quiet hours in the recipient's local time.
    pub quiet: QuietWindow,
    /// Zone of recipients with no zone and no known country.
    pub default_tz: Tz,
    /// Frequency caps per lead and channel.
    pub caps: CapLimits,
    /// Provider retries.
    pub retry: RetryPolicy,
    /// Provider breakers.
    pub breaker: BreakerConfig,
    /// Idle poll interval of the scheduler.
    pub poll: Duration,
    /// Steps claimed per round.
    pub batch: i64,
    /// Steps sent at once per process.
    pub concurrency: usize,
    /// How long a claim holds.
    pub lease: Duration,
}

impl SendConfig {
    /// Reads the (already validated) settings.
    pub fn from_settings(s: &EngagementSettings) -> anyhow::Result<Self> {
        let time = |v: &str| {
            NaiveTime::parse_from_str(v, "%H:%M").with_context(|| format!("quiet hours {v}"))
        };
        Ok(Self {
            quiet: QuietWindow::new(time(&s.quiet_start)?, time(&s.quiet_end)?, s.quiet_weekends),
            default_tz: s
                .default_timezone
                .parse()
                .map_err(|_| anyhow::anyhow!("engagement.default_timezone"))?,
            caps: CapLimits {
                per_day: s.cap_per_day,
                per_week: s.cap_per_week,
            },
            retry: RetryPolicy {
                max_retries: s.retry_max,
                base_ms: s.retry_base_ms,
                max_delay_ms: s.retry_max_delay_ms,
            },
            breaker: BreakerConfig {
                failure_rate: s.breaker_failure_rate,
                min_calls: s.breaker_min_calls,
                window: Duration::from_secs(s.breaker_window_secs),
                open_for: Duration::from_secs(s.breaker_open_secs),
                probes: s.breaker_probes,
            },
            poll: Duration::from_millis(s.scheduler_poll_ms),
            batch: s.scheduler_batch,
            concurrency: s.scheduler_concurrency,
            lease: Duration::from_secs(s.scheduler_lease_secs),
        })
    }
}

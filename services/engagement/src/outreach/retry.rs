//! The provider retry policy (docs/architecture.md §4.4, §6.2): transient failures are
//! retried with exponential backoff (factor 2) and full jitter; permanent
//! ones are not, and send the step to the next channel at once.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

/// Backoff factor between attempts.
pub const FACTOR: u32 = 2;

/// What went wrong with a provider call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderFailure {
    /// An HTTP answer with a non-2xx status (webhook gateways).
    Http {
        /// The status code.
        status: u16,
    },
    /// An SMTP reply code (`4yz` transient, `5yz` permanent).
    Smtp {
        /// The reply code.
        code: u16,
    },
    /// No answer in time.
    Timeout,
    /// The provider could not be reached (DNS, TCP, TLS).
    Connect,
    /// The recipient's mailbox does not exist or rejects mail for good.
    HardBounce,
    /// The mailbox is full or temporarily unavailable.
    SoftBounce,
    /// The phone number cannot receive calls or texts.
    InvalidNumber,
    /// The address is malformed or missing for the channel.
    InvalidAddress,
    /// The provider reports the recipient opted out (STOP, unsubscribe).
    RecipientOptedOut,
}

/// Whether a failure is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureClass {
    /// May succeed later: retry with backoff, then dead-letter.
    Transient,
    /// Will fail again: no retry; fall back to the next channel.
    Permanent,
}

/// Classifies a provider failure.
///
/// HTTP: 5xx, 408 (request timeout), 425 (too early) and 429 (rate
/// limited) are transient; every other 4xx is permanent (the request or
/// recipient is wrong), as are other non-2xx codes (1xx/3xx: a
/// misconfigured endpoint). SMTP: 4yz transient, 5yz permanent. Timeouts,
/// connection errors and soft bounces are transient; hard bounces, invalid
/// numbers or addresses and opt-outs are permanent.
pub fn classify(failure: &ProviderFailure) -> FailureClass {
    use FailureClass::{Permanent, Transient};
    match failure {
        ProviderFailure::Http { status } => match status {
            408 | 425 | 429 | 500..=599 => Transient,
            _ => Permanent,
        },
        ProviderFailure::Smtp { code } => match code {
            400..=499 => Transient,
            _ => Permanent,
        },
        ProviderFailure::Timeout | ProviderFailure::Connect | ProviderFailure::SoftBounce => {
            Transient
        }
        ProviderFailure::HardBounce
        | ProviderFailure::InvalidNumber
        | ProviderFailure::InvalidAddress
        | ProviderFailure::RecipientOptedOut => Permanent,
    }
}

impl ProviderFailure {
    /// Whether the failure counts against the provider's circuit breaker:
    /// transient ones do; a permanent one is the provider answering about
    /// one recipient (or request), so it does not.
    pub fn counts_against_provider(&self) -> bool {
        classify(self) == FailureClass::Transient
    }
}

/// The delay before retry `attempt` (0 for the first retry): uniform in
/// `[0, min(cap, base · 2^attempt)]` ("full jitter"), so retries of many
/// senders spread out instead of arriving together.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, rng: &mut impl Rng) -> Duration {
    let ceiling = base
        .checked_mul(FACTOR.checked_pow(attempt).unwrap_or(u32::MAX))
        .unwrap_or(Duration::MAX)
        .min(cap);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=nanos))
}

/// Retries of one provider call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Retries after the first attempt (3).
    pub max_retries: u32,
    /// Backoff base in milliseconds (500): retry `n` waits up to `base · 2^n`.
    pub base_ms: u64,
    /// Longest wait before one retry, in milliseconds (30 000).
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_ms: 500,
            max_delay_ms: 30_000,
        }
    }
}

impl RetryPolicy {
    /// What to do after attempt `attempt` (0 = the first call) failed with
    /// `failure`: `Some(delay)` to retry after `delay`, `None` to stop
    /// (permanent failure, or retries exhausted: dead-letter the step).
    pub fn next_delay(
        &self,
        attempt: u32,
        failure: &ProviderFailure,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        if classify(failure) == FailureClass::Permanent || attempt >= self.max_retries {
            return None;
        }
        Some(backoff(
            attempt,
            Duration::from_millis(self.base_ms),
            Duration::from_millis(self.max_delay_ms),
            rng,
        ))
    }
}

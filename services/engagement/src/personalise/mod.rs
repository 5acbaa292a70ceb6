//! AI personalisation (docs/personalisation.md): a variant may ask a
//! language model to write a step's message. The [`compose`] task writes it
//! ahead of the send, for steps due within `llm.lookahead_secs`, and keeps it
//! in `step_generations`; the send path only reads it, so a slow or failing
//! model never holds a send. A step whose generation failed, timed out, hit
//! a limit or broke a guardrail is sent with its template, and its row says
//! why ([`FallbackReason`]).
//!
//! - [`client`]: the OpenAI-compatible chat-completions call;
//! - [`call`]: retries (factor 2, jitter, `Retry-After`) under a breaker;
//! - [`limits`]: requests and tokens per minute per workspace, in Redis;
//! - [`cache`]: answers at temperature 0, keyed by model, version, prompt;
//! - [`guardrails`]: length, links, the suite's own footer;
//! - [`prompt`]: the prompt's inputs and the request;
//! - [`compose`]: the task that does it all for a set of steps.

pub mod cache;
pub mod call;
pub mod client;
pub mod compose;
pub mod guardrails;
pub mod limits;
pub mod prompt;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use suite_config::LlmSettings;
use tokio::sync::{Notify, Semaphore};

use crate::outreach::{BreakerConfig, CircuitBreaker, RetryPolicy};
use client::LlmClient;
use limits::Limits;

/// Why a step is sent with its template instead of generated text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackReason {
    /// The provider failed for good or its retries ran out.
    ProviderError,
    /// The calls timed out.
    Timeout,
    /// The workspace's per-minute limits were reached.
    RateLimited,
    /// The campaign's day budget could not pay for it.
    Budget,
    /// The completion broke a guardrail (length, links, empty).
    Guardrail,
    /// The provider's breaker was open.
    BreakerOpen,
    /// The prompt did not render, or the variant no longer asks for generation.
    PromptError,
    /// The text was not ready `llm.wait_secs` after the step came due.
    NotReady,
}

impl FallbackReason {
    /// As stored in `fallback_reason` and in the `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            FallbackReason::ProviderError => "provider_error",
            FallbackReason::Timeout => "timeout",
            FallbackReason::RateLimited => "rate_limited",
            FallbackReason::Budget => "budget",
            FallbackReason::Guardrail => "guardrail",
            FallbackReason::BreakerOpen => "breaker_open",
            FallbackReason::PromptError => "prompt_error",
            FallbackReason::NotReady => "not_ready",
        }
    }
}

/// Token prices per model, in micros per 1,000 tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prices {
    models: BTreeMap<String, (u64, u64)>,
}

impl Prices {
    /// From the `llm.prices` entries (already validated).
    pub fn parse(entries: &[String]) -> Self {
        Self {
            models: entries
                .iter()
                .filter_map(|e| suite_config::settings::parse_price(e))
                .map(|(model, input, output)| (model, (input, output)))
                .collect(),
        }
    }

    /// What `tokens_in` prompt and `tokens_out` completion tokens of `model`
    /// cost, in micros (rounded up); a model not listed costs as `*`, else 0.
    pub fn cost(&self, model: &str, tokens_in: u64, tokens_out: u64) -> i64 {
        let Some(&(input, output)) = self.models.get(model).or_else(|| self.models.get("*")) else {
            return 0;
        };
        let micros = tokens_in
            .saturating_mul(input)
            .saturating_add(tokens_out.saturating_mul(output))
            .div_ceil(1000);
        i64::try_from(micros).unwrap_or(i64::MAX)
    }
}

/// The composer's settings, typed.
#[derive(Debug, Clone)]
pub struct ComposeConfig {
    /// Model of variants that name none.
    pub model: String,
    /// Per-workspace limits.
    pub limits: Limits,
    /// Over the limits, wait for room (else fall back at once).
    pub wait_on_limit: bool,
    /// How long cached answers live (0: no cache).
    pub cache_ttl_secs: u64,
    /// How far ahead of its due time a step is composed.
    pub lookahead: Duration,
    /// How long a due step waits for its text.
    pub wait: Duration,
    /// Steps claimed per round.
    pub batch: i64,
    /// How long a claim holds.
    pub lease: Duration,
    /// Footer of generated emails.
    pub email_footer: String,
}

/// Everything generation needs; shared by the composer and the send path.
pub struct Personaliser {
    /// The provider.
    pub client: LlmClient,
    /// Its breaker.
    pub breaker: CircuitBreaker,
    /// Its retries.
    pub retry: RetryPolicy,
    /// Token prices.
    pub prices: Prices,
    /// The composer's settings.
    pub config: ComposeConfig,
    /// Bounds the generations in flight.
    pub slots: Arc<Semaphore>,
    /// Wakes the composer (a due step is waiting for its text).
    pub wake: Notify,
}

impl std::fmt::Debug for Personaliser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Personaliser")
            .field("client", &self.client)
            .field("config", &self.config)
            .finish()
    }
}

impl Personaliser {
    /// From the (validated) `llm` settings; `None` when generation is off.
    pub fn from_settings(s: &LlmSettings, breaker: BreakerConfig) -> anyhow::Result<Option<Self>> {
        if !s.enabled() {
            return Ok(None);
        }
        let timeout = Duration::from_millis(s.timeout_ms);
        let client = LlmClient::new(&s.base_url, s.api_key.clone(), timeout)
            .context("language-model client")?;
        let retry = RetryPolicy {
            max_retries: s.retry_max,
            base_ms: s.retry_base_ms,
            max_delay_ms: s.retry_max_delay_ms,
        };
        // A claim outlives every call and wait one generation may make.
        let calls = u64::from(s.retry_max) + 1;
        let lease = Duration::from_millis(
            s.timeout_ms
                .saturating_add(s.retry_max_delay_ms)
                .saturating_mul(calls),
        )
        .saturating_add(Duration::from_secs(60));
        Ok(Some(Self {
            client,
            breaker: CircuitBreaker::new("llm", breaker),
            retry,
            prices: Prices::parse(&s.prices),
            config: ComposeConfig {
                model: s.model.clone(),
                limits: Limits {
                    requests_per_minute: s.requests_per_minute,
                    tokens_per_minute: s.tokens_per_minute,
                },
                wait_on_limit: s.on_limit == "wait",
                cache_ttl_secs: s.cache_ttl_secs,
                lookahead: Duration::from_secs(s.lookahead_secs),
                wait: Duration::from_secs(s.wait_secs),
                batch: s.batch,
                lease,
                email_footer: s.email_footer.clone(),
            },
            slots: Arc::new(Semaphore::new(s.concurrency)),
            wake: Notify::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_priced_per_model_with_a_catch_all() {
        let prices = Prices::parse(&["gpt-4o-mini=150/600".into(), "*=1000/2000".into()]);
        assert_eq!(prices.cost("gpt-4o-mini", 1000, 1000), 750);
        assert_eq!(prices.cost("gpt-4o-mini", 1, 0), 1, "rounded up");
        assert_eq!(prices.cost("other", 500, 500), 1500);
        assert_eq!(Prices::default().cost("other", 500, 500), 0);
    }
}

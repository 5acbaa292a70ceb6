//! One generation's calls: the chat-completions call under the provider's
//! circuit breaker, retried on 429, 5xx and timeouts with backoff factor 2
//! and full jitter, never sooner than the provider's `Retry-After`.

use std::future::Future;
use std::time::{Duration, Instant};

use async_openai::types::chat::CreateChatCompletionRequest;
use suite_telemetry::names::{LLM_REQUESTS, LLM_REQUEST_DURATION, LLM_TOKENS};

use super::client::{CallError, Completion, LlmClient};
use super::FallbackReason;
use crate::outreach::retry::backoff;
use crate::outreach::{CircuitBreaker, RetryPolicy};

/// A completion and how many calls it took.
#[derive(Debug)]
pub struct Answered {
    /// The completion.
    pub completion: Completion,
    /// Calls made (1 + retries).
    pub calls: u32,
}

/// Why the calls gave no completion, and the tokens they still used.
#[derive(Debug)]
pub struct Failed {
    /// The fallback reason it stands for.
    pub reason: FallbackReason,
    /// Calls made.
    pub calls: u32,
}

/// Calls `client` with `request` until it answers, a failure is permanent,
/// the retries run out or the breaker opens. Before each retry
/// `retry_place` takes the retry's place under the per-minute limits
/// (`None`), or says how long until there is room: the retry waits that
/// long, unless the wait is longer than the policy's longest delay, which
/// ends the calls as `rate_limited`.
pub async fn call<G, F>(
    client: &LlmClient,
    breaker: &CircuitBreaker,
    policy: &RetryPolicy,
    request: &CreateChatCompletionRequest,
    retry_place: G,
) -> Result<Answered, Failed>
where
    G: Fn() -> F,
    F: Future<Output = Option<Duration>>,
{
    let mut calls = 0u32;
    loop {
        let Ok(permit) = breaker.try_acquire() else {
            let reason = if calls == 0 {
                FallbackReason::BreakerOpen
            } else {
                FallbackReason::ProviderError
            };
            return Err(Failed { reason, calls });
        };
        let started = Instant::now();
        let result = client.complete(request).await;
        calls += 1;
        metrics::histogram!(LLM_REQUEST_DURATION).record(started.elapsed().as_secs_f64());
        let error = match result {
            Ok(completion) => {
                permit.success();
                metrics::counter!(LLM_REQUESTS, "outcome" => "ok").increment(1);
                metrics::counter!(LLM_TOKENS, "direction" => "in")
                    .increment(completion.tokens_in.into());
                metrics::counter!(LLM_TOKENS, "direction" => "out")
                    .increment(completion.tokens_out.into());
                return Ok(Answered { completion, calls });
            }
            Err(e) => e,
        };
        metrics::counter!(LLM_REQUESTS, "outcome" => error.label()).increment(1);
        if error.transient() {
            permit.failure();
        } else {
            // A refusal of the request itself is the provider working.
            permit.success();
        }
        let reason = match error {
            CallError::Timeout => FallbackReason::Timeout,
            _ => FallbackReason::ProviderError,
        };
        let Some(delay) = next_delay(policy, calls - 1, &error) else {
            tracing::info!(error = %error, calls, "language-model call failed; the template is sent");
            return Err(Failed { reason, calls });
        };
        tracing::debug!(error = %error, delay_ms = delay.as_millis() as u64, "language-model call retried");
        tokio::time::sleep(delay).await;
        let longest = Duration::from_millis(policy.max_delay_ms);
        let mut waited = Duration::ZERO;
        while let Some(wait) = retry_place().await {
            waited += wait;
            if waited > longest {
                return Err(Failed {
                    reason: FallbackReason::RateLimited,
                    calls,
                });
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// The wait before retry `attempt + 1` after `error`: `None` when it is
/// permanent, the retries are spent, or the provider asks for a longer wait
/// than the policy's longest delay; else the jittered backoff, raised to the
/// provider's `Retry-After`.
pub fn next_delay(policy: &RetryPolicy, attempt: u32, error: &CallError) -> Option<Duration> {
    if !error.transient() || attempt >= policy.max_retries {
        return None;
    }
    let cap = Duration::from_millis(policy.max_delay_ms);
    if error.retry_after().is_some_and(|after| after > cap) {
        return None;
    }
    let jittered = backoff(
        attempt,
        Duration::from_millis(policy.base_ms),
        cap,
        &mut rand::rng(),
    );
    Some(match error.retry_after() {
        Some(after) => jittered.max(after),
        None => jittered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            base_ms: 10,
            max_delay_ms: 5_000,
        }
    }

    #[test]
    fn retry_after_is_a_floor_and_three_retries_are_the_most() {
        let limited = CallError::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(1)),
        };
        let delay = next_delay(&policy(), 0, &limited).expect("retried");
        assert!(delay >= Duration::from_secs(1), "{delay:?}");
        assert!(next_delay(&policy(), 3, &limited).is_none());
        let too_long = CallError::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(60)),
        };
        assert!(
            next_delay(&policy(), 0, &too_long).is_none(),
            "not sooner than asked"
        );
        let refused = CallError::Status {
            status: 400,
            retry_after: None,
        };
        assert!(next_delay(&policy(), 0, &refused).is_none());
    }
}

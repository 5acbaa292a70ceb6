//! One delivery: the provider call under its breaker, retried per the
//! retry policy (transient failures only, backoff factor 2, full jitter).

use std::time::Duration;

use suite_telemetry::names::PROVIDER_CALLS;

use crate::outreach::retry::classify;
use crate::outreach::{FailureClass, ProviderFailure, RetryPolicy};
use crate::providers::{OutgoingMessage, Receipt, Route};

/// How a delivery ended.
#[derive(Debug)]
pub enum Delivery {
    /// The provider accepted the message.
    Sent {
        /// Its receipt.
        receipt: Receipt,
        /// Provider calls made.
        calls: u32,
    },
    /// The breaker refused the first call: nothing was sent.
    Refused {
        /// When the breaker may let calls through again.
        retry_after: Duration,
    },
    /// The provider rejected the message for good.
    Permanent {
        /// The failure.
        failure: ProviderFailure,
        /// Provider calls made.
        calls: u32,
    },
    /// Transient failures until the retries ran out (or the breaker opened
    /// between retries).
    Exhausted {
        /// The last failure.
        failure: ProviderFailure,
        /// Provider calls made.
        calls: u32,
    },
}

/// Delivers `message` through `route`.
pub async fn deliver(route: &Route, message: &OutgoingMessage, policy: &RetryPolicy) -> Delivery {
    let mut calls = 0u32;
    let mut last: Option<ProviderFailure> = None;
    loop {
        let permit = match (route.breaker.try_acquire(), last.take()) {
            (Ok(permit), _) => permit,
            (Err(open), None) => {
                return Delivery::Refused {
                    retry_after: open.retry_after,
                }
            }
            // The breaker opened between retries: as good as exhausted.
            (Err(_), Some(failure)) => return Delivery::Exhausted { failure, calls },
        };
        let result = route.provider.send(message).await;
        calls += 1;
        let label = match &result {
            Ok(_) => "ok",
            Err(f) if classify(f) == FailureClass::Permanent => "permanent",
            Err(_) => "transient",
        };
        metrics::counter!(PROVIDER_CALLS, "provider" => route.provider.name(), "result" => label)
            .increment(1);
        let failure = match result {
            Ok(receipt) => {
                permit.success();
                return Delivery::Sent { receipt, calls };
            }
            Err(failure) => failure,
        };
        // A permanent answer is the provider working; it does not count against it.
        if failure.counts_against_provider() {
            permit.failure();
        } else {
            permit.success();
        }
        let next = policy.next_delay(calls - 1, &failure, &mut rand::rng());
        match next {
            Some(delay) => {
                last = Some(failure);
                tokio::time::sleep(delay).await;
            }
            None if classify(&failure) == FailureClass::Permanent => {
                return Delivery::Permanent { failure, calls }
            }
            None => return Delivery::Exhausted { failure, calls },
        }
    }
}

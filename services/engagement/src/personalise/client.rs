//! The OpenAI-compatible chat-completions call: one HTTP POST to
//! `{base_url}/chat/completions` with the request and response types of
//! `async-openai`, a timeout, and the status and `Retry-After` of a refusal
//! kept for the retry policy (`async-openai`'s own client retries by itself
//! and hides both, so the call is made here with reqwest).

use std::time::Duration;

use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
use secrecy::{ExposeSecret as _, SecretString};

/// Longest completion body read, in bytes.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// A completion: the text and what it cost in tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The first choice's message.
    pub text: String,
    /// Prompt tokens, as the provider counted them.
    pub tokens_in: u32,
    /// Completion tokens, as the provider counted them.
    pub tokens_out: u32,
}

/// Why a call gave no completion.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The provider answered with a non-2xx status.
    #[error("the provider answered {status}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// Its `Retry-After`, when given in seconds.
        retry_after: Option<Duration>,
    },
    /// No answer within the timeout.
    #[error("no answer within the timeout")]
    Timeout,
    /// The provider could not be reached.
    #[error("the provider could not be reached")]
    Connect,
    /// A 2xx answer that is not a usable chat completion.
    #[error("unusable answer: {0}")]
    Malformed(String),
}

impl CallError {
    /// Whether trying again may help: 408, 409, 425, 429, 5xx, a timeout,
    /// a connection failure.
    pub fn transient(&self) -> bool {
        match self {
            CallError::Status { status, .. } => {
                matches!(status, 408 | 409 | 425 | 429 | 500..=599)
            }
            CallError::Timeout | CallError::Connect => true,
            CallError::Malformed(_) => false,
        }
    }

    /// The `outcome` label of `llm_requests_total`.
    pub fn label(&self) -> &'static str {
        match self {
            CallError::Status { status: 429, .. } => "rate_limited",
            CallError::Status { status, .. } if *status >= 500 => "server_error",
            CallError::Status { .. } => "client_error",
            CallError::Timeout => "timeout",
            CallError::Connect => "connect",
            CallError::Malformed(_) => "malformed",
        }
    }

    /// The provider's `Retry-After`, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The chat-completions endpoint of one provider.
#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    url: String,
    key: SecretString,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient").field("url", &self.url).finish()
    }
}

impl LlmClient {
    /// A client of the API at `base_url` (up to and including `/v1`),
    /// authenticating with `key` unless it is empty; each call gives up
    /// after `timeout`.
    pub fn new(base_url: &str, key: SecretString, timeout: Duration) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            key,
        })
    }

    /// Makes one call (no retry).
    pub async fn complete(
        &self,
        request: &CreateChatCompletionRequest,
    ) -> Result<Completion, CallError> {
        let mut call = self.http.post(&self.url).json(request);
        let key = self.key.expose_secret();
        if !key.is_empty() {
            call = call.bearer_auth(key);
        }
        let response = call.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            return Err(CallError::Status {
                status: status.as_u16(),
                retry_after,
            });
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(CallError::Malformed("answer too large".into()));
        }
        let body = response.bytes().await.map_err(transport)?;
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(CallError::Malformed("answer too large".into()));
        }
        let parsed: CreateChatCompletionResponse = serde_json::from_slice(&body)
            // serde's message may quote the answer: only its kind is kept.
            .map_err(|e| {
                CallError::Malformed(format!("not a chat completion ({:?})", e.classify()))
            })?;
        let text = parsed
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| CallError::Malformed("no message content".into()))?;
        let usage = parsed.usage.unwrap_or_default();
        Ok(Completion {
            text,
            tokens_in: usage.prompt_tokens,
            tokens_out: usage.completion_tokens,
        })
    }
}

/// The provider's wait: `retry-after-ms` (OpenAI's, in milliseconds), else
/// `Retry-After` in seconds. The HTTP-date form is not read (the backoff
/// applies then).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms.min(86_400_000.0) / 1000.0))
        .or_else(|| number("retry-after").map(|s| Duration::from_secs_f64(s.min(86_400.0))))
}

fn transport(e: reqwest::Error) -> CallError {
    if e.is_timeout() {
        CallError::Timeout
    } else if e.is_connect() {
        CallError::Connect
    } else if e.is_decode() || e.is_body() {
        CallError::Malformed(e.to_string())
    } else {
        CallError::Connect
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_server_errors_and_timeouts_are_retried_client_errors_are_not() {
        let status = |status| CallError::Status {
            status,
            retry_after: None,
        };
        assert!(status(429).transient());
        assert!(status(503).transient());
        assert!(CallError::Timeout.transient());
        assert!(!status(400).transient());
        assert!(!status(401).transient());
        assert!(!CallError::Malformed("x".into()).transient());
        assert_eq!(status(429).label(), "rate_limited");
        assert_eq!(status(500).label(), "server_error");
    }

    #[test]
    fn the_providers_wait_is_read_in_seconds_or_milliseconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", "2".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "1500".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
        headers.insert("retry-after-ms", "soon".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
    }
}

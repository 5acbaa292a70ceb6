//! A real OpenAI-compatible chat-completions server that stands in for a
//! language-model provider: it records every request it receives (before
//! answering) and answers from a script, then with a default answer.
//!
//! Test support: a broken server (a port that cannot be bound, a poisoned
//! lock) panics, which fails the test using it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// The text of the initial default answer.
const DEFAULT_TEXT: &str = "Hello from the model.";

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    /// When the request arrived.
    pub at: Instant,
    /// The JSON body (`Value::Null` when the body was not JSON).
    pub body: Value,
    /// The `Authorization` header, when present.
    pub authorization: Option<String>,
}

impl Received {
    /// The text of the last message with role "user" (what the suite
    /// rendered from the prompt template). Content given as an array of
    /// parts yields its text parts joined; empty when there is none.
    pub fn prompt(&self) -> String {
        let Some(messages) = self.body.get("messages").and_then(Value::as_array) else {
            return String::new();
        };
        messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            .and_then(|m| m.get("content"))
            .map(content_text)
            .unwrap_or_default()
    }

    /// The requested model (empty when absent).
    pub fn model(&self) -> String {
        self.body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }
}

/// A message content as text: a string, or the text parts of an array.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 200 with a chat completion whose message content is `text`, usage
    /// `prompt_tokens` / `completion_tokens` as given.
    Complete {
        /// The message content.
        text: String,
        /// `usage.prompt_tokens`.
        prompt_tokens: u32,
        /// `usage.completion_tokens`.
        completion_tokens: u32,
    },
    /// That HTTP status with an OpenAI-style error body
    /// `{"error":{"message":..,"type":..,"code":null}}`, and a
    /// `Retry-After: <secs>` header when given.
    Status {
        /// The HTTP status.
        status: u16,
        /// `Retry-After` in seconds, when sent.
        retry_after: Option<u64>,
    },
    /// Sleeps this long before answering with the default completion (a
    /// hanging provider).
    Hang(Duration),
}

impl Answer {
    /// A completion of `t` with `prompt_tokens` 40 and `completion_tokens` 20.
    pub fn text(t: &str) -> Self {
        Self::Complete {
            text: t.to_owned(),
            prompt_tokens: 40,
            completion_tokens: 20,
        }
    }
}

/// What the handler shares with the test.
struct Shared {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    default: Answer,
}

/// An OpenAI-compatible server on 127.0.0.1 serving
/// `POST /v1/chat/completions`.
pub struct LlmServer {
    port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl LlmServer {
    /// Binds 127.0.0.1:0 and serves `POST /v1/chat/completions`.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared {
            received: Vec::new(),
            script: VecDeque::new(),
            default: Answer::text(DEFAULT_TEXT),
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(handle))
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { port, shared }
    }

    /// The base URL the suite is configured with: `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Queues answers, used in order by the next requests; when the queue is
    /// empty the default answer is used.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.lock().unwrap().script.extend(answers);
    }

    /// Replaces the default answer (initially `Answer::text("Hello from the model.")`).
    pub fn set_default(&self, answer: Answer) {
        self.shared.lock().unwrap().default = answer;
    }

    /// Every request received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }

    /// Waits (polling every 20 ms) until at least `n` requests arrived,
    /// panicking with a clear message after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "LLM server: expected at least {n} chat-completion request(s) within {timeout:?}, received {}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn handle(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let parsed = serde_json::from_slice::<Value>(&body);
    let (n, answer, default) = {
        let mut s = shared.lock().unwrap();
        s.received.push(Received {
            at,
            body: parsed.as_ref().cloned().unwrap_or(Value::Null),
            authorization,
        });
        let n = s.received.len();
        if parsed.is_err() {
            drop(s);
            return error(
                400,
                "We could not parse the JSON body of your request.",
                None,
            );
        }
        let answer = s.script.pop_front().unwrap_or_else(|| s.default.clone());
        (n, answer, s.default.clone())
    };
    let body = parsed.unwrap();
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match answer {
        Answer::Complete {
            text,
            prompt_tokens,
            completion_tokens,
        } => completion(n, &model, &text, prompt_tokens, completion_tokens),
        Answer::Status {
            status,
            retry_after,
        } => error(
            status,
            "The model provider answered with an error.",
            retry_after,
        ),
        Answer::Hang(duration) => {
            tokio::time::sleep(duration).await;
            // The current default when it is a completion, else the initial one.
            match default {
                Answer::Complete {
                    text,
                    prompt_tokens,
                    completion_tokens,
                } => completion(n, &model, &text, prompt_tokens, completion_tokens),
                _ => completion(n, &model, DEFAULT_TEXT, 40, 20),
            }
        }
    }
}

/// A 200 chat completion.
fn completion(
    n: usize,
    model: &str,
    text: &str,
    prompt_tokens: u32,
    completion_tokens: u32,
) -> Response {
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let body = json!({
        "id": format!("chatcmpl-{n}"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": null},
            "finish_reason": "stop",
            "logprobs": null
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": u64::from(prompt_tokens) + u64::from(completion_tokens)
        }
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// An OpenAI-style error answer with `status` (and `Retry-After` when given).
fn error(status: u16, message: &str, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    let kind = match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    };
    let body = json!({"error": {"message": message, "type": kind, "code": null}});
    let mut response = (status, Json(body)).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

//! The one error type of every HTTP API, rendered as RFC 9457 problem details.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::extract::FieldError;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error an API handler or middleware can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body or parameters failed validation (422), with the failing field paths.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// The request is malformed: bad JSON syntax, bad UTF-8, bad cursor (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No, malformed, unknown or revoked credentials (401).
    #[error("unauthorized")]
    Unauthorized,
    /// The key lacks the scope, or the resource belongs to another workspace (403).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Nothing with that id is visible to the caller (404).
    #[error("not found")]
    NotFound,
    /// The method is not allowed on the route (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request conflicts with the current state (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The body exceeds the configured limit (413).
    #[error("payload too large")]
    PayloadTooLarge,
    /// The body is not `application/json` (415).
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The key's rate limit is exhausted (429).
    #[error("rate limited")]
    RateLimited {
        /// When to try again.
        retry_after: Duration,
    },
    /// The service is at its concurrency bound or a dependency is down (503).
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Shown to the caller; must not leak internals.
        reason: &'static str,
        /// When to try again.
        retry_after: Duration,
    },
    /// Anything unexpected (500): opaque to the caller, logged once with its cause.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable identifier of the problem class.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short human summary of the class.
    pub title: &'static str,
    /// HTTP status code.
    pub status: u16,
    /// Details for this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field-level validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    /// Wraps any error as an opaque 500.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// A 422 for a single field.
    pub fn invalid(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(pointer, message)])
    }

    /// Status, stable slug and title of this error.
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Self::Validation(_) => (S::UNPROCESSABLE_ENTITY, "validation", "Validation failed"),
            Self::BadRequest(_) => (S::BAD_REQUEST, "bad-request", "Malformed request"),
            Self::Unauthorized => (
                S::UNAUTHORIZED,
                "unauthorized",
                "Missing or invalid API key",
            ),
            Self::Forbidden(_) => (S::FORBIDDEN, "forbidden", "Not allowed"),
            Self::NotFound => (S::NOT_FOUND, "not-found", "Not found"),
            Self::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::Conflict(_) => (S::CONFLICT, "conflict", "Conflict"),
            Self::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "payload-too-large", "Body too large"),
            Self::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Body must be application/json",
            ),
            Self::RateLimited { .. } => {
                (S::TOO_MANY_REQUESTS, "rate-limited", "Rate limit exceeded")
            }
            Self::Unavailable { .. } => (
                S::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
            ),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.parts();
        let detail = match self {
            Self::BadRequest(d) | Self::Forbidden(d) | Self::Conflict(d) => Some(d.clone()),
            Self::Unavailable { reason, .. } => Some((*reason).to_owned()),
            _ => None,
        };
        let errors = match self {
            Self::Validation(errors) => errors.clone(),
            _ => Vec::new(),
        };
        Problem {
            type_: format!("urn:suite:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, _) = self.parts();
        if let Self::Internal(err) = &self {
            tracing::error!(error = ?err, "request failed");
        }
        metrics::counter!(suite_telemetry::names::AGENT_ERRORS,
            "agent_type" => crate::middleware::service_label(), "error_type" => slug)
        .increment(1);
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        let retry = match &self {
            Self::RateLimited { retry_after } | Self::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        };
        if let Some(retry) = retry {
            let secs = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut => Self::Unavailable {
                reason: "database busy",
                retry_after: Duration::from_secs(1),
            },
            // Lost or refused connections, a restarting server, a lost
            // serialization race: the request was fine, try it again.
            e if suite_store::db::is_transient(e) => Self::Unavailable {
                reason: "database unavailable",
                retry_after: Duration::from_secs(1),
            },
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(format!(
                "already exists ({})",
                db.constraint().unwrap_or("unique")
            )),
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => Self::invalid(
                "",
                format!(
                    "refers to something that does not exist ({})",
                    db.constraint().unwrap_or("foreign key")
                ),
            ),
            sqlx::Error::Database(db) if db.is_check_violation() => Self::invalid(
                "",
                format!("violates {}", db.constraint().unwrap_or("a check")),
            ),
            _ => Self::Internal(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(err: sqlx::Error) -> (StatusCode, Option<HeaderValue>) {
        let response = ApiError::from(err).into_response();
        (
            response.status(),
            response.headers().get(header::RETRY_AFTER).cloned(),
        )
    }

    #[test]
    fn a_lost_or_busy_database_is_a_503_with_retry_after_and_a_bug_is_a_500() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        for err in [sqlx::Error::Io(reset), sqlx::Error::PoolTimedOut] {
            let (status, retry) = answer(err);
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(retry, Some(HeaderValue::from(1)));
        }
        let (status, retry) = answer(sqlx::Error::RowNotFound);
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(retry, None);
    }
}

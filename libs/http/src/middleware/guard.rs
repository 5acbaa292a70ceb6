//! Load shedding, timeouts and panics, answered as problem documents.

use std::any::Any;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use tower::BoxError;

use crate::problem::ApiError;

/// Maps errors of the shedding and timeout layers: overload → 503 +
/// `Retry-After` at once, timeout → 503, anything else → opaque 500.
pub async fn handle_error(err: BoxError) -> Response {
    overload_response(err)
}

fn overload_response(err: BoxError) -> Response {
    let reason = if err.is::<tower::load_shed::error::Overloaded>() {
        metrics::counter!(suite_telemetry::names::HTTP_REJECTED, "reason" => "overload")
            .increment(1);
        "the service is at capacity"
    } else if err.is::<tower::timeout::error::Elapsed>() {
        "the request timed out"
    } else {
        return ApiError::internal(anyhow::anyhow!("middleware: {err}")).into_response();
    };
    ApiError::Unavailable {
        reason,
        retry_after: Duration::from_secs(1),
    }
    .into_response()
}

/// A panicking handler becomes an opaque 500 problem; the panic is logged.
pub fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into_response()
}

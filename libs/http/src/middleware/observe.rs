//! A span and a latency sample per request.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::service_label;

/// Reads W3C trace context from HTTP headers.
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

pub(super) async fn observe(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let span = tracing::info_span!(
        "http.request",
        otel.kind = "server",
        http.method = %method,
        http.route = %route,
        request_id = %request_id,
        http.status = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&HeaderExtractor(req.headers()))
    });
    span.set_parent(parent);
    let response = next.run(req).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.status", status.as_u16());
    let elapsed = start.elapsed().as_secs_f64();
    metrics::histogram!(
        suite_telemetry::names::AGENT_REQUEST_DURATION,
        "agent_type" => service_label(),
        "method" => format!("{method} {route}"),
    )
    .record(elapsed);
    if status.is_server_error() {
        tracing::warn!(parent: &span, status = status.as_u16(), elapsed_ms = elapsed * 1e3, "request failed");
    } else {
        tracing::debug!(parent: &span, status = status.as_u16(), elapsed_ms = elapsed * 1e3, "request served");
    }
    response
}

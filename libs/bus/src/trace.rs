//! W3C trace context carried in record headers.
//!
//! Injection and extraction go through the globally installed propagator
//! (set up by `suite-telemetry`); when that propagator produces no
//! `traceparent` (none installed), the W3C trace-context format is used
//! directly so traces still cross Kafka.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::headers::{self, HeaderList};

/// Header name of the W3C trace parent.
pub const TRACEPARENT: &str = "traceparent";

struct HeaderInjector<'a>(&'a mut HeaderList);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        headers::set(self.0, key, value.into_bytes());
    }
}

struct HeaderExtractor<'a>(&'a [(String, Vec<u8>)]);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// Adds the trace context of the current `tracing` span to `headers`, unless
/// they already carry a `traceparent` or there is no active trace.
pub(crate) fn inject_current(headers: &mut HeaderList) {
    if headers::find(headers, TRACEPARENT).is_some() {
        return;
    }
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return;
    }
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeaderInjector(headers));
    });
    if headers::find(headers, TRACEPARENT).is_none() {
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
    }
}

/// The `traceparent` of the current `tracing` span, if a trace is active.
pub fn current_traceparent() -> Option<String> {
    let mut list = HeaderList::new();
    inject_current(&mut list);
    headers::find(&list, TRACEPARENT).and_then(|v| String::from_utf8(v.to_vec()).ok())
}

/// Makes `span` a child of the trace context `traceparent` (a W3C
/// `traceparent` value stored earlier, e.g. with a delayed step), so work
/// done long after a record was consumed joins the trace it belongs to.
/// Returns whether `traceparent` was valid; an invalid one leaves `span`
/// where it was.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) -> bool {
    let list: HeaderList = vec![(TRACEPARENT.to_owned(), traceparent.as_bytes().to_vec())];
    let cx = extract(&list);
    if !cx.span().span_context().is_valid() {
        return false;
    }
    span.set_parent(cx);
    true
}

/// [`continue_trace`], plus a link from `span` to the current span: for
/// work reported in a trace of its own (a provider's callback) that belongs
/// to an earlier one (the lead's). Returns whether `traceparent` was valid.
pub fn continue_trace_linked(span: &tracing::Span, traceparent: &str) -> bool {
    if !continue_trace(span, traceparent) {
        return false;
    }
    let current = tracing::Span::current().context();
    let link = current.span().span_context().clone();
    if link.is_valid() {
        span.add_link(link);
    }
    true
}

/// The remote parent context carried by `headers` (empty when there is none).
pub(crate) fn extract(headers: &[(String, Vec<u8>)]) -> Context {
    let cx =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    if cx.span().span_context().is_valid() {
        return cx;
    }
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

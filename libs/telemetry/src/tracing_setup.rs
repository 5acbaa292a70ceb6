//! The `tracing` subscriber: structured logs plus an OpenTelemetry layer.

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use suite_config::Settings;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

use crate::TelemetryError;

/// Shuts the trace pipeline down (flushing pending spans) when dropped.
pub struct TracingGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            if let Err(err) = provider.shutdown() {
                eprintln!("trace provider shutdown: {err}");
            }
        }
    }
}

/// Installs W3C trace-context propagation (idempotent). Called by [`init_tracing`];
/// exposed for tests that drive libraries without a full service.
pub fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
}

/// Installs the global subscriber once per process; later calls are no-ops
/// (tests start several apps in one process).
pub fn init_tracing(settings: &Settings) -> Result<TracingGuard, TelemetryError> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(TracingGuard { provider: None });
    }
    install_propagator();
    let filter = EnvFilter::try_new(&settings.telemetry.log_level)
        .map_err(|e| TelemetryError::Filter(e.to_string()))?;
    let provider = tracer_provider(settings)?;
    let tracer = provider.tracer(settings.service.clone());
    opentelemetry::global::set_tracer_provider(provider.clone());

    let logs = if settings.telemetry.log_format == "json" {
        fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    } else {
        fmt::layer().with_test_writer().boxed()
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    let _ = INSTALLED.set(());
    Ok(TracingGuard {
        provider: Some(provider),
    })
}

/// Span contexts are always created so trace ids flow through Kafka headers
/// and logs; spans leave the process only when an OTLP endpoint is set.
fn tracer_provider(settings: &Settings) -> Result<SdkTracerProvider, TelemetryError> {
    let t = &settings.telemetry;
    let mut builder = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            t.trace_sample_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(settings.service.clone())
                .build(),
        );
    if !t.otlp_endpoint.is_empty() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(&t.otlp_endpoint)
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

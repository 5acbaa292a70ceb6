//! Logs, traces and metrics, set up once per process and returned as values.
//!
//! - JSON logs through `tracing` (or `pretty` for humans).
//! - OpenTelemetry traces: span contexts always exist (so `traceparent` can be
//!   carried across Kafka), exported over OTLP only when an endpoint is set.
//! - Prometheus metrics with the seed names ([`names`]), rendered by
//!   [`Telemetry::render_metrics`].

pub mod metrics_setup;
pub mod names;
mod tracing_setup;

pub use metrics_setup::{install_metrics, MetricsHandle};
pub use tracing_setup::{init_tracing, install_propagator, TracingGuard};

use suite_config::Settings;

/// Errors raised while setting telemetry up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter directive could not be parsed.
    #[error("configuration: SUITE__TELEMETRY__LOG_LEVEL: {0}")]
    Filter(String),
    /// The OTLP exporter could not be built.
    #[error("configuration: SUITE__TELEMETRY__OTLP_ENDPOINT: {0}")]
    Exporter(String),
    /// A global subscriber was already installed.
    #[error("tracing subscriber already installed")]
    AlreadyInstalled,
}

/// Everything telemetry of one process: keep it alive until shutdown.
pub struct Telemetry {
    /// Flushes and shuts the trace pipeline down when dropped.
    pub tracing: TracingGuard,
    /// Renders the Prometheus exposition.
    pub metrics: MetricsHandle,
}

impl Telemetry {
    /// Installs logs, traces and metrics for the process described by `settings`.
    pub fn init(settings: &Settings) -> Result<Self, TelemetryError> {
        let tracing = init_tracing(settings)?;
        let metrics = install_metrics();
        Ok(Self { tracing, metrics })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render_metrics(&self) -> String {
        self.metrics.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_with_seed_names_after_use() {
        let handle = install_metrics();
        metrics::histogram!(names::AGENT_REQUEST_DURATION, "agent_type" => "lead-triage", "method" => "GET /x")
            .record(0.003);
        metrics::counter!(names::AGENT_ERRORS, "agent_type" => "lead-triage", "error_type" => "validation")
            .increment(1);
        let text = handle.render();
        assert!(
            text.contains("agent_request_duration_seconds_bucket"),
            "{text}"
        );
        assert!(
            text.contains(
                r#"agent_errors_total{agent_type="lead-triage",error_type="validation"} 1"#
            ),
            "{text}"
        );
        // A second install shares the recorder instead of failing.
        assert!(install_metrics().render().contains("agent_errors_total"));
    }

    #[test]
    fn tracing_installs_once_and_spans_get_trace_ids() {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let figment = suite_config::figment("test-svc", 9999)
            .merge(figment_default("telemetry.log_format", "pretty"));
        let settings = suite_config::from_figment(&figment).expect("settings");
        let _guard = init_tracing(&settings).expect("first install");
        let _second = init_tracing(&settings).expect("second install is a no-op");
        let span = tracing::info_span!("work");
        let cx = span.context();
        assert!(cx.span().span_context().is_valid());
    }

    fn figment_default(key: &str, value: &str) -> suite_config_figment::Serialized<String> {
        suite_config_figment::Serialized::default(key, value.to_owned())
    }
    use figment::providers as suite_config_figment;
}

//! The Prometheus recorder. `metrics` has one recorder per process, so the
//! handle is created once and shared by every app started in the process
//! (tests start several).

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::names;

/// Latency buckets (seconds) tuned for a p99 target of a few milliseconds to 150 ms.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Renders the Prometheus exposition.
#[derive(Clone)]
pub struct MetricsHandle {
    inner: Option<PrometheusHandle>,
}

impl MetricsHandle {
    /// The exposition text (empty if another recorder owns the process).
    pub fn render(&self) -> String {
        self.inner
            .as_ref()
            .map(PrometheusHandle::render)
            .unwrap_or_default()
    }
}

/// Installs the process-wide Prometheus recorder on first call; later calls share it.
pub fn install_metrics() -> MetricsHandle {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    let inner = HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(names::AGENT_REQUEST_DURATION.to_owned()),
                    LATENCY_BUCKETS,
                )
                .and_then(|b| b.install_recorder())
                .ok()?;
            names::describe();
            spawn_upkeep(handle.clone());
            Some(handle)
        })
        .clone();
    MetricsHandle { inner }
}

/// Histograms buffer samples until upkeep folds them in; without it memory grows.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawn = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(5));
            handle.run_upkeep();
        });
    if let Err(err) = spawn {
        tracing::warn!(error = %err, "metrics upkeep thread not started");
    }
}

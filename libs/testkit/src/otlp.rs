//! An OTLP/gRPC trace receiver for tests: the services under test export
//! their spans to [`OtlpReceiver::endpoint`] (as they would to a collector
//! or Jaeger), and the test reads what arrived with [`OtlpReceiver::spans`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use tokio::sync::oneshot;

/// One span as a service exported it.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of the exporting process.
    pub service: String,
    /// The span's name.
    pub name: String,
    /// Trace id, lower-case hex.
    pub trace_id: String,
    /// Span id, lower-case hex.
    pub span_id: String,
    /// Parent span id, lower-case hex (empty for a root span).
    pub parent_span_id: String,
    /// String, integer and boolean attributes, as text.
    pub attributes: HashMap<String, String>,
    /// Trace ids of the spans it links to.
    pub links: Vec<String>,
}

impl ReceivedSpan {
    /// The attribute `key`, if the span has it.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| text_attributes(&r.attributes).remove("service.name"))
                .unwrap_or_default();
            for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
                received.push(ReceivedSpan {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_span_id: hex::encode(&span.parent_span_id),
                    attributes: text_attributes(&span.attributes),
                    links: span
                        .links
                        .iter()
                        .map(|l| hex::encode(&l.trace_id))
                        .collect(),
                });
            }
        }
        self.spans
            .lock()
            .map_err(|_| tonic::Status::internal("poisoned"))?
            .extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn text_attributes(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => s.clone(),
                Value::IntValue(i) => i.to_string(),
                Value::BoolValue(b) => b.to_string(),
                Value::DoubleValue(d) => d.to_string(),
                _ => return None,
            };
            Some((kv.key.clone(), value))
        })
        .collect()
}

/// A running receiver; stops when dropped.
pub struct OtlpReceiver {
    /// The OTLP/gRPC endpoint to export to (`http://127.0.0.1:<port>`).
    pub endpoint: String,
    collector: Collector,
    _stop: oneshot::Sender<()>,
}

impl OtlpReceiver {
    /// Starts a receiver on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the OTLP receiver")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let collector = Collector::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            );
        tokio::spawn(async move {
            if let Err(e) = server.await {
                eprintln!("OTLP receiver: {e}");
            }
        });
        Ok(Self {
            endpoint,
            collector,
            _stop: stop,
        })
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.collector
            .spans
            .lock()
            .map(|spans| spans.clone())
            .unwrap_or_default()
    }
}

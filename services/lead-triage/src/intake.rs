//! The `leads.inbound` consumer. Accepts binary-mode CloudEvents,
//! structured-mode CloudEvents and plain JSON leads; the workspace comes from
//! a `workspace_id` field of the lead or the `workspaceid` CloudEvents
//! extension. Anything that cannot become a lead is dead-lettered with the
//! reason, and never stalls the partition.

use sha2::{Digest as _, Sha256};
use suite_bus::{CloudEvent, CloudEventError, Handler, HandlerError, Record};
use uuid::Uuid;

use crate::api::dto::LeadInput;
use crate::state::AppState;
use crate::store::writer::WriteItem;

/// Consumer name in `processed_events`.
pub const CONSUMER: &str = "lead-triage.inbound";

/// Handles `leads.inbound` records.
pub struct InboundHandler {
    state: AppState,
}

impl InboundHandler {
    /// A handler writing through `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// A decoded inbound lead.
#[derive(Debug)]
pub struct Inbound {
    /// Dedupe key: the CloudEvent id, or for plain JSON the record's place and
    /// a digest of its body (see [`plain_event_id`]).
    pub event_id: String,
    /// Target workspace.
    pub workspace: Uuid,
    /// The lead.
    pub lead: LeadInput,
    /// Correlation id carried by the event, if any.
    pub correlation_id: Option<String>,
}

fn invalid(message: impl std::fmt::Display) -> HandlerError {
    HandlerError::permanent("invalid_lead", message)
}

/// Decodes any of the three accepted forms.
pub fn decode(record: &Record) -> Result<Inbound, HandlerError> {
    let (event_id, data, extension_ws, correlation_id) = match record.cloud_event() {
        Ok(event) => (
            event.id.clone(),
            event.data.clone(),
            workspace_extension(record, &event),
            event.correlation_id.clone(),
        ),
        Err(CloudEventError::NotACloudEvent) => {
            let data: serde_json::Value = serde_json::from_slice(record.body())
                .map_err(|e| invalid(format!("body is not JSON: {e}")))?;
            (
                plain_event_id(record),
                data,
                None,
                record.header_str("correlationid").map(str::to_owned),
            )
        }
        Err(e) => return Err(invalid(format!("malformed CloudEvent: {e}"))),
    };
    let serde_json::Value::Object(mut fields) = data else {
        return Err(invalid("the lead must be a JSON object"));
    };
    let body_ws = fields.remove("workspace_id");
    let workspace = match (body_ws, extension_ws) {
        (Some(serde_json::Value::String(s)), _) => s,
        (None, Some(s)) => s,
        (Some(_), _) => return Err(invalid("workspace_id must be a string")),
        (None, None) => return Err(invalid("no workspace_id field or workspaceid extension")),
    };
    let workspace: Uuid = workspace
        .parse()
        .map_err(|_| invalid("workspace_id is not a UUID"))?;
    let lead: LeadInput = suite_http::extract::from_value(serde_json::Value::Object(fields), "")
        .map_err(|errors| invalid(describe(&errors)))?;
    let correlation_id = correlation_id.filter(|c| suite_domain::CorrelationId::parse(c).is_ok());
    Ok(Inbound {
        event_id,
        workspace,
        lead,
        correlation_id,
    })
}

/// The dedupe key of a plain JSON record, which carries no id of its own:
/// `topic/partition/offset/` and the first 8 bytes of the body's SHA-256 in
/// hex. A redelivery (same place, same bytes) is recognised; a different lead
/// at an offset that an earlier incarnation of the topic used (a broker
/// reset, a topic deleted and created again, a move to another cluster) is
/// not mistaken for it, as it would be by its place alone.
pub fn plain_event_id(record: &Record) -> String {
    let digest = Sha256::digest(record.body());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    format!(
        "{}/{}/{}/{:016x}",
        record.topic,
        record.partition,
        record.offset,
        u64::from_be_bytes(head)
    )
}

fn workspace_extension(record: &Record, _event: &CloudEvent) -> Option<String> {
    record.header_str("ce_workspaceid").map(str::to_owned)
}

fn describe(errors: &[suite_http::FieldError]) -> String {
    errors
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                if e.pointer.is_empty() {
                    "/"
                } else {
                    &e.pointer
                },
                e.detail
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Handler for InboundHandler {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let inbound = decode(record)?;
        let lead = inbound
            .lead
            .validate_into("")
            .map_err(|e| invalid(describe(&e)))?;
        let state = &self.state;
        let model = state
            .models
            .current(inbound.workspace)
            .await
            .map_err(|e| HandlerError::transient(format!("{e:?}")))?;
        let mut tx = state.platform.db.primary().begin().await?;
        let known: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = $1)")
                .bind(inbound.workspace)
                .fetch_one(&mut *tx)
                .await?;
        if !known {
            return Err(HandlerError::permanent(
                "unknown_workspace",
                "no such workspace",
            ));
        }
        if !suite_bus::processed::first_time(&mut tx, CONSUMER, &inbound.event_id).await? {
            return Ok(());
        }
        let item = WriteItem {
            lead,
            correlation_id: inbound.correlation_id,
            traceparent: None,
        };
        let written = state
            .writer()
            .write(&mut tx, inbound.workspace, &model, vec![item])
            .await?;
        tx.commit().await?;
        for w in &written {
            if w.outcome == crate::store::writer::Outcome::Merged {
                state.invalidate(inbound.workspace, &[w.lead.id]).await;
            }
            tracing::info!(
                lead_id = %w.lead.id,
                workspace_id = %inbound.workspace,
                category = %w.lead.category,
                "inbound lead triaged"
            );
        }
        Ok(())
    }
}

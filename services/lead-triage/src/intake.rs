//! The `leads.inbound` consumer. Accepts binary-mode CloudEvents,
//! structured-mode CloudEvents and plain JSON leads; the workspace comes from
//! a `workspace_id` field of the lead or the `workspaceid` CloudEvents
//! extension. Anything that cannot become a lead is dead-lettered with the
//! reason, and never stalls the partition.

use std::collections::HashSet;
use std::sync::RwLock;

use sha2::{Digest as _, Sha256};
use suite_bus::{CloudEvent, CloudEventError, Handler, HandlerError, Record};
use uuid::Uuid;

use crate::api::dto::LeadInput;
use crate::group_commit::{Origin, Post, Posted};
use crate::state::AppState;
use crate::store::writer::WriteItem;

/// Consumer name in `processed_events`.
pub const CONSUMER: &str = "lead-triage.inbound";

/// Most workspaces an inbound handler remembers as existing.
pub const KNOWN_WORKSPACES: usize = 10_000;

/// Handles `leads.inbound` records: decodes and validates each, then hands
/// it to the group commit shared with single posts ([`crate::group_commit`]),
/// which writes and deduplicates whatever queued together as one set.
pub struct InboundHandler {
    state: AppState,
    known: RwLock<HashSet<Uuid>>,
}

impl InboundHandler {
    /// A handler writing through `state`.
    pub fn new(state: AppState) -> Self {
        Self {
            state,
            known: RwLock::new(HashSet::new()),
        }
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

/// Longest event id accepted (it is stored in `processed_events`).
const MAX_EVENT_ID_LEN: usize = 512;

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
    if event_id.is_empty() || event_id.len() > MAX_EVENT_ID_LEN || event_id.contains('\0') {
        return Err(invalid(format!(
            "the event id must be 1 to {MAX_EVENT_ID_LEN} bytes without U+0000"
        )));
    }
    let mut lead: LeadInput =
        suite_http::extract::from_value(serde_json::Value::Object(fields), "")
            .map_err(|errors| invalid(describe(&errors)))?;
    lead.trim_codes();
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

impl InboundHandler {
    /// Whether `workspace` exists. Workspaces are never deleted, so a known
    /// one is remembered for the life of the process (up to
    /// [`KNOWN_WORKSPACES`] of them); an unknown one is asked again each time,
    /// as it may be created later.
    async fn workspace_exists(&self, workspace: Uuid) -> Result<bool, HandlerError> {
        if self.known().contains(&workspace) {
            return Ok(true);
        }
        let exists =
            suite_http::tenancy::workspace_exists(self.state.platform.db.primary(), workspace)
                .await?;
        if exists {
            let mut known = self
                .known
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if known.len() >= KNOWN_WORKSPACES {
                known.clear();
            }
            known.insert(workspace);
        }
        Ok(exists)
    }

    fn known(&self) -> std::sync::RwLockReadGuard<'_, HashSet<Uuid>> {
        self.known
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Handler for InboundHandler {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let inbound = decode(record)?;
        let lead = inbound
            .lead
            .validate_into("")
            .map_err(|e| invalid(describe(&e)))?;
        if !self.workspace_exists(inbound.workspace).await? {
            return Err(HandlerError::permanent(
                "unknown_workspace",
                "no such workspace",
            ));
        }
        let post = Post {
            workspace: inbound.workspace,
            origin: Origin::Event {
                id: inbound.event_id,
            },
            item: WriteItem {
                lead,
                correlation_id: inbound.correlation_id,
                // the record's span, so the triage event continues its trace
                traceparent: suite_bus::current_traceparent(),
            },
        };
        let posted = self
            .state
            .posts()
            .submit(post)
            .await
            .map_err(|e| HandlerError::transient(format!("{e:?}")))?;
        match posted {
            Posted::Written(_, body) => tracing::debug!(
                lead_id = body["id"].as_str().unwrap_or_default(),
                workspace_id = %inbound.workspace,
                category = body["category"].as_str().unwrap_or_default(),
                "inbound lead triaged"
            ),
            Posted::Duplicate => tracing::debug!(
                workspace_id = %inbound.workspace,
                "inbound lead seen before; nothing written"
            ),
            Posted::Replayed(..) | Posted::KeyMismatch => {
                return Err(HandlerError::transient(
                    "an inbound record was answered as an idempotent request",
                ))
            }
        }
        Ok(())
    }

    /// Records hand their leads to the group commit, which writes everything
    /// queued in one transaction: records in flight share its connections,
    /// and bounding them would only cap the group size.
    fn connection_per_record(&self) -> bool {
        false
    }
}

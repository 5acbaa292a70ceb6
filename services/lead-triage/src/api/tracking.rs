//! `POST /v1/track` and `POST /v1/identify`: Segment-style behavioural events
//! and trait updates, single or `{"batch": [...]}`, idempotent by message id.
//! Each call rescores the leads it touched; a category change emits a new
//! `lead.triaged.v1`.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json as SqlJson;
use suite_http::{ApiError, FieldError, Principal, ValidJson, Validate};
use utoipa::ToSchema;
use uuid::Uuid;

use super::dto::{LeadFields, LeadInput};
use crate::state::AppState;
use crate::store::tracking::{self, Incoming, LeadRef};

/// Most events per call.
pub const MAX_BATCH: usize = 1_000;

/// The tracking routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/track", post(track))
        .route("/v1/identify", post(identify))
}

/// A behavioural event (`track`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackEvent {
    /// Unique per event, 1 to 200 characters, not blank; a repeat is ignored.
    #[serde(alias = "messageId")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00]*[^\\x00\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00]*$"
    )]
    pub message_id: String,
    /// The lead, by id …
    #[serde(default, alias = "leadId")]
    pub lead_id: Option<Uuid>,
    /// … or by email …
    #[serde(default)]
    pub email: Option<String>,
    /// … or by external id (Segment's `userId`).
    #[serde(default, alias = "userId")]
    pub user_id: Option<String>,
    /// Event name, e.g. `Pricing Page Viewed`, 1 to 200 characters, not
    /// blank; weighted by the scoring model.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00]*[^\\x00\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00]*$"
    )]
    pub event: String,
    /// Event properties (kept, not scored).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
    /// When it happened (default: now; a time in the future is taken as
    /// now); decay is applied from this time.
    #[serde(default)]
    pub timestamp: Option<DateTime<Utc>>,
}

/// A trait update (`identify`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyCall {
    /// Unique per call, 1 to 200 characters, not blank; a repeat is ignored.
    #[serde(alias = "messageId")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00]*[^\\x00\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00]*$"
    )]
    pub message_id: String,
    /// The lead, by id …
    #[serde(default, alias = "leadId")]
    pub lead_id: Option<Uuid>,
    /// … or by email …
    #[serde(default)]
    pub email: Option<String>,
    /// … or by external id (Segment's `userId`).
    #[serde(default, alias = "userId")]
    pub user_id: Option<String>,
    /// Fields to update on the lead (any lead field but `email`).
    #[schema(schema_with = super::schemas::traits_ref)]
    #[serde(deserialize_with = "suite_http::extract::object")]
    pub traits: LeadInput,
    /// When the traits were observed (default: now; a time in the future is
    /// taken as now).
    #[serde(default)]
    pub timestamp: Option<DateTime<Utc>>,
}

/// A single call or a batch, as parsed (the documents describe it as
/// [`TrackCalls`] and [`IdentifyCalls`]).
#[derive(Debug, Deserialize)]
pub struct Calls {
    /// Present for a batch: up to 1,000 calls.
    #[serde(default)]
    pub batch: Option<Vec<serde_json::Value>>,
    /// The single call's own fields, when not a batch.
    #[serde(flatten)]
    pub single: serde_json::Map<String, serde_json::Value>,
}

/// Body of `POST /v1/track`: one event, or `{"batch": [...]}`.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes the body for the document; `Calls` parses it
pub enum TrackCalls {
    /// One event.
    Single(TrackEvent),
    /// Several events.
    Batch(CallBatch),
}

/// Body of `POST /v1/identify`: one call, or `{"batch": [...]}`.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes the body for the document; `Calls` parses it
pub enum IdentifyCalls {
    /// One call.
    Single(Box<IdentifyCall>),
    /// Several calls.
    Batch(CallBatch),
}

/// A batch of calls: each is validated on its own and answered in
/// `results` (`rejected` with its errors if invalid), so any item is
/// accepted here.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the body for the document; `Calls` parses it
pub struct CallBatch {
    /// 1 to 1,000 calls.
    #[schema(value_type = Vec<serde_json::Value>, min_items = 1, max_items = 1000)]
    batch: Vec<serde_json::Value>,
}

impl Validate for Calls {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        match &self.batch {
            Some(_) if !self.single.is_empty() => {
                Err(vec![FieldError::new("", "a batch holds only `batch`")])
            }
            Some(b) if b.is_empty() || b.len() > MAX_BATCH => Err(vec![FieldError::new(
                "/batch",
                format!("must hold 1 to {MAX_BATCH} calls"),
            )]),
            _ => Ok(()),
        }
    }
}

/// Result for one call, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallResult {
    /// Position in the batch (0 for a single call).
    pub index: usize,
    /// `applied`, `duplicate` (message id seen before) or `rejected`.
    pub status: &'static str,
    /// The lead it applied to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<Uuid>,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Response of `track` and `identify`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallsResponse {
    /// One result per call.
    pub results: Vec<CallResult>,
}

/// Record behavioural events and rescore the leads.
#[utoipa::path(post, path = "/v1/track", tag = "tracking", request_body = TrackCalls,
    responses((status = 200, body = CallsResponse), (status = 404, description = "Single call for an unknown lead"), (status = 422)))]
async fn track(
    State(state): State<AppState>,
    principal: Principal,
    ValidJson(calls): ValidJson<Calls>,
) -> Result<Json<CallsResponse>, ApiError> {
    handle(state, principal, calls, |value, prefix| {
        let call: TrackEvent = suite_http::extract::from_value(value, prefix)?;
        let reference = lead_ref(call.lead_id, call.email, call.user_id, prefix)?;
        check_text(&call.message_id, &format!("{prefix}/message_id"), 200)?;
        check_text(&call.event, &format!("{prefix}/event"), 200)?;
        let at = occurred_at(call.timestamp);
        Ok(Incoming {
            message_id: call.message_id,
            lead: reference,
            kind: "track",
            name: call.event,
            properties: SqlJson(serde_json::Value::Object(
                call.properties.unwrap_or_default(),
            )),
            occurred_at: at,
            traits: None,
        })
    })
    .await
}

/// Update lead traits and rescore the leads.
#[utoipa::path(post, path = "/v1/identify", tag = "tracking", request_body = IdentifyCalls,
    responses((status = 200, body = CallsResponse), (status = 404, description = "Single call for an unknown lead"), (status = 422)))]
async fn identify(
    State(state): State<AppState>,
    principal: Principal,
    ValidJson(calls): ValidJson<Calls>,
) -> Result<Json<CallsResponse>, ApiError> {
    handle(state, principal, calls, |value, prefix| {
        let call: IdentifyCall = suite_http::extract::from_value(value, prefix)?;
        let reference = lead_ref(call.lead_id, call.email, call.user_id, prefix)?;
        check_text(&call.message_id, &format!("{prefix}/message_id"), 200)?;
        let at = occurred_at(call.timestamp);
        let traits: LeadFields = call.traits.validate_traits(&format!("{prefix}/traits"))?;
        Ok(Incoming {
            message_id: call.message_id,
            lead: reference,
            kind: "identify",
            name: "identify".to_owned(),
            properties: SqlJson(serde_json::Value::Object(serde_json::Map::new())),
            occurred_at: at,
            traits: Some(traits),
        })
    })
    .await
}

type Parse = fn(serde_json::Value, &str) -> Result<Incoming, Vec<FieldError>>;

async fn handle(
    state: AppState,
    principal: Principal,
    calls: Calls,
    parse: Parse,
) -> Result<Json<CallsResponse>, ApiError> {
    let single = calls.batch.is_none();
    let (values, prefix_of): (Vec<serde_json::Value>, fn(usize) -> String) = match calls.batch {
        Some(batch) => (batch, |i| format!("/batch/{i}")),
        None => (vec![serde_json::Value::Object(calls.single)], |_| {
            String::new()
        }),
    };
    let mut results = Vec::with_capacity(values.len());
    let mut incoming = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        match parse(value, &prefix_of(index)) {
            Ok(call) => {
                incoming.push((index, call));
                results.push(CallResult {
                    index,
                    status: "pending",
                    lead_id: None,
                    errors: Vec::new(),
                });
            }
            Err(errors) if single => return Err(ApiError::Validation(errors)),
            Err(errors) => results.push(CallResult {
                index,
                status: "rejected",
                lead_id: None,
                errors,
            }),
        }
    }
    if !incoming.is_empty() {
        let ws = principal.workspace_id;
        let model = state.models.current(ws).await?;
        let mut tx = state.platform.db.primary().begin().await?;
        let outcomes = tracking::apply(&mut tx, state.writer(), ws, &model, incoming).await?;
        tx.commit().await?;
        let mut touched = Vec::new();
        for (index, outcome) in outcomes {
            let result = &mut results[index];
            match outcome {
                tracking::Outcome::Applied(id) => {
                    touched.push(id);
                    result.status = "applied";
                    result.lead_id = Some(id);
                }
                tracking::Outcome::Duplicate => result.status = "duplicate",
                tracking::Outcome::UnknownLead => {
                    if single {
                        return Err(ApiError::NotFound);
                    }
                    result.status = "rejected";
                    result.errors = vec![FieldError::new(
                        prefix_of(index),
                        "no such lead in this workspace",
                    )];
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        state.after_write(&principal, &touched).await;
    }
    Ok(Json(CallsResponse { results }))
}

fn lead_ref(
    id: Option<Uuid>,
    email: Option<String>,
    user_id: Option<String>,
    prefix: &str,
) -> Result<LeadRef, Vec<FieldError>> {
    match (id, email, user_id) {
        (Some(id), None, None) => Ok(LeadRef::Id(id)),
        (None, Some(email), None) => suite_domain::Email::parse(&email)
            .map(|e| LeadRef::Email(e.match_key()))
            .map_err(|e| vec![FieldError::new(format!("{prefix}/email"), e.to_string())]),
        (None, None, Some(user)) if !user.trim().is_empty() => {
            Ok(LeadRef::External(user.trim().to_owned()))
        }
        _ => Err(vec![FieldError::new(
            prefix.to_owned(),
            "name the lead with exactly one of lead_id, email or user_id",
        )]),
    }
}

fn check_text(value: &str, pointer: &str, max: usize) -> Result<(), Vec<FieldError>> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(vec![FieldError::new(
            pointer,
            format!("must be 1 to {max} characters"),
        )]);
    }
    Ok(())
}

/// When a call happened: its timestamp, or now if it has none or names a
/// time still to come (a sender's clock running ahead), so that decay never
/// starts in the future.
fn occurred_at(at: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let now = Utc::now();
    at.map_or(now, |t| t.min(now))
}

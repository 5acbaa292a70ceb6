//! `/v1/leads`: create (single and batch), read, list, score history.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use suite_http::{
    cursor, ApiError, ApiPath, ApiQuery, FieldError, Principal, ValidJson, ValidJsonBytes, Validate,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::LeadInput;
use crate::group_commit::{Origin, Post, Posted};
use crate::state::AppState;
use crate::store::idempotency;
use crate::store::reads::{self, ListFilter, Position, ScoreEntry};
use crate::store::view::LeadView;
use crate::store::writer::{Outcome, WriteItem};

/// Most leads accepted by one batch call.
pub const MAX_BATCH: usize = 1_000;

/// The leads routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/leads", post(create).get(list))
        .route("/v1/leads/batch", post(create_batch))
        .route("/v1/leads/{id}", get(get_one))
        .route("/v1/leads/{id}/score-history", get(score_history))
}

impl Validate for LeadInput {}

/// A created or merged lead.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LeadResponse {
    /// `created`, or `merged` into an existing lead with the same email or external id.
    pub outcome: Outcome,
    /// The lead after the write.
    #[serde(flatten)]
    pub lead: LeadView,
}

/// Create one lead; a lead with the same email (or external id) in the workspace is merged instead.
#[utoipa::path(post, path = "/v1/leads", tag = "leads", request_body = LeadInput,
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$", description = "Replays the first response for the same key and body (1 to 255 visible ASCII characters)"),
           ("X-Correlation-Id" = Option<String>, Header, pattern = "^[!-~]{1,128}$", description = "Follows the lead through all agents (1 to 128 visible ASCII characters)")),
    responses((status = 201, body = LeadResponse, description = "Created"),
              (status = 200, body = LeadResponse, description = "Merged into an existing lead"),
              (status = 422, description = "Invalid lead, or Idempotency-Key reused with a different body")))]
async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: ValidJsonBytes<LeadInput>,
) -> Result<Response, ApiError> {
    let lead = body.value.validate_into("").map_err(ApiError::Validation)?;
    let correlation_id = correlation_header(&headers)?;
    let key = idempotency_key(&headers)?;
    let post = Post {
        workspace: principal.workspace_id,
        origin: Origin::Request {
            client: principal.client_id(),
            key: key.map(|key| (key, idempotency::body_hash(&body.bytes))),
        },
        item: WriteItem {
            lead,
            correlation_id,
            traceparent: suite_bus::current_traceparent(),
        },
    };
    match state.posts().submit(post).await? {
        Posted::Written(status, body) | Posted::Replayed(status, body) => Ok(replay(status, body)),
        Posted::KeyMismatch => Err(ApiError::invalid(
            "",
            "this Idempotency-Key was used with a different request body",
        )),
        Posted::Duplicate => Err(ApiError::internal(anyhow::anyhow!(
            "a request was answered as a duplicate event"
        ))),
    }
}

fn replay(status: StatusCode, body: serde_json::Value) -> Response {
    let location = body["id"].as_str().map(|id| format!("/v1/leads/{id}"));
    let mut response = (status, Json(body)).into_response();
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or("");
    if key.is_empty()
        || key.len() > idempotency::MAX_KEY_LEN
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::BadRequest(format!(
            "Idempotency-Key must be 1 to {} visible ASCII characters",
            idempotency::MAX_KEY_LEN
        )));
    }
    Ok(Some(key.to_owned()))
}

fn correlation_header(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("x-correlation-id") else {
        return Ok(None);
    };
    let parsed = value
        .to_str()
        .ok()
        .and_then(|s| suite_domain::CorrelationId::parse(s).ok())
        .ok_or_else(|| {
            ApiError::BadRequest(
                "X-Correlation-Id must be 1 to 128 visible ASCII characters".into(),
            )
        })?;
    Ok(Some(parsed.as_str().to_owned()))
}

/// Body of `POST /v1/leads/batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 1,000 leads, each a `LeadInput`. Each is validated on its own
    /// and answered in `results` (`rejected` with its errors if invalid), so
    /// any item is accepted here.
    #[schema(value_type = Vec<serde_json::Value>, min_items = 1, max_items = 1000)]
    pub leads: Vec<serde_json::Value>,
}

impl Validate for BatchRequest {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        if self.leads.is_empty() || self.leads.len() > MAX_BATCH {
            return Err(vec![FieldError::new(
                "/leads",
                format!("must hold 1 to {MAX_BATCH} leads"),
            )]);
        }
        Ok(())
    }
}

/// The result for one item of a batch, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// Position in the request.
    pub index: usize,
    /// `created`, `merged` or `rejected`.
    pub status: &'static str,
    /// The lead, unless rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead: Option<LeadView>,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Response of `POST /v1/leads/batch`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// Leads created.
    pub created: usize,
    /// Leads merged into existing ones.
    pub merged: usize,
    /// Items rejected.
    pub rejected: usize,
    /// One result per item, in request order.
    pub results: Vec<BatchItem>,
}

/// Create or merge up to 1,000 leads in one transaction; invalid items are reported, valid ones stored.
#[utoipa::path(post, path = "/v1/leads/batch", tag = "leads", request_body = BatchRequest,
    params(("X-Correlation-Id" = Option<String>, Header, pattern = "^[!-~]{1,128}$", description = "Follows the batch's leads through all agents (1 to 128 visible ASCII characters)")),
    responses((status = 200, body = BatchResponse), (status = 422, description = "Not a batch, or more than 1,000 items")))]
async fn create_batch(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    ValidJson(batch): ValidJson<BatchRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    let correlation_id = correlation_header(&headers)?;
    // A batch's leads are spans of the request's trace (one trace per batch).
    let traceparent = suite_bus::current_traceparent();
    let mut results: Vec<BatchItem> = Vec::with_capacity(batch.leads.len());
    let mut items = Vec::new();
    let mut positions = Vec::new();
    for (index, raw) in batch.leads.into_iter().enumerate() {
        let prefix = format!("/leads/{index}");
        let parsed = suite_http::extract::from_value::<LeadInput>(raw, &prefix)
            .and_then(|input| input.validate_into(&prefix));
        match parsed {
            Ok(lead) => {
                positions.push(index);
                items.push(WriteItem {
                    lead,
                    correlation_id: correlation_id.clone(),
                    traceparent: traceparent.clone(),
                });
                results.push(BatchItem {
                    index,
                    status: "pending",
                    lead: None,
                    errors: Vec::new(),
                });
            }
            Err(errors) => results.push(BatchItem {
                index,
                status: "rejected",
                lead: None,
                errors,
            }),
        }
    }
    let mut touched = Vec::new();
    if !items.is_empty() {
        let model = state.models.current(principal.workspace_id).await?;
        let mut tx = state.platform.db.primary().begin().await?;
        let written = state
            .writer()
            .write(&mut tx, principal.workspace_id, &model, items)
            .await?;
        tx.commit().await?;
        for (index, w) in positions.into_iter().zip(written) {
            if w.outcome == Outcome::Merged {
                touched.push(w.lead.id);
            }
            let item = &mut results[index];
            item.status = match w.outcome {
                Outcome::Created => "created",
                Outcome::Merged => "merged",
            };
            item.lead = Some(w.lead);
        }
        state.after_write(&principal, &touched).await;
    }
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    Ok(Json(BatchResponse {
        created: count("created"),
        merged: count("merged"),
        rejected: count("rejected"),
        results,
    }))
}

/// One lead; reads the caller's own writes at once.
#[utoipa::path(get, path = "/v1/leads/{id}", tag = "leads", params(("id" = Uuid, Path)),
    responses((status = 200, body = LeadView), (status = 404, description = "No such lead in this workspace")))]
async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<LeadView>, ApiError> {
    let ws = principal.workspace_id;
    let lead = state
        .leads
        .get_or_load(&cache_key(ws, id), async {
            // Chosen only on a miss: the choice may cost a Redis round trip.
            let pool = state.platform.db.read(Some(&principal.client_id())).await;
            reads::get(&pool, ws, id).await
        })
        .await?;
    lead.map(Json).ok_or(ApiError::NotFound)
}

/// Cache key of a lead.
pub fn cache_key(workspace: Uuid, id: Uuid) -> String {
    format!("{}:{}", workspace.simple(), id.simple())
}

/// Query of `GET /v1/leads`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this category.
    #[param(schema_with = category_param)]
    pub category: Option<String>,
    /// Only this status.
    #[param(nullable = false)]
    pub status: Option<String>,
    /// Only this source.
    #[param(nullable = false)]
    pub source: Option<String>,
    /// Created at or after (RFC 3339).
    #[param(nullable = false)]
    pub created_after: Option<DateTime<Utc>>,
    /// Created before (RFC 3339); a range that ends before it starts is empty.
    #[param(nullable = false)]
    pub created_before: Option<DateTime<Utc>>,
    /// Page size, 1–200 (default 50).
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(nullable = false)]
    pub cursor: Option<String>,
}

/// The `category` query parameter: one of the categories, in lower case.
fn category_param() -> utoipa::openapi::schema::Object {
    suite_http::openapi::string_enum(suite_domain::Category::ALL.iter().map(|c| c.as_str())).build()
}

impl Validate for ListQuery {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.limit.is_some_and(|l| !(1..=200).contains(&l)) {
            errors.push(FieldError::new("?limit", "must be between 1 and 200"));
        }
        if let Some(c) = &self.category {
            if !suite_domain::Category::ALL.iter().any(|k| k.as_str() == c) {
                errors.push(FieldError::new(
                    "?category",
                    "must be hot, warm, nurture, cold or disqualified",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A page of leads.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadPage {
    /// Leads, newest first.
    pub data: Vec<LeadView>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// List the workspace's leads, newest first, from a read replica.
#[utoipa::path(get, path = "/v1/leads", tag = "leads", params(ListQuery),
    responses((status = 200, body = LeadPage), (status = 400, description = "Bad cursor")))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<LeadPage>, ApiError> {
    let after: Option<Position> = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let filter = ListFilter {
        category: query.category.map(|c| c.to_lowercase()),
        status: query.status,
        source: query.source.map(|s| s.to_lowercase()),
        created_after: query.created_after,
        created_before: query.created_before,
    };
    let limit = query.limit.unwrap_or(50);
    let pool = state.platform.db.read(Some(&principal.client_id())).await;
    let (data, more) = reads::list(
        &pool,
        principal.workspace_id,
        &filter,
        after.as_ref(),
        limit,
    )
    .await?;
    let next_cursor = more
        .then(|| {
            data.last().map(|l| {
                cursor::encode(&Position {
                    t: l.created_at,
                    id: l.id,
                })
            })
        })
        .flatten();
    Ok(Json(LeadPage { data, next_cursor }))
}

/// A lead's scores, newest first.
#[utoipa::path(get, path = "/v1/leads/{id}/score-history", tag = "leads", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<ScoreEntry>), (status = 404)))]
async fn score_history(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<ScoreEntry>>, ApiError> {
    let pool = state.platform.db.read(Some(&principal.client_id())).await;
    reads::score_history(&pool, principal.workspace_id, id, 200)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

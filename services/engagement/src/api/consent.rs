//! `GET /v1/consent` and `POST /v1/consent`: the consent ledger.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use suite_domain::Channel;
use suite_http::{ApiError, ApiQuery, FieldError, Principal, ValidJson, Validate};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::schemas::{ChannelName, ConsentPerChannel, ConsentStatus, LegalBasis};
use crate::state::AppState;
use crate::store::consent::{self, ChannelConsent, ConsentEntry, NewEntry};
use crate::store::leads;

/// Ledger entries returned by `GET`.
const HISTORY: i64 = 200;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/consent", get(get_consent).post(record))
}

/// Query of `GET /v1/consent`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConsentQuery {
    /// The lead.
    pub lead_id: Uuid,
}

impl Validate for ConsentQuery {}

/// A lead's consent: the current state per channel and the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    /// The lead.
    pub lead_id: Uuid,
    /// The current state of every channel.
    #[schema(value_type = ConsentPerChannel)]
    pub current: BTreeMap<Channel, ChannelConsent>,
    /// Ledger entries, newest first (at most 200).
    pub history: Vec<ConsentEntry>,
}

/// A lead's current consent per channel and its ledger.
#[utoipa::path(get, path = "/v1/consent", tag = "consent", params(ConsentQuery),
    responses((status = 200, body = ConsentView), (status = 404, description = "No such lead in this workspace")))]
pub async fn get_consent(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ConsentQuery>,
) -> Result<Json<ConsentView>, ApiError> {
    let ws = principal.workspace_id;
    let pool = state.platform.db.read(Some(&principal.client_id())).await;
    let lead = leads::get(&pool, ws, query.lead_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let latest = consent::latest(&pool, ws, lead.id).await?;
    let history = consent::history(&pool, ws, lead.id, HISTORY).await?;
    Ok(Json(ConsentView {
        lead_id: lead.id,
        current: consent::current(&lead, &latest),
        history,
    }))
}

/// A consent given or withdrawn.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// The lead.
    pub lead_id: Uuid,
    /// `email`, `sms` or `phone`.
    #[schema(value_type = ChannelName)]
    pub channel: Channel,
    /// `granted` or `withdrawn`.
    pub status: ConsentStatus,
    /// Where it came from (form, call, import, …): 1 to 100 characters, not
    /// blank; stored without leading and trailing white space.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\x00]*[^\\x00\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00]*$"
    )]
    pub source: String,
    /// consent, legitimate_interest, contract, legal_obligation or withdrawal.
    pub legal_basis: LegalBasis,
    /// When it was given (RFC 3339); default (and at most) now: a time in
    /// the future is taken as now.
    pub recorded_at: Option<DateTime<Utc>>,
}

impl Validate for ConsentInput {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        if self.source.trim().is_empty() || self.source.chars().count() > 100 {
            return Err(vec![FieldError::new(
                "/source",
                "must be 1 to 100 characters",
            )]);
        }
        Ok(())
    }
}

/// Append a consent entry to the ledger; it decides the channel from now on.
#[utoipa::path(post, path = "/v1/consent", tag = "consent", request_body = ConsentInput,
    responses((status = 201, body = ConsentEntry), (status = 404, description = "No such lead in this workspace"),
              (status = 422, description = "Invalid entry")))]
pub async fn record(
    State(state): State<AppState>,
    principal: Principal,
    ValidJson(input): ValidJson<ConsentInput>,
) -> Result<(StatusCode, Json<ConsentEntry>), ApiError> {
    let ws = principal.workspace_id;
    let pool = state.platform.db.primary();
    if !leads::exists(pool, ws, input.lead_id).await? {
        return Err(ApiError::NotFound);
    }
    let entry = NewEntry {
        workspace_id: ws,
        lead_id: input.lead_id,
        channel: input.channel,
        granted: input.status == ConsentStatus::Granted,
        source: input.source.trim(),
        legal_basis: input.legal_basis.as_str(),
        recorded_at: not_after_now(input.recorded_at),
        interaction_id: None,
    };
    let stored = consent::append(pool, &entry).await?;
    if let Err(e) = state.platform.db.note_write(&principal.client_id()).await {
        tracing::warn!(error = %e, "read-your-writes position not recorded");
    }
    state.lead_changed(ws, input.lead_id).await;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// `at`, or now when absent or in the future (clock skew): the ledger holds
/// nothing dated later than its recording.
fn not_after_now(at: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let now = Utc::now();
    at.map_or(now, |t| t.min(now))
}

//! `GET /v1/sends`: sends by lead, campaign and status, from a replica.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use suite_http::{cursor, ApiError, ApiQuery, FieldError, Principal, Validate};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::state::AppState;
use crate::store::reads::{self, Position, Send, SendFilter};

/// Status of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SendStatus {
    /// Reserved, not yet handed to the provider.
    Reserved,
    /// Accepted by the provider.
    Sent,
    /// Failed for good.
    Failed,
    /// The provider's answer was lost: it may or may not have been sent.
    Indeterminate,
}

impl SendStatus {
    /// The name, as stored and serialized.
    pub const fn as_str(self) -> &'static str {
        match self {
            SendStatus::Reserved => "reserved",
            SendStatus::Sent => "sent",
            SendStatus::Failed => "failed",
            SendStatus::Indeterminate => "indeterminate",
        }
    }
}

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sends", get(list))
}

/// Query of `GET /v1/sends`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SendQuery {
    /// Only this lead.
    #[param(nullable = false)]
    pub lead_id: Option<Uuid>,
    /// Only this campaign.
    #[param(nullable = false)]
    pub campaign_id: Option<Uuid>,
    /// Only this status: reserved, sent, failed, indeterminate.
    #[param(nullable = false)]
    pub status: Option<SendStatus>,
    /// Page size, 1–200 (default 50).
    #[param(nullable = false, minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(nullable = false)]
    pub cursor: Option<String>,
}

impl Validate for SendQuery {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.limit.is_some_and(|l| !(1..=200).contains(&l)) {
            errors.push(FieldError::new("?limit", "must be between 1 and 200"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A page of sends.
#[derive(Debug, Serialize, ToSchema)]
pub struct SendPage {
    /// Sends, newest first.
    pub data: Vec<Send>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The workspace's sends, newest first, from a read replica.
#[utoipa::path(get, path = "/v1/sends", tag = "sends", params(SendQuery),
    responses((status = 200, body = SendPage), (status = 400, description = "The `cursor` is not one this service issued"), (status = 422, description = "A filter or the limit failed validation")))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<SendQuery>,
) -> Result<Json<SendPage>, ApiError> {
    let after: Option<Position> = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let filter = SendFilter {
        lead_id: query.lead_id,
        campaign_id: query.campaign_id,
        status: query.status.map(|s| s.as_str().to_owned()),
    };
    let limit = query.limit.unwrap_or(50);
    let pool = state.platform.db.read(Some(&principal.client_id())).await;
    let (data, more) = reads::sends(
        &pool,
        principal.workspace_id,
        &filter,
        after.as_ref(),
        limit,
    )
    .await?;
    let next_cursor = more
        .then(|| {
            data.last().map(|s| {
                cursor::encode(&Position {
                    t: s.created_at,
                    id: s.id,
                })
            })
        })
        .flatten();
    Ok(Json(SendPage { data, next_cursor }))
}

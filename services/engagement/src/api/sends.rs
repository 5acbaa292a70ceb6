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

/// Statuses of a send.
pub const STATUSES: &[&str] = &["reserved", "sent", "failed", "indeterminate"];

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sends", get(list))
}

/// Query of `GET /v1/sends`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SendQuery {
    /// Only this lead.
    pub lead_id: Option<Uuid>,
    /// Only this campaign.
    pub campaign_id: Option<Uuid>,
    /// Only this status: reserved, sent, failed, indeterminate.
    pub status: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Validate for SendQuery {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.limit.is_some_and(|l| !(1..=200).contains(&l)) {
            errors.push(FieldError::new("?limit", "must be between 1 and 200"));
        }
        if self
            .status
            .as_deref()
            .is_some_and(|s| !STATUSES.contains(&s))
        {
            errors.push(FieldError::new(
                "?status",
                format!("must be one of {}", STATUSES.join(", ")),
            ));
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
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The workspace's sends, newest first, from a read replica.
#[utoipa::path(get, path = "/v1/sends", tag = "sends", params(SendQuery),
    responses((status = 200, body = SendPage), (status = 400, description = "Bad cursor"), (status = 422, description = "Bad filter")))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<SendQuery>,
) -> Result<Json<SendPage>, ApiError> {
    let after: Option<Position> = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let filter = SendFilter {
        lead_id: query.lead_id,
        campaign_id: query.campaign_id,
        status: query.status,
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

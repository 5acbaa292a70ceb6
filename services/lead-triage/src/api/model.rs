//! `GET|PUT /v1/scoring-model`: the workspace's versioned scoring model.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use suite_http::{ApiError, FieldError, Principal, Scope, ValidJson, Validate};

use crate::scoring::ScoringModel;
use crate::state::AppState;
use crate::store::models::VersionedModel;

/// The scoring-model routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/scoring-model", get(current).put(replace))
}

impl Validate for ScoringModel {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        ScoringModel::validate(self).map_err(|errors| {
            errors
                .into_iter()
                .map(|(pointer, message)| FieldError::new(pointer, message))
                .collect()
        })
    }
}

/// The model new scores use (version 0 is the built-in default).
#[utoipa::path(get, path = "/v1/scoring-model", tag = "scoring",
    responses((status = 200, body = VersionedModel)))]
async fn current(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<VersionedModel>, ApiError> {
    let model = state.models.current(principal.workspace_id).await?;
    Ok(Json((*model).clone()))
}

/// Replace the model (admin scope); it becomes the next version. Existing
/// scores keep the version they were made with; leads are rescored with the
/// new model on their next change.
#[utoipa::path(put, path = "/v1/scoring-model", tag = "scoring", request_body = ScoringModel,
    responses((status = 200, body = VersionedModel), (status = 422, description = "Invalid model; each problem names its field")))]
async fn replace(
    State(state): State<AppState>,
    principal: Principal,
    ValidJson(model): ValidJson<ScoringModel>,
) -> Result<Json<VersionedModel>, ApiError> {
    principal.require(Scope::Admin)?;
    Ok(Json(
        state.models.replace(principal.workspace_id, model).await?,
    ))
}

//! The lead-triage HTTP API and its OpenAPI document.

pub mod dto;
pub mod leads;
pub mod model;
pub mod schemas;
pub mod tracking;

use axum::Router;
use utoipa::OpenApi;

use schemas::LeadSchemas;

use crate::state::AppState;

/// The authenticated `/v1` routes.
pub fn router(state: AppState) -> axum::Router {
    Router::new()
        .merge(leads::router())
        .merge(tracking::router())
        .merge(model::router())
        .with_state(state)
}

/// `GET /openapi.json` and the browsable reference at `/docs` (no auth), with
/// the routes and status codes every service shares.
pub fn docs_router() -> axum::Router {
    suite_http::openapi::docs_router(ApiDoc::openapi())
}

/// The OpenAPI 3.1 document of this service.
#[derive(OpenApi)]
#[openapi(
    info(title = "lead-triage", description = "Scores, classifies and routes leads. Every call needs `Authorization: Bearer <API key>`; errors are application/problem+json (RFC 9457)."),
    paths(
        leads::create, leads::create_batch, leads::get_one, leads::list, leads::score_history,
        tracking::track, tracking::identify, model::current, model::replace,
    ),
    components(schemas(
        dto::LeadInput, dto::Utm, dto::ConsentFlags,
        leads::LeadResponse, leads::BatchRequest, leads::BatchResponse, leads::BatchItem, leads::LeadPage,
        crate::store::view::LeadView, crate::store::reads::ScoreEntry, crate::store::writer::Outcome,
        crate::store::models::VersionedModel, tracking::TrackEvent, tracking::IdentifyCall,
        tracking::TrackCalls, tracking::IdentifyCalls, tracking::CallBatch, tracking::CallsResponse, tracking::CallResult,
    )),
    modifiers(&LeadSchemas),
    security(("api_key" = [])),
    tags((name = "leads"), (name = "tracking"), (name = "scoring")),
)]
pub struct ApiDoc;

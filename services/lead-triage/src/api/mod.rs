//! The lead-triage HTTP API and its OpenAPI document.

pub mod dto;
pub mod leads;
pub mod model;
pub mod tracking;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_scalar::{Scalar, Servable};

use crate::state::AppState;

/// The authenticated `/v1` routes.
pub fn router(state: AppState) -> axum::Router {
    Router::new()
        .merge(leads::router())
        .merge(tracking::router())
        .merge(model::router())
        .with_state(state)
}

/// `GET /openapi.json` and the browsable reference at `/docs` (no auth).
pub fn docs_router() -> axum::Router {
    Router::new()
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .merge(Scalar::with_url("/docs", ApiDoc::openapi()))
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
        tracking::Calls, tracking::CallsResponse, tracking::CallResult, suite_http::FieldError,
    )),
    modifiers(&BearerAuth),
    security(("api_key" = [])),
    tags((name = "leads"), (name = "tracking"), (name = "scoring")),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

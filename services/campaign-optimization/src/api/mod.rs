//! The campaign-optimization HTTP API and its OpenAPI document.

pub mod campaigns;
pub mod performance;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_scalar::{Scalar, Servable};

use crate::state::AppState;

/// The authenticated `/v1` routes.
pub fn router(state: AppState) -> axum::Router {
    Router::new()
        .merge(campaigns::router())
        .merge(performance::router())
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
    info(title = "campaign-optimization", description = "Campaigns, their variants and budgets; Thompson-sampling allocation and performance reports. Every call needs `Authorization: Bearer <API key>`; errors are application/problem+json (RFC 9457)."),
    paths(
        campaigns::create, campaigns::get_one, campaigns::list, campaigns::update,
        campaigns::pause, campaigns::resume, campaigns::archive,
        performance::report, performance::allocation,
    ),
    components(schemas(
        crate::campaign::CreateCampaign, crate::campaign::CampaignPatch, crate::campaign::LadderStep,
        crate::campaign::VariantInput, crate::campaign::VariantContent, crate::campaign::EmailContent,
        crate::campaign::TextContent, crate::store::campaigns::CampaignView, crate::store::campaigns::VariantView,
        campaigns::CampaignPage, performance::PerformanceReport, performance::VariantPerformance,
        performance::Totals, performance::Interval, crate::store::allocations::StoredAllocation,
        suite_http::FieldError,
    )),
    modifiers(&BearerAuth),
    security(("api_key" = [])),
    tags((name = "campaigns"), (name = "performance")),
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

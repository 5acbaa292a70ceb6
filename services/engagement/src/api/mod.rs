//! The engagement HTTP API and its OpenAPI document.

pub mod consent;
pub mod context;
pub mod interactions;
pub mod sends;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_scalar::{Scalar, Servable};

use crate::state::AppState;

/// The authenticated `/v1` routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(interactions::router())
        .merge(context::router())
        .merge(consent::router())
        .merge(sends::router())
        .with_state(state)
}

/// `GET /openapi.json` and the browsable reference at `/docs` (no auth).
pub fn docs_router() -> Router {
    Router::new()
        .route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .merge(Scalar::with_url("/docs", ApiDoc::openapi()))
}

/// The OpenAPI 3.1 document of this service.
#[derive(OpenApi)]
#[openapi(
    info(title = "engagement", description = "Plans and sends outreach; records interactions, consent and each lead's conversation. Every call needs `Authorization: Bearer <API key>`; errors are application/problem+json (RFC 9457)."),
    paths(
        interactions::create, context::conversation, context::context,
        consent::get_consent, consent::record, sends::list,
    ),
    components(schemas(
        interactions::InteractionInput, crate::store::interactions::Interaction,
        crate::store::reads::Conversation, crate::store::reads::Message, crate::store::reads::Send,
        sends::SendPage, context::Context, context::CapsLeft, crate::memory::MemoryEntry,
        crate::store::steps::NextStep, crate::store::consent::ConsentEntry,
        crate::store::consent::ChannelConsent, consent::ConsentInput, consent::ConsentView,
        suite_http::FieldError,
    )),
    modifiers(&BearerAuth),
    security(("api_key" = [])),
    tags((name = "interactions"), (name = "leads"), (name = "consent"), (name = "sends")),
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

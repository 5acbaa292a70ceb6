//! The engagement HTTP API and its OpenAPI document.

pub mod consent;
pub mod context;
pub mod interactions;
pub mod schemas;
pub mod sends;

use axum::Router;
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, Type};
use utoipa::{Modify, OpenApi};

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

/// `GET /openapi.json` and the browsable reference at `/docs` (no auth), with
/// the routes and status codes every service shares.
pub fn docs_router() -> axum::Router {
    suite_http::openapi::docs_router(ApiDoc::openapi())
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
        crate::store::reads::GenerationView,
        sends::SendPage, context::Context, context::CapsLeft, crate::memory::MemoryEntry,
        crate::store::steps::NextStep, crate::store::consent::ConsentEntry,
        crate::store::consent::ChannelConsent, consent::ConsentInput, consent::ConsentView,
        sends::SendStatus, schemas::ChannelName,
        schemas::ConsentStatus, schemas::CurrentConsentStatus, schemas::LegalBasis,
        schemas::StepStatus, schemas::RecentSource, schemas::ConsentPerChannel, schemas::CapsPerChannel,
    )),
    modifiers(&InteractionRules),
    security(("api_key" = [])),
    tags((name = "interactions"), (name = "leads"), (name = "consent"), (name = "sends")),
)]
pub struct ApiDoc;

/// Adds to `InteractionInput` the rules between its fields that
/// [`interactions::InteractionInput`]'s validation enforces: either a
/// `send_id` (and no `campaign_id`, which comes from the send) or a
/// `channel` (without a send); null counts as absent.
struct InteractionRules;

impl Modify for InteractionRules {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        let Some(input) = components.schemas.remove("InteractionInput") else {
            return;
        };
        let string = || ObjectBuilder::new().schema_type(Type::String);
        let null = || ObjectBuilder::new().schema_type(Type::Null);
        let about_a_send = ObjectBuilder::new()
            .required("send_id")
            .property("send_id", string())
            .property("campaign_id", null());
        let about_a_channel = ObjectBuilder::new()
            .required("channel")
            .property("channel", string())
            .property("send_id", null());
        let rules = AnyOfBuilder::new()
            .item(about_a_send)
            .item(about_a_channel)
            .description(Some(
                "Either `send_id` (without `campaign_id`) or `channel` (without `send_id`)",
            ));
        let combined = AllOfBuilder::new().item(input).item(rules);
        components
            .schemas
            .insert("InteractionInput".into(), combined.into());
    }
}

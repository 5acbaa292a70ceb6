//! The campaign-optimization HTTP API and its OpenAPI document.

pub mod campaigns;
pub mod performance;

use axum::Router;
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

use crate::state::AppState;

/// The authenticated `/v1` routes.
pub fn router(state: AppState) -> axum::Router {
    Router::new()
        .merge(campaigns::router())
        .merge(performance::router())
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
    info(title = "campaign-optimization", description = "Campaigns, their variants and budgets; Thompson-sampling allocation and performance reports. Every call needs `Authorization: Bearer <API key>`; errors are application/problem+json (RFC 9457)."),
    paths(
        campaigns::create, campaigns::get_one, campaigns::list, campaigns::update,
        campaigns::pause, campaigns::resume, campaigns::archive,
        performance::report, performance::allocation,
    ),
    components(schemas(
        crate::campaign::CreateCampaign, crate::campaign::CampaignPatch, crate::campaign::LadderStep,
        crate::campaign::VariantInput, crate::campaign::VariantContent, crate::campaign::EmailContent,
        crate::campaign::TextContent, suite_domain::GenerationSpec, crate::store::campaigns::CampaignView,
        crate::store::campaigns::VariantView, campaigns::CampaignPage, performance::PerformanceReport,
        performance::VariantPerformance, performance::Totals, performance::Interval,
        crate::store::allocations::StoredAllocation, crate::store::allocations::ShareView,
    )),
    modifiers(&CreatedLinks),
    security(("api_key" = [])),
    tags((name = "campaigns"), (name = "performance")),
)]
pub struct ApiDoc;

/// The operations a created campaign's `id` leads to, as OpenAPI links of
/// the 201 of `POST /v1/campaigns` (clients and fuzzers follow them).
///
/// Written as raw JSON because utoipa 5's `Link` serializes its fields in
/// snake case (`operation_id`), which OpenAPI does not know.
struct CreatedLinks;

impl Modify for CreatedLinks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let created = openapi
            .paths
            .paths
            .get_mut("/v1/campaigns")
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.responses.responses.get_mut("201"));
        let Some(RefOr::T(created)) = created else {
            return;
        };
        let links: serde_json::Map<String, serde_json::Value> = [
            ("get", "get_one"),
            ("update", "update"),
            ("pause", "pause"),
            ("resume", "resume"),
            ("archive", "archive"),
            ("performance", "report"),
            ("allocation", "allocation"),
        ]
        .into_iter()
        .map(|(name, operation)| {
            let link = serde_json::json!({
                "operationId": operation,
                "parameters": {"id": "$response.body#/id"},
            });
            (name.to_owned(), link)
        })
        .collect();
        created
            .extensions
            .get_or_insert_with(Default::default)
            .insert("links".to_owned(), links.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_generation_and_its_spend() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let spec = &schemas["GenerationSpec"];
        assert_eq!(spec["required"], serde_json::json!(["prompt"]), "{spec}");
        assert_eq!(spec["additionalProperties"], false, "{spec}");
        assert_eq!(spec["properties"]["temperature"]["maximum"], 2.0, "{spec}");
        for content in ["EmailContent", "TextContent"] {
            let generation = &schemas[content]["properties"]["generation"];
            assert!(
                generation
                    .to_string()
                    .contains("#/components/schemas/GenerationSpec"),
                "{content}: {generation}"
            );
            assert!(
                generation.to_string().contains("docs/personalisation.md"),
                "{content}: {generation}"
            );
        }
        for view in ["VariantPerformance", "Totals"] {
            let field = &schemas[view]["properties"]["generation_spend_micros"];
            assert_eq!(field["type"], "integer", "{view}: {field}");
            assert!(
                schemas[view]["required"]
                    .as_array()
                    .unwrap()
                    .contains(&"generation_spend_micros".into()),
                "{view}"
            );
        }
    }
}

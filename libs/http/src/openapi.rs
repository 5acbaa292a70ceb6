//! What every service's OpenAPI document shares: the tenancy routes, the
//! problem document, and the status codes the shared layers answer on every
//! route (docs/architecture.md §4.6). A service describes its own routes and
//! their success and domain errors; [`complete`] adds the rest, so a document
//! lists every status code a route can return.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response};
use utoipa::OpenApi;

use crate::problem::PROBLEM_JSON;

/// The tenancy routes every service serves (`/v1/workspace`, `/v1/api-keys`).
#[derive(OpenApi)]
#[openapi(
    paths(
        crate::tenancy::own_workspace, crate::tenancy::workspace_by_id,
        crate::tenancy::list_keys, crate::tenancy::create_key, crate::tenancy::revoke_key,
    ),
    components(schemas(
        crate::tenancy::Workspace, crate::tenancy::ApiKeyInfo, crate::tenancy::CreatedKey,
        crate::tenancy::NewKey, crate::auth::Scope, crate::problem::Problem, crate::extract::FieldError,
    )),
    tags((name = "tenancy", description = "The caller's workspace and its API keys")),
)]
struct TenancyDoc;

/// The rules of every route that no schema keyword states, appended to
/// each document's description.
const RULES: &str = "\n\nEvery request body is a JSON object. No string, key or query \
parameter may contain the character U+0000 (it cannot be stored); a request with one is \
refused with 422 naming the field. A number with a zero fraction (`7.0`) is accepted \
where an integer is expected.";

/// Pattern of a string that is not blank: it holds a character other than
/// white space (`char::is_whitespace`, spelled out, as `\s` differs between
/// regex dialects), and no U+0000 (which no string may hold). Derive attributes need the literal; code that builds
/// schemas uses this.
pub const NOT_BLANK: &str = "^[^\\x00]*[^\\x00\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00]*$";

/// A string schema that takes exactly `values` (for closed sets the API
/// takes or returns as plain strings).
pub fn string_enum<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> utoipa::openapi::schema::ObjectBuilder {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.into_iter().map(str::to_owned)))
}

/// Name of the bearer security scheme every document declares.
pub const SECURITY_SCHEME: &str = "api_key";

/// Adds the tenancy routes, the bearer scheme, the problem schema and the
/// shared status codes to a service's document.
pub fn complete(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    doc.merge(TenancyDoc::openapi());
    let description = doc.info.description.get_or_insert_with(String::new);
    description.push_str(RULES);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        SECURITY_SCHEME,
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    for item in doc.paths.paths.values_mut() {
        if let Some(op) = item.get.as_mut() {
            add_shared_statuses(op, false);
        }
        for op in [
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            add_shared_statuses(op, true);
        }
    }
    doc
}

/// The status codes the middleware and extractors can answer on `op`
/// (`writes`: a method that needs the `write` scope).
fn add_shared_statuses(op: &mut Operation, writes: bool) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has = |place: ParameterIn| params.iter().any(|p| p.parameter_in == place);
    let (path, query, header) = (
        has(ParameterIn::Path),
        has(ParameterIn::Query),
        has(ParameterIn::Header),
    );
    let body = op.request_body.is_some();
    let mut shared: Vec<(u16, &str)> = vec![
        (401, "Missing, unknown or revoked API key"),
        (429, "The key's rate limit is exhausted; see `Retry-After`"),
        (
            503,
            "Overloaded, past the request deadline, or a dependency is down; see `Retry-After`",
        ),
    ];
    if writes {
        shared.push((403, "The API key lacks the scope this call needs"));
    }
    if body {
        shared.push((400, "The body is not valid JSON or not UTF-8"));
        shared.push((413, "The body is larger than the configured limit"));
        shared.push((415, "The body is not `application/json`"));
        shared.push((422, "The body failed validation; `errors` names each field"));
    }
    if header {
        shared.push((400, "A header has an invalid value"));
    }
    if query {
        shared.push((
            400,
            "A query parameter is malformed (e.g. a `cursor` this service did not issue)",
        ));
        shared.push((
            422,
            "A query parameter failed validation; `errors` names it",
        ));
    }
    if path {
        shared.push((404, "Nothing with that id is visible to this key"));
    }
    let responses = &mut op.responses.responses;
    for (status, description) in shared {
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(Response::new(description)));
    }
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if status.starts_with('4') || status.starts_with('5') {
            make_problem(status, response);
        }
    }
}

/// An error response: a problem document, with `Retry-After` where it is sent.
fn make_problem(status: &str, response: &mut Response) {
    let problem = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    response.content.clear();
    response.content.insert(PROBLEM_JSON.to_owned(), problem);
    if response.description.is_empty() {
        response.description = match status {
            "404" => "Not found".into(),
            "409" => "Conflicts with the current state".into(),
            "422" => "Failed validation; `errors` names each field".into(),
            _ => "Error".into(),
        };
    }
    if status == "429" || status == "503" {
        let retry_after = HeaderBuilder::new()
            .schema(utoipa::openapi::schema::Object::with_type(
                utoipa::openapi::schema::Type::Integer,
            ))
            .description(Some("Seconds to wait before trying again"))
            .build();
        response.headers.insert("Retry-After".into(), retry_after);
    }
}

/// `GET /openapi.json` (the completed document) and the browsable reference
/// at `/docs`, both without auth.
pub fn docs_router(doc: utoipa::openapi::OpenApi) -> axum::Router {
    use utoipa_scalar::{Scalar, Servable};
    let doc = complete(doc);
    // Serialized once: the document does not change while the process runs.
    #[allow(clippy::expect_used)] // startup: a document that cannot serialize is a build defect
    let json =
        bytes::Bytes::from(serde_json::to_vec(&doc).expect("the OpenAPI document serializes"));
    axum::Router::new()
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let json = json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        json,
                    )
                }
            }),
        )
        .merge(Scalar::with_url("/docs", doc))
}

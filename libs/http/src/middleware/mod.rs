//! The middleware stack every API route group gets, outermost first:
//! request id → span + latency sample → panic catcher → load shedding past a
//! concurrency bound → timeout → body limit → API-key auth → rate limit.

mod guard;
mod observe;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use suite_config::HttpSettings;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::auth::{ApiKeys, Principal, Scope};
use crate::problem::ApiError;
use crate::rate_limit::RateLimiter;

pub use observe::HeaderExtractor;

/// What the API middleware needs.
#[derive(Clone)]
pub struct HttpContext {
    /// Key look-up.
    pub keys: ApiKeys,
    /// Per-key rate limits.
    pub limiter: RateLimiter,
    /// Limits and timeouts.
    pub settings: Arc<HttpSettings>,
}

static SERVICE: OnceLock<&'static str> = OnceLock::new();

/// Sets the `agent_type` label used by HTTP metrics (first call wins).
pub fn set_service_label(service: &str) {
    let _ = SERVICE.set(Box::leak(service.to_owned().into_boxed_str()));
}

/// The `agent_type` label of this process.
pub fn service_label() -> &'static str {
    SERVICE.get().copied().unwrap_or("unknown")
}

/// Wraps an authenticated API router in the full middleware stack.
pub fn api_stack<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    ctx: HttpContext,
) -> Router<S> {
    let timeout = Duration::from_millis(ctx.settings.request_timeout_ms);
    let max_concurrency = ctx.settings.max_concurrency;
    let body_limit = ctx.settings.body_limit_bytes;
    router
        .layer(from_fn_with_state(ctx.clone(), rate_limit))
        .layer(from_fn_with_state(ctx, authenticate))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(guard::handle_error))
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::new(max_concurrency))
                .timeout(timeout),
        )
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(from_fn(observe::observe))
                .layer(CatchPanicLayer::custom(guard::panic_response)),
        )
}

/// Answers unknown routes and methods with problem documents.
pub fn with_fallbacks<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
}

async fn authenticate(
    State(ctx): State<HttpContext>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let principal = ctx.keys.authenticate(req.headers()).await?;
    let needed = if req.method().is_safe() {
        Scope::Read
    } else {
        Scope::Write
    };
    principal.require(needed)?;
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

async fn rate_limit(State(ctx): State<HttpContext>, req: Request, next: Next) -> Response {
    let Some(principal) = req.extensions().get::<Principal>().cloned() else {
        return ApiError::Unauthorized.into_response();
    };
    let decision = ctx.limiter.check(&principal).await;
    let mut response = if decision.allowed {
        next.run(req).await
    } else {
        metrics::counter!(suite_telemetry::names::HTTP_REJECTED, "reason" => "rate_limit")
            .increment(1);
        ApiError::RateLimited {
            retry_after: decision.retry_after,
        }
        .into_response()
    };
    decision.write_headers(response.headers_mut());
    response
}

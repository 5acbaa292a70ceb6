//! HTTP building blocks shared by every service: one error type rendered as
//! `application/problem+json`, a validating JSON extractor, API-key auth,
//! Redis-backed rate limits, load shedding, timeouts, request ids, a span and
//! a latency sample per request, and the health/metrics routes.

pub mod auth;
pub mod cursor;
pub mod extract;
pub mod health;
pub mod middleware;
pub mod openapi;
pub mod problem;
pub mod rate_limit;
pub mod tenancy;

pub use auth::{ApiKeys, Principal, Scope};
pub use extract::{ApiPath, ApiQuery, FieldError, ValidJson, ValidJsonBytes, Validate};
pub use health::{health_router, Readiness};
pub use middleware::{api_stack, set_service_label, with_fallbacks, HttpContext};
pub use problem::ApiError;
pub use rate_limit::RateLimiter;

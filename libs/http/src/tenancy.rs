//! Workspaces and their API keys: creation (used by the admin CLI and tests)
//! and the key-management routes every service exposes under `/v1`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{generate_key, hash_key, ApiKeys, Principal, Scope};
use crate::extract::{ApiPath, FieldError, ValidJson, Validate};
use crate::problem::ApiError;

/// A workspace as shown to its members.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Workspace {
    /// Workspace id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A key's metadata (never its secret).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ApiKeyInfo {
    /// Key id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// First characters of the key, to recognise it.
    pub prefix: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Requests per second override, if any.
    pub rate_limit_per_sec: Option<i32>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A freshly created key: the only time its secret is shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// The key's metadata.
    #[serde(flatten)]
    pub info: ApiKeyInfo,
    /// The secret to send as `Authorization: Bearer <key>`.
    pub key: String,
}

/// Creates a workspace.
pub async fn create_workspace(pool: &PgPool, name: &str) -> Result<Workspace, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO workspaces (id, name) VALUES ($1, $2) RETURNING id, name, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .fetch_one(pool)
    .await
}

/// Creates a key for `workspace_id` and returns its secret once.
pub async fn create_api_key(
    pool: &PgPool,
    workspace_id: Uuid,
    name: &str,
    scopes: &[Scope],
    rate_limit_per_sec: Option<i32>,
) -> Result<CreatedKey, sqlx::Error> {
    let key = generate_key();
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let info: ApiKeyInfo = sqlx::query_as(
        "INSERT INTO api_keys (id, workspace_id, name, prefix, key_hash, scopes, rate_limit_per_sec) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING id, name, prefix, scopes, rate_limit_per_sec, created_at, revoked_at",
    )
    .bind(Uuid::now_v7())
    .bind(workspace_id)
    .bind(name)
    .bind(&key[..10])
    .bind(&hash_key(&key)[..])
    .bind(&scopes)
    .bind(rate_limit_per_sec)
    .fetch_one(pool)
    .await?;
    Ok(CreatedKey { info, key })
}

/// State of the tenancy routes.
#[derive(Clone)]
pub struct TenancyState {
    /// Primary pool (keys must be visible at once).
    pub pool: PgPool,
    /// The key cache to clear on revocation.
    pub keys: ApiKeys,
}

/// `GET /v1/workspace`, `GET /v1/workspaces/{id}`, `GET|POST /v1/api-keys`, `DELETE /v1/api-keys/{id}`.
pub fn router(state: TenancyState) -> Router {
    Router::new()
        .route("/v1/workspace", get(own_workspace))
        .route("/v1/workspaces/{id}", get(workspace_by_id))
        .route("/v1/api-keys", get(list_keys).post(create_key))
        .route("/v1/api-keys/{id}", delete(revoke_key))
        .with_state(state)
}

/// The caller's own workspace.
#[utoipa::path(get, path = "/v1/workspace", tag = "tenancy", operation_id = "own_workspace",
    responses((status = 200, body = Workspace), (status = 404, description = "The workspace was deleted")))]
pub(crate) async fn own_workspace(
    State(state): State<TenancyState>,
    principal: Principal,
) -> Result<Json<Workspace>, ApiError> {
    fetch_workspace(&state.pool, principal.workspace_id).await
}

/// A workspace by id: only the caller's own (403 for another's).
#[utoipa::path(get, path = "/v1/workspaces/{id}", tag = "tenancy", operation_id = "workspace_by_id",
    params(("id" = Uuid, Path, description = "Workspace id")),
    responses((status = 200, body = Workspace), (status = 403, description = "Another workspace")))]
pub(crate) async fn workspace_by_id(
    State(state): State<TenancyState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Workspace>, ApiError> {
    principal.require_workspace(id)?;
    fetch_workspace(&state.pool, id).await
}

/// Whether workspace `id` exists (the tenancy layer owns workspaces; a
/// service that needs to know asks here rather than reading the table).
pub async fn workspace_exists(
    db: impl sqlx::PgExecutor<'_>,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM workspaces WHERE id = $1)")
        .bind(id)
        .fetch_one(db)
        .await
}

async fn fetch_workspace(pool: &PgPool, id: Uuid) -> Result<Json<Workspace>, ApiError> {
    sqlx::query_as("SELECT id, name, created_at FROM workspaces WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Body of `POST /v1/api-keys`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Display name: 1 to 200 characters, not only white space.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\x00]*[^\\x00\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00]*$"
    )]
    pub name: String,
    /// Scopes to grant.
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
    /// Optional per-key rate limit, requests per second.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub rate_limit_per_sec: Option<i32>,
}

impl Validate for NewKey {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() || self.name.chars().count() > 200 {
            errors.push(FieldError::new("/name", "must be 1 to 200 characters"));
        }
        if self.scopes.is_empty() {
            errors.push(FieldError::new("/scopes", "must grant at least one scope"));
        }
        if matches!(self.rate_limit_per_sec, Some(r) if r <= 0) {
            errors.push(FieldError::new("/rate_limit_per_sec", "must be positive"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Create an API key in the caller's workspace (needs `admin`); the secret is shown once.
#[utoipa::path(post, path = "/v1/api-keys", tag = "tenancy", operation_id = "create_key", request_body = NewKey,
    responses((status = 201, body = CreatedKey, description = "Created; `key` is shown only now")))]
pub(crate) async fn create_key(
    State(state): State<TenancyState>,
    principal: Principal,
    ValidJson(body): ValidJson<NewKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    principal.require(Scope::Admin)?;
    let created = create_api_key(
        &state.pool,
        principal.workspace_id,
        body.name.trim(),
        &body.scopes,
        body.rate_limit_per_sec,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The workspace's API keys, revoked ones included (needs `admin`; never their secrets).
#[utoipa::path(get, path = "/v1/api-keys", tag = "tenancy", operation_id = "list_keys",
    responses((status = 200, body = Vec<ApiKeyInfo>), (status = 403, description = "The key lacks `admin`")))]
pub(crate) async fn list_keys(
    State(state): State<TenancyState>,
    principal: Principal,
) -> Result<Json<Vec<ApiKeyInfo>>, ApiError> {
    principal.require(Scope::Admin)?;
    let keys = sqlx::query_as(
        "SELECT id, name, prefix, scopes, rate_limit_per_sec, created_at, revoked_at \
         FROM api_keys WHERE workspace_id = $1 ORDER BY created_at",
    )
    .bind(principal.workspace_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(keys))
}

/// Revoke an API key (needs `admin`); effective on every instance within the key cache's TTL.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "tenancy", operation_id = "revoke_key",
    params(("id" = Uuid, Path, description = "Key id")),
    responses((status = 204, description = "Revoked (or already revoked)")))]
pub(crate) async fn revoke_key(
    State(state): State<TenancyState>,
    principal: Principal,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    principal.require(Scope::Admin)?;
    let revoked = sqlx::query(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) \
         WHERE id = $1 AND workspace_id = $2",
    )
    .bind(id)
    .bind(principal.workspace_id)
    .execute(&state.pool)
    .await?;
    if revoked.rows_affected() == 0 {
        return Err(ApiError::NotFound);
    }
    state.keys.forget_all();
    Ok(StatusCode::NO_CONTENT)
}

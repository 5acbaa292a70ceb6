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
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Workspace {
    /// Workspace id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A key's metadata (never its secret).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
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
#[derive(Debug, Clone, Serialize)]
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

async fn own_workspace(
    State(state): State<TenancyState>,
    principal: Principal,
) -> Result<Json<Workspace>, ApiError> {
    fetch_workspace(&state.pool, principal.workspace_id).await
}

async fn workspace_by_id(
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Display name.
    pub name: String,
    /// Scopes to grant (at most the caller's).
    pub scopes: Vec<Scope>,
    /// Optional per-key rate limit.
    #[serde(default)]
    pub rate_limit_per_sec: Option<i32>,
}

impl Validate for NewKey {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() || self.name.len() > 200 {
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

async fn create_key(
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

async fn list_keys(
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

async fn revoke_key(
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

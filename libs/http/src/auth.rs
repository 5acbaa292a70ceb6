//! API-key authentication (docs/architecture.md §4.7): keys per workspace, stored hashed,
//! scoped read / write / admin.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::problem::ApiError;

/// What a key may do. `Admin` implies `Write`, which implies `Read`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    Hash,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// GET requests.
    Read,
    /// Requests that change data.
    Write,
    /// Key management and other workspace administration.
    Admin,
}

impl Scope {
    /// The scope's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    /// Parses a stored scope name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// The authenticated caller, available to handlers as an extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The workspace every query of this request is scoped to.
    pub workspace_id: Uuid,
    /// The key's id (not its secret), used for rate limits and read-your-writes.
    pub key_id: Uuid,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// The key's own rate limit, if it overrides the default.
    pub rate_limit_per_sec: Option<u32>,
}

impl Principal {
    /// 403 unless the key holds `scope` (or a higher one).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.iter().any(|s| *s >= scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this API key lacks the `{}` scope",
                scope.as_str()
            )))
        }
    }

    /// 403 unless `workspace_id` is the caller's own workspace.
    pub fn require_workspace(&self, workspace_id: Uuid) -> Result<(), ApiError> {
        if self.workspace_id == workspace_id {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this API key belongs to another workspace".into(),
            ))
        }
    }

    /// Identifier for per-client bookkeeping (rate limits, read-your-writes).
    pub fn client_id(&self) -> String {
        self.key_id.simple().to_string()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthorized)
    }
}

/// Looks keys up by hash, with a short in-process cache in front of Postgres.
#[derive(Clone)]
pub struct ApiKeys {
    pool: PgPool,
    cache: moka::future::Cache<[u8; 32], Option<Arc<Principal>>>,
}

impl ApiKeys {
    /// Key look-ups hit Postgres at most once per key per `ttl`; revocation
    /// therefore takes effect within `ttl` on other instances.
    pub fn new(pool: PgPool, ttl: Duration) -> Self {
        Self {
            pool,
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The caller behind the `Authorization: Bearer` header, or 401.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let token = bearer(headers).ok_or(ApiError::Unauthorized)?;
        let hash = hash_key(token);
        let pool = self.pool.clone();
        let found = self
            .cache
            .try_get_with(hash, async move { lookup(&pool, &hash).await })
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("api key lookup: {e}")))?;
        found.map(|p| (*p).clone()).ok_or(ApiError::Unauthorized)
    }

    /// Forgets every cached key of this instance (after a revocation).
    pub fn forget_all(&self) {
        self.cache.invalidate_all();
    }
}

async fn lookup(pool: &PgPool, hash: &[u8; 32]) -> Result<Option<Arc<Principal>>, sqlx::Error> {
    let row: Option<(Uuid, Uuid, Vec<String>, Option<i32>)> = sqlx::query_as(
        "SELECT id, workspace_id, scopes, rate_limit_per_sec FROM api_keys \
         WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(&hash[..])
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(key_id, workspace_id, scopes, rate)| {
        Arc::new(Principal {
            workspace_id,
            key_id,
            scopes: scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            rate_limit_per_sec: rate.and_then(|r| u32::try_from(r).ok()),
        })
    }))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// SHA-256 of a key: what is stored and looked up.
pub fn hash_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random key: `sk_` + 43 base64url characters (256 bits).
pub fn generate_key() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "sk_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

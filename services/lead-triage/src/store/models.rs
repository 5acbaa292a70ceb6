//! Versioned scoring models per workspace. A workspace without a stored
//! model scores with the built-in default (version 0).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use suite_store::TwoLevelCache;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::Error;
use crate::scoring::ScoringModel;

/// A model and the version every score made with it records.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionedModel {
    /// 0 for the built-in default, then 1, 2, … per replacement.
    pub version: i32,
    /// When this version was stored (absent for the default).
    pub created_at: Option<DateTime<Utc>>,
    /// The model.
    #[schema(value_type = Object)]
    pub model: ScoringModel,
}

/// Reads and replaces models, through a two-level cache.
#[derive(Clone)]
pub struct Models {
    pool: PgPool,
    cache: TwoLevelCache<VersionedModel>,
}

impl Models {
    /// Models stored in `pool`, cached in `cache`.
    pub fn new(pool: PgPool, cache: TwoLevelCache<VersionedModel>) -> Self {
        Self { pool, cache }
    }

    /// The cache (for its invalidation listener).
    pub fn cache(&self) -> &TwoLevelCache<VersionedModel> {
        &self.cache
    }

    /// The workspace's current model.
    pub async fn current(&self, workspace: Uuid) -> Result<Arc<VersionedModel>, Error> {
        let pool = self.pool.clone();
        let found = self
            .cache
            .get_or_load(&workspace.simple().to_string(), async move {
                let row: Option<(i32, DateTime<Utc>, sqlx::types::Json<ScoringModel>)> =
                    sqlx::query_as(
                        "SELECT version, created_at, model FROM scoring_models \
                     WHERE workspace_id = $1 ORDER BY version DESC LIMIT 1",
                    )
                    .bind(workspace)
                    .fetch_optional(&pool)
                    .await?;
                Ok::<_, sqlx::Error>(Some(match row {
                    Some((version, created_at, model)) => VersionedModel {
                        version,
                        created_at: Some(created_at),
                        model: model.0.with_version(version),
                    },
                    None => VersionedModel {
                        version: 0,
                        created_at: None,
                        model: ScoringModel::default(),
                    },
                }))
            })
            .await?;
        // The loader always answers a model (the default without a stored one).
        found
            .map(Arc::new)
            .ok_or(Error::Db(sqlx::Error::RowNotFound))
    }

    /// Stores `model` as the next version and makes every instance use it.
    pub async fn replace(
        &self,
        workspace: Uuid,
        model: ScoringModel,
    ) -> Result<VersionedModel, Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 11))")
            .bind(workspace.to_string())
            .execute(&mut *tx)
            .await?;
        let (version, created_at): (i32, DateTime<Utc>) = sqlx::query_as(
            "INSERT INTO scoring_models (workspace_id, version, model) \
             SELECT $1, coalesce(max(version), 0) + 1, $2 FROM scoring_models WHERE workspace_id = $1 \
             RETURNING version, created_at",
        )
        .bind(workspace)
        .bind(sqlx::types::Json(&model))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.cache.invalidate(&workspace.simple().to_string()).await;
        Ok(VersionedModel {
            version,
            created_at: Some(created_at),
            model: model.with_version(version),
        })
    }
}

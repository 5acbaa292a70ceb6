//! The demo workspace written by `scripts/stack up`.

use std::path::Path;

use anyhow::Context as _;
use sqlx::PgPool;
use suite_http::Scope;

const DEMO_NAME: &str = "demo";

/// Creates the demo workspace and an admin key, unless `out` already holds a
/// key that still authenticates; writes `DEMO_API_KEY` and `DEMO_WORKSPACE_ID`.
pub async fn bootstrap(pool: &PgPool, out: &Path) -> anyhow::Result<()> {
    if let Some((key, workspace)) = existing(pool, out).await? {
        write(out, &key, &workspace)?;
        println!(
            "demo workspace {workspace} already set up ({})",
            out.display()
        );
        return Ok(());
    }
    let workspace: uuid::Uuid = match sqlx::query_scalar(
        "SELECT id FROM workspaces WHERE name = $1 ORDER BY created_at LIMIT 1",
    )
    .bind(DEMO_NAME)
    .fetch_optional(pool)
    .await?
    {
        Some(id) => id,
        None => {
            suite_http::tenancy::create_workspace(pool, DEMO_NAME)
                .await?
                .id
        }
    };
    let key = suite_http::tenancy::create_api_key(
        pool,
        workspace,
        "demo",
        &[Scope::Read, Scope::Write, Scope::Admin],
        None,
    )
    .await?;
    write(out, &key.key, &workspace.to_string())?;
    println!(
        "demo workspace {workspace} created; key written to {}",
        out.display()
    );
    Ok(())
}

async fn existing(pool: &PgPool, out: &Path) -> anyhow::Result<Option<(String, String)>> {
    let Ok(text) = std::fs::read_to_string(out) else {
        return Ok(None);
    };
    let Some(key) = text
        .lines()
        .find_map(|l| l.strip_prefix("DEMO_API_KEY="))
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    let workspace: Option<uuid::Uuid> = sqlx::query_scalar(
        "SELECT workspace_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(&suite_http::auth::hash_key(&key)[..])
    .fetch_optional(pool)
    .await?;
    Ok(workspace.map(|w| (key, w.to_string())))
}

fn write(out: &Path, key: &str, workspace: &str) -> anyhow::Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        out,
        format!("DEMO_API_KEY={key}\nDEMO_WORKSPACE_ID={workspace}\n"),
    )
    .with_context(|| format!("write {}", out.display()))
}

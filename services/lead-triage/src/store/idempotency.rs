//! `Idempotency-Key` records: the first response under a key is replayed for
//! the same body; a different body under the same key is a 422.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

/// What a request under an idempotency key should do.
pub enum Replay {
    /// No record: process the request and [`record`] its response.
    Fresh,
    /// Same key and body: answer with the stored response (status code, body).
    Same(u16, serde_json::Value),
    /// Same key, different body.
    Mismatch,
}

/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// SHA-256 of the request body (as received).
pub fn body_hash(body: &[u8]) -> Vec<u8> {
    Sha256::digest(body).to_vec()
}

/// Looks the key up, locking it for this transaction so a concurrent request
/// with the same key waits and then replays.
pub async fn check(
    conn: &mut PgConnection,
    workspace: Uuid,
    key: &str,
    hash: &[u8],
) -> Result<Replay, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 7))")
        .bind(workspace.to_string())
        .bind(key)
        .execute(&mut *conn)
        .await?;
    let row: Option<(Vec<u8>, i16, serde_json::Value)> = sqlx::query_as(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys \
         WHERE workspace_id = $1 AND key = $2",
    )
    .bind(workspace)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None => Replay::Fresh,
        Some((stored, status, body)) if stored == hash => {
            Replay::Same(u16::try_from(status).unwrap_or(200), body)
        }
        Some(_) => Replay::Mismatch,
    })
}

/// Stores the response in the same transaction as the request's effects.
pub async fn record(
    conn: &mut PgConnection,
    workspace: Uuid,
    key: &str,
    hash: &[u8],
    status: u16,
    body: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO idempotency_keys (workspace_id, key, request_hash, response_status, response_body) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(workspace)
    .bind(key)
    .bind(hash)
    .bind(i16::try_from(status).unwrap_or(200))
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
}

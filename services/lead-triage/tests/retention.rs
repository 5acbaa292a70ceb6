#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! Retention of the service's bookkeeping: an `Idempotency-Key` is
//! remembered for `retention.idempotency_key_hours`, a tracking `message_id`
//! for `retention.tracking_message_days`; after that they are pruned and a
//! repeat is handled as new.

mod common;

use common::*;
use suite_store::retention::run_once;

async fn post_keyed(t: &Triage, key: &str, body: &serde_json::Value) -> reqwest::StatusCode {
    t.http
        .post(t.url("/v1/leads"))
        .bearer_auth(&t.key)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn expired_idempotency_keys_and_message_ids_are_pruned_and_recent_ones_kept() {
    let t = spawn().await;
    let db = &t.env.db;
    let rules = lead_triage::retention_rules(&t.env.settings.retention);

    assert_eq!(
        post_keyed(&t, "old-key", &cold_lead("a@initech.com")).await,
        201
    );
    assert_eq!(
        post_keyed(&t, "new-key", &cold_lead("b@initech.com")).await,
        201
    );
    let track = |id: &str| serde_json::json!({"batch": [{"message_id": id, "email": "a@initech.com", "event": "Page Viewed"}]});
    assert_eq!(t.post("/v1/track", &track("m-old")).await.status(), 200);
    assert_eq!(t.post("/v1/track", &track("m-new")).await.status(), 200);
    sqlx::query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old-key'")
        .execute(db)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE lead_event_messages SET received_at = now() - interval '31 days' WHERE message_id = 'm-old'",
    )
    .execute(db)
    .await
    .unwrap();

    run_once(db, &rules, None).await;
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM idempotency_keys ORDER BY key")
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(keys, ["new-key"]);
    let messages: Vec<String> =
        sqlx::query_scalar("SELECT message_id FROM lead_event_messages ORDER BY message_id")
            .fetch_all(db)
            .await
            .unwrap();
    assert_eq!(messages, ["m-new"]);

    // What a client sees: the expired key is new again (another body is
    // accepted, not refused as a mismatch); the kept key still refuses one.
    assert_eq!(
        post_keyed(&t, "old-key", &cold_lead("c@initech.com")).await,
        201
    );
    assert_eq!(
        post_keyed(&t, "new-key", &cold_lead("d@initech.com")).await,
        422
    );
    let status = |r: serde_json::Value| r["results"][0]["status"].as_str().unwrap().to_owned();
    let again: serde_json::Value = t
        .post("/v1/track", &track("m-old"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status(again), "applied");
    let again: serde_json::Value = t
        .post("/v1/track", &track("m-new"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status(again), "duplicate");
}

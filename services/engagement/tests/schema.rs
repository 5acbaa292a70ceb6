//! Migration 0004 as the issue asks: monthly partitions registered for
//! maintenance, the seeds' index, an append-only consent ledger, unique
//! plans and send reservations.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use suite_testkit::TestEnv;
use uuid::Uuid;

#[tokio::test]
async fn the_engagement_schema_holds_its_invariants() {
    let env = TestEnv::new("engagement").await.unwrap();
    let db = &env.db;
    let registered: Vec<String> = sqlx::query_scalar(
        "SELECT table_name FROM partitioned_tables WHERE table_name IN ('communications', 'interactions') ORDER BY 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert_eq!(registered, ["communications", "interactions"]);
    for parent in ["communications", "interactions"] {
        let this_month: String = sqlx::query_scalar("SELECT to_char(now(), '\"y\"YYYY\"m\"MM')")
            .fetch_one(db)
            .await
            .unwrap();
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(format!("{parent}_{this_month}"))
            .fetch_one(db)
            .await
            .unwrap();
        assert!(exists, "{parent} has this month's partition");
    }
    let index: String = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'interactions_type_occurred_idx'",
    )
    .fetch_one(db)
    .await
    .unwrap();
    assert!(index.contains("(type, occurred_at)"), "{index}");

    // The consent ledger is append-only.
    let (ws, lead) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "INSERT INTO consent_ledger (workspace_id, lead_id, channel, status, source, legal_basis) \
         VALUES ($1, $2, 'email', 'granted', 'form', 'consent')",
    )
    .bind(ws)
    .bind(lead)
    .execute(db)
    .await
    .unwrap();
    assert!(
        sqlx::query("UPDATE consent_ledger SET status = 'withdrawn'")
            .execute(db)
            .await
            .is_err()
    );
    assert!(sqlx::query("DELETE FROM consent_ledger")
        .execute(db)
        .await
        .is_err());
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM consent_ledger WHERE status = 'granted'")
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(n, 1);

    // One reservation per (lead, campaign, step, channel).
    let campaign = Uuid::now_v7();
    let reserve = || {
        sqlx::query(
            "INSERT INTO send_reservations (id, workspace_id, lead_id, campaign_id, variant_id, step_index, channel, step_id, provider) \
             VALUES ($1, $2, $3, $4, $5, 0, 'email', $6, 'log')",
        )
        .bind(Uuid::now_v7())
        .bind(ws)
        .bind(lead)
        .bind(campaign)
        .bind(Uuid::now_v7())
        .bind(Uuid::now_v7())
        .execute(db)
    };
    reserve().await.unwrap();
    let second = reserve().await.unwrap_err();
    assert!(second
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation()));
}

//! Retention: expired rows are deleted (and only those), in chunks; expired
//! monthly partitions are dropped whole (and only those).

mod common;

use common::*;
use suite_store::retention::{drop_old_partitions, prune, run_once, Rule, CHUNK};
use suite_testkit::TestEnv;

async fn count(env: &TestEnv, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&env.db)
        .await
        .expect("count")
}

#[tokio::test]
async fn expired_dead_letters_are_pruned_in_chunks_and_recent_ones_kept() -> anyhow::Result<()> {
    let env = env().await?;
    // More old rows than one chunk, a few recent ones, one just inside the window.
    let old = CHUNK + 5;
    sqlx::query(
        "INSERT INTO dead_letters (consumer, topic, \"partition\", \"offset\", error_class, error_message, created_at) \
         SELECT 'c', 't', 0, o, 'x', 'y', now() - interval '40 days' FROM generate_series(1, $1) AS o",
    )
    .bind(old)
    .execute(&env.db)
    .await?;
    sqlx::query(
        "INSERT INTO dead_letters (consumer, topic, \"partition\", \"offset\", error_class, error_message, created_at) \
         SELECT 'c', 't', 1, o, 'x', 'y', now() - interval '29 days' FROM generate_series(1, 3) AS o",
    )
    .execute(&env.db)
    .await?;
    let rule = Rule::days("dead_letters", "created_at", 30);
    assert_eq!(prune(&env.db, &rule).await?, old as u64);
    assert_eq!(count(&env, "SELECT count(*) FROM dead_letters").await, 3);
    assert_eq!(prune(&env.db, &rule).await?, 0, "nothing left to prune");
    // 0 keeps for ever; a filter narrows what goes.
    assert_eq!(
        prune(&env.db, &Rule::days("dead_letters", "created_at", 0)).await?,
        0
    );
    let narrow = Rule::hours("dead_letters", "created_at", 1).only("\"offset\" = 2");
    assert_eq!(prune(&env.db, &narrow).await?, 1);
    assert_eq!(count(&env, "SELECT count(*) FROM dead_letters").await, 2);
    Ok(())
}

#[tokio::test]
async fn partitions_older_than_the_window_are_dropped_and_the_rest_kept() -> anyhow::Result<()> {
    let env = env().await?;
    sqlx::query(
        "CREATE TABLE communications_y2020m01 PARTITION OF communications \
         FOR VALUES FROM ('2020-01-01') TO ('2020-02-01')",
    )
    .execute(&env.db)
    .await?;
    let insert = "INSERT INTO communications (id, workspace_id, lead_id, campaign_id, variant_id, step_index, \
                  channel, provider, body, created_at) \
                  VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), \
                  gen_random_uuid(), 0, 'email', 'log', 'b', $1::timestamptz)";
    sqlx::query(insert)
        .bind("2020-01-15T00:00:00Z")
        .execute(&env.db)
        .await?;
    sqlx::query(insert)
        .bind("2010-01-15T00:00:00Z")
        .execute(&env.db)
        .await?; // the default partition
    sqlx::query("INSERT INTO communications (id, workspace_id, lead_id, campaign_id, variant_id, step_index, \
                  channel, provider, body) VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), \
                  gen_random_uuid(), gen_random_uuid(), 0, 'email', 'log', 'b')")
        .execute(&env.db)
        .await?;
    let partitions = "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent \
                      WHERE p.relname = 'communications'";
    let before = count(&env, partitions).await;

    assert!(
        drop_old_partitions(&env.db, 0).await?.is_empty(),
        "0 keeps every partition"
    );
    let dropped = drop_old_partitions(&env.db, 13).await?;
    assert_eq!(dropped, ["communications_y2020m01"]);
    assert_eq!(count(&env, partitions).await, before - 1);
    assert_eq!(
        count(&env, "SELECT count(*) FROM communications").await,
        2,
        "this month's row and the default partition's stay"
    );
    // Last month's partition (made by the migration) is inside any window.
    assert!(drop_old_partitions(&env.db, 1).await?.is_empty());
    run_once(&env.db, &[], Some(13)).await;
    assert_eq!(count(&env, partitions).await, before - 1);
    Ok(())
}

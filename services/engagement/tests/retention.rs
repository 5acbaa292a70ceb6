//! Retention of the service's own growing tables: provider event ids are
//! remembered for `retention.provider_event_days`; the steps of a finished
//! plan are kept `retention.finished_step_days` after they ended, while
//! active plans keep all their steps and every plan row stays.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use suite_store::retention::run_once;
use uuid::Uuid;

/// A plan with `status` and one step per `(status, age in days)`.
async fn plan(env: &Env, status: &str, steps: &[(&str, i32)]) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO outreach_plans (id, workspace_id, lead_id, campaign_id, variant_id, category, \
         correlation_id, status, steps) \
         VALUES ($1, $2, gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'hot', 'c', $3, '[]')",
    )
    .bind(id)
    .bind(env.workspace)
    .bind(status)
    .execute(env.db())
    .await
    .unwrap();
    for (index, (step_status, age)) in steps.iter().enumerate() {
        sqlx::query(
            "INSERT INTO scheduled_steps (id, plan_id, workspace_id, lead_id, campaign_id, step_index, \
             channel, due_at, status, updated_at) \
             SELECT $1, id, workspace_id, lead_id, campaign_id, $2, 'email', now(), $3, \
               now() - make_interval(days => $4) FROM outreach_plans WHERE id = $5",
        )
        .bind(Uuid::now_v7())
        .bind(i32::try_from(index).unwrap())
        .bind(step_status)
        .bind(age)
        .bind(id)
        .execute(env.db())
        .await
        .unwrap();
    }
    id
}

async fn steps_of(env: &Env, plan: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM scheduled_steps WHERE plan_id = $1")
        .bind(plan)
        .fetch_one(env.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn finished_plans_lose_old_steps_and_old_provider_event_ids_expire() {
    let env = env().await;
    let rules = engagement::retention_rules(&env.env.settings.retention);
    let finished_old = plan(&env, "completed", &[("sent", 91), ("skipped", 95)]).await;
    let finished_recent = plan(&env, "stopped", &[("sent", 100), ("failed", 10)]).await;
    let active = plan(&env, "active", &[("sent", 200), ("pending", 200)]).await;
    for (id, age) in [("evt-old", 31), ("evt-new", 1)] {
        sqlx::query(
            "INSERT INTO interaction_provider_events (workspace_id, provider_event_id, interaction_id, \
             occurred_at, created_at) VALUES ($1, $2, gen_random_uuid(), now(), now() - make_interval(days => $3))",
        )
        .bind(env.workspace)
        .bind(id)
        .bind(age)
        .execute(env.db())
        .await
        .unwrap();
    }

    run_once(env.db(), &rules, None).await;
    assert_eq!(
        steps_of(&env, finished_old).await,
        0,
        "a finished plan's old steps go"
    );
    assert_eq!(
        steps_of(&env, finished_recent).await,
        1,
        "only the steps that ended more than 90 days ago"
    );
    assert_eq!(
        steps_of(&env, active).await,
        2,
        "an active plan keeps every step"
    );
    assert_eq!(
        env.count("SELECT count(*) FROM outreach_plans").await,
        3,
        "plans stay (one plan per lead and campaign)"
    );
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT provider_event_id FROM interaction_provider_events")
            .fetch_all(env.db())
            .await
            .unwrap();
    assert_eq!(ids, ["evt-new"]);
}

//! Quiet hours with a fixed clock, and frequency caps under 50 concurrent
//! send attempts across two campaigns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use engagement::clock::{FixedClock, SystemClock};
use engagement::outreach::PlannedStep;
use engagement::send::{Outcome, Sender};
use engagement::state::AppState;
use engagement::store::{plans, steps as step_store};
use serde_json::json;
use suite_domain::{Category, Channel};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
}

/// The send path's state for many concurrent sends, with frequency caps of
/// `per_day` and `per_week`.
async fn concurrent_state(env: &Env, per_day: u32, per_week: u32) -> AppState {
    let mut settings = settings(env);
    settings.engagement.cap_per_day = per_day;
    settings.engagement.cap_per_week = per_week;
    // Few connections for many concurrent sends (they queue for one): the
    // suite's tests share one Postgres (max_connections 100) in parallel.
    settings.database.max_connections = 10;
    settings.database.acquire_timeout_secs = 60;
    settings.redis.pool_size = 16;
    settings.redis.command_timeout_ms = 5_000;
    let platform = suite_app::Platform::connect(settings, CancellationToken::new())
        .await
        .unwrap();
    engagement::build_state(platform, Arc::new(SystemClock)).unwrap()
}

/// Plans `steps` email steps due `now` for `lead` in `campaign`.
async fn plan_emails(
    env: &Env,
    lead: Uuid,
    (campaign, variant): (Uuid, Uuid),
    steps: u32,
    now: DateTime<Utc>,
) {
    let plan = plans::NewPlan {
        id: Uuid::now_v7(),
        workspace_id: env.workspace,
        lead_id: lead,
        campaign_id: campaign,
        variant_id: variant,
        category: "hot".into(),
        correlation_id: "corr-test".into(),
        score: None,
        breakdown: None,
        steps: (0..steps)
            .map(|index| PlannedStep {
                index,
                channel: Channel::Email,
                due_at: now,
            })
            .collect(),
        traceparent: None,
    };
    let mut tx = env.db().begin().await.unwrap();
    assert!(plans::insert(&mut tx, &plan).await.unwrap());
    tx.commit().await.unwrap();
}

/// Claims the `expected` due steps and runs all their sends at once.
async fn send_all_at_once(
    env: &Env,
    state: &AppState,
    now: DateTime<Utc>,
    expected: usize,
) -> Vec<Outcome> {
    let claimed = step_store::claim(env.db(), now, now + Duration::minutes(5), 100)
        .await
        .unwrap();
    assert_eq!(claimed.len(), expected);
    let sender = Sender::start(state.clone());
    let outcomes = futures::future::join_all(claimed.iter().map(|step| sender.execute(step))).await;
    outcomes.into_iter().map(Result::unwrap).collect()
}

/// Pending steps rescheduled for `reason` to `due_at`.
async fn waiting(env: &Env, reason: &str, due_at: DateTime<Utc>) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM scheduled_steps WHERE status = 'pending' AND outcome = $1 AND due_at = $2",
    )
    .bind(reason)
    .bind(due_at)
    .fetch_one(env.db())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_step_due_in_quiet_hours_waits_for_the_next_allowed_local_time() {
    let env = env().await;
    // 03:00 UTC is 23:00 in New York (EDT): quiet until 08:00 local, 12:00 UTC.
    let lead = env
        .lead(json!({"email": true}), Some("America/New_York"))
        .await;
    // No zone and no country: the workspace's default zone decides (noon in Tokyo).
    sqlx::query("UPDATE workspaces SET settings = '{\"timezone\": \"Asia/Tokyo\"}' WHERE id = $1")
        .bind(env.workspace)
        .execute(env.db())
        .await
        .unwrap();
    let tokyo = env
        .lead_full(env.workspace, json!({"email": true}), None, None)
        .await;
    env.campaign(&["hot"], json!([{"channel": "email", "delay_secs": 0}]))
        .await;
    let mut settings = settings(&env);
    settings.engagement.quiet_start = "21:00".into();
    settings.engagement.quiet_end = "08:00".into();
    let clock = FixedClock::new(utc(2025, 6, 4, 3, 0));
    let app = spawn_with_clock(env, settings, Arc::new(clock.clone())).await;

    app.env
        .triage(lead, Category::Hot, &Uuid::now_v7().to_string())
        .await;
    app.env
        .triage(tokyo, Category::Hot, &Uuid::now_v7().to_string())
        .await;
    let db = app.db().clone();
    let sent_at = |lead: Uuid| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, DateTime<Utc>>(
                "SELECT created_at FROM communications WHERE lead_id = $1",
            )
            .bind(lead)
            .fetch_optional(&db)
            .await
            .unwrap()
        }
    };
    let (status, outcome, due_at): (String, Option<String>, DateTime<Utc>) =
        eventually(120, "the step rescheduled", || async {
            sqlx::query_as("SELECT status, outcome, due_at FROM scheduled_steps WHERE lead_id = $1 AND outcome IS NOT NULL")
                .bind(lead)
                .fetch_optional(&db)
                .await
                .unwrap()
        })
        .await;
    assert_eq!(
        (status.as_str(), outcome.as_deref()),
        ("pending", Some("quiet_hours"))
    );
    assert_eq!(due_at, utc(2025, 6, 4, 12, 0), "08:00 in New York");
    let tokyo_at = eventually(120, "the Tokyo lead's email", || sent_at(tokyo)).await;
    assert_eq!(
        tokyo_at,
        utc(2025, 6, 4, 3, 0),
        "noon in Tokyo: sent at once"
    );
    assert_eq!(
        sent_at(lead).await,
        None,
        "nothing sent at night in New York"
    );

    // One minute early: still nothing; at 08:00 local it goes out.
    clock.set(utc(2025, 6, 4, 11, 59));
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(sent_at(lead).await, None);
    clock.set(utc(2025, 6, 4, 12, 0));
    let at = eventually(120, "the email sent", || sent_at(lead)).await;
    assert_eq!(at, utc(2025, 6, 4, 12, 0));
}

#[tokio::test]
async fn fifty_concurrent_sends_across_two_campaigns_respect_a_cap_of_three_a_day() {
    let env = env().await;
    let lead = env.lead(json!({"email": true}), Some("UTC")).await;
    let (c1, v1) = env.campaign(&["hot"], json!([])).await;
    let (c2, v2) = env.campaign(&["warm"], json!([])).await;
    let state = concurrent_state(&env, 3, 10).await;
    let now = Utc::now();
    for campaign in [(c1, v1), (c2, v2)] {
        plan_emails(&env, lead, campaign, 25, now).await;
    }
    let outcomes = send_all_at_once(&env, &state, now, 50).await;
    let sent = outcomes.iter().filter(|o| **o == Outcome::Sent).count();
    let capped = outcomes
        .iter()
        .filter(|o| **o == Outcome::Rescheduled("frequency_cap"))
        .count();
    assert_eq!((sent, capped), (3, 47), "{outcomes:?}");
    assert_eq!(env.count("SELECT count(*) FROM communications").await, 3);
    assert_eq!(
        env.count("SELECT count(*) FROM send_reservations WHERE status = 'sent'")
            .await,
        3
    );
    let tomorrow = engagement::outreach::caps::next_day_start(now);
    assert_eq!(
        waiting(&env, "frequency_cap", tomorrow).await,
        47,
        "the rest wait for the next UTC day"
    );
    // No claim is left behind.
    assert_eq!(
        env.count("SELECT count(*) FROM scheduled_steps WHERE status = 'running'")
            .await,
        0
    );
}

#[tokio::test]
async fn thirty_concurrent_sends_never_spend_more_than_the_day_budget() {
    let env = env().await;
    // A budget for exactly 4 emails at 2,500 micros each.
    let (campaign, variant) = env
        .campaign_with(&["hot"], json!([]), |d| {
            d.daily_budget_micros = 10_000;
            d.channel_costs = [("email".to_owned(), 2_500)].into_iter().collect();
        })
        .await;
    let state = concurrent_state(&env, 50, 50).await;
    let now = Utc::now();
    for _ in 0..30 {
        let lead = env.lead(json!({"email": true}), Some("UTC")).await;
        plan_emails(&env, lead, (campaign, variant), 1, now).await;
    }
    let outcomes = send_all_at_once(&env, &state, now, 30).await;
    let sent = outcomes.iter().filter(|o| **o == Outcome::Sent).count();
    let held = outcomes
        .iter()
        .filter(|o| **o == Outcome::Rescheduled("budget_spent"))
        .count();
    assert_eq!((sent, held), (4, 26), "{outcomes:?}");
    assert_eq!(env.count("SELECT count(*) FROM communications").await, 4);
    let tomorrow = engagement::outreach::caps::next_day_start(now);
    assert_eq!(
        waiting(&env, "budget_spent", tomorrow).await,
        26,
        "the rest wait for the next day's budget"
    );
}

#[tokio::test]
async fn two_hundred_concurrent_sends_across_two_campaigns_respect_caps_and_budget_exactly() {
    let env = env().await;
    // Campaign A: 100 leads, one email each, a budget for exactly 40 emails.
    let (a, a_variant) = env
        .campaign_with(&["hot"], json!([]), |d| {
            d.daily_budget_micros = 40_000;
            d.channel_costs = [("email".to_owned(), 1_000)].into_iter().collect();
        })
        .await;
    // Campaign B: 4 leads, 25 emails each, capped at 3 a day per lead.
    let (b, b_variant) = env.campaign(&["warm"], json!([])).await;
    let state = concurrent_state(&env, 3, 10).await;
    let now = Utc::now();
    for _ in 0..100 {
        let lead = env.lead(json!({"email": true}), Some("UTC")).await;
        plan_emails(&env, lead, (a, a_variant), 1, now).await;
    }
    let mut capped_leads = Vec::new();
    for _ in 0..4 {
        let lead = env.lead(json!({"email": true}), Some("UTC")).await;
        plan_emails(&env, lead, (b, b_variant), 25, now).await;
        capped_leads.push(lead);
    }

    // All 200 claimed, mixed, and sent as four batches of 50 at once.
    let mut claimed = step_store::claim(env.db(), now, now + Duration::minutes(5), 500)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 200);
    claimed.sort_by_key(|s| s.id.as_u128().reverse_bits());
    let sender = Sender::start(state.clone());
    let batches = claimed
        .chunks(50)
        .map(|chunk| sender.execute_batch(chunk.iter().map(|s| (s.clone(), ())).collect()));
    let outcomes: Vec<(Uuid, Outcome)> = futures::future::join_all(batches)
        .await
        .into_iter()
        .flatten()
        .map(|(step, outcome)| (step.campaign_id, outcome.unwrap()))
        .collect();
    let count = |campaign: Uuid, outcome: Outcome| {
        outcomes
            .iter()
            .filter(|(c, o)| *c == campaign && *o == outcome)
            .count()
    };
    assert_eq!(
        (
            count(a, Outcome::Sent),
            count(a, Outcome::Rescheduled("budget_spent"))
        ),
        (40, 60),
        "the budget holds exactly 40 of A's emails"
    );
    assert_eq!(
        (
            count(b, Outcome::Sent),
            count(b, Outcome::Rescheduled("frequency_cap"))
        ),
        (12, 88),
        "each of B's 4 leads gets exactly 3"
    );

    let sent_of = |campaign: Uuid| {
        let db = env.db().clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM communications WHERE campaign_id = $1",
            )
            .bind(campaign)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    assert_eq!((sent_of(a).await, sent_of(b).await), (40, 12));
    for lead in capped_leads {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM communications WHERE lead_id = $1")
            .bind(lead)
            .fetch_one(env.db())
            .await
            .unwrap();
        assert_eq!(n, 3, "a lead of B got exactly its cap");
    }
    assert_eq!(
        env.count("SELECT count(*) FROM send_reservations WHERE status = 'sent'")
            .await,
        52
    );
    assert_eq!(
        env.count("SELECT count(*) FROM send_reservations WHERE status <> 'sent'")
            .await,
        0,
        "a step held back leaves no reservation"
    );
    let tomorrow = engagement::outreach::caps::next_day_start(now);
    assert_eq!(waiting(&env, "budget_spent", tomorrow).await, 60);
    assert_eq!(waiting(&env, "frequency_cap", tomorrow).await, 88);
    assert_eq!(
        env.count("SELECT count(*) FROM scheduled_steps WHERE status = 'running'")
            .await,
        0,
        "no claim is left behind"
    );
    // Every send is published once.
    assert_eq!(
        env.count("SELECT count(*) FROM interactions WHERE type = 'sent'")
            .await,
        52
    );
}

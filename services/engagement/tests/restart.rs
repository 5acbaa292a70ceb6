//! The service as real processes: a delayed step survives a restart and
//! runs once (with two instances after the restart), and a process killed
//! after the provider call but before its commit never sends twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::sinks::Gateway;
use common::*;
use serde_json::json;
use suite_domain::Category;
use suite_testkit::process::ServiceProcess;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_engagement");

fn process_env(gateway: &Gateway, lease_secs: &'static str) -> Vec<(&'static str, String)> {
    vec![
        ("SUITE__ENGAGEMENT__QUIET_START", "00:00".into()),
        ("SUITE__ENGAGEMENT__QUIET_END", "00:00".into()),
        ("SUITE__ENGAGEMENT__SMS_PROVIDER", "webhook".into()),
        ("SUITE__ENGAGEMENT__WEBHOOK_URL", gateway.url.clone()),
        ("SUITE__ENGAGEMENT__WEBHOOK_TIMEOUT_MS", "60000".into()),
        ("SUITE__ENGAGEMENT__SCHEDULER_POLL_MS", "100".into()),
        ("SUITE__ENGAGEMENT__SCHEDULER_LEASE_SECS", lease_secs.into()),
        ("SUITE__HTTP__SHUTDOWN_GRACE_SECS", "5".into()),
    ]
}

async fn start(env: &Env, vars: &[(&'static str, String)]) -> ServiceProcess {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut process = ServiceProcess::start(BIN, &env.env, &vars).await.unwrap();
    process.wait_ready(Duration::from_secs(60)).await.unwrap();
    process
}

#[tokio::test]
async fn a_delayed_step_survives_a_restart_and_runs_once_across_two_instances() {
    let gateway = Gateway::start(200).await;
    let env = env().await;
    let lead = env.lead(json!({"sms": true}), Some("UTC")).await;
    env.campaign(&["hot"], json!([{"channel": "sms", "delay_secs": 12}]))
        .await;
    let vars = process_env(&gateway, "300");
    let mut first = start(&env, &vars).await;
    env.triage(lead, Category::Hot, &Uuid::now_v7().to_string())
        .await;
    let db = env.db().clone();
    eventually(120, "the step planned", || async {
        let s = steps(&db, lead).await;
        (s.len() == 1 && s[0].2 == "pending").then_some(())
    })
    .await;
    let status = first.terminate(Duration::from_secs(15)).await.unwrap();
    assert!(status.success(), "clean exit: {status}");
    assert_eq!(gateway.hits(), 0, "the step was not due before the restart");

    // Two instances after the restart; the step runs once.
    let _a = start(&env, &vars).await;
    let _b = start(&env, &vars).await;
    eventually(120, "the step sent", || async {
        let s = steps(&db, lead).await;
        (s[0].2 == "sent").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(gateway.hits(), 1, "the provider received it once");
    assert_eq!(env.count("SELECT count(*) FROM communications").await, 1);
}

#[tokio::test]
async fn a_process_killed_after_the_provider_call_never_sends_twice() {
    let gateway = Gateway::start(200).await;
    gateway.hold.store(true, Ordering::SeqCst);
    let env = env().await;
    let lead = env.lead(json!({"sms": true}), Some("UTC")).await;
    env.campaign(&["hot"], json!([{"channel": "sms", "delay_secs": 0}]))
        .await;
    let vars = process_env(&gateway, "3");
    let first = start(&env, &vars).await;
    let event = Uuid::now_v7().to_string();
    env.triage(lead, Category::Hot, &event).await;
    // The provider has the message; the process dies before it records the send.
    tokio::time::timeout(Duration::from_secs(60), gateway.arrived.notified())
        .await
        .expect("provider called");
    drop(first); // SIGKILL
    gateway.hold.store(false, Ordering::SeqCst);
    assert_eq!(env.count("SELECT count(*) FROM communications").await, 0);

    // Restarted (and the triage event delivered again): the claim expires,
    // the step is taken over, and the reservation stops a second call.
    let _second = start(&env, &vars).await;
    env.triage(lead, Category::Hot, &event).await;
    let db = env.db().clone();
    let s = eventually(120, "the step settled", || async {
        let s = steps(&db, lead).await;
        (s[0].2 != "running" && s[0].2 != "pending").then_some(s)
    })
    .await;
    assert_eq!(
        (s[0].2.as_str(), s[0].3.as_deref()),
        ("indeterminate", Some("claim_lost_during_send"))
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(gateway.hits(), 1, "the provider received the message once");
    let status: String =
        sqlx::query_scalar("SELECT status FROM send_reservations WHERE lead_id = $1")
            .bind(lead)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(status, "indeterminate");
    assert_eq!(
        env.count("SELECT count(*) FROM dead_letters WHERE error_class = 'indeterminate'")
            .await,
        1
    );
    assert_eq!(env.count("SELECT count(*) FROM outreach_plans").await, 1);
}

#![allow(clippy::unwrap_used, clippy::expect_used)]

//! AI personalisation against the real stack: an OpenAI-compatible server
//! run by the test stands in for the model provider and records what it
//! received; steps are planned from triage events and sent by the
//! scheduler, and what was sent, stored and published is checked.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{env, eventually, settings, spawn, App, Env};
use serde_json::{json, Value};
use suite_config::Settings;
use suite_domain::{Category, InteractionV1};
use suite_testkit::llm::{Answer, LlmServer};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const FOOTER: &str = "Reply STOP to unsubscribe.";
const TEMPLATE: &str = "Hi {{ first_name }}, see https://acme.example/demo";

/// Settings with generation on, against `server`: fast retries, a short
/// timeout, prices of 1,000 / 2,000 micros per 1,000 tokens.
fn llm_settings(env: &Env, server: &LlmServer) -> Settings {
    let mut s = settings(env);
    let l = &mut s.llm;
    l.base_url = server.base_url();
    l.model = "test-model".into();
    l.timeout_ms = 1_000;
    l.retry_base_ms = 20;
    l.retry_max_delay_ms = 5_000;
    l.prices = vec!["*=1000/2000".into()];
    l.email_footer = FOOTER.into();
    l.wait_secs = 60;
    s
}

/// A campaign on `channel` whose variant asks for generation with `generation`.
async fn campaign(env: &Env, channel: &str, generation: Value) -> (Uuid, Uuid) {
    env.campaign_with(
        &["hot"],
        json!([{"channel": channel, "delay_secs": 0}]),
        |d| {
            let mut part = json!({"body": TEMPLATE, "generation": generation});
            if channel == "email" {
                part["subject"] = json!("Hello {{ first_name }}");
            }
            d.variants[0].content = json!({ channel: part });
        },
    )
    .await
}

/// Plans `lead` (hot) and waits until its first step is sent; returns the body sent.
async fn sent_body(app: &App, lead: Uuid) -> String {
    app.env
        .triage(lead, Category::Hot, &Uuid::now_v7().to_string())
        .await;
    let db = app.db().clone();
    eventually(60, "the step sent", || async {
        sqlx::query_scalar::<_, String>("SELECT body FROM communications WHERE lead_id = $1")
            .bind(lead)
            .fetch_optional(&db)
            .await
            .unwrap()
    })
    .await
}

/// `n` leads with SMS consent and a campaign whose SMS is generated.
async fn sms_leads(env: &Env, n: usize) -> Vec<Uuid> {
    campaign(
        env,
        "sms",
        json!({"prompt": "Hi {{ name }}, {{ email }}", "max_tokens": 20}),
    )
    .await;
    let mut leads = Vec::new();
    for _ in 0..n {
        leads.push(env.lead(json!({"sms": true}), Some("UTC")).await);
    }
    leads
}

/// Plans every one of `leads` and waits until each has its message sent;
/// returns when planning began.
async fn all_sent(app: &App, leads: &[Uuid], secs: u64) -> std::time::Instant {
    let started = std::time::Instant::now();
    for &lead in leads {
        app.env
            .triage(lead, Category::Hot, &Uuid::now_v7().to_string())
            .await;
    }
    let db = app.db().clone();
    eventually(secs, "every lead's message sent", || async {
        let sent: i64 =
            sqlx::query_scalar("SELECT count(*) FROM communications WHERE lead_id = ANY($1)")
                .bind(leads)
                .fetch_one(&db)
                .await
                .unwrap();
        (sent == leads.len() as i64).then_some(())
    })
    .await;
    started
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    state: String,
    model: Option<String>,
    prompt_version: Option<String>,
    tokens_in: i32,
    tokens_out: i32,
    latency_ms: i32,
    cache_hit: bool,
    cost_micros: i64,
    fallback_reason: Option<String>,
}

async fn generation(db: &sqlx::PgPool, lead: Uuid) -> Row {
    sqlx::query_as(
        "SELECT g.state, g.model, g.prompt_version, g.tokens_in, g.tokens_out, g.latency_ms, \
           g.cache_hit, g.cost_micros, g.fallback_reason \
         FROM step_generations g JOIN scheduled_steps s ON s.id = g.step_id WHERE s.lead_id = $1",
    )
    .bind(lead)
    .fetch_one(db)
    .await
    .expect("the step's generation")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_generated_email_is_sent_with_the_suites_footer_and_its_cost_published() {
    let server = LlmServer::start().await;
    server.set_default(Answer::Complete {
        text: "Dana, Initech's platform team could ship faster: https://acme.example/demo".into(),
        prompt_tokens: 40,
        completion_tokens: 20,
    });
    let env = env().await;
    campaign(
        &env,
        "email",
        json!({"prompt": "Write to {{ first_name }} ({{ title }} at {{ company }}), score {{ score }}, {{ category }}.",
               "max_tokens": 120}),
    )
    .await;
    let lead = env.lead(json!({"email": true}), Some("UTC")).await;
    let s = llm_settings(&env, &server);
    let app = spawn(env, s).await;

    let body = sent_body(&app, lead).await;
    assert_eq!(
        body,
        format!("Dana, Initech's platform team could ship faster: https://acme.example/demo\n\n-- \n{FOOTER}")
    );
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].prompt(),
        "Write to Dana (VP of Engineering at Initech), score 90, hot."
    );
    assert_eq!(received[0].model(), "test-model");
    assert_eq!(received[0].body["max_completion_tokens"], 120);

    let row = generation(app.db(), lead).await;
    assert_eq!(row.state, "done");
    assert_eq!(row.model.as_deref(), Some("test-model"));
    assert_eq!(row.prompt_version.as_ref().map(String::len), Some(16));
    assert_eq!((row.tokens_in, row.tokens_out), (40, 20));
    assert!(row.latency_ms >= 0 && row.latency_ms < 5_000, "{row:?}");
    assert!(!row.cache_hit);
    // 40 × 1,000 / 1,000 + 20 × 2,000 / 1,000 micros.
    assert_eq!(row.cost_micros, 80);
    assert_eq!(row.fallback_reason, None);

    // The sends API shows how the message was written.
    let page = app.get_json(&format!("/v1/sends?lead_id={lead}")).await;
    let generation = &page["data"][0]["generation"];
    assert_eq!(generation["state"], "done", "{page}");
    assert_eq!(generation["model"], "test-model");
    assert_eq!(generation["tokens_in"], 40);
    assert_eq!(generation["cost_micros"], 80);
    assert_eq!(generation["fallback_reason"], Value::Null);

    // The sent interaction charges the generation to the campaign.
    let records = app.env.interactions(1).await;
    let sent: InteractionV1 = serde_json::from_value(records[0].json()).expect("interaction");
    assert_eq!(sent.generation_cost_micros, Some(80));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_prompt_at_temperature_zero_is_asked_once() {
    let server = LlmServer::start().await;
    let env = env().await;
    campaign(
        &env,
        "sms",
        json!({"prompt": "A short note for the people at {{ company }}."}),
    )
    .await;
    let first = env.lead(json!({"sms": true}), Some("UTC")).await;
    let second = env.lead(json!({"sms": true}), Some("UTC")).await;
    let s = llm_settings(&env, &server);
    let app = spawn(env, s).await;

    assert_eq!(sent_body(&app, first).await, "Hello from the model.");
    assert_eq!(sent_body(&app, second).await, "Hello from the model.");
    assert_eq!(
        server.received().len(),
        1,
        "the second answer came from the cache"
    );
    let row = generation(app.db(), second).await;
    assert_eq!((row.state.as_str(), row.cache_hit), ("done", true));
    assert_eq!(row.cost_micros, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_with_retry_after_is_retried_once_after_it() {
    let server = LlmServer::start().await;
    server.script([
        Answer::Status {
            status: 429,
            retry_after: Some(1),
        },
        Answer::text("Second time lucky."),
    ]);
    let env = env().await;
    campaign(&env, "sms", json!({"prompt": "Hi {{ name }}"})).await;
    let lead = env.lead(json!({"sms": true}), Some("UTC")).await;
    let s = llm_settings(&env, &server);
    let app = spawn(env, s).await;

    assert_eq!(sent_body(&app, lead).await, "Second time lucky.");
    let received = server.received();
    assert_eq!(received.len(), 2, "retried once");
    let gap = received[1].at - received[0].at;
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_four_times_is_three_retries_then_the_template() {
    let server = LlmServer::start().await;
    server.set_default(Answer::Status {
        status: 500,
        retry_after: None,
    });
    let env = env().await;
    campaign(&env, "sms", json!({"prompt": "Hi {{ name }}"})).await;
    let lead = env.lead(json!({"sms": true}), Some("UTC")).await;
    let s = llm_settings(&env, &server);
    let app = spawn(env, s).await;

    assert_eq!(
        sent_body(&app, lead).await,
        "Hi Dana, see https://acme.example/demo"
    );
    assert_eq!(server.received().len(), 4, "one call and three retries");
    let row = generation(app.db(), lead).await;
    assert_eq!(row.state, "fallback");
    assert_eq!(row.fallback_reason.as_deref(), Some("provider_error"));
    assert_eq!(row.cost_micros, 0, "no tokens were used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_provider_times_out_and_the_template_is_sent() {
    let server = LlmServer::start().await;
    server.set_default(Answer::Hang(Duration::from_secs(30)));
    let env = env().await;
    campaign(&env, "sms", json!({"prompt": "Hi {{ name }}"})).await;
    let lead = env.lead(json!({"sms": true}), Some("UTC")).await;
    let mut s = llm_settings(&env, &server);
    s.llm.retry_max = 1;
    let app = spawn(env, s).await;

    assert_eq!(
        sent_body(&app, lead).await,
        "Hi Dana, see https://acme.example/demo"
    );
    let row = generation(app.db(), lead).await;
    assert_eq!(row.fallback_reason.as_deref(), Some("timeout"));
    assert_eq!(server.received().len(), 2, "one call and one retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_foreign_link_or_an_overlong_completion_is_not_sent() {
    let server = LlmServer::start().await;
    server.script([
        Answer::text("Claim it at https://evil.example/win"),
        Answer::text(&"Far too long. ".repeat(10)),
    ]);
    let env = env().await;
    campaign(
        &env,
        "sms",
        json!({"prompt": "Hi {{ name }}", "max_chars": 100, "temperature": 0.7}),
    )
    .await;
    let first = env.lead(json!({"sms": true}), Some("UTC")).await;
    let second = env.lead(json!({"sms": true}), Some("UTC")).await;
    let s = llm_settings(&env, &server);
    let app = spawn(env, s).await;

    let template = "Hi Dana, see https://acme.example/demo";
    assert_eq!(sent_body(&app, first).await, template);
    assert_eq!(sent_body(&app, second).await, template);
    for lead in [first, second] {
        let row = generation(app.db(), lead).await;
        assert_eq!(row.fallback_reason.as_deref(), Some("guardrail"), "{row:?}");
        assert!(row.cost_micros > 0, "the tokens were paid for");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_generation_the_day_budget_cannot_pay_for_sends_the_template() {
    let server = LlmServer::start().await;
    let env = env().await;
    env.campaign_with(&["hot"], json!([{"channel": "sms", "delay_secs": 0}]), |d| {
        d.daily_budget_micros = 100;
        d.variants[0].content =
            json!({"sms": {"body": TEMPLATE, "generation": {"prompt": "Hi {{ name }}", "max_tokens": 200}}});
    })
    .await;
    let lead = env.lead(json!({"sms": true}), Some("UTC")).await;
    let s = llm_settings(&env, &server);
    let app = spawn(env, s).await;

    // 200 completion tokens at 2,000 micros per 1,000 are 400 micros: over the day's 100.
    assert_eq!(
        sent_body(&app, lead).await,
        "Hi Dana, see https://acme.example/demo"
    );
    assert!(
        server.received().is_empty(),
        "no call the budget cannot pay"
    );
    let row = generation(app.db(), lead).await;
    assert_eq!(row.fallback_reason.as_deref(), Some("budget"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_across_two_instances_stays_within_the_workspaces_minute() {
    let server = LlmServer::start().await;
    let env = env().await;
    let leads = sms_leads(&env, 60).await;
    let mut s = llm_settings(&env, &server);
    s.llm.requests_per_minute = 20;
    s.llm.on_limit = "fallback".into();
    // A second instance, sharing the database, Redis and the consumer group.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let second = CancellationToken::new();
    tokio::spawn(engagement::run_with(
        s.clone(),
        listener,
        second.clone(),
        Arc::new(engagement::clock::SystemClock),
    ));
    let app = spawn(env, s).await;
    let started = all_sent(&app, &leads, 120).await;
    second.cancel();
    let within_minute = server
        .received()
        .iter()
        .filter(|r| r.at.duration_since(started) < Duration::from_secs(60))
        .count();
    assert!(within_minute <= 20, "{within_minute} calls in the minute");
    let states: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "SELECT g.state, g.fallback_reason, count(*) FROM step_generations g \
         JOIN scheduled_steps s ON s.id = g.step_id WHERE s.lead_id = ANY($1) \
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(&leads)
    .fetch_all(app.db())
    .await
    .unwrap();
    let done: i64 = states.iter().filter(|s| s.0 == "done").map(|s| s.2).sum();
    let limited: i64 = states
        .iter()
        .filter(|s| s.1.as_deref() == Some("rate_limited"))
        .map(|s| s.2)
        .sum();
    assert_eq!(done as usize, server.received().len(), "{states:?}");
    assert_eq!(done + limited, 60, "none lost: {states:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_is_written_before_its_step_is_due_and_erasure_removes_it() {
    let server = LlmServer::start().await;
    let env = env().await;
    env.campaign_with(
        &["hot"],
        json!([{"channel": "sms", "delay_secs": 120}]),
        |d| {
            d.variants[0].content =
                json!({"sms": {"body": TEMPLATE, "generation": {"prompt": "Hi {{ name }}"}}});
        },
    )
    .await;
    let lead = env.lead(json!({"sms": true}), Some("UTC")).await;
    let s = llm_settings(&env, &server);
    let app = spawn(env, s).await;
    app.env
        .triage(lead, Category::Hot, &Uuid::now_v7().to_string())
        .await;

    // Written within the lookahead, while its step is still two minutes away.
    let db = app.db().clone();
    eventually(30, "the message written ahead", || async {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT g.state, s.status FROM step_generations g \
             JOIN scheduled_steps s ON s.id = g.step_id WHERE s.lead_id = $1",
        )
        .bind(lead)
        .fetch_optional(&db)
        .await
        .unwrap();
        (row == Some(("done".into(), "pending".into()))).then_some(())
    })
    .await;
    assert_eq!(server.received().len(), 1);

    // The lead is erased: its unsent generated text goes with its contact data.
    app.env
        .publish("leads.contacts", &lead.to_string(), None)
        .await;
    eventually(30, "the generated text erased", || async {
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM step_generations g \
             JOIN scheduled_steps s ON s.id = g.step_id WHERE s.lead_id = $1",
        )
        .bind(lead)
        .fetch_one(&db)
        .await
        .unwrap();
        (left == 0).then_some(())
    })
    .await;

    // Its cached answer went too: the same prompt for another lead asks again.
    let other = app.env.lead(json!({"sms": true}), Some("UTC")).await;
    app.env
        .triage(other, Category::Hot, &Uuid::now_v7().to_string())
        .await;
    server.wait_for(2, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_the_limit_generations_wait_for_the_next_minute_when_so_configured() {
    let server = LlmServer::start().await;
    let env = env().await;
    let leads = sms_leads(&env, 24).await;
    let mut s = llm_settings(&env, &server);
    s.llm.requests_per_minute = 20;
    s.llm.on_limit = "wait".into();
    s.llm.wait_secs = 180;
    let app = spawn(env, s).await;
    let started = all_sent(&app, &leads, 150).await;
    let received = server.received();
    assert_eq!(
        received.len(),
        24,
        "every message was generated, none fell back"
    );
    let early = received
        .iter()
        .filter(|r| r.at.duration_since(started) < Duration::from_secs(55))
        .count();
    assert!(early <= 20, "{early} calls before the minute turned");
    let done: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM step_generations g JOIN scheduled_steps s ON s.id = g.step_id \
         WHERE s.lead_id = ANY($1) AND g.state = 'done'",
    )
    .bind(&leads)
    .fetch_one(app.db())
    .await
    .unwrap();
    assert_eq!(done, 24);
}

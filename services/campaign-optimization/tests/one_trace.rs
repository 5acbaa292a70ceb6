#![allow(clippy::unwrap_used, clippy::expect_used)]
//! One lead, one trace: with the three services as processes exporting
//! their spans over OTLP to a receiver this test runs, a lead posted with a
//! `traceparent` is one trace through lead-triage (intake and triage),
//! engagement (planning, the email written by a language model, an immediate
//! send and a delayed one, an interaction reported later by a callback with
//! no trace context of its own) and campaign-optimization (counting each
//! interaction).
//!
//! Needs the `lead-triage` and `engagement` binaries next to this package's
//! (`cargo nextest run --workspace` builds them).

use std::time::{Duration, Instant};

use rand::Rng as _;
use serde_json::{json, Value};
use suite_testkit::llm::LlmServer;
use suite_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use suite_testkit::TestEnv;
use uuid::Uuid;

mod processes;
use processes::{start_service, Http};

/// The spans of `trace` that `service` exported under `name`.
fn of<'a>(
    spans: &'a [ReceivedSpan],
    trace: &str,
    service: &str,
    name: &str,
) -> Vec<&'a ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.trace_id == trace && s.service == service && s.name == name)
        .collect()
}

/// Consumption spans of `service` in `trace` for records of `topic`.
fn consumed<'a>(
    spans: &'a [ReceivedSpan],
    trace: &str,
    service: &str,
    topic: &str,
) -> Vec<&'a ReceivedSpan> {
    of(spans, trace, service, "kafka.consume")
        .into_iter()
        .filter(|s| {
            s.attr("messaging.destination.name")
                .is_some_and(|t| t.ends_with(topic))
        })
        .collect()
}

#[tokio::test]
async fn a_lead_is_one_trace_across_the_three_services() {
    let env = TestEnv::new("one-trace").await.expect("env");
    processes::create_topics(&env).await;
    let (_ws, key) = processes::workspace(&env).await;
    let receiver = OtlpReceiver::start().await.expect("OTLP receiver");
    let logs = std::env::temp_dir().join(format!("one-trace-{}", env.id));
    std::fs::create_dir_all(&logs).unwrap();
    let export: [(&str, &str); 3] = [
        (
            "SUITE__TELEMETRY__OTLP_ENDPOINT",
            receiver.endpoint.as_str(),
        ),
        ("SUITE__TELEMETRY__TRACE_SAMPLE_RATIO", "1.0"),
        // spans leave each process within 200 ms instead of 5 s
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    let mut triage = start_service(&env, "lead-triage", &logs, &export).await;
    let model = LlmServer::start().await;
    let model_url = model.base_url();
    let mut engagement_vars = export.to_vec();
    engagement_vars.extend(processes::SEND_NOW);
    engagement_vars.push(("SUITE__LLM__BASE_URL", model_url.as_str()));
    let mut engagement = start_service(&env, "engagement", &logs, &engagement_vars).await;
    let mut optimizer = start_service(&env, "campaign-optimization", &logs, &export).await;
    for p in [&mut triage, &mut engagement, &mut optimizer] {
        p.wait_ready(Duration::from_secs(90)).await.expect("ready");
    }
    let http = Http {
        client: reqwest::Client::new(),
        key,
    };

    // A campaign with an immediate email and an SMS three seconds later.
    let (status, campaign) = http
        .send(
            reqwest::Method::POST,
            format!("{}/v1/campaigns", optimizer.base),
            Some(&json!({
                "name": "Traced",
                "target_categories": ["hot", "warm", "nurture"],
                "ladder": [{"channel": "email", "delay_secs": 0}, {"channel": "sms", "delay_secs": 3}],
                "objective": "conversion",
                "daily_budget_micros": 1_000_000,
                "channel_costs": {"email": 1000, "sms": 1000},
                "variants": [{"name": "A", "content": {
                    "email": {"subject": "Hi {{ first_name }}", "body": "For {{ company }}",
                              "generation": {"prompt": "Write to {{ first_name }} at {{ company }}."}},
                    "sms": {"body": "Hi {{ first_name }}"}}}]
            })),
            None,
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let campaign_id: Uuid = campaign["id"].as_str().unwrap().parse().unwrap();
    wait_for(&env.db, "engagement to learn of the campaign", || {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM engagement_campaigns WHERE id = $1)",
        )
        .bind(campaign_id)
    })
    .await;

    // The lead, posted in a trace of the caller's.
    let trace: String = {
        let bytes: [u8; 16] = rand::rng().random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    let response = http
        .client
        .post(format!("{}/v1/leads", triage.base))
        .bearer_auth(&http.key)
        .header("traceparent", &traceparent)
        .json(&json!({
            "email": format!("fox.mulder.{}@initech.com", env.id),
            "name": "Fox Mulder",
            "phone": "+1 415 555 0100",
            "company": "Initech",
            "title": "VP of Engineering",
            "company_size": 800,
            "industry": "software",
            "country": "US",
            "source": "demo_request",
            "consent": {"email": true, "sms": true, "phone": true}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let lead: Value = response.json().await.unwrap();
    let lead_id: Uuid = lead["id"].as_str().unwrap().parse().unwrap();

    // Both steps sent, the second (delayed) one by a later scheduler pass.
    wait_for(&env.db, "both steps to be sent", || {
        sqlx::query_scalar::<_, bool>(
            "SELECT count(*) = 2 FROM send_reservations WHERE lead_id = $1 AND status = 'sent'",
        )
        .bind(lead_id)
    })
    .await;
    let email: String = sqlx::query_scalar(
        "SELECT body FROM communications WHERE lead_id = $1 AND channel = 'email'",
    )
    .bind(lead_id)
    .fetch_one(&env.db)
    .await
    .unwrap();
    assert!(email.starts_with("Hello from the model."), "{email}");
    assert_eq!(model.received().len(), 1, "one generation");
    let email_send: Uuid = sqlx::query_scalar(
        "SELECT id FROM send_reservations WHERE lead_id = $1 AND channel = 'email'",
    )
    .bind(lead_id)
    .fetch_one(&env.db)
    .await
    .unwrap();

    // The recipient opens the email: the provider's callback carries no
    // trace context.
    let (status, body) = http
        .send(
            reqwest::Method::POST,
            format!("{}/v1/interactions", engagement.base),
            Some(&json!({"lead_id": lead_id, "kind": "opened",
                         "provider_event_id": format!("open-{email_send}"), "send_id": email_send})),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // Every hop of the lead, in the one trace.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let spans = receiver.spans();
        let intake = of(&spans, &trace, "lead-triage", "http.request");
        let planned = ["leads.hot", "leads.warm", "leads.nurture"]
            .iter()
            .flat_map(|t| consumed(&spans, &trace, "engagement", t))
            .count();
        let sends: Vec<&str> = of(&spans, &trace, "engagement", "engagement.send")
            .iter()
            .filter_map(|s| s.attr("channel"))
            .collect();
        let generated = of(&spans, &trace, "engagement", "engagement.generate");
        let callback = of(&spans, &trace, "engagement", "engagement.interaction");
        let counted = consumed(
            &spans,
            &trace,
            "campaign-optimization",
            "engagement.interactions",
        );
        let done = !intake.is_empty()
            && planned == 1
            && sends.len() == 2
            && generated.len() == 1
            && callback.len() == 1
            && counted.len() == 3;
        if done {
            assert!(
                sends.contains(&"email") && sends.contains(&"sms"),
                "{sends:?}"
            );
            // The callback's own request is a trace of its own, linked.
            let linked = &callback[0].links;
            assert_eq!(linked.len(), 1, "{linked:?}");
            assert_ne!(linked[0], trace);
            assert!(spans
                .iter()
                .any(|s| s.trace_id == linked[0] && s.name == "http.request"));
            // Nothing of the lead's leaked into another trace.
            let elsewhere: Vec<&ReceivedSpan> = spans
                .iter()
                .filter(|s| s.trace_id != trace)
                .filter(|s| s.attr("lead_id") == Some(lead_id.to_string().as_str()))
                .filter(|s| s.name != "http.request")
                .collect();
            assert!(elsewhere.is_empty(), "{elsewhere:#?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lead's trace is incomplete: intake {} planned {planned} sends {sends:?} \
             generated {} interaction {} counted {}; {} spans received",
            intake.len(),
            generated.len(),
            callback.len(),
            counted.len(),
            spans.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Polls `query` (a yes/no question) until it answers yes, for up to 60 s.
async fn wait_for<'q, F>(db: &sqlx::PgPool, what: &str, query: F)
where
    F: Fn() -> sqlx::query::QueryScalar<'q, sqlx::Postgres, bool, sqlx::postgres::PgArguments>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !query().fetch_one(db).await.unwrap() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

//! The providers against real servers: an SMTP dialogue with a sink the
//! test runs, and a webhook gateway that fails on purpose (retries,
//! fallback, breaker).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::sinks::{Gateway, SmtpSink};
use common::*;
use engagement::outreach::{BreakerConfig, BreakerState, CircuitBreaker, RetryPolicy};
use engagement::providers::webhook::WebhookProvider;
use engagement::providers::{OutgoingMessage, Route};
use engagement::send::deliver::{deliver, Delivery};
use serde_json::json;
use suite_domain::{Category, Channel};
use uuid::Uuid;

#[tokio::test]
async fn smtp_delivers_subject_recipient_and_body_to_a_real_smtp_server() {
    let sink = SmtpSink::start().await;
    let env = env().await;
    let lead = env.lead(json!({"email": true}), Some("UTC")).await;
    env.campaign(&["warm"], json!([{"channel": "email", "delay_secs": 0}]))
        .await;
    let mut settings = settings(&env);
    settings.engagement.email_provider = "smtp".into();
    settings.engagement.smtp_host = "127.0.0.1".into();
    settings.engagement.smtp_port = sink.port;
    settings.engagement.smtp_tls = "none".into();
    settings.engagement.smtp_from = "Outreach <outreach@suite.example>".into();
    let app = spawn(env, settings).await;

    let event = Uuid::now_v7().to_string();
    app.env.triage(lead, Category::Warm, &event).await;
    app.env.triage(lead, Category::Warm, &event).await;
    let db = app.db().clone();
    eventually(120, "the email sent", || async {
        let s = steps(&db, lead).await;
        (s.first().map(|s| s.2.as_str()) == Some("sent")).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mails = sink.received();
    assert_eq!(mails.len(), 1, "delivered once: {mails:?}");
    let mail = &mails[0];
    let email: String = sqlx::query_scalar("SELECT email FROM engagement_leads WHERE id = $1")
        .bind(lead)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(mail.rcpt_to, [format!("<{email}>")]);
    assert_eq!(mail.mail_from, "<outreach@suite.example>");
    assert_eq!(mail.header("Subject").as_deref(), Some("Hello Dana"));
    assert_eq!(mail.header("To").as_deref(), Some(email.as_str()));
    assert_eq!(mail.body().trim_end(), "Hi Dana at Initech, let's talk.");
    let send_id: Uuid = sqlx::query_scalar("SELECT id FROM send_reservations WHERE lead_id = $1")
        .bind(lead)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        mail.header("Message-ID"),
        Some(format!("<{send_id}@engagement.suite>"))
    );
}

async fn webhook_app(gateway: &Gateway) -> (App, Uuid) {
    let env = env().await;
    let lead = env
        .lead(json!({"email": true, "sms": true}), Some("UTC"))
        .await;
    // SMS now, email a day later: a fallback brings the email forward.
    env.campaign(
        &["hot"],
        json!([{"channel": "sms", "delay_secs": 0}, {"channel": "email", "delay_secs": 86400}]),
    )
    .await;
    let mut settings = settings(&env);
    settings.engagement.sms_provider = "webhook".into();
    settings.engagement.webhook_url = gateway.url.clone();
    let app = spawn(env, settings).await;
    (app, lead)
}

#[tokio::test]
async fn a_failing_gateway_is_retried_then_falls_back_and_a_rejection_falls_back_at_once() {
    // 500: the first call and three retries, then the step is dead-lettered and email takes over.
    let gateway = Gateway::start(500).await;
    let (app, lead) = webhook_app(&gateway).await;
    app.env
        .triage(lead, Category::Hot, &Uuid::now_v7().to_string())
        .await;
    let db = app.db().clone();
    let s = eventually(120, "the email fallback sent", || async {
        let s = steps(&db, lead).await;
        (s.len() == 2 && s[1].2 == "sent").then_some(s)
    })
    .await;
    assert_eq!(
        (s[0].2.as_str(), s[0].3.as_deref()),
        ("dead", Some("retries_exhausted"))
    );
    assert_eq!(gateway.hits(), 4, "1 call + 3 retries");
    let keys: Vec<Option<String>> = gateway
        .bodies
        .lock()
        .unwrap()
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    let campaign: Uuid =
        sqlx::query_scalar("SELECT campaign_id FROM outreach_plans WHERE lead_id = $1")
            .bind(lead)
            .fetch_one(&db)
            .await
            .unwrap();
    let expected = format!("{lead}:{campaign}:0:sms");
    assert!(
        keys.iter().all(|k| k.as_deref() == Some(expected.as_str())),
        "same idempotency key on every retry: {keys:?}"
    );
    let (status, attempts): (String, i32) = sqlx::query_as(
        "SELECT status, attempts FROM send_reservations WHERE lead_id = $1 AND channel = 'sms'",
    )
    .bind(lead)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 4));
    let (class, consumer): (String, String) =
        sqlx::query_as("SELECT error_class, consumer FROM dead_letters")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        (class.as_str(), consumer.as_str()),
        ("transient_exhausted", "engagement.scheduler")
    );

    // 400: no retry; the step fails and email goes out.
    let rejecting = Gateway::start(400).await;
    let (app, lead) = webhook_app(&rejecting).await;
    app.env
        .triage(lead, Category::Hot, &Uuid::now_v7().to_string())
        .await;
    let db = app.db().clone();
    let s = eventually(120, "the email fallback sent", || async {
        let s = steps(&db, lead).await;
        (s.len() == 2 && s[1].2 == "sent").then_some(s)
    })
    .await;
    assert_eq!(
        (s[0].2.as_str(), s[0].3.as_deref()),
        ("failed", Some("permanent_failure"))
    );
    assert_eq!(rejecting.hits(), 1, "a permanent failure is not retried");
    assert_eq!(app.env.count("SELECT count(*) FROM dead_letters").await, 0);
}

fn message() -> OutgoingMessage {
    OutgoingMessage {
        idempotency_key: "k".into(),
        send_id: Uuid::now_v7(),
        lead_id: Uuid::now_v7(),
        campaign_id: Uuid::now_v7(),
        channel: Channel::Sms,
        to: "+14155550100".into(),
        subject: None,
        body: "hi".into(),
    }
}

#[tokio::test]
async fn repeated_failures_open_the_breaker_which_half_opens_after_its_window() {
    let gateway = Gateway::start(503).await;
    let s = suite_config::EngagementSettings {
        webhook_url: gateway.url.clone(),
        ..Default::default()
    };
    let config = BreakerConfig {
        failure_rate: 0.5,
        min_calls: 4,
        window: Duration::from_secs(60),
        open_for: Duration::from_secs(1),
        probes: 2,
    };
    let route = Route {
        provider: Arc::new(WebhookProvider::new(&s).unwrap()),
        breaker: CircuitBreaker::new("test-webhook", config),
    };
    let policy = RetryPolicy {
        max_retries: 3,
        base_ms: 5,
        max_delay_ms: 20,
    };
    let m = message();

    // Four transient failures: the breaker opens on the fourth.
    let first = deliver(&route, &m, &policy).await;
    assert!(
        matches!(
            first,
            Delivery::Exhausted {
                calls: 4,
                failure: _
            }
        ),
        "{first:?}"
    );
    assert_eq!(route.breaker.state(), BreakerState::Open);
    assert_eq!(gateway.hits(), 4);
    // Open: refused without reaching the gateway.
    let refused = deliver(&route, &m, &policy).await;
    assert!(matches!(refused, Delivery::Refused { .. }), "{refused:?}");
    assert_eq!(gateway.hits(), 4);

    // After its window it half-opens; a failing probe opens it again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(route.breaker.state(), BreakerState::HalfOpen);
    let probe = deliver(&route, &m, &policy).await;
    assert!(
        matches!(
            probe,
            Delivery::Exhausted {
                calls: 1,
                failure: _
            }
        ),
        "{probe:?}"
    );
    assert_eq!(gateway.hits(), 5);
    assert_eq!(route.breaker.state(), BreakerState::Open);

    // The gateway recovers: both probes succeed and it closes.
    gateway.set_status(200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..2 {
        let ok = deliver(&route, &m, &policy).await;
        assert!(matches!(ok, Delivery::Sent { calls: 1, .. }), "{ok:?}");
    }
    assert_eq!(route.breaker.state(), BreakerState::Closed);
    assert_eq!(gateway.hits(), 7);
}

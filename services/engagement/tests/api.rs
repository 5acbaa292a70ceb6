//! The REST API: interactions (idempotent), conversation and context,
//! sends, tenancy, OpenAPI.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use suite_domain::Category;
use suite_http::Scope;
use uuid::Uuid;

async fn other_key(app: &App) -> String {
    let ws = suite_http::tenancy::create_workspace(app.db(), "other")
        .await
        .unwrap();
    suite_http::tenancy::create_api_key(app.db(), ws.id, "o", &[Scope::Read, Scope::Write], None)
        .await
        .unwrap()
        .key
}

#[tokio::test]
async fn a_context_read_before_the_plan_does_not_hide_the_plan() {
    let env = env().await;
    let lead = env.lead(json!({"email": true}), Some("UTC")).await;
    // The first step is a day away: no send drops the cached context before then.
    env.campaign(
        &["nurture"],
        json!([{"channel": "email", "delay_secs": 86400}]),
    )
    .await;
    let settings = settings(&env);
    let app = spawn(env, settings).await;
    let before = app.get_json(&format!("/v1/leads/{lead}/context")).await;
    assert_eq!(before["current_step"], Value::Null, "not planned yet");

    app.env
        .triage(lead, Category::Nurture, &Uuid::now_v7().to_string())
        .await;
    let step = eventually(120, "the plan in the context", || async {
        let context = app.get_json(&format!("/v1/leads/{lead}/context")).await;
        (!context["current_step"].is_null()).then(|| context["current_step"].clone())
    })
    .await;
    assert_eq!(step["channel"], "email");
    assert_eq!(step["status"], "pending");
}

#[tokio::test]
async fn context_and_conversation_return_what_happened_to_the_lead_only() {
    let env = env().await;
    let lead = env
        .lead(json!({"email": true, "sms": true}), Some("UTC"))
        .await;
    let (campaign, _) = env
        .campaign(
            &["warm"],
            json!([{"channel": "email", "delay_secs": 0}, {"channel": "sms", "delay_secs": 86400}]),
        )
        .await;
    let settings = settings(&env);
    let app = spawn(env, settings).await;
    app.env
        .triage(lead, Category::Warm, &Uuid::now_v7().to_string())
        .await;
    let db = app.db().clone();
    let send_id: Uuid = eventually(120, "the email sent", || async {
        sqlx::query_scalar(
            "SELECT id FROM send_reservations WHERE lead_id = $1 AND status = 'sent'",
        )
        .bind(lead)
        .fetch_optional(&db)
        .await
        .unwrap()
    })
    .await;

    let click = json!({"lead_id": lead, "kind": "clicked", "send_id": send_id, "provider_event_id": "evt-click-1"});
    let first = app.post("/v1/interactions", &click).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["kind"], "clicked");
    assert_eq!(first["campaign_id"], campaign.to_string());
    assert_eq!(first["channel"], "email");
    // The same provider event again: the first interaction, nothing new.
    let again = app.post("/v1/interactions", &click).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(
        app.env
            .count("SELECT count(*) FROM interactions WHERE type = 'clicked'")
            .await,
        1
    );

    let conversation: Value = app
        .get(&format!("/v1/leads/{lead}/conversation"))
        .await
        .json()
        .await
        .unwrap();
    let messages = conversation["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["subject"], "Hello Dana");
    assert_eq!(messages[0]["body"], "Hi Dana at Initech, let's talk.");
    let kinds: Vec<&str> = conversation["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["clicked", "sent"]);

    let context: Value = app
        .get(&format!("/v1/leads/{lead}/context"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(context["recent_source"], "redis");
    let recent: Vec<&str> = context["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(recent, ["clicked", "message"]);
    assert_eq!(context["last_interaction"]["kind"], "clicked");
    assert_eq!(context["current_step"]["channel"], "sms");
    assert_eq!(context["current_step"]["status"], "pending");
    assert_eq!(context["consent"]["email"]["allowed"], true);
    assert_eq!(
        context["consent"]["phone"]["allowed"], false,
        "no intake consent for phone"
    );
    assert_eq!(context["caps_left"]["email"]["today"], 2);
    assert_eq!(context["caps_left"]["sms"]["today"], 3);

    // A reply ends the plan: the pending SMS step is skipped.
    let reply = json!({"lead_id": lead, "kind": "replied", "channel": "email", "campaign_id": campaign, "provider_event_id": "evt-reply-1"});
    assert_eq!(app.post("/v1/interactions", &reply).await.status(), 201);
    let s = steps(&db, lead).await;
    assert_eq!(
        (s[1].2.as_str(), s[1].3.as_deref()),
        ("skipped", Some("goal_reached:replied"))
    );
    let context: Value = app
        .get(&format!("/v1/leads/{lead}/context"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        context["current_step"],
        Value::Null,
        "the cached context was dropped on write"
    );
    assert_eq!(context["last_interaction"]["kind"], "replied");
    assert_eq!(
        context["recent"][0]["kind"], "replied",
        "the short-term memory is cached with it, and dropped with it"
    );
    assert_eq!(context["caps_left"]["email"]["today"], 2);

    // Every interaction is published: sent, clicked, replied.
    let records = app.env.interactions(3).await;
    let mut kinds: Vec<String> = records
        .iter()
        .map(|r| r.json()["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["clicked", "replied", "sent"]);
    let clicked = records
        .iter()
        .find(|r| r.json()["kind"] == "clicked")
        .unwrap();
    assert_eq!(clicked.json()["provider_event_id"], "evt-click-1");
    assert_eq!(
        clicked.key.as_deref(),
        Some(campaign.to_string().as_bytes())
    );

    // Sends: filters and cursor pages.
    let page: Value = app
        .get(&format!("/v1/sends?lead_id={lead}&status=sent&limit=1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["id"], send_id.to_string());
    assert_eq!(page["next_cursor"], Value::Null);
    let none: Value = app
        .get(&format!("/v1/sends?campaign_id={campaign}&status=failed"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["data"].as_array().unwrap().len(), 0);

    // Another workspace sees none of it.
    let other = other_key(&app).await;
    for path in [
        format!("/v1/leads/{lead}/conversation"),
        format!("/v1/leads/{lead}/context"),
        format!("/v1/consent?lead_id={lead}"),
    ] {
        let resp = app.get_as(&path, &other).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
    let theirs: Value = app.get_as("/v1/sends", &other).await.json().await.unwrap();
    assert_eq!(theirs["data"].as_array().unwrap().len(), 0);
    let foreign = app
        .http
        .post(format!("{}/v1/interactions", app.base))
        .bearer_auth(&other)
        .json(&json!({"lead_id": lead, "kind": "clicked", "channel": "email", "provider_event_id": "evt-x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);

    let doc: Value = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/interactions",
        "/v1/leads/{id}/conversation",
        "/v1/leads/{id}/context",
        "/v1/consent",
        "/v1/sends",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
}

#[tokio::test]
async fn times_in_the_future_are_taken_as_now_and_past_ones_are_kept() {
    let env = env().await;
    let lead = env.lead(json!({"email": true}), Some("UTC")).await;
    let settings = settings(&env);
    let app = spawn(env, settings).await;
    let before = chrono::Utc::now();

    let future = app
        .post(
            "/v1/interactions",
            &json!({"lead_id": lead, "kind": "opened", "channel": "email",
                    "provider_event_id": "evt-future", "occurred_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(future.status(), 201);
    let future: Value = future.json().await.unwrap();
    let at: chrono::DateTime<chrono::Utc> =
        future["occurred_at"].as_str().unwrap().parse().unwrap();
    assert!(
        at >= before && at <= chrono::Utc::now(),
        "taken as now: {at}"
    );

    let old = app
        .post(
            "/v1/interactions",
            &json!({"lead_id": lead, "kind": "delivered", "channel": "email",
                    "provider_event_id": "evt-old", "occurred_at": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(old.status(), 201);
    let old: Value = old.json().await.unwrap();
    assert_eq!(old["occurred_at"], "2001-01-01T00:00:00Z");

    let consent = app
        .post(
            "/v1/consent",
            &json!({"lead_id": lead, "channel": "sms", "status": "granted", "source": " form ",
                    "legal_basis": "consent", "recorded_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(consent.status(), 201);
    let consent: Value = consent.json().await.unwrap();
    let at: chrono::DateTime<chrono::Utc> =
        consent["recorded_at"].as_str().unwrap().parse().unwrap();
    assert!(
        at >= before && at <= chrono::Utc::now(),
        "taken as now: {at}"
    );
    assert_eq!(consent["source"], "form", "stored trimmed");
    let view = app.get_json(&format!("/v1/consent?lead_id={lead}")).await;
    assert_eq!(view["current"]["sms"]["status"], "granted");
    assert_eq!(view["history"][0]["id"], consent["id"]);
}

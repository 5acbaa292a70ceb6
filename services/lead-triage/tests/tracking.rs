#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! track / identify: decay by event time, category changes emit events, replays change nothing.

mod common;

use common::*;

/// VP, software, US, business email, 800 staff, organic, no phone: warm under the default model.
fn warm_lead(email: &str) -> serde_json::Value {
    serde_json::json!({"email": email, "title": "VP Marketing", "company_size": 800,
        "industry": "software", "country": "US", "source": "organic"})
}

async fn score_of(t: &Triage, id: &str) -> (i64, String) {
    let lead: serde_json::Value = t
        .get(&format!("/v1/leads/{id}"))
        .await
        .json()
        .await
        .unwrap();
    (
        lead["score"].as_i64().unwrap(),
        lead["category"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn track_raises_the_score_with_decay_and_emits_on_category_change() {
    let t = spawn().await;
    let a: serde_json::Value = t
        .post("/v1/leads", &warm_lead("a@initech.com"))
        .await
        .json()
        .await
        .unwrap();
    let b: serde_json::Value = t
        .post("/v1/leads", &warm_lead("b@initech.com"))
        .await
        .json()
        .await
        .unwrap();
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let (base, category) = score_of(&t, a_id).await;
    assert_eq!(category, "warm", "starting point");

    // The same 15-point event: fresh for b, two half-lives (28 days) old for a.
    let old = (chrono::Utc::now() - chrono::Duration::days(28)).to_rfc3339();
    let resp = t
        .post(
            "/v1/track",
            &serde_json::json!({"batch": [
                {"message_id": "m-a", "lead_id": a_id, "event": "Trial Started", "timestamp": old},
                {"message_id": "m-b", "email": "b@initech.com", "event": "Trial Started"},
            ]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["results"][0]["status"], "applied");
    assert_eq!(body["results"][1]["status"], "applied");
    let (a_score, _) = score_of(&t, a_id).await;
    let (b_score, b_category) = score_of(&t, b_id).await;
    let (a_gain, b_gain) = (a_score - base, b_score - base);
    assert!(
        (14..=15).contains(&b_gain),
        "fresh event gains about 15, got {b_gain}"
    );
    assert!(
        (3..=4).contains(&a_gain),
        "a 28-day-old event counts a quarter, got {a_gain}"
    );
    assert_eq!(b_category, "hot", "{b_score}");

    // b's category changed: a second event for b, on leads.hot, with previous_category.
    let events = t.all_events(3).await;
    let b_events: Vec<_> = events
        .iter()
        .filter(|e| e.key.as_deref() == Some(b_id.as_bytes()))
        .collect();
    assert_eq!(b_events.len(), 2, "created + category change");
    let change = b_events
        .iter()
        .find(|e| e.json()["category"] == "hot")
        .expect("hot event");
    assert_eq!(change.json()["previous_category"], "warm");
    let a_events = events
        .iter()
        .filter(|e| e.key.as_deref() == Some(a_id.as_bytes()))
        .count();
    assert_eq!(a_events, 1, "a stayed warm: no new event");

    // Replaying the same message id changes nothing.
    let replay = t.post("/v1/track", &serde_json::json!({"message_id": "m-b", "email": "b@initech.com", "event": "Trial Started"})).await;
    let replay: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(replay["results"][0]["status"], "duplicate");
    assert_eq!(score_of(&t, b_id).await.0, b_score);
    let history: Vec<serde_json::Value> = t
        .get(&format!("/v1/leads/{b_id}/score-history"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "created + track");
    assert_eq!(history[0]["reason"], "track");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM lead_events")
        .fetch_one(&t.env.db)
        .await
        .unwrap();
    assert_eq!(stored, 2);
    assert_eq!(
        t.all_events(events.len()).await.len(),
        events.len(),
        "no event for the replay"
    );
}

#[tokio::test]
async fn an_event_dated_in_the_future_counts_as_happening_now() {
    let t = spawn().await;
    let lead: serde_json::Value = t
        .post("/v1/leads", &warm_lead("c@initech.com"))
        .await
        .json()
        .await
        .unwrap();
    let id = lead["id"].as_str().unwrap();
    let (base, _) = score_of(&t, id).await;
    let before = chrono::Utc::now();
    let resp = t
        .post(
            "/v1/track",
            &serde_json::json!({"message_id": "m-future", "lead_id": id,
                "event": "Trial Started", "timestamp": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["results"][0]["status"], "applied");
    let gain = score_of(&t, id).await.0 - base;
    assert!(
        (14..=15).contains(&gain),
        "counts like a fresh event (15), not more: {gain}"
    );
    let at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT occurred_at FROM lead_events WHERE message_id = 'm-future'")
            .fetch_one(&t.env.db)
            .await
            .unwrap();
    assert!(
        at >= before - chrono::Duration::seconds(1) && at <= chrono::Utc::now(),
        "recorded as now: {at}"
    );
}

#[tokio::test]
async fn identify_updates_traits_and_rescores() {
    let t = spawn().await;
    let lead: serde_json::Value = t
        .post(
            "/v1/leads",
            &serde_json::json!({"email": "c@initech.com", "source": "organic"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = lead["id"].as_str().unwrap();
    let before = lead["score"].as_i64().unwrap();
    let resp = t.post("/v1/identify", &serde_json::json!({"message_id": "i-1", "userId": null, "lead_id": id,
        "traits": {"title": "Chief Revenue Officer", "company_size": 1200, "phone": "+49 30 1234567"}})).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let after: serde_json::Value = t
        .get(&format!("/v1/leads/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["title"], "Chief Revenue Officer");
    assert_eq!(after["phone"], "+49301234567");
    assert!(after["score"].as_i64().unwrap() > before);
}

#[tokio::test]
async fn a_replaced_model_is_versioned_and_recorded_on_scores() {
    let t = spawn().await;
    let current: serde_json::Value = t.get("/v1/scoring-model").await.json().await.unwrap();
    assert_eq!(current["version"], 0);
    let mut model = current["model"].clone();
    model["thresholds"] = serde_json::json!({"hot": 30, "warm": 20, "nurture": 10});
    let put = t
        .http
        .put(t.url("/v1/scoring-model"))
        .bearer_auth(&t.key)
        .json(&model)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let put: serde_json::Value = put.json().await.unwrap();
    assert_eq!(put["version"], 1);
    let lead: serde_json::Value = t
        .post("/v1/leads", &warm_lead("v@initech.com"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lead["model_version"], 1);
    assert_eq!(lead["category"], "hot", "the new thresholds apply at once");
    let stored: i32 = sqlx::query_scalar("SELECT model_version FROM lead_scores")
        .fetch_one(&t.env.db)
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

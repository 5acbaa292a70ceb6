#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! The leads REST API against the real stack: what is stored, what is published, what is answered.

mod common;

use std::collections::HashSet;

use common::*;

#[tokio::test]
async fn a_posted_lead_is_stored_and_published_once() {
    let t = spawn().await;
    let resp = t
        .http
        .post(t.url("/v1/leads"))
        .bearer_auth(&t.key)
        .header("x-correlation-id", "corr-123")
        .json(&hot_lead("dana@initech.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let body: serde_json::Value = resp.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/leads/{id}"));
    assert_eq!(body["outcome"], "created");
    let category = body["category"].as_str().unwrap().to_owned();
    let score = body["score"].as_i64().unwrap();
    assert!((0..=100).contains(&score));
    assert!(!body["breakdown"].as_array().unwrap().is_empty());
    assert_eq!(body["model_version"], 0);

    // Stored with its score.
    let (stored_score, stored_category): (i16, String) =
        sqlx::query_as("SELECT score, category FROM leads WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&t.env.db)
            .await
            .unwrap();
    assert_eq!(i64::from(stored_score), score);
    assert_eq!(stored_category, category);

    // Exactly one event, on leads.<category>, keyed by lead id, in binary mode.
    let events = t.all_events(1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e.key.as_deref(), Some(id.as_bytes()));
    assert_eq!(e.header("ce_type"), Some("lead.triaged.v1"));
    assert_eq!(e.header("ce_specversion"), Some("1.0"));
    assert_eq!(e.header("ce_source"), Some("/lead-triage"));
    assert_eq!(e.header("ce_subject"), Some(id.as_str()));
    assert_eq!(e.header("content-type"), Some("application/json"));
    assert_eq!(e.header("ce_correlationid"), Some("corr-123"));
    assert!(e.header("ce_id").is_some() && e.header("ce_time").is_some());
    assert!(e
        .header("traceparent")
        .is_some_and(|t| t.starts_with("00-")));
    let ours: Vec<_> = t.events(&category, 1).await;
    assert_eq!(ours.len(), 1, "the event is on leads.{category}");
    let data = e.json();
    let typed: suite_domain::LeadTriagedV1 =
        serde_json::from_value(data.clone()).expect("matches the documented schema");
    assert_eq!(typed.lead_id.to_string(), id);
    assert_eq!(data["workspace_id"], t.workspace.to_string());
    assert_eq!(data["score"], score);
    assert_eq!(data["category"], category);
    assert_eq!(data["model_version"], 0);
    assert_eq!(data["correlation_id"], "corr-123");
    assert!(data.get("email").is_none(), "no raw email in events");

    // Read-your-writes right after the POST.
    let got = t.get(&location).await;
    assert_eq!(got.status(), 200);
    let got: serde_json::Value = got.json().await.unwrap();
    assert_eq!(got["id"], id);
    assert_eq!(got["email"], "dana@initech.com");
}

#[tokio::test]
async fn idempotency_key_and_email_merge_never_double_create() {
    let t = spawn().await;
    let send = |key: &'static str, body: serde_json::Value| {
        t.http
            .post(t.url("/v1/leads"))
            .bearer_auth(&t.key)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = send("k-1", hot_lead("a@initech.com")).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: serde_json::Value = first.json().await.unwrap();
    let again = send("k-1", hot_lead("a@initech.com")).await.unwrap();
    assert_eq!(again.status(), 201, "the first response is replayed");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(first, again);
    let clash = send("k-1", hot_lead("b@initech.com")).await.unwrap();
    assert_eq!(clash.status(), 422);
    assert_eq!(t.lead_count().await, 1);

    // Same email, different case, no key: merged into the same lead.
    let mut repeat = cold_lead("A@Initech.com");
    repeat["name"] = serde_json::json!("Dana K. Scully");
    let merged = t.post("/v1/leads", &repeat).await;
    assert_eq!(merged.status(), 200);
    let merged: serde_json::Value = merged.json().await.unwrap();
    assert_eq!(merged["outcome"], "merged");
    assert_eq!(merged["id"], first["id"]);
    assert_eq!(merged["name"], "Dana K. Scully");
    assert_eq!(
        merged["company"], "Initech",
        "fields the repeat lacks are kept"
    );
    assert_eq!(t.lead_count().await, 1);

    // Same external id, new email: merged too.
    let a = t
        .post(
            "/v1/leads",
            &serde_json::json!({"email": "x1@initech.com", "external_id": "crm-9"}),
        )
        .await;
    assert_eq!(a.status(), 201);
    let b = t
        .post(
            "/v1/leads",
            &serde_json::json!({"email": "x2@initech.com", "external_id": "crm-9"}),
        )
        .await;
    assert_eq!(b.status(), 200);
    assert_eq!(t.lead_count().await, 2);
}

/// Single posts arriving together are group-committed (one transaction per
/// group): each must still get its own answer, merges and idempotency keys
/// must behave as if the posts came one after the other, and every new lead
/// must be stored and published once.
#[tokio::test]
async fn concurrent_single_posts_each_get_their_own_answer() {
    let t = spawn().await;
    // 40 distinct leads (every other one under an idempotency key), then
    // each of the first 10 emails again without a key (a merge) and each of
    // the first 10 keyed posts again with the same key and body (a replay).
    let mut posts: Vec<(String, Option<String>)> = (0..40)
        .map(|i| {
            let key = (i % 2 == 0).then(|| format!("key-{i}"));
            (format!("lead{i}@initech.com"), key)
        })
        .collect();
    posts.extend((0..10).map(|i| (format!("LEAD{i}@initech.com"), None)));
    posts.extend(
        (0..20)
            .step_by(2)
            .map(|i| (format!("lead{i}@initech.com"), Some(format!("key-{i}")))),
    );
    let sends = posts.iter().map(|(email, key)| {
        let mut req = t
            .http
            .post(t.url("/v1/leads"))
            .bearer_auth(&t.key)
            .json(&hot_lead(email));
        if let Some(key) = key {
            req = req.header("idempotency-key", key);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap();
            (status, body)
        }
    });
    let answers = futures::future::join_all(sends).await;

    let mut ids: std::collections::HashMap<String, (String, usize)> = Default::default();
    // The first 50 posts are writes; the last 10 replay (their bodies are
    // compared with the originals below).
    for ((email, _), (status, body)) in posts.iter().zip(&answers).take(50) {
        let email = email.to_lowercase();
        assert!(*status == 201 || *status == 200, "{email}: {status} {body}");
        assert_eq!(
            body["email"].as_str().map(str::to_lowercase).as_deref(),
            Some(email.as_str()),
            "each post gets its own lead back"
        );
        let id = body["id"].as_str().unwrap().to_owned();
        let entry = ids.entry(email.clone()).or_insert((id.clone(), 0));
        assert_eq!(entry.0, id, "{email}: one lead per email");
        if body["outcome"] == "created" {
            entry.1 += 1;
        }
    }
    assert_eq!(ids.len(), 40);
    for (email, (_, created)) in &ids {
        assert_eq!(
            *created, 1,
            "{email}: created once, merged or replayed otherwise"
        );
    }
    // A replay answers exactly what the first post under the key answered.
    for (n, i) in (0..20).step_by(2).enumerate() {
        assert_eq!(answers[50 + n], answers[i], "key-{i} replayed");
    }
    assert_eq!(t.lead_count().await, 40);
    let events = t.all_events(40).await;
    let keys: HashSet<_> = events.iter().filter_map(|e| e.key.clone()).collect();
    let expected: HashSet<_> = ids.values().map(|(id, _)| id.as_bytes().to_vec()).collect();
    assert_eq!(keys, expected, "every new lead published");
}

#[tokio::test]
async fn a_batch_of_1000_is_stored_and_published_in_order() {
    let t = spawn().await;
    let leads: Vec<serde_json::Value> = (0..1000)
        .map(|i| hot_lead(&format!("lead{i}@initech.com")))
        .collect();
    let resp = t
        .post("/v1/leads/batch", &serde_json::json!({"leads": leads}))
        .await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["created"], 1000);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1000);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
        assert_eq!(r["status"], "created");
        assert_eq!(r["lead"]["email"], format!("lead{i}@initech.com"));
    }
    assert_eq!(t.lead_count().await, 1000);
    let events = t.all_events(1000).await;
    assert_eq!(events.len(), 1000);
    let ids: HashSet<_> = events.iter().map(|e| e.key.clone()).collect();
    assert_eq!(ids.len(), 1000, "one event per lead");
}

#[tokio::test]
async fn a_batch_with_invalid_items_stores_only_the_valid_ones() {
    let t = spawn().await;
    let body = serde_json::json!({"leads": [
        hot_lead("ok1@initech.com"),
        {"email": "not-an-email"},
        {"email": "ok2@initech.com", "phone": "12"},
        {"email": "ok3@initech.com", "company_size": -5, "unknown": 1},
        cold_lead("ok4@initech.com"),
        cold_lead("OK1@initech.com"),
    ]});
    let resp = t.post("/v1/leads/batch", &body).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let statuses: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["created", "rejected", "rejected", "rejected", "created", "merged"]
    );
    assert_eq!(body["results"][1]["errors"][0]["pointer"], "/leads/1/email");
    assert_eq!(body["results"][2]["errors"][0]["pointer"], "/leads/2/phone");
    assert_eq!(
        body["results"][3]["errors"][0]["pointer"],
        "/leads/3/unknown"
    );
    assert_eq!(
        body["results"][5]["lead"]["id"],
        body["results"][0]["lead"]["id"]
    );
    assert_eq!(t.lead_count().await, 2);
}

#[tokio::test]
async fn another_workspace_cannot_see_or_change_leads() {
    let t = spawn().await;
    let created: serde_json::Value = t
        .post("/v1/leads", &hot_lead("dana@initech.com"))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let other = t.other_key().await;
    let get = t
        .http
        .get(t.url(&format!("/v1/leads/{id}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404);
    let history = t
        .http
        .get(t.url(&format!("/v1/leads/{id}/score-history")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 404);
    let list: serde_json::Value = t
        .http
        .get(t.url("/v1/leads"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let track = t
        .http
        .post(t.url("/v1/track"))
        .bearer_auth(&other)
        .json(&serde_json::json!({"message_id": "m1", "lead_id": id, "event": "Demo Requested"}))
        .send()
        .await
        .unwrap();
    assert_eq!(track.status(), 404);
    // The same email in the other workspace is a different lead.
    let mine = t
        .http
        .post(t.url("/v1/leads"))
        .bearer_auth(&other)
        .json(&hot_lead("dana@initech.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), 201);
    let unchanged: serde_json::Value = t
        .get(&format!("/v1/leads/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["updated_at"], created["updated_at"]);
}

#[tokio::test]
async fn list_pages_with_a_cursor_and_filters() {
    let t = spawn().await;
    for i in 0..5 {
        t.post("/v1/leads", &hot_lead(&format!("h{i}@initech.com")))
            .await;
        t.post("/v1/leads", &cold_lead(&format!("c{i}@gmail.com")))
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/leads?limit=3&cursor={c}"),
            None => "/v1/leads?limit=3".to_owned(),
        };
        let page: serde_json::Value = t.get(&path).await.json().await.unwrap();
        for l in page["data"].as_array().unwrap() {
            seen.push(l["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 10);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        10,
        "no lead twice across pages"
    );
    let hot: serde_json::Value = t
        .get("/v1/leads?source=demo_request")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hot["data"].as_array().unwrap().len(), 5);
}

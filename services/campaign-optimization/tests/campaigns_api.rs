#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Campaigns CRUD and lifecycle against the real stack: stored rows,
//! versions, list pagination and filters, tenancy, allocations published
//! for status changes, and the OpenAPI document.

mod common;

use common::*;
use serde_json::{json, Value};
use suite_domain::CampaignAllocationV1;

#[tokio::test]
async fn crud_lifecycle_pagination_and_tenancy() {
    let svc = spawn(&["engagement.interactions", "campaigns.allocations"]).await;

    // Create: stored with its variants, zeroed counters and a first allocation.
    let created = svc.create(&campaign_body("Spring")).await;
    let id = id_of(&created);
    assert_eq!(created["status"], "active");
    assert_eq!(created["version"], 1);
    assert_eq!(created["objective"], "conversion");
    assert_eq!(created["variants"].as_array().unwrap().len(), 2);
    assert_eq!(
        created["channel_costs"],
        json!({"sms": 20000, "email": 1000})
    );
    assert_eq!(svc.count("campaign_variants").await, 2);
    assert_eq!(svc.count("campaign_variant_stats").await, 2);

    // Read back (own write, through the replica path).
    let read = svc.get_json(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(read, created);

    // The first allocation is uniform and readable through the API.
    let alloc = svc
        .get_json(&format!("/v1/campaigns/{id}/allocation"))
        .await;
    assert_eq!(alloc["sequence"], 1);
    assert_eq!(alloc["status"], "active");
    let shares: Vec<f64> = alloc["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["share"].as_f64().unwrap())
        .collect();
    assert_eq!(shares, [0.5, 0.5]);

    // Update: version bumps, the change is stored, caches see it at once.
    let r = svc
        .send(
            "PATCH",
            &format!("/v1/campaigns/{id}"),
            Some(&json!({"name": "Spring v2", "daily_budget_micros": 5_000_000, "expected_version": 1,
                         "variant_content": {"B": {"email": {"subject": "New {{ name }}", "body": "b"},
                                                   "sms": {"body": "s"}}}})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["name"], "Spring v2");
    assert_eq!(updated["daily_budget_micros"], 5_000_000);
    assert_eq!(
        updated["variants"][1]["content"]["email"]["subject"],
        "New {{ name }}"
    );
    let read = svc.get_json(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(read["version"], 2);
    assert_eq!(read["name"], "Spring v2");
    let stored: (String, i64, i32) =
        sqlx::query_as("SELECT name, daily_budget_micros, version FROM campaigns WHERE id = $1")
            .bind(id)
            .fetch_one(&svc.env.db)
            .await
            .unwrap();
    assert_eq!(stored, ("Spring v2".into(), 5_000_000, 2));
    // A stale expected_version is a conflict.
    let r = svc
        .send(
            "PATCH",
            &format!("/v1/campaigns/{id}"),
            Some(&json!({"name": "x", "expected_version": 1})),
        )
        .await;
    assert_eq!(r.status(), 409);

    // Pause, resume, archive: status, reason and version in the row.
    let paused: Value = svc
        .post(&format!("/v1/campaigns/{id}/pause"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paused["status"], "paused");
    assert_eq!(paused["pause_reason"], "manual");
    assert_eq!(paused["version"], 3);
    let resumed: Value = svc
        .post(&format!("/v1/campaigns/{id}/resume"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resumed["status"], "active");
    assert_eq!(resumed["pause_reason"], Value::Null);
    let archived: Value = svc
        .post(&format!("/v1/campaigns/{id}/archive"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(archived["status"], "archived");
    // Archived is final.
    assert_eq!(
        svc.post(&format!("/v1/campaigns/{id}/resume"), &json!({}))
            .await
            .status(),
        409
    );
    assert_eq!(
        svc.send(
            "PATCH",
            &format!("/v1/campaigns/{id}"),
            Some(&json!({"name": "y"}))
        )
        .await
        .status(),
        409
    );
    let status: String = sqlx::query_scalar("SELECT status FROM campaigns WHERE id = $1")
        .bind(id)
        .fetch_one(&svc.env.db)
        .await
        .unwrap();
    assert_eq!(status, "archived");

    // Every status change went out on campaigns.allocations, in sequence.
    let records = svc.allocations(5).await;
    let mut events: Vec<CampaignAllocationV1> = records
        .iter()
        .map(|r| serde_json::from_slice(&r.payload).unwrap())
        .collect();
    events.sort_by_key(|e| e.sequence);
    let seen: Vec<(i64, String, String)> = events
        .iter()
        .map(|e| (e.sequence, e.status.to_string(), e.reason.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (1, "active".into(), "created".into()),
            (2, "active".into(), "status".into()),
            (3, "paused".into(), "status".into()),
            (4, "active".into(), "status".into()),
            (5, "archived".into(), "status".into()),
        ]
    );
    for r in &records {
        assert_eq!(r.key.as_deref(), Some(id.to_string().as_bytes()));
        assert_eq!(r.header("ce_type"), Some("campaign.allocation.v1"));
        assert_eq!(r.header("ce_subject"), Some(id.to_string().as_str()));
    }

    // List: pagination over 5 more campaigns, newest first, no repeats.
    for i in 0..5 {
        svc.create(&campaign_body(&format!("c{i}"))).await;
    }
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/campaigns?limit=2&cursor={c}"),
            None => "/v1/campaigns?limit=2".to_owned(),
        };
        let page = svc.get_json(&path).await;
        for c in page["data"].as_array().unwrap() {
            names.push(c["name"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(names, ["c4", "c3", "c2", "c1", "c0", "Spring v2"]);
    let archived_only = svc.get_json("/v1/campaigns?status=archived").await;
    assert_eq!(archived_only["data"].as_array().unwrap().len(), 1);
    let active_only = svc.get_json("/v1/campaigns?status=active&limit=200").await;
    assert_eq!(active_only["data"].as_array().unwrap().len(), 5);

    // Another workspace sees none of it and cannot change it.
    let other = svc.other_key().await;
    for (method, path) in [
        ("GET", format!("/v1/campaigns/{id}")),
        ("GET", format!("/v1/campaigns/{id}/performance")),
        ("GET", format!("/v1/campaigns/{id}/allocation")),
        ("POST", format!("/v1/campaigns/{id}/pause")),
        ("PATCH", format!("/v1/campaigns/{id}")),
    ] {
        let mut req = svc
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                svc.url(&path),
            )
            .bearer_auth(&other);
        if method != "GET" {
            req = req.json(&json!({"name": "stolen"}));
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    let list: Value = svc
        .http
        .get(svc.url("/v1/campaigns"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]));

    // The OpenAPI document lists the routes.
    let doc: Value = svc
        .http
        .get(svc.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/v1/campaigns",
        "/v1/campaigns/{id}",
        "/v1/campaigns/{id}/pause",
        "/v1/campaigns/{id}/performance",
        "/v1/campaigns/{id}/allocation",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
}

/// Every change of a campaign publishes its whole definition on the
/// compacted `campaigns.definitions`, version by version: how engagement
/// learns about campaigns without reading this service's tables.
#[tokio::test]
async fn each_change_publishes_the_campaigns_definition() {
    let svc = spawn(&["campaigns.allocations"]).await;
    let created = svc.create(&campaign_body("Definitions")).await;
    let id = id_of(&created);
    let r = svc
        .send(
            "PATCH",
            &format!("/v1/campaigns/{id}"),
            Some(&json!({"daily_budget_micros": 7_000_000, "expected_version": 1})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = svc
        .post(&format!("/v1/campaigns/{id}/pause"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);

    let records = svc.topic("campaigns.definitions", 3).await;
    let events: Vec<suite_domain::CampaignDefinitionV1> = records
        .iter()
        .map(|r| serde_json::from_value(r.json()).unwrap())
        .collect();
    assert_eq!(
        events.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(records
        .iter()
        .all(|r| r.key.as_deref() == Some(id.to_string().as_bytes())));
    let (first, last) = (&events[0], &events[2]);
    assert_eq!(uuid::Uuid::from(first.campaign_id), id);
    assert_eq!(first.status.as_str(), "active");
    assert_eq!(
        first
            .variants
            .iter()
            .map(|v| uuid::Uuid::from(v.variant_id))
            .collect::<Vec<_>>(),
        variant_ids(&created)
    );
    assert_eq!(first.variants[0].content, created["variants"][0]["content"]);
    assert_eq!(first.ladder, created["ladder"]);
    assert_eq!(first.channel_costs.get("email"), Some(&1000));
    assert_eq!(events[1].daily_budget_micros, 7_000_000);
    assert_eq!(last.status.as_str(), "paused");
}

/// A variant's `generation` spec is stored, returned and published in the
/// campaign's definition as given (engagement reads
/// `content.<channel>.generation` from there); a patch can add one.
#[tokio::test]
async fn a_generation_spec_is_stored_returned_and_published() {
    let svc = spawn(&["campaigns.allocations"]).await;
    let email_spec = json!({
        "prompt": "Write to {{ first_name }} ({{ title }} at {{ company }}, {{ category }}, {{ score }}). \
                   {% for f in breakdown %}{{ f.reason }} {% endfor %}",
        "model": "gpt-4o-mini",
        "temperature": 0.7,
        "max_tokens": 200,
        "max_chars": 1500
    });
    let mut body = campaign_body("Generated");
    body["variants"][0]["content"]["email"]["generation"] = email_spec.clone();
    let created = svc.create(&body).await;
    let id = id_of(&created);
    assert_eq!(
        created["variants"][0]["content"]["email"]["generation"],
        email_spec
    );
    assert!(created["variants"][1]["content"]["email"]
        .get("generation")
        .is_none());
    let read = svc.get_json(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(
        read["variants"][0]["content"]["email"]["generation"],
        email_spec
    );
    assert_eq!(read, created);

    // Defaults are filled in: temperature 0, 300 tokens.
    let r = svc
        .send(
            "PATCH",
            &format!("/v1/campaigns/{id}"),
            Some(&json!({"variant_content": {"B": {
                "email": {"subject": "Hello {{ name }}", "body": "{{ title }} at {{ company }}"},
                "sms": {"body": "Hey {{ first_name }}", "generation": {"prompt": "Text {{ name }}"}}}}})),
        )
        .await;
    let status = r.status();
    let patched: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        patched["variants"][1]["content"]["sms"]["generation"],
        json!({"prompt": "Text {{ name }}", "temperature": 0.0, "max_tokens": 300})
    );

    let records = svc.topic("campaigns.definitions", 2).await;
    let events: Vec<suite_domain::CampaignDefinitionV1> = records
        .iter()
        .map(|r| serde_json::from_value(r.json()).unwrap())
        .collect();
    assert_eq!(events.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        events[0].variants[0].content["email"]["generation"],
        email_spec
    );
    assert_eq!(
        events[1].variants[1].content,
        patched["variants"][1]["content"]
    );
    let spec: suite_domain::GenerationSpec =
        serde_json::from_value(events[1].variants[1].content["sms"]["generation"].clone()).unwrap();
    assert_eq!(spec.max_tokens, 300);

    // The performance report shows the (still zero) generation spend.
    let report = svc
        .get_json(&format!("/v1/campaigns/{id}/performance"))
        .await;
    assert_eq!(report["variants"][0]["generation_spend_micros"], 0);
    assert_eq!(report["totals"]["generation_spend_micros"], 0);
}

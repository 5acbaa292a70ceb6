//! `campaigns.allocations`: the highest sequence per campaign wins, a paused
//! campaign gets no new sends, shares pick the variant; poison on a lead
//! topic is dead-lettered without stalling the partition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Utc;
use common::*;
use serde_json::json;
use suite_bus::CloudEvent;
use suite_domain::{
    AllocationShare, CampaignAllocationV1, CampaignId, CampaignStatus, Category, VariantId,
    WorkspaceId,
};
use uuid::Uuid;

async fn allocate(
    env: &Env,
    campaign: Uuid,
    sequence: i64,
    status: CampaignStatus,
    shares: Vec<(Uuid, f64)>,
) {
    let event = CampaignAllocationV1 {
        campaign_id: CampaignId::from(campaign),
        workspace_id: WorkspaceId::from(env.workspace),
        status,
        sequence,
        shares: shares
            .into_iter()
            .map(|(v, share)| AllocationShare {
                variant_id: VariantId::from(v),
                share,
            })
            .collect(),
        reason: "changed".into(),
        computed_at: Utc::now(),
        performance_score: None,
    };
    let cloud = CloudEvent::new(
        CampaignAllocationV1::CE_TYPE,
        "/campaign-optimization",
        Some(campaign.to_string()),
        serde_json::to_value(&event).unwrap(),
    );
    let binary = cloud.to_binary().unwrap();
    let headers: Vec<(String, String)> = binary
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let s = &env.env.settings;
    suite_testkit::kafka::produce(
        &s.kafka.brokers,
        &s.topic("campaigns.allocations"),
        Some(&campaign.to_string()),
        &binary.payload,
        &headers,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_latest_allocation_pauses_resumes_and_steers_variants() {
    let env = env().await;
    let variant_b = Uuid::now_v7();
    let (campaign, variant_a) = env
        .campaign_with(&["hot"], json!([{"channel": "email", "delay_secs": 0}]), |d| {
            d.variants.push(suite_domain::VariantDefinition {
                variant_id: variant_b.into(),
                position: 1,
                content: json!({"email": {"subject": "B for {{ first_name }}", "body": "Variant B."}}),
            })
        })
        .await;
    let settings = settings(&env);
    let app = spawn(env, settings).await;
    let db = app.db().clone();

    // Paused at sequence 2; a late sequence 1 saying active changes nothing.
    allocate(
        &app.env,
        campaign,
        2,
        CampaignStatus::Paused,
        vec![(variant_a, 0.5), (variant_b, 0.5)],
    )
    .await;
    allocate(
        &app.env,
        campaign,
        1,
        CampaignStatus::Active,
        vec![(variant_a, 1.0)],
    )
    .await;
    eventually(120, "the allocation stored", || async {
        let seq: Option<i64> = sqlx::query_scalar(
            "SELECT sequence FROM engagement_allocations WHERE campaign_id = $1",
        )
        .bind(campaign)
        .fetch_optional(&db)
        .await
        .unwrap();
        (seq == Some(2)).then_some(())
    })
    .await;
    // Poison first, then a lead: the lead is still handled.
    let s = &app.env.env.settings;
    suite_testkit::kafka::produce(
        &s.kafka.brokers,
        &s.topic("leads.hot"),
        Some("x"),
        b"{not json",
        &[("ce_type", "lead.triaged.v1")],
    )
    .await
    .unwrap();
    let paused_lead = app.env.lead(json!({"email": true}), Some("UTC")).await;
    let marker = Uuid::now_v7().to_string();
    app.env.triage(paused_lead, Category::Hot, &marker).await;
    eventually(120, "the event processed", || async {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM processed_events WHERE event_id = $1")
                .bind(&marker)
                .fetch_one(&db)
                .await
                .unwrap();
        (n == 1).then_some(())
    })
    .await;
    assert_eq!(
        app.env.count("SELECT count(*) FROM outreach_plans").await,
        0,
        "a paused campaign gets no new plans"
    );
    assert_eq!(
        app.env
            .count("SELECT count(*) FROM dead_letters WHERE error_class = 'invalid_event'")
            .await,
        1,
        "poison dead-lettered"
    );

    // Active again at sequence 3 with every share on B.
    allocate(
        &app.env,
        campaign,
        3,
        CampaignStatus::Active,
        vec![(variant_a, 0.0), (variant_b, 1.0)],
    )
    .await;
    eventually(120, "the allocation stored", || async {
        let seq: Option<i64> = sqlx::query_scalar(
            "SELECT sequence FROM engagement_allocations WHERE campaign_id = $1",
        )
        .bind(campaign)
        .fetch_optional(&db)
        .await
        .unwrap();
        (seq == Some(3)).then_some(())
    })
    .await;
    let lead = app.env.lead(json!({"email": true}), Some("UTC")).await;
    app.env
        .triage(lead, Category::Hot, &Uuid::now_v7().to_string())
        .await;
    let subject: Option<String> = eventually(120, "the email sent", || async {
        sqlx::query_scalar("SELECT subject FROM communications WHERE lead_id = $1")
            .bind(lead)
            .fetch_optional(&db)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(subject.as_deref(), Some("B for Dana"));
    let variant: Uuid =
        sqlx::query_scalar("SELECT variant_id FROM outreach_plans WHERE lead_id = $1")
            .bind(lead)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(variant, variant_b);
}

#[tokio::test]
async fn an_archived_campaign_stops_its_plans() {
    let env = env().await;
    let (campaign, variant) = env
        .campaign(
            &["warm"],
            json!([{"channel": "email", "delay_secs": 0}, {"channel": "email", "delay_secs": 4}]),
        )
        .await;
    let settings = settings(&env);
    let app = spawn(env, settings).await;
    let db = app.db().clone();
    let lead = app.env.lead(json!({"email": true}), Some("UTC")).await;
    app.env
        .triage(lead, Category::Warm, &Uuid::now_v7().to_string())
        .await;
    eventually(120, "the first email", || async {
        let s = steps(&db, lead).await;
        (s.first().map(|s| s.2.as_str()) == Some("sent")).then_some(())
    })
    .await;
    allocate(
        &app.env,
        campaign,
        1,
        CampaignStatus::Archived,
        vec![(variant, 1.0)],
    )
    .await;
    let s = eventually(120, "the second step ended", || async {
        let s = steps(&db, lead).await;
        (s.len() == 2 && s[1].2 != "pending" && s[1].2 != "running").then_some(s)
    })
    .await;
    assert_eq!(
        (s[1].2.as_str(), s[1].3.as_deref()),
        ("skipped", Some("campaign_archived"))
    );
    let status: String = sqlx::query_scalar("SELECT status FROM outreach_plans WHERE lead_id = $1")
        .bind(lead)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(status, "stopped");
    assert_eq!(
        app.env.count("SELECT count(*) FROM communications").await,
        1
    );
}

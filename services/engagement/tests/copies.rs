//! Engagement keeps its own copies of leads and campaigns from the owners'
//! compacted topics (`leads.contacts`, `campaigns.definitions`): newer
//! records replace older ones, older or repeated ones change nothing, a
//! tombstone erases, and a step whose lead's contact data has not arrived
//! yet waits for it instead of failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Duration;
use common::*;
use serde_json::json;
use suite_domain::{CampaignDefinitionV1, Category, LeadContactV1};
use uuid::Uuid;

#[tokio::test]
async fn definitions_from_the_topic_keep_the_newest_version_and_plan_leads() {
    let env = env().await;
    let settings = settings(&env);
    let app = spawn(env, settings).await;
    let db = app.db().clone();

    let mut newer = app
        .env
        .definition(&["hot"], json!([{"channel": "email", "delay_secs": 86400}]));
    newer.version = 2;
    newer.daily_budget_micros = 2_000;
    let mut older = newer.clone();
    older.version = 1;
    older.daily_budget_micros = 1_000;
    older.target_categories = vec![Category::Warm];
    let campaign: Uuid = newer.campaign_id.into();
    let key = campaign.to_string();
    let data = |d: &CampaignDefinitionV1| {
        Some((
            CampaignDefinitionV1::CE_TYPE,
            serde_json::to_value(d).unwrap(),
        ))
    };
    app.env
        .publish("campaigns.definitions", &key, data(&newer))
        .await;
    app.env
        .publish("campaigns.definitions", &key, data(&older))
        .await;
    // A marker after both: once it is kept, both were handled.
    let marker = app.env.definition(&["cold"], json!([]));
    app.env
        .publish("campaigns.definitions", &marker.key(), data(&marker))
        .await;
    eventually(120, "the definitions kept", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM engagement_campaigns WHERE id = $1")
            .bind(Uuid::from(marker.campaign_id))
            .fetch_one(&db)
            .await
            .unwrap();
        (n == 1).then_some(())
    })
    .await;
    let kept: (i32, i64, Vec<String>) = sqlx::query_as(
        "SELECT version, daily_budget_micros, target_categories FROM engagement_campaigns WHERE id = $1",
    )
    .bind(campaign)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        kept,
        (2, 2_000, vec!["hot".to_owned()]),
        "the older version changed nothing"
    );
    let variants: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM engagement_variants WHERE campaign_id = $1")
            .bind(campaign)
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(variants, vec![Uuid::from(newer.variants[0].variant_id)]);

    // A hot lead is planned under it.
    let lead = app.env.lead(json!({"email": true}), Some("UTC")).await;
    app.env
        .triage(lead, Category::Hot, &Uuid::now_v7().to_string())
        .await;
    let planned = eventually(120, "the lead planned", || async {
        sqlx::query_scalar::<_, Uuid>("SELECT campaign_id FROM outreach_plans WHERE lead_id = $1")
            .bind(lead)
            .fetch_optional(&db)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(planned, campaign);

    // Version 3 archives it and drops its variant for a new one.
    let mut archived = newer.clone();
    archived.version = 3;
    archived.status = suite_domain::CampaignStatus::Archived;
    archived.variants[0].variant_id = Uuid::now_v7().into();
    app.env
        .publish("campaigns.definitions", &key, data(&archived))
        .await;
    eventually(120, "version 3 kept", || async {
        let status: String =
            sqlx::query_scalar("SELECT status FROM engagement_campaigns WHERE id = $1")
                .bind(campaign)
                .fetch_one(&db)
                .await
                .unwrap();
        (status == "archived").then_some(())
    })
    .await;
    let variants: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM engagement_variants WHERE campaign_id = $1")
            .bind(campaign)
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(variants, vec![Uuid::from(archived.variants[0].variant_id)]);
}

#[tokio::test]
async fn a_step_waits_for_its_leads_contact_data_and_a_tombstone_erases_it() {
    let env = env().await;
    let (_campaign, _) = env
        .campaign(&["hot"], json!([{"channel": "email", "delay_secs": 0}]))
        .await;
    let settings = settings(&env);
    let app = spawn(env, settings).await;
    let db = app.db().clone();

    // The triage arrives first; the lead's contact data is not there yet.
    let lead = Uuid::now_v7();
    app.env
        .triage(lead, Category::Hot, &Uuid::now_v7().to_string())
        .await;
    eventually(120, "the step waiting for its lead", || async {
        let s = steps(&db, lead).await;
        (s.first().and_then(|s| s.3.as_deref()) == Some("lead_pending")).then_some(())
    })
    .await;
    let waiting = steps(&db, lead).await[0].2.clone();
    assert!(
        waiting == "pending" || waiting == "running",
        "still waiting, not ended: {waiting}"
    );

    // Then the contact data, and an older record of it (ignored).
    let contact = app.env.contact(lead, json!({"email": true}));
    let mut older = contact.clone();
    older.updated_at = contact.updated_at - Duration::minutes(5);
    older.email = "old.address@initech.example".into();
    let data = |c: &LeadContactV1| Some((LeadContactV1::CE_TYPE, serde_json::to_value(c).unwrap()));
    let key = lead.to_string();
    app.env
        .publish("leads.contacts", &key, data(&contact))
        .await;
    app.env.publish("leads.contacts", &key, data(&older)).await;
    eventually(120, "the email sent", || async {
        let s = steps(&db, lead).await;
        (s.first().map(|s| s.2.as_str()) == Some("sent")).then_some(())
    })
    .await;
    // A marker after the older record: once it is kept, the older one was handled.
    let marker = app.env.contact(Uuid::now_v7(), json!({}));
    app.env
        .publish("leads.contacts", &marker.key(), data(&marker))
        .await;
    eventually(120, "the marker kept", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM engagement_leads WHERE id = $1")
            .bind(Uuid::from(marker.lead_id))
            .fetch_one(&db)
            .await
            .unwrap();
        (n == 1).then_some(())
    })
    .await;
    let email: String = sqlx::query_scalar("SELECT email FROM engagement_leads WHERE id = $1")
        .bind(lead)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(email, contact.email, "the older record changed nothing");
    eventually(30, "the lead's context", || async {
        (app.get(&format!("/v1/leads/{lead}/context")).await.status() == 200).then_some(())
    })
    .await;

    // Erased: the tombstone removes the copy; its context is gone.
    app.env.publish("leads.contacts", &key, None).await;
    eventually(120, "the lead erased", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM engagement_leads WHERE id = $1")
            .bind(lead)
            .fetch_one(&db)
            .await
            .unwrap();
        (n == 0).then_some(())
    })
    .await;
    // Reads go to a replica, which follows the primary within moments.
    eventually(30, "the erased lead's context gone", || async {
        (app.get(&format!("/v1/leads/{lead}/context")).await.status() == 404).then_some(())
    })
    .await;
    assert_eq!(
        app.env.count("SELECT count(*) FROM dead_letters").await,
        0,
        "nothing dead-lettered"
    );
}

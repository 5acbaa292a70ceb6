//! A triaged lead is planned, rendered, sent and published; duplicates of
//! the triage event change nothing; consent steers the channels.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use suite_domain::Category;
use uuid::Uuid;

#[tokio::test]
async fn a_hot_lead_is_planned_rendered_sent_and_published_once() {
    let env = env().await;
    let lead = env
        .lead(
            json!({"email": true, "sms": true, "phone": true}),
            Some("UTC"),
        )
        .await;
    // An empty ladder: the hot default (phone now, SMS after 1 h, email after 1 d).
    let (campaign, variant) = env.campaign(&["hot"], json!([])).await;
    let settings = settings(&env);
    let app = spawn(env, settings).await;

    let event_id = Uuid::now_v7().to_string();
    app.env.triage(lead, Category::Hot, &event_id).await;
    // The same event again, and a second triage of the same lead under a new id.
    app.env.triage(lead, Category::Hot, &event_id).await;
    app.env
        .triage(lead, Category::Hot, &Uuid::now_v7().to_string())
        .await;

    let db = app.db().clone();
    eventually(120, "the phone step sent", || async {
        let s = steps(&db, lead).await;
        (s.first().map(|s| s.2.as_str()) == Some("sent")).then_some(())
    })
    .await;
    let plan: (Uuid, Uuid, serde_json::Value) = sqlx::query_as(
        "SELECT campaign_id, variant_id, steps FROM outreach_plans WHERE lead_id = $1",
    )
    .bind(lead)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((plan.0, plan.1), (campaign, variant));
    let ladder: Vec<(String, chrono::DateTime<chrono::Utc>)> = plan
        .2
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["channel"].as_str().unwrap().to_owned(),
                s["due_at"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    // No variant asks for generated messages: the plan keeps no score for a prompt.
    let kept: (Option<i16>, Option<serde_json::Value>) =
        sqlx::query_as("SELECT score, breakdown FROM outreach_plans WHERE lead_id = $1")
            .bind(lead)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(kept, (None, None));
    assert_eq!(
        ladder.iter().map(|l| l.0.as_str()).collect::<Vec<_>>(),
        ["phone", "sms", "email"]
    );
    assert_eq!((ladder[1].1 - ladder[0].1).num_seconds(), 3600);
    assert_eq!((ladder[2].1 - ladder[0].1).num_seconds(), 86_400);
    let s = steps(&db, lead).await;
    assert_eq!(
        s.iter().map(|s| s.2.as_str()).collect::<Vec<_>>(),
        ["sent", "pending", "pending"]
    );

    // The log provider's message is recorded with the variant's content and the lead's fields.
    let (channel, provider, body): (String, String, String) =
        sqlx::query_as("SELECT channel, provider, body FROM communications WHERE lead_id = $1")
            .bind(lead)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!((channel.as_str(), provider.as_str()), ("phone", "log"));
    assert_eq!(body, "Call Dana Scully about Initech.");

    // Exactly one plan and one send however often the event came.
    assert_eq!(
        app.env.count("SELECT count(*) FROM outreach_plans").await,
        1
    );
    assert_eq!(
        app.env
            .count("SELECT count(*) FROM send_reservations")
            .await,
        1
    );

    // The `sent` interaction is published, keyed by campaign id.
    let records = app.env.interactions(1).await;
    assert_eq!(records.len(), 1, "one sent event");
    let record = &records[0];
    assert_eq!(record.header("ce_type"), Some("engagement.interaction.v1"));
    assert_eq!(record.key.as_deref(), Some(campaign.to_string().as_bytes()));
    let data = record.json();
    assert_eq!(data["kind"], "sent");
    assert_eq!(data["channel"], "phone");
    assert_eq!(data["lead_id"], lead.to_string());
    assert_eq!(data["variant_id"], variant.to_string());
    assert_eq!(data["correlation_id"], "corr-test");
    assert_eq!(record.header("ce_id"), data["interaction_id"].as_str());
}

#[tokio::test]
async fn withdrawn_email_consent_falls_back_and_unsubscribe_stops_later_email() {
    let env = env().await;
    // Lead 1: email withdrawn through the ledger before planning.
    let lead = env
        .lead(json!({"email": true, "sms": true}), Some("UTC"))
        .await;
    // Lead 2: email now and again 4 s later.
    let lead2 = env
        .lead(json!({"email": true, "sms": true}), Some("UTC"))
        .await;
    env.campaign(
        &["warm"],
        json!([{"channel": "email", "delay_secs": 0}, {"channel": "sms", "delay_secs": 172800}]),
    )
    .await;
    env.campaign(
        &["nurture"],
        json!([{"channel": "email", "delay_secs": 0}, {"channel": "email", "delay_secs": 4}]),
    )
    .await;
    let settings = settings(&env);
    let app = spawn(env, settings).await;

    let withdrawn = app
        .post("/v1/consent", &json!({"lead_id": lead, "channel": "email", "status": "withdrawn", "source": "preference-center", "legal_basis": "withdrawal"}))
        .await;
    assert_eq!(withdrawn.status(), 201);
    app.env
        .triage(lead, Category::Warm, &Uuid::now_v7().to_string())
        .await;
    let db = app.db().clone();
    let s = eventually(120, "the SMS fallback sent", || async {
        let s = steps(&db, lead).await;
        (s.len() == 2 && s[1].2 == "sent").then_some(s)
    })
    .await;
    assert_eq!(
        (s[0].2.as_str(), s[0].3.as_deref()),
        ("skipped", Some("no_consent"))
    );
    let channels: Vec<String> =
        sqlx::query_scalar("SELECT channel FROM communications WHERE lead_id = $1")
            .bind(lead)
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(channels, ["sms"], "no email, the next channel instead");

    // Lead 2: the first email goes out; the lead unsubscribes; the later email does not.
    app.env
        .triage(lead2, Category::Nurture, &Uuid::now_v7().to_string())
        .await;
    let send_id: Uuid = eventually(120, "the first email", || async {
        sqlx::query_scalar(
            "SELECT id FROM send_reservations WHERE lead_id = $1 AND status = 'sent'",
        )
        .bind(lead2)
        .fetch_optional(&db)
        .await
        .unwrap()
    })
    .await;
    let unsub = app
        .post("/v1/interactions", &json!({"lead_id": lead2, "kind": "unsubscribed", "send_id": send_id, "provider_event_id": "evt-unsub-1"}))
        .await;
    assert_eq!(unsub.status(), 201);
    let s = eventually(120, "the later email step ended", || async {
        let s = steps(&db, lead2).await;
        (s.len() == 2 && s[1].2 != "pending" && s[1].2 != "running").then_some(s)
    })
    .await;
    assert_eq!(
        (s[1].2.as_str(), s[1].3.as_deref()),
        ("skipped", Some("no_consent"))
    );
    assert_eq!(
        app.env
            .count(&format!(
                "SELECT count(*) FROM communications WHERE lead_id = '{lead2}'"
            ))
            .await,
        1
    );
    let consent: serde_json::Value = app
        .get(&format!("/v1/consent?lead_id={lead2}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(consent["current"]["email"]["allowed"], false);
    assert_eq!(
        consent["current"]["email"]["source"],
        "interaction:unsubscribed"
    );
    assert_eq!(consent["current"]["sms"]["allowed"], true);
}

/// A burst of 500 records on `leads.hot`, planned as sets: triage events of
/// 489 distinct leads, 10 of them delivered a second time (same id and
/// bytes, as a retrying producer would send), and one poison record among
/// them. Each of the 489 leads gets one plan, each id is recorded once, the
/// poison record alone is dead-lettered and its batch mates are planned.
#[tokio::test]
async fn a_burst_of_triage_events_plans_each_lead_once_and_dead_letters_the_poison() {
    use suite_testkit::kafka::RawRecord;

    let env = env().await;
    let leads: Vec<Uuid> = (0..489).map(|_| Uuid::now_v7()).collect();
    let contacts: Vec<_> = leads
        .iter()
        .map(|id| env.contact(*id, json!({"email": true})))
        .collect();
    env.keep_contacts(&contacts).await;
    // One delayed email step: the test is about planning, not sending.
    let (campaign, _) = env
        .campaign(&["hot"], json!([{"channel": "email", "delay_secs": 86400}]))
        .await;
    let settings = settings(&env);
    let app = spawn(env, settings).await;

    let id = |i: usize| format!("burst-{i}");
    let mut records: Vec<RawRecord> = leads
        .iter()
        .enumerate()
        .map(|(i, lead)| app.env.triage_record(*lead, Category::Hot, &id(i)))
        .collect();
    records.insert(
        250,
        RawRecord {
            key: Some("poison".to_owned()),
            payload: b"{not json".to_vec(),
            headers: vec![("ce_type".to_owned(), "lead.triaged.v1".to_owned())],
        },
    );
    records.extend(
        (0..5)
            .chain(484..489)
            .map(|i| app.env.triage_record(leads[i], Category::Hot, &id(i))),
    );
    let records_len = records.len();
    let s = &app.env.env.settings;
    suite_testkit::kafka::produce_many(&s.kafka.brokers, &s.topic("leads.hot"), &records)
        .await
        .unwrap();

    let db = app.db().clone();
    eventually(120, "every event processed", || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM processed_events WHERE event_id LIKE 'burst-%'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        (n == 489).then_some(())
    })
    .await;
    let plans: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT lead_id, count(*) FROM outreach_plans WHERE campaign_id = $1 GROUP BY lead_id",
    )
    .bind(campaign)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(records_len, 500);
    assert_eq!(plans.len(), 489, "every lead planned");
    assert!(plans.iter().all(|(_, n)| *n == 1), "no lead planned twice");
    let steps: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM scheduled_steps s JOIN outreach_plans p ON p.id = s.plan_id WHERE p.campaign_id = $1",
    )
    .bind(campaign)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(steps, 489, "one step per plan");
    assert_eq!(
        app.env
            .count("SELECT count(*) FROM dead_letters WHERE error_class = 'invalid_event'")
            .await,
        1,
        "only the poison record is dead-lettered"
    );
}

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! `lead.contact.v1` on `leads.contacts`: one for every new lead, another
//! only when a merge or an identify changes the contact data.

mod common;

use std::time::Duration;

use common::*;
use suite_testkit::kafka::Consumed;

async fn contacts(t: &Triage) -> Vec<Consumed> {
    t.outbox_drained().await;
    suite_testkit::kafka::read_topic(
        &t.env.settings.kafka.brokers,
        &t.env.settings.topic("leads.contacts"),
        usize::MAX,
        Duration::from_secs(60),
        Duration::from_secs(3),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn contact_events_announce_new_leads_and_changed_contact_data_only() {
    let t = spawn().await;
    let created: serde_json::Value = t
        .post("/v1/leads", &hot_lead("dana@initech.com"))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();

    // The same lead again: merged, nothing of its contact data changed.
    assert_eq!(
        t.post("/v1/leads", &hot_lead("dana@initech.com"))
            .await
            .status(),
        200
    );
    // A behavioural event: rescored, contact data unchanged.
    let resp = t
        .post(
            "/v1/track",
            &serde_json::json!({"batch": [{"message_id": "m-1", "lead_id": id, "event": "Trial Started"}]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    // identify with a new phone: changed.
    let resp = t
        .post(
            "/v1/identify",
            &serde_json::json!({"message_id": "m-2", "lead_id": id,
                "traits": {"phone": "+1 415 555 0199"}}),
        )
        .await;
    assert_eq!(resp.status(), 200);

    let events = contacts(&t).await;
    assert_eq!(events.len(), 2, "created, then the phone change");
    assert!(events
        .iter()
        .all(|e| e.key.as_deref() == Some(id.as_bytes())));
    let header = |e: &Consumed, name: &str| {
        e.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(
        header(&events[0], "ce_type").as_deref(),
        Some("lead.contact.v1")
    );
    let (first, second) = (events[0].json(), events[1].json());
    let typed: suite_domain::LeadContactV1 = serde_json::from_value(first.clone()).unwrap();
    assert_eq!(typed.email, "dana@initech.com");
    assert_eq!(typed.name.as_deref(), Some("Dana Scully"));
    assert_eq!(first["phone"], "+14155550100");
    assert_eq!(first["consent"]["email"], true);
    assert_eq!(first["correlation_id"], created["correlation_id"]);
    assert_eq!(second["phone"], "+14155550199");
    let time = |v: &serde_json::Value| {
        v["updated_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    assert!(
        time(&second) > time(&first),
        "a later record carries a later time"
    );
}

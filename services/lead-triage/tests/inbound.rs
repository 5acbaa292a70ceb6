#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! leads.inbound in all three forms, and a poison record that is dead-lettered without stalling.

mod common;

use std::time::Duration;

use common::*;

async fn wait_for_lead(t: &Triage, email: &str) -> bool {
    for _ in 0..200 {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM leads WHERE email = $1")
            .bind(email)
            .fetch_one(&t.env.db)
            .await
            .unwrap();
        if n == 1 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    false
}

#[tokio::test]
async fn all_three_forms_become_leads_and_poison_goes_to_the_dlq() {
    let t = spawn().await;
    let brokers = t.env.settings.kafka.brokers.clone();
    let topic = t.env.settings.topic("leads.inbound");
    let ws = t.workspace.to_string();
    let key = format!("{ws}:binary@initech.com");

    // 1. Binary mode: ce_* headers, the lead as the body, workspace as an extension.
    let body = serde_json::to_vec(&hot_lead("binary@initech.com")).unwrap();
    suite_testkit::kafka::produce(
        &brokers,
        &topic,
        Some(&key),
        &body,
        &[
            ("ce_id", "evt-1"),
            ("ce_source", "/crm"),
            ("ce_type", "lead.submitted.v1"),
            ("ce_specversion", "1.0"),
            ("ce_time", "2026-01-01T00:00:00Z"),
            ("content-type", "application/json"),
            ("ce_workspaceid", &ws),
            ("ce_correlationid", "crm-77"),
        ],
    )
    .await
    .unwrap();

    // 2. A poison record in the same partition (same key): not JSON.
    suite_testkit::kafka::produce(&brokers, &topic, Some(&key), b"{not json", &[])
        .await
        .unwrap();

    // 3. Structured mode.
    let structured = serde_json::json!({"specversion": "1.0", "id": "evt-2", "source": "/forms", "type": "lead.submitted.v1",
        "datacontenttype": "application/json",
        "data": {"workspace_id": ws, "email": "structured@initech.com", "title": "Director of IT"}});
    suite_testkit::kafka::produce(
        &brokers,
        &topic,
        Some(&key),
        &serde_json::to_vec(&structured).unwrap(),
        &[("content-type", "application/cloudevents+json")],
    )
    .await
    .unwrap();

    // 4. Plain JSON, no headers, with the padding of a fixed-width export.
    let plain = serde_json::json!({"workspace_id": ws, "email": "plain@initech.com", "source": "webinar",
        "country": " de ", "timezone": "Europe/Berlin  ", "phone": "  +49 30 1234567  "});
    suite_testkit::kafka::produce(
        &brokers,
        &topic,
        Some(&key),
        &serde_json::to_vec(&plain).unwrap(),
        &[],
    )
    .await
    .unwrap();

    // 5. Valid JSON that is not a valid lead.
    let invalid = serde_json::json!({"workspace_id": ws, "email": "nope"});
    suite_testkit::kafka::produce(
        &brokers,
        &topic,
        Some(&key),
        &serde_json::to_vec(&invalid).unwrap(),
        &[],
    )
    .await
    .unwrap();

    // 6. An event id with U+0000 (Postgres could not record it as processed).
    let body = serde_json::to_vec(&hot_lead("nul-id@initech.com")).unwrap();
    suite_testkit::kafka::produce(
        &brokers,
        &topic,
        Some(&key),
        &body,
        &[
            ("ce_id", "evt\u{0}3"),
            ("ce_source", "/crm"),
            ("ce_type", "lead.submitted.v1"),
            ("ce_specversion", "1.0"),
            ("content-type", "application/json"),
            ("ce_workspaceid", &ws),
        ],
    )
    .await
    .unwrap();

    for email in [
        "binary@initech.com",
        "structured@initech.com",
        "plain@initech.com",
    ] {
        assert!(wait_for_lead(&t, email).await, "{email} became a lead");
    }
    let correlation: String =
        sqlx::query_scalar("SELECT correlation_id FROM leads WHERE email = 'binary@initech.com'")
            .fetch_one(&t.env.db)
            .await
            .unwrap();
    assert_eq!(correlation, "crm-77");
    let (country, timezone, phone): (String, String, String) = sqlx::query_as(
        "SELECT country, timezone, phone FROM leads WHERE email = 'plain@initech.com'",
    )
    .fetch_one(&t.env.db)
    .await
    .unwrap();
    assert_eq!(
        (country.as_str(), timezone.as_str(), phone.as_str()),
        ("DE", "Europe/Berlin", "+49301234567"),
        "padding around codes is trimmed on the Kafka path"
    );

    let dlq = suite_testkit::kafka::read_topic(
        &brokers,
        &format!("{topic}.dlq"),
        3,
        Duration::from_secs(30),
        Duration::from_millis(500),
    )
    .await
    .unwrap();
    assert_eq!(dlq.len(), 3, "{dlq:?}");
    assert_eq!(dlq[0].payload, b"{not json");
    assert_eq!(dlq[0].header("dlq_original_topic"), Some(topic.as_str()));
    assert_eq!(dlq[0].header("dlq_error_class"), Some("invalid_lead"));
    assert!(dlq[1]
        .header("dlq_error_message")
        .unwrap()
        .contains("/email"));
    assert_eq!(dlq[2].header("dlq_error_class"), Some("invalid_lead"));
    assert!(dlq[2]
        .header("dlq_error_message")
        .unwrap()
        .contains("event id"));
    assert_eq!(t.lead_count().await, 3);
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters")
        .fetch_one(&t.env.db)
        .await
        .unwrap();
    assert_eq!(dead, 3);
}

/// A plain JSON lead carries no id, so it is deduped by its place in the
/// topic and its bytes. A topic created again (or a broker reset) hands out
/// offsets an earlier record already had: a new lead there must still
/// become a lead, not be taken for that earlier record and dropped.
#[tokio::test]
async fn a_plain_lead_at_an_offset_an_earlier_topic_used_is_not_dropped() {
    let t = spawn().await;
    let brokers = t.env.settings.kafka.brokers.clone();
    let topic = t.env.settings.topic("leads.inbound");
    let ws = t.workspace.to_string();
    // What an earlier incarnation of the topic left in processed_events: its
    // first record of every partition, under both the place-only key and the
    // place-and-digest key.
    let earlier = serde_json::to_vec(
        &serde_json::json!({"workspace_id": ws, "email": "earlier@initech.com"}),
    )
    .unwrap();
    let digest = {
        use sha2::Digest as _;
        let d = sha2::Sha256::digest(&earlier);
        u64::from_be_bytes(d[..8].try_into().unwrap())
    };
    for partition in 0..64 {
        for key in [
            format!("{topic}/{partition}/0"),
            format!("{topic}/{partition}/0/{digest:016x}"),
        ] {
            sqlx::query("INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)")
                .bind(lead_triage::intake::CONSUMER)
                .bind(key)
                .execute(&t.env.db)
                .await
                .unwrap();
        }
    }

    let plain = serde_json::json!({"workspace_id": ws, "email": "reused-offset@initech.com", "source": "webinar"});
    suite_testkit::kafka::produce(
        &brokers,
        &topic,
        Some(&format!("{ws}:reused-offset@initech.com")),
        &serde_json::to_vec(&plain).unwrap(),
        &[],
    )
    .await
    .unwrap();
    assert!(
        wait_for_lead(&t, "reused-offset@initech.com").await,
        "the new lead at offset 0 became a lead"
    );
}

/// A burst of inbound leads is written as sets by the group commit: 200
/// distinct CloudEvents, 10 of them delivered a second time (the same id and
/// bytes, as a producer that retried would send; 5 with their key, 5 without,
/// so some repeats land in the same group as their first copy and some in a
/// later one), and one poison record among them. Each lead is stored and
/// triaged once, each id is recorded once, and the poison record alone is
/// dead-lettered.
#[tokio::test]
async fn a_burst_with_repeated_ids_becomes_each_lead_once() {
    use suite_testkit::kafka::RawRecord;

    let t = spawn().await;
    let brokers = t.env.settings.kafka.brokers.clone();
    let topic = t.env.settings.topic("leads.inbound");
    let ws = t.workspace.to_string();
    let record = |i: usize, keyed: bool| {
        let email = format!("burst{i}@initech.com");
        RawRecord {
            key: keyed.then(|| format!("{ws}:{email}")),
            payload: serde_json::to_vec(&hot_lead(&email)).unwrap(),
            headers: [
                ("ce_id", format!("burst-{i}")),
                ("ce_source", "/crm".to_owned()),
                ("ce_type", "lead.submitted.v1".to_owned()),
                ("ce_specversion", "1.0".to_owned()),
                ("content-type", "application/json".to_owned()),
                ("ce_workspaceid", ws.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        }
    };
    let mut records: Vec<RawRecord> = (0..200).map(|i| record(i, true)).collect();
    records.insert(
        100,
        RawRecord {
            key: Some(format!("{ws}:poison")),
            payload: b"\x00 not a lead".to_vec(),
            headers: Vec::new(),
        },
    );
    records.extend((0..5).map(|i| record(i, true)));
    records.extend((195..200).map(|i| record(i, false)));
    suite_testkit::kafka::produce_many(&brokers, &topic, &records)
        .await
        .unwrap();

    let dlq = suite_testkit::kafka::read_topic(
        &brokers,
        &format!("{topic}.dlq"),
        1,
        Duration::from_secs(30),
        Duration::from_millis(500),
    )
    .await
    .unwrap();
    assert_eq!(dlq.len(), 1, "only the poison record is dead-lettered");
    assert_eq!(dlq[0].payload, b"\x00 not a lead");

    let triaged = suite_testkit::kafka::read_topic(
        &brokers,
        &t.env.settings.topic("leads.hot"),
        200,
        Duration::from_secs(60),
        Duration::from_secs(2),
    )
    .await
    .unwrap();
    let mut leads: Vec<String> = triaged
        .iter()
        .map(|r| r.json()["lead_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(leads.len(), 200, "one triage event per lead");
    leads.sort();
    leads.dedup();
    assert_eq!(leads.len(), 200, "no lead triaged twice");
    assert_eq!(t.lead_count().await, 200);
    let recorded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM processed_events WHERE consumer = $1 AND event_id LIKE 'burst-%'",
    )
    .bind(lead_triage::intake::CONSUMER)
    .fetch_one(&t.env.db)
    .await
    .unwrap();
    assert_eq!(recorded, 200);
}

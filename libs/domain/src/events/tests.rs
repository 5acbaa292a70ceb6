use chrono::TimeZone;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::{Email, EmailHashKey, Factor};

fn sample() -> LeadTriagedV1 {
    let key = EmailHashKey::new(&[1u8; 32]).unwrap();
    LeadTriagedV1 {
        lead_id: LeadId::from_uuid(Uuid::from_u128(1)),
        workspace_id: WorkspaceId::from_uuid(Uuid::from_u128(2)),
        email_hash: Some(EmailHash::compute(
            &key,
            &Email::parse("jane@example.com").unwrap(),
        )),
        score: Score::parse(72).unwrap(),
        category: Category::Warm,
        breakdown: vec![FactorScore {
            factor: Factor::Seniority,
            points: 20,
            max: 20,
            reason: "title is vp".into(),
        }],
        model_version: 3,
        correlation_id: CorrelationId::parse("req-1").unwrap(),
        triaged_at: Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap(),
        previous_category: Some(Category::Nurture),
    }
}

#[test]
fn serialises_to_the_documented_shape() {
    let json = serde_json::to_value(sample()).unwrap();
    assert_eq!(json["lead_id"], "00000000-0000-0000-0000-000000000001");
    assert_eq!(json["workspace_id"], "00000000-0000-0000-0000-000000000002");
    assert_eq!(json["score"], 72);
    assert_eq!(json["category"], "warm");
    assert_eq!(json["breakdown"][0]["factor"], "seniority");
    assert_eq!(json["breakdown"][0]["points"], 20);
    assert_eq!(json["model_version"], 3);
    assert_eq!(json["correlation_id"], "req-1");
    assert_eq!(json["triaged_at"], "2025-06-01T12:00:00Z");
    assert_eq!(json["previous_category"], "nurture");
    assert_eq!(json["email_hash"].as_str().map(str::len), Some(64));
    assert!(!json.to_string().contains("jane"));
    assert_eq!(json.as_object().map(|o| o.len()), Some(10));
    let event = sample();
    assert_eq!(event.topic(), "leads.warm");
    assert_eq!(event.key(), "00000000-0000-0000-0000-000000000001");
    assert_eq!(LeadTriagedV1::CE_TYPE, "lead.triaged.v1");
}

#[test]
fn optional_fields_may_be_absent_and_unknown_fields_are_ignored() {
    let mut event = sample();
    event.email_hash = None;
    event.previous_category = None;
    let mut json = serde_json::to_value(&event).unwrap();
    assert!(json.get("email_hash").is_none());
    assert!(json["previous_category"].is_null());
    json["added_in_a_later_minor"] = serde_json::json!(true);
    json.as_object_mut().map(|o| o.remove("previous_category"));
    let back: LeadTriagedV1 = serde_json::from_value(json).unwrap();
    assert_eq!(back, event);
}

#[test]
fn invalid_payloads_are_rejected() {
    let json = serde_json::to_value(sample()).unwrap();
    for (field, bad) in [
        ("score", serde_json::json!(101)),
        ("category", serde_json::json!("tepid")),
        ("lead_id", serde_json::json!("nope")),
        ("email_hash", serde_json::json!("jane@example.com")),
        ("correlation_id", serde_json::json!("")),
    ] {
        let mut broken = json.clone();
        broken[field] = bad;
        assert!(
            serde_json::from_value::<LeadTriagedV1>(broken).is_err(),
            "{field}"
        );
    }
}

fn arb_category() -> impl Strategy<Value = Category> {
    prop::sample::select(Category::ALL.to_vec())
}

fn arb_factor_score() -> impl Strategy<Value = FactorScore> {
    (
        prop::sample::select(Factor::ALL.to_vec()),
        0u8..=100,
        0u8..=100,
        "\\PC{0,40}",
    )
        .prop_map(|(factor, points, max, reason)| FactorScore {
            factor,
            points,
            max,
            reason,
        })
}

fn arb_event() -> impl Strategy<Value = LeadTriagedV1> {
    (
        any::<u128>(),
        any::<u128>(),
        prop::option::of("[0-9a-f]{64}"),
        0u8..=100,
        arb_category(),
        prop::collection::vec(arb_factor_score(), 0..9),
        any::<i32>(),
        "[!-~]{1,128}",
        -4_000_000_000i64..8_000_000_000,
        0u32..1_000_000_000,
        prop::option::of(arb_category()),
    )
        .prop_map(
            |(l, w, hash, score, category, breakdown, v, corr, secs, nanos, prev)| LeadTriagedV1 {
                lead_id: LeadId::from_uuid(Uuid::from_u128(l)),
                workspace_id: WorkspaceId::from_uuid(Uuid::from_u128(w)),
                email_hash: hash.and_then(|h| EmailHash::parse(&h).ok()),
                score: Score::parse(score).unwrap_or_default(),
                category,
                breakdown,
                model_version: v,
                correlation_id: CorrelationId::parse(&corr)
                    .unwrap_or_else(|_| CorrelationId::generate()),
                triaged_at: Utc.timestamp_opt(secs, nanos).single().unwrap_or_default(),
                previous_category: prev,
            },
        )
}

proptest! {
    #[test]
    fn round_trips_through_json(event in arb_event()) {
        let bytes = serde_json::to_vec(&event).unwrap();
        let back: LeadTriagedV1 = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(back, event);
    }
}

fn interaction() -> InteractionV1 {
    InteractionV1 {
        interaction_id: InteractionId::from_uuid(Uuid::from_u128(10)),
        workspace_id: WorkspaceId::from_uuid(Uuid::from_u128(2)),
        lead_id: LeadId::from_uuid(Uuid::from_u128(1)),
        campaign_id: Some(CampaignId::from_uuid(Uuid::from_u128(3))),
        variant_id: Some(VariantId::from_uuid(Uuid::from_u128(4))),
        send_id: Some(Uuid::from_u128(5)),
        channel: Channel::Email,
        kind: InteractionKind::Clicked,
        occurred_at: Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap(),
        correlation_id: CorrelationId::parse("req-1").unwrap(),
        provider_event_id: Some("evt_1".into()),
        generation_cost_micros: None,
    }
}

#[test]
fn interactions_round_trip_and_are_keyed_by_campaign() {
    let event = interaction();
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["kind"], "clicked");
    assert_eq!(json["channel"], "email");
    assert_eq!(json["campaign_id"], "00000000-0000-0000-0000-000000000003");
    assert_eq!(json["occurred_at"], "2025-06-01T12:00:00Z");
    assert_eq!(
        serde_json::from_value::<InteractionV1>(json).unwrap(),
        event
    );
    assert_eq!(event.key(), "00000000-0000-0000-0000-000000000003");
    let mut orphan = interaction();
    orphan.campaign_id = None;
    assert_eq!(orphan.key(), "00000000-0000-0000-0000-000000000001");
    assert_eq!(InteractionV1::CE_TYPE, "engagement.interaction.v1");
}

#[test]
fn interactions_without_optional_fields_parse() {
    let json = serde_json::json!({
        "interaction_id": "00000000-0000-0000-0000-00000000000a",
        "workspace_id": "00000000-0000-0000-0000-000000000002",
        "lead_id": "00000000-0000-0000-0000-000000000001",
        "channel": "sms", "kind": "unsubscribed",
        "occurred_at": "2025-06-01T12:00:00Z", "correlation_id": "c", "extra": 1
    });
    let event: InteractionV1 = serde_json::from_value(json).unwrap();
    assert_eq!(event.campaign_id, None);
    assert_eq!(event.kind, InteractionKind::Unsubscribed);
    let bad = serde_json::json!({"interaction_id": "x"});
    assert!(serde_json::from_value::<InteractionV1>(bad).is_err());
}

#[test]
fn allocations_round_trip() {
    let event = CampaignAllocationV1 {
        campaign_id: CampaignId::from_uuid(Uuid::from_u128(3)),
        workspace_id: WorkspaceId::from_uuid(Uuid::from_u128(2)),
        status: CampaignStatus::Active,
        sequence: 42,
        shares: vec![
            AllocationShare {
                variant_id: VariantId::from_uuid(Uuid::from_u128(4)),
                share: 0.75,
            },
            AllocationShare {
                variant_id: VariantId::from_uuid(Uuid::from_u128(5)),
                share: 0.25,
            },
        ],
        reason: "changed".into(),
        computed_at: Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap(),
        performance_score: Some(0.125),
    };
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["status"], "active");
    assert_eq!(json["performance_score"], 0.125);
    let mut older = json.clone();
    older.as_object_mut().unwrap().remove("performance_score");
    let read = serde_json::from_value::<CampaignAllocationV1>(older).unwrap();
    assert_eq!(
        read.performance_score, None,
        "a v1 event without the field still reads"
    );
    assert_eq!(json["shares"][0]["share"], 0.75);
    assert_eq!(
        serde_json::from_value::<CampaignAllocationV1>(json).unwrap(),
        event
    );
    assert_eq!(event.key(), "00000000-0000-0000-0000-000000000003");
    assert_eq!(CampaignAllocationV1::CE_TYPE, "campaign.allocation.v1");
}

fn contact() -> LeadContactV1 {
    LeadContactV1 {
        lead_id: LeadId::from_uuid(Uuid::from_u128(1)),
        workspace_id: WorkspaceId::from_uuid(Uuid::from_u128(2)),
        email: "dana@initech.com".into(),
        phone: Some("+14155550100".into()),
        name: Some("Dana Scully".into()),
        company: None,
        title: None,
        industry: None,
        country: Some("US".into()),
        timezone: None,
        consent: serde_json::json!({"email": true}),
        correlation_id: CorrelationId::parse("req-1").unwrap(),
        updated_at: Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap(),
    }
}

#[test]
fn contacts_round_trip_and_compare_without_their_time() {
    let event = contact();
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["email"], "dana@initech.com");
    assert_eq!(json["consent"]["email"], true);
    assert_eq!(json["updated_at"], "2025-06-01T12:00:00Z");
    assert_eq!(
        serde_json::from_value::<LeadContactV1>(json).unwrap(),
        event
    );
    assert_eq!(event.key(), "00000000-0000-0000-0000-000000000001");
    assert_eq!(LeadContactV1::CE_TYPE, "lead.contact.v1");
    let mut later = event.clone();
    later.updated_at = Utc.with_ymd_and_hms(2025, 6, 2, 12, 0, 0).unwrap();
    assert!(event.same_contact(&later));
    later.phone = None;
    assert!(!event.same_contact(&later));
    let minimal = serde_json::json!({"lead_id": Uuid::from_u128(1), "workspace_id": Uuid::from_u128(2),
        "email": "a@b.example", "correlation_id": "c", "updated_at": "2025-06-01T12:00:00Z"});
    assert!(serde_json::from_value::<LeadContactV1>(minimal).is_ok());
    let no_email = serde_json::json!({"lead_id": Uuid::from_u128(1), "workspace_id": Uuid::from_u128(2),
        "correlation_id": "c", "updated_at": "2025-06-01T12:00:00Z"});
    assert!(serde_json::from_value::<LeadContactV1>(no_email).is_err());
}

#[test]
fn definitions_round_trip() {
    let event = CampaignDefinitionV1 {
        campaign_id: CampaignId::from_uuid(Uuid::from_u128(3)),
        workspace_id: WorkspaceId::from_uuid(Uuid::from_u128(2)),
        version: 4,
        status: CampaignStatus::Paused,
        target_categories: vec![Category::Hot, Category::Warm],
        ladder: serde_json::json!([{"channel": "email", "delay_secs": 0}]),
        daily_budget_micros: 5_000_000,
        channel_costs: [("email".to_owned(), 1000)].into_iter().collect(),
        variants: vec![VariantDefinition {
            variant_id: VariantId::from_uuid(Uuid::from_u128(4)),
            position: 0,
            content: serde_json::json!({"email": {"subject": "Hi", "body": "Hello"}}),
        }],
        created_at: Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap(),
        updated_at: Utc.with_ymd_and_hms(2025, 6, 2, 12, 0, 0).unwrap(),
    };
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["status"], "paused");
    assert_eq!(
        json["target_categories"],
        serde_json::json!(["hot", "warm"])
    );
    assert_eq!(
        json["variants"][0]["variant_id"],
        "00000000-0000-0000-0000-000000000004"
    );
    assert_eq!(json["channel_costs"]["email"], 1000);
    assert_eq!(
        serde_json::from_value::<CampaignDefinitionV1>(json).unwrap(),
        event
    );
    assert_eq!(event.key(), "00000000-0000-0000-0000-000000000003");
    assert_eq!(CampaignDefinitionV1::CE_TYPE, "campaign.definition.v1");
}

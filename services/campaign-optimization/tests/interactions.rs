#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The engagement.interactions consumer against the real stack: exactly-once
//! counts under redelivery, allocations published on campaigns.allocations,
//! the performance report, and budget exhaustion.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use suite_domain::{CampaignAllocationV1, CampaignStatus, InteractionKind, InteractionV1};
use uuid::Uuid;

const TOPICS: [&str; 3] = [
    "engagement.interactions",
    "engagement.interactions.dlq",
    "campaigns.allocations",
];

/// (sends, clicked, converted, opened, spend) of a variant.
async fn counts(svc: &Service, variant: Uuid) -> (i64, i64, i64, i64, i64) {
    sqlx::query_as(
        "SELECT sends, clicked, converted, opened, spend_micros FROM campaign_variant_stats WHERE variant_id = $1",
    )
    .bind(variant)
    .fetch_one(&svc.env.db)
    .await
    .unwrap()
}

/// Produces a sentinel `opened` interaction after everything else (same
/// key, so the same partition, handled in order) and waits until it is counted.
async fn drain(svc: &Service, campaign: Uuid, variant: Uuid) {
    let before = counts(svc, variant).await.3;
    let sentinel = interaction(
        svc.workspace,
        campaign,
        variant,
        Uuid::now_v7(),
        InteractionKind::Opened,
    );
    svc.produce(&sentinel).await;
    svc.eventually(90, "sentinel counted", || async {
        (counts(svc, variant).await.3 > before).then_some(())
    })
    .await;
}

#[tokio::test]
async fn redelivered_interactions_count_once_and_allocations_follow_the_data() {
    let svc = spawn(&TOPICS).await;
    let created = svc.create(&campaign_body("Exactly once")).await;
    let campaign = id_of(&created);
    let variants = variant_ids(&created);
    let (a, b) = (variants[0], variants[1]);

    // A: 30 sends, 3 conversions. B: 30 sends, 15 conversions.
    let mut events: Vec<InteractionV1> = Vec::new();
    for (variant, converting) in [(a, 3), (b, 15)] {
        for i in 0..30 {
            let send = Uuid::now_v7();
            events.push(interaction(
                svc.workspace,
                campaign,
                variant,
                send,
                InteractionKind::Sent,
            ));
            if i < converting {
                events.push(interaction(
                    svc.workspace,
                    campaign,
                    variant,
                    send,
                    InteractionKind::Converted,
                ));
            }
        }
    }
    for e in &events {
        svc.produce(e).await;
    }
    // Redeliveries: one event twice more, then the whole batch again.
    svc.produce(&events[0]).await;
    svc.produce(&events[1]).await;
    for e in &events {
        svc.produce(e).await;
    }
    // A second conversion of an already converted send is not a second success.
    let repeat_of = events
        .iter()
        .find(|e| {
            e.kind == InteractionKind::Converted && e.variant_id.map(|v| *v.as_uuid()) == Some(b)
        })
        .unwrap();
    let mut again = repeat_of.clone();
    again.interaction_id = suite_domain::InteractionId::new();
    svc.produce(&again).await;
    drain(&svc, campaign, b).await;

    assert_eq!(counts(&svc, a).await, (30, 0, 3, 0, 30 * 1000));
    assert_eq!(counts(&svc, b).await, (30, 0, 15, 1, 30 * 1000));
    let daily: (i64, i64) = sqlx::query_as(
        "SELECT spend_micros, sends FROM campaign_daily_spend WHERE campaign_id = $1",
    )
    .bind(campaign)
    .fetch_one(&svc.env.db)
    .await
    .unwrap();
    assert_eq!(daily, (60 * 1000, 60));
    let processed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM processed_events WHERE consumer = 'campaign-optimization.interactions'",
    )
    .fetch_one(&svc.env.db)
    .await
    .unwrap();
    // Every distinct interaction once: the events, the repeat and the sentinel.
    assert_eq!(processed, events.len() as i64 + 2);

    // The performance report matches what was consumed (once the summary refreshed).
    let path = format!("/v1/campaigns/{campaign}/performance");
    let report: Value = svc
        .eventually(30, "performance shows the counts", || async {
            let r = svc.get_json(&path).await;
            (r["totals"]["sends"] == 60 && r["totals"]["outcomes"] == 18).then_some(r)
        })
        .await;
    let va = &report["variants"][0];
    let vb = &report["variants"][1];
    assert_eq!(
        (va["sends"].as_i64(), va["outcomes"].as_i64()),
        (Some(30), Some(3))
    );
    assert_eq!(
        (vb["sends"].as_i64(), vb["outcomes"].as_i64()),
        (Some(30), Some(15))
    );
    assert!((va["rate"].as_f64().unwrap() - 0.1).abs() < 1e-12);
    assert!((vb["rate"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    assert!((vb["posterior_mean"].as_f64().unwrap() - 16.0 / 32.0).abs() < 1e-12);
    let (lo, hi) = (
        vb["credible_interval_95"]["lower"].as_f64().unwrap(),
        vb["credible_interval_95"]["upper"].as_f64().unwrap(),
    );
    assert!(lo < 0.5 && 0.5 < hi && hi - lo < 0.4, "{lo}..{hi}");
    assert_eq!(va["spend_micros"], 30_000);
    assert_eq!(report["totals"]["spend_micros"], 60_000);
    assert_eq!(report["totals"]["spend_today_micros"], 60_000);
    let (pa, pb) = (
        va["prob_best"].as_f64().unwrap(),
        vb["prob_best"].as_f64().unwrap(),
    );
    assert!(pb > 0.99 && (pa + pb - 1.0).abs() < 1e-9, "{pa} {pb}");
    // Seeded Monte Carlo: the report's numbers are reproducible from the counts.
    let seed: u64 = report["prob_best_seed"].as_str().unwrap().parse().unwrap();
    let stats = [
        campaign_optimization::allocation::VariantStats::new(30, 3).unwrap(),
        campaign_optimization::allocation::VariantStats::new(30, 15).unwrap(),
    ];
    let again = campaign_optimization::allocation::prob_best(&stats, 10_000, seed);
    assert_eq!(again, vec![pa, pb]);

    // Allocations went out on campaigns.allocations, typed, in sequence, and B leads.
    let latest: CampaignAllocationV1 = svc
        .eventually(30, "an allocation favouring B", || async {
            let records = svc.allocations(2).await;
            let mut all: Vec<CampaignAllocationV1> = records
                .iter()
                .map(|r| serde_json::from_slice(&r.payload).unwrap())
                .collect();
            all.sort_by_key(|e| e.sequence);
            let last = all.last().cloned()?;
            (last.sequence >= 2 && last.shares[1].share > 0.9).then_some(last)
        })
        .await;
    assert_eq!(*latest.campaign_id.as_uuid(), campaign);
    assert_eq!(latest.status, CampaignStatus::Active);
    let sum: f64 = latest.shares.iter().map(|s| s.share).sum();
    assert!((sum - 1.0).abs() < 1e-9);
    assert!(latest.shares.iter().all(|s| s.share >= 0.05 - 1e-12));
    assert_eq!(*latest.shares[1].variant_id.as_uuid(), b);
    // The API's allocation is the latest published one.
    let api = svc
        .get_json(&format!("/v1/campaigns/{campaign}/allocation"))
        .await;
    assert!(api["sequence"].as_i64().unwrap() >= latest.sequence);
}

#[tokio::test]
async fn spending_the_daily_budget_pauses_the_campaign() {
    let svc = spawn(&TOPICS).await;
    let mut body = campaign_body("Small budget");
    // Five email sends at 10,000 fit a 50,000 budget; the next would not.
    body["daily_budget_micros"] = json!(50_000);
    body["channel_costs"] = json!({"email": 10_000, "sms": 20_000});
    let created = svc.create(&body).await;
    let campaign = id_of(&created);
    let a = variant_ids(&created)[0];

    for _ in 0..4 {
        svc.produce(&interaction(
            svc.workspace,
            campaign,
            a,
            Uuid::now_v7(),
            InteractionKind::Sent,
        ))
        .await;
    }
    drain(&svc, campaign, a).await;
    assert_eq!(
        status_of(&svc, campaign).await,
        ("active".into(), None),
        "40,000 of 50,000 spent: still active"
    );

    svc.produce(&interaction(
        svc.workspace,
        campaign,
        a,
        Uuid::now_v7(),
        InteractionKind::Sent,
    ))
    .await;
    paused_for_budget(&svc, campaign).await;

    // Raising the budget lets the optimizer resume it.
    let r = svc
        .send(
            "PATCH",
            &format!("/v1/campaigns/{campaign}"),
            Some(&json!({"daily_budget_micros": 1_000_000})),
        )
        .await;
    assert_eq!(r.status(), 200);
    svc.eventually(30, "resumed after the budget was raised", || async {
        let c = svc.get_json(&format!("/v1/campaigns/{campaign}")).await;
        (c["status"] == "active").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// The campaign's stored (status, pause reason).
async fn status_of(svc: &Service, campaign: Uuid) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, pause_reason FROM campaigns WHERE id = $1")
        .bind(campaign)
        .fetch_one(&svc.env.db)
        .await
        .unwrap()
}

/// Waits until `campaign` reads as paused for budget, engagement is told so
/// on campaigns.allocations, and resuming it is refused (409) while the
/// day's budget is spent.
async fn paused_for_budget(svc: &Service, campaign: Uuid) {
    let read: Value = svc
        .eventually(60, "paused for budget", || async {
            let c = svc.get_json(&format!("/v1/campaigns/{campaign}")).await;
            (c["status"] == "paused").then_some(c)
        })
        .await;
    assert_eq!(read["pause_reason"], "budget");
    let paused: CampaignAllocationV1 = svc
        .eventually(30, "a paused allocation", || async {
            svc.allocations(2)
                .await
                .iter()
                .map(|r| serde_json::from_slice::<CampaignAllocationV1>(&r.payload).unwrap())
                .find(|e| e.status == CampaignStatus::Paused)
        })
        .await;
    assert_eq!(paused.reason, "budget_exhausted");
    assert_eq!(*paused.campaign_id.as_uuid(), campaign);
    let r = svc
        .post(&format!("/v1/campaigns/{campaign}/resume"), &json!({}))
        .await;
    assert_eq!(r.status(), 409);
}

/// (spend, generation spend) of a variant.
async fn spends(svc: &Service, variant: Uuid) -> (i64, i64) {
    sqlx::query_as(
        "SELECT spend_micros, generation_spend_micros FROM campaign_variant_stats WHERE variant_id = $1",
    )
    .bind(variant)
    .fetch_one(&svc.env.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_budget_spent_on_generation_pauses_the_campaign() {
    let svc = spawn(&TOPICS).await;
    let mut body = campaign_body("Generated budget");
    // Sends cost 1,000 each: sixty would fit the 60,000 budget. Generating
    // A's messages costs 15,000 each, which spends it after four.
    body["daily_budget_micros"] = json!(60_000);
    body["channel_costs"] = json!({"email": 1_000, "sms": 20_000});
    let created = svc.create(&body).await;
    let campaign = id_of(&created);
    let variants = variant_ids(&created);
    let (a, b) = (variants[0], variants[1]);

    // A: three generated sends (3 × 16,000). B: a template send and one with
    // a (bogus) negative generation cost, which counts as nothing (2 × 1,000).
    let ws = svc.workspace;
    for x in [
        sent(ws, campaign, a, Some(15_000)),
        sent(ws, campaign, a, Some(15_000)),
        sent(ws, campaign, a, Some(15_000)),
        sent(ws, campaign, b, None),
        sent(ws, campaign, b, Some(-5_000)),
    ] {
        svc.produce(&x).await;
    }
    svc.eventually(90, "the five sends counted", || async {
        (counts(&svc, a).await.0 == 3 && counts(&svc, b).await.0 == 2).then_some(())
    })
    .await;
    assert_eq!(spends(&svc, a).await, (48_000, 45_000));
    assert_eq!(spends(&svc, b).await, (2_000, 0));
    assert_eq!(
        status_of(&svc, campaign).await,
        ("active".into(), None),
        "50,000 of 60,000 spent: still active"
    );

    // A fourth generated send: 66,000 spent, while its channel costs alone
    // (6,000) are a tenth of the budget.
    svc.produce(&sent(ws, campaign, a, Some(15_000))).await;
    paused_for_budget(&svc, campaign).await;
    let daily: (i64, i64) = sqlx::query_as(
        "SELECT spend_micros, sends FROM campaign_daily_spend WHERE campaign_id = $1",
    )
    .bind(campaign)
    .fetch_one(&svc.env.db)
    .await
    .unwrap();
    assert_eq!(daily, (66_000, 6));

    // The report shows what generation cost, per variant and in total.
    let path = format!("/v1/campaigns/{campaign}/performance");
    let report: Value = svc
        .eventually(30, "performance shows the spend", || async {
            let r = svc.get_json(&path).await;
            (r["totals"]["spend_micros"] == 66_000).then_some(r)
        })
        .await;
    let (va, vb) = (&report["variants"][0], &report["variants"][1]);
    assert_eq!(
        (&va["spend_micros"], &va["generation_spend_micros"]),
        (&json!(64_000), &json!(60_000))
    );
    assert_eq!(
        (&vb["spend_micros"], &vb["generation_spend_micros"]),
        (&json!(2_000), &json!(0))
    );
    assert_eq!(report["totals"]["generation_spend_micros"], 60_000);
    assert_eq!(report["totals"]["spend_today_micros"], 66_000);
    assert_eq!(report["totals"]["sends"], 6);
}

#[tokio::test]
async fn spend_ahead_of_the_daily_pace_holds_sends_back_until_it_is_on_pace() {
    let svc = spawn(&TOPICS).await;
    let mut body = campaign_body("Paced");
    // One send costs half the day's budget and no burst is allowed: after
    // one send, another would run ahead of the linear pace at any time of
    // day but the last millisecond, while the budget itself is not spent.
    body["daily_budget_micros"] = json!(1_000_000_000);
    body["channel_costs"] = json!({"email": 500_000_000, "sms": 500_000_000});
    body["pacing_burst_bps"] = json!(0);
    let created = svc.create(&body).await;
    let campaign = id_of(&created);
    let a = variant_ids(&created)[0];

    svc.produce(&interaction(
        svc.workspace,
        campaign,
        a,
        Uuid::now_v7(),
        InteractionKind::Sent,
    ))
    .await;
    let held: CampaignAllocationV1 = svc
        .eventually(60, "a pacing hold", || async {
            svc.allocations(2)
                .await
                .iter()
                .map(|r| serde_json::from_slice::<CampaignAllocationV1>(&r.payload).unwrap())
                .find(|e| e.reason == "pacing_hold")
        })
        .await;
    assert_eq!(held.status, CampaignStatus::Paused);
    // The campaign itself stays active: only its sends are held back.
    let c = svc.get_json(&format!("/v1/campaigns/{campaign}")).await;
    assert_eq!(
        (c["status"].as_str(), c["pause_reason"].as_str()),
        (Some("active"), None)
    );
    let hold: bool = sqlx::query_scalar(
        "SELECT pacing_hold FROM campaign_optimizer_state WHERE campaign_id = $1",
    )
    .bind(campaign)
    .fetch_one(&svc.env.db)
    .await
    .unwrap();
    assert!(hold);

    // Allowing the whole budget as burst puts spend back on pace: the
    // optimizer releases the hold and announces the campaign active again.
    let r = svc
        .send(
            "PATCH",
            &format!("/v1/campaigns/{campaign}"),
            Some(&json!({"pacing_burst_bps": 10000})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let released: CampaignAllocationV1 = svc
        .eventually(60, "the hold released", || async {
            svc.allocations(3)
                .await
                .iter()
                .map(|r| serde_json::from_slice::<CampaignAllocationV1>(&r.payload).unwrap())
                .find(|e| e.reason == "pacing_released")
        })
        .await;
    assert_eq!(released.status, CampaignStatus::Active);
    assert!(released.sequence > held.sequence);
}

#[tokio::test]
async fn poison_interactions_are_dead_lettered_and_do_not_stall_the_partition() {
    let svc = spawn(&TOPICS).await;
    let created = svc.create(&campaign_body("Poison")).await;
    let campaign = id_of(&created);
    let a = variant_ids(&created)[0];
    let topic = svc.env.settings.topic("engagement.interactions");
    let key = campaign.to_string();

    // Not a CloudEvent; a CloudEvent whose data is not an interaction; an
    // interaction for a campaign of no workspace's; a variant of another campaign.
    suite_testkit::kafka::produce(
        &svc.env.settings.kafka.brokers,
        &topic,
        Some(&key),
        b"{not json",
        &[],
    )
    .await
    .unwrap();
    let wrong = suite_bus::CloudEvent::new(
        InteractionV1::CE_TYPE,
        "/engagement",
        None,
        json!({"kind": "clicked"}),
    );
    svc.producer
        .publish_event(&topic, Some(key.as_bytes()), &wrong)
        .await
        .unwrap();
    let unknown_campaign = interaction(
        svc.workspace,
        Uuid::now_v7(),
        a,
        Uuid::now_v7(),
        InteractionKind::Sent,
    );
    svc.produce(&unknown_campaign).await;
    let foreign_variant = interaction(
        svc.workspace,
        campaign,
        Uuid::now_v7(),
        Uuid::now_v7(),
        InteractionKind::Sent,
    );
    svc.produce(&foreign_variant).await;
    // A valid interaction after them is still counted.
    drain(&svc, campaign, a).await;
    assert_eq!(
        counts(&svc, a).await.0,
        0,
        "nothing but the sentinel counted"
    );

    let dlq = read_dlq(&svc, 4).await;
    let mut classes: Vec<&str> = dlq
        .iter()
        .filter_map(|r| r.header("dlq_error_class"))
        .collect();
    classes.sort_unstable();
    assert_eq!(
        classes,
        [
            "invalid_event",
            "invalid_interaction",
            "unknown_campaign",
            "unknown_variant"
        ]
    );
    for r in &dlq {
        assert_eq!(r.header("dlq_original_topic"), Some(topic.as_str()));
    }
}

async fn read_dlq(svc: &Service, expect: usize) -> Vec<suite_testkit::kafka::Consumed> {
    suite_testkit::kafka::read_topic(
        &svc.env.settings.kafka.brokers,
        &svc.env.settings.topic("engagement.interactions.dlq"),
        expect,
        Duration::from_secs(60),
        Duration::from_secs(1),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn interactions_of_many_campaigns_are_counted_once_in_batches() {
    // With the consumer-wide bound at 1 every batch would be one interaction.
    // The batcher's records share its one connection, so that bound does not
    // apply to them and batches still form.
    let svc = spawn_with(&TOPICS, |s| s.consumer.max_in_flight = 1).await;
    let mut campaigns = Vec::new();
    for i in 0..6 {
        let created = svc.create(&campaign_body(&format!("Batch {i}"))).await;
        campaigns.push((id_of(&created), variant_ids(&created)[0]));
    }
    // 42 sends per campaign, interleaved across campaigns (different keys
    // are handled concurrently), each produced twice; with the clicks below,
    // 1,008 interactions of which 504 count.
    let mut events = Vec::new();
    for _ in 0..42 {
        for (campaign, variant) in &campaigns {
            events.push(interaction(
                svc.workspace,
                *campaign,
                *variant,
                Uuid::now_v7(),
                InteractionKind::Sent,
            ));
        }
    }
    // Every send clicked twice under two interaction ids (a provider that
    // reported the click twice): one click per send.
    let clicks: Vec<InteractionV1> = events
        .iter()
        .flat_map(|sent| {
            let click = || {
                interaction(
                    svc.workspace,
                    *sent.campaign_id.unwrap().as_uuid(),
                    *sent.variant_id.unwrap().as_uuid(),
                    sent.send_id.unwrap(),
                    InteractionKind::Clicked,
                )
            };
            [click(), click()]
        })
        .collect();
    let sends = events
        .iter()
        .chain(events.iter())
        .chain(clicks.iter())
        .map(|e| svc.produce(e));
    futures::future::join_all(sends).await;
    for (campaign, variant) in &campaigns {
        drain(&svc, *campaign, *variant).await;
        let (sends, clicked, ..) = counts(&svc, *variant).await;
        assert_eq!((sends, clicked), (42, 42), "campaign {campaign}");
        let day: (i64,) = sqlx::query_as(
            "SELECT sum(sends)::bigint FROM campaign_daily_spend WHERE campaign_id = $1",
        )
        .bind(campaign)
        .fetch_one(&svc.env.db)
        .await
        .unwrap();
        assert_eq!(day.0, 42, "the day's sends of campaign {campaign}");
    }
    // Group commit happened: some transaction counted more than one interaction.
    let metrics = svc
        .http
        .get(svc.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let (sum, count) = (
        value("campaign_interaction_batch_size_sum"),
        value("campaign_interaction_batch_size_count"),
    );
    assert!(
        count > 0.0 && sum > count,
        "batches: {count}, interactions: {sum}"
    );
}

#[tokio::test]
async fn old_send_outcomes_are_pruned_and_recent_ones_kept() {
    let svc = spawn(&[]).await;
    let created = svc.create(&campaign_body("Retention")).await;
    let campaign = id_of(&created);
    for age_days in [200, 100, 10, 0] {
        sqlx::query(
            "INSERT INTO campaign_send_outcomes (send_id, kind, campaign_id, recorded_at) \
             VALUES ($1, 'clicked', $2, now() - make_interval(days => $3))",
        )
        .bind(Uuid::now_v7())
        .bind(campaign)
        .bind(age_days)
        .execute(&svc.env.db)
        .await
        .unwrap();
    }
    let pruned = campaign_optimization::optimizer::housekeeping::prune_outcomes(&svc.env.db, 90)
        .await
        .unwrap();
    assert_eq!(pruned, 2);
    assert_eq!(svc.count("campaign_send_outcomes").await, 2);
}

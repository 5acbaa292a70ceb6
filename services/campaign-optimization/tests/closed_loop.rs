#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The closed loop of issue 5, with the three services as separate
//! processes against the real stack: leads come in through REST and
//! `leads.inbound`, lead-triage triages them, engagement plans and sends
//! the campaign's variants by the latest allocation, the test plays the
//! recipients (variant B's convert three times as often as A's) by posting
//! interactions to engagement, and campaign-optimization moves the traffic
//! to B and pauses the campaign when the day's budget is spent.
//!
//! Needs the `lead-triage` and `engagement` binaries next to this package's
//! (`cargo nextest run --workspace` builds them; alone:
//! `cargo build -p lead-triage -p engagement --bins`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use suite_bus::OutgoingRecord;
use suite_testkit::TestEnv;
use uuid::Uuid;

mod processes;
use processes::{start_service, Http};

const LEADS_REST: usize = 1_000;
const LEADS_KAFKA: usize = 1_000;
/// Conversion rates of the recipients of A and B.
const RATE_A: f64 = 0.05;
const RATE_B: f64 = 0.15;
/// Email sends the day's budget pays for.
const BUDGETED_SENDS: i64 = 1_500;
const EMAIL_COST: i64 = 1_000;

fn lead(i: usize, run: &str) -> Value {
    json!({
        "email": format!("buyer{i}.{run}@initech{}.com", i % 97),
        "name": format!("Dana Scully{i}"),
        "phone": "+1 415 555 0100",
        "company": "Initech",
        "title": "VP of Engineering",
        "company_size": 800,
        "industry": "software",
        "country": "US",
        "source": "demo_request",
        "consent": {"email": true, "sms": true, "phone": true}
    })
}

/// Plays the recipients of the campaign's sends.
struct Recipients {
    rng: rand_chacha::ChaCha8Rng,
    answered: HashSet<Uuid>,
    campaign_id: Uuid,
    variant_b: Uuid,
    engagement: String,
}

impl Recipients {
    /// Answers every send not answered yet: a `converted` interaction with
    /// the rate of the send's variant. Returns how many sends there are.
    async fn answer(&mut self, db: &sqlx::PgPool, http: &Http) -> usize {
        let rows: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(
            "SELECT id, lead_id, variant_id FROM send_reservations WHERE campaign_id = $1 AND status = 'sent'",
        )
        .bind(self.campaign_id)
        .fetch_all(db)
        .await
        .unwrap();
        for (send, lead_id, variant) in &rows {
            if !self.answered.insert(*send) {
                continue;
            }
            let rate = if *variant == self.variant_b {
                RATE_B
            } else {
                RATE_A
            };
            if self.rng.random_bool(rate) {
                let (status, body) = http
                    .send(
                        reqwest::Method::POST,
                        format!("{}/v1/interactions", self.engagement),
                        Some(&json!({"lead_id": lead_id, "kind": "converted",
                                     "provider_event_id": format!("conv-{send}"), "send_id": send})),
                        None,
                    )
                    .await;
                assert!(status == 201 || status == 200, "{status}: {body}");
            }
        }
        rows.len()
    }
}

#[tokio::test]
async fn closed_loop_moves_traffic_to_the_better_variant_and_pauses_on_budget() {
    let env = TestEnv::new("closed-loop").await.expect("env");
    processes::create_topics(&env).await;
    let (ws, key) = processes::workspace(&env).await;
    // Each service's JSON logs, read at the end to follow one correlation id.
    let logs = std::env::temp_dir().join(format!("closed-loop-{}", env.id));
    std::fs::create_dir_all(&logs).unwrap();
    let mut triage = start_service(&env, "lead-triage", &logs, &[]).await;
    let mut engagement = start_service(&env, "engagement", &logs, &processes::SEND_NOW).await;
    let mut optimizer = start_service(&env, "campaign-optimization", &logs, &[]).await;
    for p in [&mut triage, &mut engagement, &mut optimizer] {
        p.wait_ready(Duration::from_secs(90)).await.expect("ready");
    }
    let http = Http {
        client: reqwest::Client::new(),
        key,
    };

    // The campaign: two variants, one email step, budget for 1,500 sends.
    let (status, campaign) = http
        .send(
            reqwest::Method::POST,
            format!("{}/v1/campaigns", optimizer.base),
            Some(&json!({
                "name": "Closed loop",
                "target_categories": ["hot", "warm", "nurture"],
                "ladder": [{"channel": "email", "delay_secs": 0}],
                "objective": "conversion",
                "daily_budget_micros": BUDGETED_SENDS * EMAIL_COST,
                "channel_costs": {"email": EMAIL_COST},
                "min_share": 0.05,
                "warmup_sends": 50,
                "pacing_burst_bps": 10000,
                "variants": [
                    {"name": "A", "content": {"email": {"subject": "Hi {{ first_name }}", "body": "A for {{ company }}"}}},
                    {"name": "B", "content": {"email": {"subject": "Hello {{ name }}", "body": "B for {{ company }}"}}}
                ]
            })),
            None,
        )
        .await;
    assert_eq!(status, 201, "{campaign}");
    let campaign_id: Uuid = campaign["id"].as_str().unwrap().parse().unwrap();
    let variant_a: Uuid = campaign["variants"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let variant_b: Uuid = campaign["variants"][1]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Engagement learns of the campaign from campaigns.definitions; a lead
    // triaged before that would find no campaign to plan under.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let known: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM engagement_campaigns WHERE id = $1)")
                .bind(campaign_id)
                .fetch_one(&env.db)
                .await
                .unwrap();
        if known {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "engagement never learnt of the campaign"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The recipients: every new sent email converts with its variant's rate,
    // answered while leads still arrive, so the allocation can learn in time.
    let mut recipients = Recipients {
        rng: rand_chacha::ChaCha8Rng::seed_from_u64(5),
        answered: HashSet::new(),
        campaign_id,
        variant_b,
        engagement: engagement.base.clone(),
    };

    // 2,000 leads: half through REST batches (one correlation id each), half
    // on leads.inbound, in chunks of 100 every 2 s (a steady arrival, not one
    // burst, so the loop has time to learn while leads still arrive).
    let run = env.id.clone();
    let correlation = format!("e2e-{run}");
    let producer = suite_bus::Producer::new(&env.settings.kafka).unwrap();
    let inbound = env.settings.topic("leads.inbound");
    for chunk in 0..(LEADS_REST / 100) {
        let leads: Vec<Value> = (chunk * 100..(chunk + 1) * 100)
            .map(|i| lead(i, &run))
            .collect();
        let (status, body) = http
            .send(
                reqwest::Method::POST,
                format!("{}/v1/leads/batch", triage.base),
                Some(&json!({"leads": leads})),
                Some(&format!("{correlation}-{chunk}")),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["created"], 100, "{}", body["rejected"]);
        let mut sends = Vec::new();
        for i in LEADS_REST + chunk * 100..LEADS_REST + (chunk + 1) * 100 {
            let mut body = lead(i, &run);
            body["workspace_id"] = json!(ws.id);
            sends.push(producer.send(OutgoingRecord {
                topic: inbound.clone(),
                key: Some(format!("{}:{i}", ws.id).into_bytes()),
                payload: serde_json::to_vec(&body).unwrap(),
                headers: vec![(
                    "correlationid".into(),
                    format!("{correlation}-kafka").into_bytes(),
                )],
            }));
        }
        for r in futures::future::join_all(sends).await {
            r.expect("produce lead");
        }
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            recipients.answer(&env.db, &http).await;
        }
    }

    let mut best_b_share = 0.0_f64;
    let mut paused = false;
    let started = Instant::now();
    let mut quiet_since = Instant::now();
    let mut last_sent = 0;
    let mut last_report = Instant::now();
    while started.elapsed() < Duration::from_secs(540) {
        let sent_now = recipients.answer(&env.db, &http).await;
        // B's share in the latest allocation, whatever its status: the
        // allocation that pauses the campaign for budget still carries the
        // optimizer's latest shares.
        let shares: Option<sqlx::types::Json<Value>> =
            sqlx::query_scalar("SELECT shares FROM campaign_allocations WHERE campaign_id = $1")
                .bind(campaign_id)
                .fetch_optional(&env.db)
                .await
                .unwrap();
        if let Some(shares) = shares {
            for s in shares.0.as_array().unwrap() {
                if s["variant_id"] == json!(variant_b) {
                    best_b_share = best_b_share.max(s["share"].as_f64().unwrap());
                }
            }
        }
        let campaign_status: (String, Option<String>) =
            sqlx::query_as("SELECT status, pause_reason FROM campaigns WHERE id = $1")
                .bind(campaign_id)
                .fetch_one(&env.db)
                .await
                .unwrap();
        paused = campaign_status == ("paused".into(), Some("budget".into()));
        if sent_now != last_sent {
            last_sent = sent_now;
            quiet_since = Instant::now();
        }
        if last_report.elapsed() > Duration::from_secs(15) {
            last_report = Instant::now();
            eprintln!(
                "closed loop at {:?}: {} sent, best B share {best_b_share:.3}, paused {paused}",
                started.elapsed(),
                sent_now
            );
        }
        if paused && best_b_share > 0.8 && quiet_since.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "closed loop: {} sends answered, best B share {best_b_share:.3}, paused {paused}, {:?}",
        recipients.answered.len(),
        started.elapsed()
    );

    // Every lead triaged once (the last ones from leads.inbound may still be
    // on their way when the budget has run out), and every triage event
    // handled by engagement.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (leads, handled): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM leads WHERE workspace_id = $1), \
                    (SELECT count(*) FROM processed_events WHERE consumer = 'engagement.triaged')",
        )
        .bind(ws.id)
        .fetch_one(&env.db)
        .await
        .unwrap();
        let all = (LEADS_REST + LEADS_KAFKA) as i64;
        if (leads == all && handled == all) || Instant::now() > deadline {
            assert_eq!(leads, all, "every lead triaged");
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let scored: Vec<(i64,)> = sqlx::query_as(
        "SELECT count(*) FROM lead_scores WHERE workspace_id = $1 GROUP BY lead_id HAVING count(*) > 1",
    )
    .bind(ws.id)
    .fetch_all(&env.db)
    .await
    .unwrap();
    assert!(
        scored.is_empty(),
        "{} leads scored more than once",
        scored.len()
    );
    // Every eligible lead planned once.
    let eligible: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM leads WHERE workspace_id = $1 AND category IN ('hot', 'warm', 'nurture')",
    )
    .bind(ws.id)
    .fetch_one(&env.db)
    .await
    .unwrap();
    let plans: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT lead_id, count(*) FROM outreach_plans WHERE campaign_id = $1 GROUP BY lead_id",
    )
    .bind(campaign_id)
    .fetch_all(&env.db)
    .await
    .unwrap();
    assert!(eligible > 1_500, "only {eligible} eligible leads");
    assert!(plans.iter().all(|(_, n)| *n == 1), "a lead planned twice");
    // Engagement handled every triage event exactly once (the dedupe record
    // is written in the transaction that plans the lead)...
    let handled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM processed_events WHERE consumer = 'engagement.triaged'",
    )
    .fetch_one(&env.db)
    .await
    .unwrap();
    assert_eq!(handled, eligible, "every triage event handled once");
    // ...and planned every lead it handled while the campaign was active. A
    // budget pause stops new plans, so triage events handled after the pause
    // may go unplanned; none handled before it may (the plan and the dedupe
    // record share their transaction's timestamp).
    let paused_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT updated_at FROM campaigns WHERE id = $1")
            .bind(campaign_id)
            .fetch_one(&env.db)
            .await
            .unwrap();
    let (handled_before, planned_before): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM processed_events \
                  WHERE consumer = 'engagement.triaged' AND processed_at < $2), \
                (SELECT count(*) FROM outreach_plans WHERE campaign_id = $1 AND created_at < $2)",
    )
    .bind(campaign_id)
    .bind(paused_at)
    .fetch_one(&env.db)
    .await
    .unwrap();
    assert_eq!(
        planned_before, handled_before,
        "every lead handled before the budget pause planned"
    );
    assert!(
        plans.len() as i64 >= handled_before && plans.len() as i64 <= eligible,
        "{} plans for {eligible} eligible leads",
        plans.len()
    );
    // B's allocation rose above 80%; the budget paused the campaign.
    assert!(best_b_share > 0.8, "best share of B: {best_b_share}");
    assert!(paused, "the campaign was not paused for budget");
    // Sends stop exactly at the budget: engagement reserves each send's cost
    // against the day's budget, whatever the optimizer's lag.
    let sent = recipients.answered.len() as i64;
    assert_eq!(
        sent, BUDGETED_SENDS,
        "sends for a budget of {BUDGETED_SENDS}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let counted = loop {
        let counted: HashMap<Uuid, i64> = sqlx::query_as::<_, (Uuid, i64)>(
            "SELECT variant_id, sends FROM campaign_variant_stats WHERE campaign_id = $1",
        )
        .bind(campaign_id)
        .fetch_all(&env.db)
        .await
        .unwrap()
        .into_iter()
        .collect();
        let total = counted[&variant_a] + counted[&variant_b];
        if total == sent || Instant::now() > deadline {
            assert_eq!(total, sent, "every send counted once");
            break counted;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(counted[&variant_b] > counted[&variant_a], "{counted:?}");

    // One correlation id across all three: the lead, its plan, its sends' interactions.
    let corr = format!("{correlation}-0");
    let followed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM leads l JOIN outreach_plans p ON p.lead_id = l.id \
         WHERE l.correlation_id = $1 AND p.correlation_id = $1",
    )
    .bind(&corr)
    .fetch_one(&env.db)
    .await
    .unwrap();
    assert!(
        followed > 0,
        "correlation id {corr} not followed into engagement"
    );

    for p in [&mut optimizer, &mut engagement, &mut triage] {
        let status = p.terminate(Duration::from_secs(20)).await.unwrap();
        assert!(status.success(), "exit {status}");
    }

    // ... and through all three services' logs (the record and send spans
    // carry it, so the exported traces do too).
    let needle = format!("\"correlation_id\":\"{corr}\"");
    for service in ["lead-triage", "engagement", "campaign-optimization"] {
        let path = logs.join(format!("{service}.log"));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(&needle)).collect();
        assert!(
            !lines.is_empty(),
            "{service} never logged correlation id {corr} ({})",
            path.display()
        );
        for line in &lines {
            let parsed: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(
                parsed["timestamp"].is_string(),
                "not a structured log line: {line}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&logs);
}

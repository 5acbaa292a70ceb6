//! A running engagement against an isolated slice of the local stack, and
//! the data it needs (workspace, leads, campaigns, triage events).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod sinks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use engagement::clock::{SharedClock, SystemClock};
use serde_json::{json, Value};
use suite_bus::CloudEvent;
use suite_config::Settings;
use suite_domain::{
    CampaignDefinitionV1, CampaignId, CampaignStatus, Category, CorrelationId, LeadContactV1,
    LeadId, LeadTriagedV1, Score, VariantDefinition, VariantId, WorkspaceId,
};
use suite_http::Scope;
use suite_testkit::kafka::{read_topic, Consumed, RawRecord};
use suite_testkit::TestEnv;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Topics the service needs.
pub const TOPICS: [&str; 8] = [
    "leads.hot",
    "leads.warm",
    "leads.nurture",
    "campaigns.allocations",
    "leads.contacts",
    "campaigns.definitions",
    "engagement.interactions",
    "leads.hot.dlq",
];

/// A test environment with a workspace and a key (service not started).
pub struct Env {
    pub env: TestEnv,
    pub workspace: Uuid,
    pub key: String,
}

/// Creates the environment, its topics, a workspace and a key.
pub async fn env() -> Env {
    let env = TestEnv::new("engagement").await.expect("env");
    env.create_topics(&TOPICS, 1).await.expect("topics");
    let ws = suite_http::tenancy::create_workspace(&env.db, "acme")
        .await
        .expect("ws");
    let key = suite_http::tenancy::create_api_key(
        &env.db,
        ws.id,
        "t",
        &[Scope::Read, Scope::Write],
        None,
    )
    .await
    .expect("key");
    Env {
        env,
        workspace: ws.id,
        key: key.key,
    }
}

/// Settings for tests: no quiet hours, fast retries and scheduler.
pub fn settings(env: &Env) -> Settings {
    let mut s = env.env.settings.clone();
    let e = &mut s.engagement;
    e.quiet_start = "00:00".into();
    e.quiet_end = "00:00".into();
    e.retry_base_ms = 20;
    e.retry_max_delay_ms = 200;
    e.scheduler_poll_ms = 100;
    e.webhook_timeout_ms = 2_000;
    s
}

/// A running in-process engagement.
pub struct App {
    pub env: Env,
    pub base: String,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for App {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts engagement with `settings` and the system clock.
pub async fn spawn(env: Env, settings: Settings) -> App {
    spawn_with_clock(env, settings, Arc::new(SystemClock)).await
}

/// Starts engagement with `settings` and `clock`.
pub async fn spawn_with_clock(env: Env, settings: Settings, clock: SharedClock) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    tokio::spawn(engagement::run_with(
        settings,
        listener,
        shutdown.clone(),
        clock,
    ));
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;
    App {
        env,
        base,
        http,
        shutdown,
    }
}

/// Waits until `/readyz` answers 200 (the consumer has joined its group).
pub async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("engagement not ready within 60 s");
}

impl App {
    pub fn db(&self) -> &sqlx::PgPool {
        &self.env.env.db
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.env.key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_as(path, &self.env.key).await
    }

    /// GET `path` and its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.unwrap()
    }

    pub async fn get_as(&self, path: &str, key: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
    }
}

impl Env {
    pub fn db(&self) -> &sqlx::PgPool {
        &self.env.db
    }

    /// A lead in the workspace, kept as engagement keeps a `lead.contact.v1`.
    pub async fn lead(&self, consent: Value, timezone: Option<&str>) -> Uuid {
        self.lead_in(self.workspace, consent, timezone).await
    }

    /// A lead in `workspace` (country US).
    pub async fn lead_in(&self, workspace: Uuid, consent: Value, timezone: Option<&str>) -> Uuid {
        self.lead_full(workspace, consent, timezone, Some("US"))
            .await
    }

    /// A lead in `workspace` with the given zone and country.
    pub async fn lead_full(
        &self,
        workspace: Uuid,
        consent: Value,
        timezone: Option<&str>,
        country: Option<&str>,
    ) -> Uuid {
        let mut contact = self.contact(Uuid::now_v7(), consent);
        contact.workspace_id = WorkspaceId::from(workspace);
        contact.timezone = timezone.map(str::to_owned);
        contact.country = country.map(str::to_owned);
        self.keep_contacts(&[contact.clone()]).await;
        contact.lead_id.into()
    }

    /// The `lead.contact.v1` of lead `id` of the workspace as lead-triage
    /// would publish it (Dana Scully at Initech, zone UTC, country US).
    pub fn contact(&self, id: Uuid, consent: Value) -> LeadContactV1 {
        LeadContactV1 {
            lead_id: LeadId::from(id),
            workspace_id: WorkspaceId::from(self.workspace),
            email: format!("dana.{}@initech.example", id.simple()),
            phone: Some("+14155550100".into()),
            name: Some("Dana Scully".into()),
            company: Some("Initech".into()),
            title: Some("VP of Engineering".into()),
            industry: None,
            country: Some("US".into()),
            timezone: Some("UTC".into()),
            consent,
            correlation_id: CorrelationId::parse("corr-test").unwrap(),
            updated_at: Utc::now(),
        }
    }

    /// Keeps `contacts` as engagement's consumer does (its own store call).
    pub async fn keep_contacts(&self, contacts: &[LeadContactV1]) {
        let refs: Vec<&LeadContactV1> = contacts.iter().collect();
        engagement::store::leads::upsert_many(self.db(), &refs)
            .await
            .expect("keep contacts");
    }

    /// An active campaign targeting `categories` with one variant; returns (campaign, variant).
    pub async fn campaign(&self, categories: &[&str], ladder: Value) -> (Uuid, Uuid) {
        self.campaign_with(categories, ladder, |_| {}).await
    }

    /// [`Env::campaign`] with its definition changed by `change` first.
    pub async fn campaign_with(
        &self,
        categories: &[&str],
        ladder: Value,
        change: impl FnOnce(&mut CampaignDefinitionV1),
    ) -> (Uuid, Uuid) {
        let mut definition = self.definition(categories, ladder);
        change(&mut definition);
        self.define(&definition).await;
        (
            definition.campaign_id.into(),
            definition.variants[0].variant_id.into(),
        )
    }

    /// The `campaign.definition.v1` (version 1) of a new active campaign
    /// targeting `categories`, with one variant and a large budget.
    pub fn definition(&self, categories: &[&str], ladder: Value) -> CampaignDefinitionV1 {
        CampaignDefinitionV1 {
            campaign_id: CampaignId::from(Uuid::now_v7()),
            workspace_id: WorkspaceId::from(self.workspace),
            version: 1,
            status: CampaignStatus::Active,
            target_categories: categories
                .iter()
                .map(|c| Category::parse(c).unwrap())
                .collect(),
            ladder,
            daily_budget_micros: 1_000_000_000,
            channel_costs: Default::default(),
            variants: vec![VariantDefinition {
                variant_id: VariantId::from(Uuid::now_v7()),
                position: 0,
                content: json!({
                    "email": {"subject": "Hello {{ first_name }}", "body": "Hi {{ first_name }} at {{ company }}, let's talk."},
                    "sms": {"body": "Hi {{ first_name }}, a quick note from us."},
                    "phone": {"body": "Call {{ name }} about {{ company }}."}
                }),
            }],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    /// Keeps `definition` as engagement's consumer does (its own store call).
    pub async fn define(&self, definition: &CampaignDefinitionV1) {
        let mut tx = self.db().begin().await.unwrap();
        engagement::store::campaigns::apply(&mut tx, definition)
            .await
            .expect("keep definition");
        tx.commit().await.unwrap();
    }

    /// Publishes `data` as a CloudEvent of type `ce_type` on the prefixed
    /// `topic`, keyed by `key`; `None` publishes a tombstone.
    pub async fn publish(&self, topic: &str, key: &str, event: Option<(&str, Value)>) {
        let s = &self.env.settings;
        let (payload, headers) = match event {
            Some((ce_type, data)) => {
                let cloud = CloudEvent::new(ce_type, "/test", Some(key.to_owned()), data);
                let binary = cloud.to_binary().unwrap();
                let headers: Vec<(String, String)> = binary
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                    .collect();
                (Some(binary.payload), headers)
            }
            None => (None, Vec::new()),
        };
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        match payload {
            Some(payload) => suite_testkit::kafka::produce(
                &s.kafka.brokers,
                &s.topic(topic),
                Some(key),
                &payload,
                &headers,
            )
            .await
            .expect("produce"),
            None => suite_testkit::kafka::produce_tombstone(&s.kafka.brokers, &s.topic(topic), key)
                .await
                .expect("produce tombstone"),
        }
    }

    /// Publishes a `lead.triaged.v1` for `lead` on `leads.<category>` with CloudEvents id `event_id`.
    pub async fn triage(&self, lead: Uuid, category: Category, event_id: &str) {
        let record = self.triage_record(lead, category, event_id);
        let headers: Vec<(&str, &str)> = record
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let s = &self.env.settings;
        suite_testkit::kafka::produce(
            &s.kafka.brokers,
            &s.topic(category.topic()),
            record.key.as_deref(),
            &record.payload,
            &headers,
        )
        .await
        .expect("produce");
    }

    /// The `lead.triaged.v1` record [`Env::triage`] publishes, keyed by the lead.
    pub fn triage_record(&self, lead: Uuid, category: Category, event_id: &str) -> RawRecord {
        let event = LeadTriagedV1 {
            lead_id: LeadId::from(lead),
            workspace_id: WorkspaceId::from(self.workspace),
            email_hash: None,
            score: Score::parse(90).unwrap(),
            category,
            breakdown: vec![],
            model_version: 1,
            correlation_id: CorrelationId::parse("corr-test").unwrap(),
            triaged_at: Utc::now(),
            previous_category: None,
        };
        let mut cloud = CloudEvent::new(
            LeadTriagedV1::CE_TYPE,
            "/lead-triage",
            Some(lead.to_string()),
            serde_json::to_value(&event).unwrap(),
        );
        cloud.id = event_id.to_owned();
        let binary = cloud.to_binary().unwrap();
        RawRecord {
            key: Some(lead.to_string()),
            payload: binary.payload,
            headers: binary
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect(),
        }
    }

    /// Records on the prefixed `engagement.interactions`.
    pub async fn interactions(&self, expect: usize) -> Vec<Consumed> {
        let s = &self.env.settings;
        read_topic(
            &s.kafka.brokers,
            &s.topic("engagement.interactions"),
            expect,
            Duration::from_secs(120),
            Duration::from_secs(2),
        )
        .await
        .expect("read topic")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.db())
            .await
            .expect("count")
    }
}

/// Polls `check` until it returns `Some`, for up to `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Steps of a lead as (index, channel, status, outcome).
pub async fn steps(db: &sqlx::PgPool, lead: Uuid) -> Vec<(i32, String, String, Option<String>)> {
    sqlx::query_as("SELECT step_index, channel, status, outcome FROM scheduled_steps WHERE lead_id = $1 ORDER BY step_index")
        .bind(lead)
        .fetch_all(db)
        .await
        .expect("steps")
}

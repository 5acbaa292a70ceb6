//! A running campaign-optimization against an isolated slice of the local stack.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{json, Value};
use suite_bus::CloudEvent;
use suite_domain::{
    Channel, CorrelationId, InteractionId, InteractionKind, InteractionV1, LeadId, WorkspaceId,
};
use suite_http::Scope;
use suite_testkit::kafka::{read_topic, Consumed};
use suite_testkit::TestEnv;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct Service {
    pub env: TestEnv,
    pub base: String,
    pub key: String,
    pub workspace: Uuid,
    pub http: reqwest::Client,
    pub producer: suite_bus::Producer,
    shutdown: CancellationToken,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts the service; `topics` are the (unprefixed) topics the test needs.
pub async fn spawn(topics: &[&str]) -> Service {
    spawn_with(topics, |_| {}).await
}

/// [`spawn`] with the service's settings changed by `configure` first.
pub async fn spawn_with(
    topics: &[&str],
    configure: impl FnOnce(&mut suite_config::Settings),
) -> Service {
    let mut env = TestEnv::new("campaign-optimization").await.expect("env");
    configure(&mut env.settings);
    // Every campaign change publishes its definition.
    let mut topics = topics.to_vec();
    topics.push("campaigns.definitions");
    env.create_topics(&topics, 2).await.expect("topics");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    tokio::spawn(campaign_optimization::run(
        env.settings.clone(),
        listener,
        shutdown.clone(),
    ));
    let ws = suite_http::tenancy::create_workspace(&env.db, "acme")
        .await
        .expect("ws");
    let key = suite_http::tenancy::create_api_key(
        &env.db,
        ws.id,
        "t",
        &[Scope::Read, Scope::Write, Scope::Admin],
        None,
    )
    .await
    .expect("key");
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let producer = suite_bus::Producer::new(&env.settings.kafka).expect("producer");
    Service {
        env,
        base,
        key: key.key,
        workspace: ws.id,
        http,
        producer,
        shutdown,
    }
}

impl Service {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.expect("request")
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send("POST", path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.send("GET", path, None).await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    /// Creates a campaign, returns its JSON.
    pub async fn create(&self, body: &Value) -> Value {
        let r = self.post("/v1/campaigns", body).await;
        let status = r.status();
        let json: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{json}");
        json
    }

    /// Another workspace with its own key.
    pub async fn other_key(&self) -> String {
        let ws = suite_http::tenancy::create_workspace(&self.env.db, "other")
            .await
            .expect("ws");
        suite_http::tenancy::create_api_key(
            &self.env.db,
            ws.id,
            "o",
            &[Scope::Read, Scope::Write, Scope::Admin],
            None,
        )
        .await
        .expect("key")
        .key
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.env.db)
            .await
            .expect("count")
    }

    /// Produces `interaction` on `engagement.interactions` as engagement does
    /// (binary-mode CloudEvent whose id is the interaction id, keyed by campaign).
    pub async fn produce(&self, interaction: &InteractionV1) {
        let mut event = CloudEvent::new(
            InteractionV1::CE_TYPE,
            "/engagement",
            Some(interaction.lead_id.to_string()),
            serde_json::to_value(interaction).unwrap(),
        )
        .with_correlation_id(interaction.correlation_id.as_str());
        event.id = interaction.interaction_id.to_string();
        let topic = self.env.settings.topic("engagement.interactions");
        self.producer
            .publish_event(&topic, Some(interaction.key().as_bytes()), &event)
            .await
            .expect("produce");
    }

    /// Every record on `campaigns.allocations` once no more arrive.
    pub async fn allocations(&self, expect: usize) -> Vec<Consumed> {
        self.topic("campaigns.allocations", expect).await
    }

    /// Every record on the prefixed `name` once `expect` arrived and no more do.
    pub async fn topic(&self, name: &str, expect: usize) -> Vec<Consumed> {
        let topic = self.env.settings.topic(name);
        read_topic(
            &self.env.settings.kafka.brokers,
            &topic,
            expect,
            Duration::from_secs(60),
            Duration::from_secs(2),
        )
        .await
        .expect("read topic")
    }

    /// Polls `f` every 200 ms until it returns Some, for up to `secs`.
    pub async fn eventually<T, F, Fut>(&self, secs: u64, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A valid campaign body with two variants over an email → SMS ladder.
pub fn campaign_body(name: &str) -> Value {
    json!({
        "name": name,
        "target_categories": ["hot", "warm"],
        "ladder": [{"channel": "email", "delay_secs": 0}, {"channel": "sms", "delay_secs": 3600}],
        "objective": "conversion",
        "daily_budget_micros": 1_000_000_000,
        "channel_costs": {"email": 1000, "sms": 20000},
        "min_share": 0.05,
        "warmup_sends": 0,
        "pacing_burst_bps": 10000,
        "variants": [
            {"name": "A", "content": {
                "email": {"subject": "Hi {{ first_name | default(\"there\") }}", "body": "About {{ company }}"},
                "sms": {"body": "Hi {{ name }}"}}},
            {"name": "B", "content": {
                "email": {"subject": "Hello {{ name }}", "body": "{{ title }} at {{ company }}"},
                "sms": {"body": "Hey {{ first_name }}"}}}
        ]
    })
}

/// An interaction of `kind` for a variant of a campaign.
pub fn interaction(
    workspace: Uuid,
    campaign: Uuid,
    variant: Uuid,
    send: Uuid,
    kind: InteractionKind,
) -> InteractionV1 {
    InteractionV1 {
        interaction_id: InteractionId::new(),
        workspace_id: WorkspaceId::from_uuid(workspace),
        lead_id: LeadId::new(),
        campaign_id: Some(suite_domain::CampaignId::from_uuid(campaign)),
        variant_id: Some(suite_domain::VariantId::from_uuid(variant)),
        send_id: Some(send),
        channel: Channel::Email,
        kind,
        occurred_at: chrono::Utc::now(),
        correlation_id: CorrelationId::parse("test-corr").unwrap(),
        provider_event_id: None,
        generation_cost_micros: None,
    }
}

/// A `sent` interaction whose message was written by a language model at
/// `generation_cost_micros` (None: a template was sent).
pub fn sent(
    workspace: Uuid,
    campaign: Uuid,
    variant: Uuid,
    generation_cost_micros: Option<i64>,
) -> InteractionV1 {
    InteractionV1 {
        generation_cost_micros,
        ..interaction(
            workspace,
            campaign,
            variant,
            Uuid::now_v7(),
            InteractionKind::Sent,
        )
    }
}

pub fn id_of(v: &Value) -> Uuid {
    v["id"].as_str().unwrap().parse().unwrap()
}

pub fn variant_ids(v: &Value) -> Vec<Uuid> {
    v["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

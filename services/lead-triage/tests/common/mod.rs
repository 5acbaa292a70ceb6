//! A running lead-triage against an isolated slice of the local stack.
#![allow(dead_code)]

use std::time::Duration;

use suite_http::Scope;
use suite_testkit::kafka::{read_topic, Consumed};
use suite_testkit::TestEnv;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct Triage {
    pub env: TestEnv,
    pub base: String,
    pub key: String,
    pub workspace: Uuid,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
}

impl Drop for Triage {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn spawn() -> Triage {
    let env = TestEnv::new("lead-triage").await.expect("env");
    // Span contexts (and so `traceparent` headers) need the subscriber main() installs.
    std::mem::forget(suite_telemetry::init_tracing(&env.settings).expect("tracing"));
    // Only what lead-triage reads and writes: fewer topics keep the local broker fast.
    let names = [
        "leads.inbound",
        "leads.inbound.dlq",
        "leads.hot",
        "leads.warm",
        "leads.nurture",
        "leads.cold",
        "leads.disqualified",
        "leads.contacts",
    ];
    env.create_topics(&names, 2).await.expect("topics");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let shutdown = CancellationToken::new();
    tokio::spawn(lead_triage::run(
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
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Triage {
        env,
        base,
        key: key.key,
        workspace: ws.id,
        http,
        shutdown,
    }
}

impl Triage {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("request")
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

    /// Records on `leads.<category>` (prefixed), waiting for `expect` and then a settle period.
    pub async fn events(&self, category: &str, expect: usize) -> Vec<Consumed> {
        let topic = self.env.settings.topic(&format!("leads.{category}"));
        read_topic(
            &self.env.settings.kafka.brokers,
            &topic,
            expect,
            Duration::from_secs(30),
            Duration::from_millis(1500),
        )
        .await
        .expect("read topic")
    }

    /// Every triage event on the five category topics, once the outbox has
    /// drained (so everything accepted has been published): reads the topics
    /// concurrently until `expect` records arrived, then a little longer to
    /// catch duplicates.
    pub async fn all_events(&self, expect: usize) -> Vec<Consumed> {
        self.outbox_drained().await;
        let reads = ["hot", "warm", "nurture", "cold", "disqualified"].map(|c| {
            let topic = self.env.settings.topic(&format!("leads.{c}"));
            let brokers = self.env.settings.kafka.brokers.clone();
            async move {
                read_topic(
                    &brokers,
                    &topic,
                    usize::MAX,
                    Duration::from_secs(120),
                    Duration::from_secs(10),
                )
                .await
                .expect("read topic")
            }
        });
        let all: Vec<Consumed> = futures::future::join_all(reads)
            .await
            .into_iter()
            .flatten()
            .collect();
        assert!(
            all.len() >= expect,
            "expected at least {expect} events, read {}",
            all.len()
        );
        all
    }

    /// Waits until the outbox is empty (everything published).
    pub async fn outbox_drained(&self) {
        for _ in 0..300 {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
                .fetch_one(&self.env.db)
                .await
                .expect("count");
            if n == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("outbox not drained within 30 s");
    }

    pub async fn lead_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM leads")
            .fetch_one(&self.env.db)
            .await
            .expect("count")
    }
}

/// A realistic hot lead (for the default model).
pub fn hot_lead(email: &str) -> serde_json::Value {
    serde_json::json!({
        "email": email, "name": "Dana Scully", "phone": "+1 415 555 0100", "company": "Initech",
        "title": "VP of Engineering", "company_size": 800, "industry": "software", "country": "US",
        "source": "demo_request", "consent": {"email": true, "sms": true, "phone": true}
    })
}

/// A lead with little fit or intent.
pub fn cold_lead(email: &str) -> serde_json::Value {
    serde_json::json!({"email": email, "title": "Student", "source": "organic"})
}

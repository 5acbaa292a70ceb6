//! The settings tree. Every field has a default that matches the local stack,
//! so a service started with no configuration talks to `scripts/stack`.

use std::net::SocketAddr;

use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

/// All settings of one service process.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Service name (`lead-triage`, …); set by the binary, used in telemetry and as the consumer group.
    pub service: String,
    /// HTTP server.
    #[serde(default)]
    pub http: HttpSettings,
    /// Postgres primary and replicas.
    #[serde(default)]
    pub database: DatabaseSettings,
    /// Redis cluster.
    #[serde(default)]
    pub redis: RedisSettings,
    /// Kafka producer and consumers.
    #[serde(default)]
    pub kafka: KafkaSettings,
    /// Consumer runner behaviour (retries, DLQ guard, in-flight bound).
    #[serde(default)]
    pub consumer: ConsumerSettings,
    /// Transactional outbox relay.
    #[serde(default)]
    pub outbox: OutboxSettings,
    /// Two-level cache.
    #[serde(default)]
    pub cache: CacheSettings,
    /// Per-API-key rate limit.
    #[serde(default)]
    pub rate_limit: RateLimitSettings,
    /// Logs, traces and metrics.
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    /// Engagement service: providers, quiet hours, caps, retries, breaker, scheduler.
    #[serde(default)]
    pub engagement: EngagementSettings,
    /// How long bookkeeping rows and monthly partitions are kept.
    #[serde(default)]
    pub retention: RetentionSettings,
    /// The language model that writes personalised messages (off unless `base_url` is set).
    #[serde(default)]
    pub llm: LlmSettings,
}

/// The OpenAI-compatible chat-completions API engagement's composer calls
/// to write messages for variants that ask for it (docs/personalisation.md).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmSettings {
    /// Base URL of the API, up to and including `/v1` (OpenAI, Azure OpenAI, vLLM, llama.cpp, Ollama); empty turns generation off.
    pub base_url: String,
    /// API key, sent as a bearer token; empty sends none (local servers).
    #[serde(serialize_with = "redact")]
    pub api_key: SecretString,
    /// Model used by variants that name none.
    pub model: String,
    /// Timeout of one call, in milliseconds.
    pub timeout_ms: u64,
    /// Retries of a call answered 429 or 5xx, or timed out.
    pub retry_max: u32,
    /// First retry delay (doubles per retry, full jitter; a `Retry-After` is honoured), in milliseconds.
    pub retry_base_ms: u64,
    /// Longest wait before one retry, in milliseconds.
    pub retry_max_delay_ms: u64,
    /// Calls per workspace per minute, across all engagement instances.
    pub requests_per_minute: u32,
    /// Tokens (prompt and completion) per workspace per minute, across all engagement instances.
    pub tokens_per_minute: u32,
    /// Calls in flight per engagement instance.
    pub concurrency: usize,
    /// What a generation over the workspace's per-minute limits does: `wait` for room (until `wait_secs` after its step came due) or `fallback` to the template at once.
    pub on_limit: String,
    /// How long a cached answer (temperature 0) is reused, in seconds; 0 turns the cache off.
    pub cache_ttl_secs: u64,
    /// How far ahead of its due time a step's message is written, in seconds.
    pub lookahead_secs: u64,
    /// How long a due step waits for its message before the template is sent, in seconds.
    pub wait_secs: u64,
    /// Steps one composer takes per round.
    pub batch: i64,
    /// Token prices, `model=input/output` in micros per 1,000 tokens (comma-separated); `*=…` prices models not listed, which cost 0 otherwise.
    #[serde(deserialize_with = "crate::list::deserialize")]
    pub prices: Vec<String>,
    /// Footer the suite appends to every generated email (the model never writes it).
    pub email_footer: String,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            api_key: SecretString::from(""),
            model: "gpt-4o-mini".into(),
            timeout_ms: 20_000,
            retry_max: 3,
            retry_base_ms: 1_000,
            retry_max_delay_ms: 30_000,
            requests_per_minute: 100,
            tokens_per_minute: 10_000,
            concurrency: 8,
            on_limit: "wait".into(),
            cache_ttl_secs: 86_400,
            lookahead_secs: 300,
            wait_secs: 120,
            batch: 32,
            prices: Vec::new(),
            email_footer: "You are receiving this because you asked us about our product. \
                           Reply STOP to unsubscribe."
                .into(),
        }
    }
}

impl LlmSettings {
    /// Whether generation is on (a base URL is set).
    pub fn enabled(&self) -> bool {
        !self.base_url.trim().is_empty()
    }
}

/// One `llm.prices` entry, `model=input/output`: the model (`*` for every
/// model not listed) and its prices in micros per 1,000 prompt and
/// completion tokens; `None` when it does not read so.
pub fn parse_price(item: &str) -> Option<(String, u64, u64)> {
    let (model, prices) = item.rsplit_once('=')?;
    let (input, output) = prices.split_once('/')?;
    let model = model.trim();
    if model.is_empty() {
        return None;
    }
    Some((
        model.to_owned(),
        input.trim().parse().ok()?,
        output.trim().parse().ok()?,
    ))
}

/// How long data that would otherwise grow without bound is kept; 0 keeps
/// it for ever. Pruned hourly, in chunks, by the service that owns it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Hours an `Idempotency-Key` of `POST /v1/leads` is remembered (a retry after it creates or merges again).
    pub idempotency_key_hours: u32,
    /// Days a `track` / `identify` `message_id` is remembered (a replay after it applies again).
    pub tracking_message_days: u32,
    /// Days a `provider_event_id` of `POST /v1/interactions` is remembered (a repeat after it records again).
    pub provider_event_days: u32,
    /// Days a dead letter is kept in `dead_letters` (the DLQ topics keep 30 days too).
    pub dead_letter_days: u32,
    /// Days the steps of a finished (completed or stopped) plan are kept after they ended; the plan itself stays.
    pub finished_step_days: u32,
    /// Months of monthly partitions (communications, interactions, lead events, audit log) kept before the current one.
    pub partition_months: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            idempotency_key_hours: 24,
            tracking_message_days: 30,
            provider_event_days: 30,
            dead_letter_days: 30,
            finished_step_days: 90,
            partition_months: 13,
        }
    }
}

/// HTTP server settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Listen address (loopback by default; `0.0.0.0:8080` in containers).
    pub bind: SocketAddr,
    /// Per-request deadline; slower requests get 503.
    pub request_timeout_ms: u64,
    /// Largest accepted request body in bytes; larger ones get 413.
    pub body_limit_bytes: usize,
    /// Requests served at once; past it requests are shed with 503 + `Retry-After`.
    pub max_concurrency: usize,
    /// Connections open at once (each costs memory); at the cap idle ones are
    /// closed to make room, and if all are busy a new one gets one 503 +
    /// `Retry-After` and is closed.
    pub max_connections: usize,
    /// Seconds an HTTP/1 connection may sit idle between requests, or take to
    /// send a request's headers, before it is closed.
    pub idle_timeout_secs: u64,
    /// Upper bound on graceful shutdown (drain HTTP, consumers, relay), in seconds.
    pub shutdown_grace_secs: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout_ms: 10_000,
            body_limit_bytes: 1024 * 1024,
            max_concurrency: 1024,
            max_connections: 512,
            idle_timeout_secs: 75,
            shutdown_grace_secs: 20,
        }
    }
}

/// Postgres settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Primary connection URL (secret: may hold a password).
    #[serde(serialize_with = "redact")]
    pub url: SecretString,
    /// Read replica URLs, comma-separated; empty means every read goes to the primary.
    #[serde(
        deserialize_with = "crate::list::deserialize_secrets",
        serialize_with = "redact_all"
    )]
    pub replica_urls: Vec<SecretString>,
    /// Connections to the primary per process.
    pub max_connections: u32,
    /// Connections to each replica per process.
    pub replica_max_connections: u32,
    /// Seconds to wait for a pooled connection before failing the request.
    pub acquire_timeout_secs: u64,
    /// A replica further behind the primary than this (bytes of WAL) is skipped.
    pub replica_max_lag_bytes: u64,
    /// How often replica health and lag are probed, in milliseconds.
    pub replica_probe_interval_ms: u64,
    /// How long a client's last write position is remembered for read-your-writes, in seconds.
    pub read_your_writes_secs: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("postgres://postgres@127.0.0.1:5432/suite"),
            replica_urls: vec![SecretString::from(
                "postgres://postgres@127.0.0.1:5433/suite",
            )],
            max_connections: 16,
            replica_max_connections: 16,
            acquire_timeout_secs: 5,
            replica_max_lag_bytes: 16 * 1024 * 1024,
            replica_probe_interval_ms: 500,
            read_your_writes_secs: 30,
        }
    }
}

/// Redis cluster settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// Seed nodes of the cluster, comma-separated `redis://host:port` (secret: may hold a password).
    #[serde(
        deserialize_with = "crate::list::deserialize_secrets",
        serialize_with = "redact_all"
    )]
    pub nodes: Vec<SecretString>,
    /// Prefix of every key and channel, to share a cluster between deployments.
    pub key_prefix: String,
    /// Pooled cluster connections per process.
    pub pool_size: usize,
    /// Timeout of one Redis command, in milliseconds.
    pub command_timeout_ms: u64,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            nodes: (7000..=7005)
                .map(|port| SecretString::from(format!("redis://127.0.0.1:{port}")))
                .collect(),
            key_prefix: String::new(),
            pool_size: 8,
            command_timeout_ms: 500,
        }
    }
}

/// Kafka settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// Bootstrap brokers, comma-separated `host:port`.
    pub brokers: String,
    /// Prefix of every topic name (tests and shared clusters).
    pub topic_prefix: String,
    /// Consumer group; empty means the service name.
    pub group_id: String,
    /// Producer `linger.ms`.
    pub linger_ms: u32,
    /// Producer delivery timeout (`message.timeout.ms`).
    pub delivery_timeout_ms: u32,
    /// Consumer `session.timeout.ms`; shutdown drains well within it.
    pub session_timeout_ms: u32,
    /// Consumer `fetch.wait.max.ms`: how long the broker may hold a fetch that
    /// finds no new records. Kafka answers as soon as records arrive, so this
    /// only paces idle polls (librdkafka's default, 500 ms).
    pub fetch_wait_max_ms: u32,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".into(),
            topic_prefix: String::new(),
            group_id: String::new(),
            linger_ms: 10,
            delivery_timeout_ms: 30_000,
            session_timeout_ms: 30_000,
            fetch_wait_max_ms: 500,
        }
    }
}

/// Consumer runner settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerSettings {
    /// Records handled concurrently per partition (in-flight bound).
    pub max_in_flight_per_partition: usize,
    /// Records handled concurrently by the whole consumer, over all its
    /// partitions. Each holds a database connection while it writes, so keep
    /// it well below `database.max_connections`: the rest of the pool serves
    /// HTTP requests when a backlog arrives at once. (A handler that batches
    /// its records into one transaction, such as campaign-optimization's, is
    /// bounded per partition only.)
    pub max_in_flight: usize,
    /// Attempts for a transiently failing record before it is dead-lettered.
    pub retry_attempts: u32,
    /// First retry delay; each further one doubles, with jitter.
    pub retry_base_ms: u64,
    /// Dead letters per minute past which the consumer stops instead of dead-lettering more.
    pub dlq_max_per_minute: u32,
    /// Hours an event id stays in `processed_events` (redeliveries within it are recognised);
    /// keep it above the topics' retention.
    pub processed_retention_hours: u32,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            max_in_flight_per_partition: 64,
            max_in_flight: 8,
            retry_attempts: 3,
            retry_base_ms: 200,
            dlq_max_per_minute: 600,
            processed_retention_hours: 336,
        }
    }
}

/// Outbox relay settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxSettings {
    /// Rows claimed and published per relay transaction.
    pub batch_size: i64,
    /// Idle poll interval when the outbox is empty, in milliseconds.
    pub poll_interval_ms: u64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_interval_ms: 50,
        }
    }
}

/// Two-level cache settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// Entries held in process (L1).
    pub l1_capacity: u64,
    /// L1 time to live, in seconds.
    pub l1_ttl_secs: u64,
    /// Redis (L2) time to live, in seconds.
    pub l2_ttl_secs: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            l1_capacity: 1_000,
            l1_ttl_secs: 60,
            l2_ttl_secs: 300,
        }
    }
}

/// Per-API-key rate limit (a key may carry its own override).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Sustained requests per second per key.
    pub per_second: u32,
    /// Extra requests a key may burst above the sustained rate.
    pub burst: u32,
    /// How much of a key's budget, in milliseconds of its rate, an instance
    /// takes from Redis in one round trip and spends locally (0: one round
    /// trip per request). Never more than half the burst; unspent places lapse after a second.
    pub lease_ms: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            per_second: 2_000,
            burst: 4_000,
            lease_ms: 20,
        }
    }
}

/// Logging, tracing and metrics settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// `tracing` filter directive, e.g. `info` or `info,suite_bus=debug`.
    pub log_level: String,
    /// `json` (default) or `pretty`.
    pub log_format: String,
    /// OTLP gRPC endpoint for traces (e.g. `http://127.0.0.1:4317`); empty disables tracing export.
    pub otlp_endpoint: String,
    /// Fraction of traces sampled when exporting, 0.0–1.0.
    pub trace_sample_ratio: f64,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            log_level: "info".into(),
            log_format: "json".into(),
            otlp_endpoint: String::new(),
            trace_sample_ratio: 1.0,
        }
    }
}

/// Engagement service settings (outreach providers and the send path).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngagementSettings {
    /// Provider of email steps: `log` (render and record only), `smtp` or `webhook`.
    pub email_provider: String,
    /// Provider of SMS steps: `log` or `webhook`.
    pub sms_provider: String,
    /// Provider of phone steps: `log` or `webhook`.
    pub phone_provider: String,
    /// SMTP server host name.
    pub smtp_host: String,
    /// SMTP server port.
    pub smtp_port: u16,
    /// SMTP transport security: `none` (plain, local relays only), `starttls` or `tls`.
    pub smtp_tls: String,
    /// SMTP user name; empty means no authentication.
    pub smtp_username: String,
    /// SMTP password.
    #[serde(serialize_with = "redact")]
    pub smtp_password: SecretString,
    /// Sender address of outreach email.
    pub smtp_from: String,
    /// Timeout of one SMTP delivery, in milliseconds.
    pub smtp_timeout_ms: u64,
    /// URL the webhook provider POSTs messages to (an SMS/voice gateway).
    pub webhook_url: String,
    /// Timeout of one webhook call, in milliseconds.
    pub webhook_timeout_ms: u64,
    /// Start of quiet hours in the recipient's local time (`HH:MM`); equal to the end means none.
    pub quiet_start: String,
    /// End of quiet hours in the recipient's local time (`HH:MM`).
    pub quiet_end: String,
    /// Saturdays and Sundays are quiet all day.
    pub quiet_weekends: bool,
    /// IANA time zone of recipients with neither a time zone nor a known country.
    pub default_timezone: String,
    /// Sends per lead and channel per UTC day, across all campaigns.
    pub cap_per_day: u32,
    /// Sends per lead and channel per ISO week (UTC), across all campaigns.
    pub cap_per_week: u32,
    /// Retries of a transiently failing provider call.
    pub retry_max: u32,
    /// First retry delay of a provider call (doubles per retry, full jitter), in milliseconds.
    pub retry_base_ms: u64,
    /// Longest wait before one provider retry, in milliseconds.
    pub retry_max_delay_ms: u64,
    /// Share of failed provider calls (0–1) in the window at which a breaker opens.
    pub breaker_failure_rate: f64,
    /// Fewest provider calls in the window before a breaker may open.
    pub breaker_min_calls: u32,
    /// Sliding window of a provider breaker, in seconds.
    pub breaker_window_secs: u64,
    /// How long an open breaker refuses calls before half-opening, in seconds.
    pub breaker_open_secs: u64,
    /// Probe calls let through by a half-open breaker; all must succeed to close it.
    pub breaker_probes: u32,
    /// How often the scheduler looks for due steps when idle, in milliseconds.
    pub scheduler_poll_ms: u64,
    /// Steps one scheduler claims per round, sent as one batch.
    pub scheduler_batch: i64,
    /// Steps in flight per process (claimed and not yet recorded).
    pub scheduler_concurrency: usize,
    /// How long a claimed step stays claimed before another instance may take it over, in seconds.
    pub scheduler_lease_secs: u64,
}

impl Default for EngagementSettings {
    fn default() -> Self {
        Self {
            email_provider: "log".into(),
            sms_provider: "log".into(),
            phone_provider: "log".into(),
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            smtp_tls: "starttls".into(),
            smtp_username: String::new(),
            smtp_password: SecretString::from(""),
            smtp_from: "outreach@suite.local".into(),
            smtp_timeout_ms: 10_000,
            webhook_url: String::new(),
            webhook_timeout_ms: 5_000,
            quiet_start: "21:00".into(),
            quiet_end: "08:00".into(),
            quiet_weekends: false,
            default_timezone: "UTC".into(),
            cap_per_day: 3,
            cap_per_week: 10,
            retry_max: 3,
            retry_base_ms: 500,
            retry_max_delay_ms: 30_000,
            breaker_failure_rate: 0.5,
            breaker_min_calls: 10,
            breaker_window_secs: 60,
            breaker_open_secs: 30,
            breaker_probes: 3,
            scheduler_poll_ms: 250,
            scheduler_batch: 128,
            scheduler_concurrency: 256,
            scheduler_lease_secs: 300,
        }
    }
}

impl Settings {
    /// The consumer group this service joins.
    pub fn group_id(&self) -> &str {
        if self.kafka.group_id.is_empty() {
            &self.service
        } else {
            &self.kafka.group_id
        }
    }

    /// A topic name with the configured prefix applied.
    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.kafka.topic_prefix)
    }
}

/// Marker written instead of a secret when settings are printed.
pub const REDACTED: &str = "<secret>";

fn redact<S: Serializer>(_: &SecretString, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(REDACTED)
}

fn redact_all<S: Serializer>(items: &[SecretString], ser: S) -> Result<S::Ok, S::Error> {
    ser.collect_seq(items.iter().map(|_| REDACTED))
}

impl Settings {
    /// Every setting as `(ENV_VAR_NAME, value)`, secrets redacted; lists are
    /// comma-joined. This is the authoritative list of configuration keys.
    pub fn flatten(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Ok(tree) = serde_json::to_value(self) {
            flatten_into("", &tree, &mut out);
        }
        out
    }
}

fn flatten_into(path: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten_into(&child_path, child, out);
            }
        }
        Value::Array(items) => {
            let joined: Vec<String> = items.iter().map(scalar).collect();
            out.push((crate::env_name(path), joined.join(",")));
        }
        other => out.push((crate::env_name(path), scalar(other))),
    }
}

fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

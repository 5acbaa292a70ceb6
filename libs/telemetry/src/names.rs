//! Metric names, described once. The first three are the seeds' names.

/// Histogram of request (and consumed record) handling time, labels `agent_type`, `method`.
pub const AGENT_REQUEST_DURATION: &str = "agent_request_duration_seconds";
/// Gauge of work waiting or in flight (consumer lag / in-flight records), label `agent_type`.
pub const AGENT_QUEUE_LENGTH: &str = "agent_queue_length";
/// Counter of errors, labels `agent_type`, `error_type`.
pub const AGENT_ERRORS: &str = "agent_errors_total";
/// Gauge of outbox rows not yet published.
pub const OUTBOX_BACKLOG: &str = "outbox_backlog";
/// Counter of cache look-ups, labels `cache`, `result` (`l1_hit`, `l2_hit`, `miss`).
pub const CACHE_REQUESTS: &str = "cache_requests_total";
/// Counter of failed Redis operations of a cache (the caller was served anyway), labels `cache`, `op`.
pub const CACHE_REDIS_ERRORS: &str = "cache_redis_errors_total";
/// Gauge of a circuit breaker's state (0 closed, 1 half-open, 2 open), label `breaker`.
pub const BREAKER_STATE: &str = "circuit_breaker_state";
/// Gauge of a replica's replay lag in bytes, label `replica`.
pub const REPLICA_LAG: &str = "db_replica_lag_bytes";
/// Gauge 1/0: replica usable for reads, label `replica`.
pub const REPLICA_HEALTHY: &str = "db_replica_healthy";
/// Counter of routed reads, label `target` (`replica`, `primary`).
pub const DB_READS: &str = "db_reads_total";
/// Counter of consumed records, labels `topic`, `outcome`.
pub const KAFKA_CONSUMED: &str = "kafka_records_consumed_total";
/// Counter of produced records, label `topic`.
pub const KAFKA_PRODUCED: &str = "kafka_records_produced_total";
/// Counter of dead-lettered records, label `topic`.
pub const DEAD_LETTERS: &str = "dead_letters_total";
/// Counter of requests shed or limited, label `reason` (`overload`, `rate_limit`).
pub const HTTP_REJECTED: &str = "http_requests_rejected_total";
/// Counter of outreach steps finished by engagement, labels `channel`, `outcome`
/// (`sent`, `rescheduled`, `skipped`, `failed`, `dead`, `indeterminate`).
pub const ENGAGEMENT_STEPS: &str = "engagement_steps_total";
/// Counter of language-model calls by engagement's composer, label `outcome`
/// (`ok`, `rate_limited`, `server_error`, `client_error`, `timeout`, `connect`, `malformed`).
pub const LLM_REQUESTS: &str = "llm_requests_total";
/// Counter of language-model tokens, label `direction` (`in`: prompt, `out`: completion).
pub const LLM_TOKENS: &str = "llm_tokens_total";
/// Histogram of one language-model call's duration, in seconds.
pub const LLM_REQUEST_DURATION: &str = "llm_request_duration_seconds";
/// Counter of generations answered from the response cache (no call).
pub const LLM_CACHE_HITS: &str = "llm_cache_hits_total";
/// Counter of steps sent with their template instead of generated text, label
/// `reason` (`provider_error`, `timeout`, `rate_limited`, `budget`, `guardrail`,
/// `breaker_open`, `prompt_error`, `not_ready`).
pub const LLM_FALLBACKS: &str = "llm_fallbacks_total";
/// Histogram of generations recorded per statement by engagement's composer.
pub const ENGAGEMENT_GENERATION_BATCH: &str = "engagement_generation_batch_size";
/// Histogram of triaged leads planned per transaction by engagement's planner.
pub const ENGAGEMENT_PLAN_BATCH: &str = "engagement_plan_batch_size";
/// Histogram of `lead.contact.v1` events kept per statement by engagement.
pub const ENGAGEMENT_CONTACT_BATCH: &str = "engagement_contact_batch_size";
/// Histogram of steps claimed per scheduler batch by engagement.
pub const ENGAGEMENT_SEND_BATCH: &str = "engagement_send_batch_size";
/// Histogram of step outcomes written per transaction by engagement's recorder.
pub const ENGAGEMENT_RECORD_BATCH: &str = "engagement_record_batch_size";
/// Counter of provider calls, labels `provider`, `result` (`ok`, `transient`, `permanent`).
pub const PROVIDER_CALLS: &str = "engagement_provider_calls_total";

/// Registers the help text of every metric with the installed recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_histogram!(
        AGENT_REQUEST_DURATION,
        Unit::Seconds,
        "Time to handle one HTTP request or consumed record."
    );
    describe_gauge!(
        AGENT_QUEUE_LENGTH,
        "Records waiting or in flight in the agent's consumers."
    );
    describe_counter!(AGENT_ERRORS, "Errors by agent and class.");
    describe_gauge!(OUTBOX_BACKLOG, "Outbox rows waiting to be published.");
    describe_counter!(CACHE_REQUESTS, "Cache look-ups by level that answered.");
    describe_counter!(CACHE_REDIS_ERRORS, "Failed Redis operations of a cache.");
    describe_gauge!(
        BREAKER_STATE,
        "Circuit breaker state: 0 closed, 1 half-open, 2 open."
    );
    describe_gauge!(
        REPLICA_LAG,
        Unit::Bytes,
        "Replica replay lag behind the primary."
    );
    describe_gauge!(REPLICA_HEALTHY, "1 when the replica is used for reads.");
    describe_counter!(DB_READS, "Reads routed to a replica or the primary.");
    describe_counter!(KAFKA_CONSUMED, "Consumed records by outcome.");
    describe_counter!(KAFKA_PRODUCED, "Records acknowledged by the broker.");
    describe_counter!(DEAD_LETTERS, "Records sent to a dead-letter topic.");
    describe_counter!(
        ENGAGEMENT_STEPS,
        "Outreach steps finished, by channel and outcome."
    );
    describe_histogram!(
        ENGAGEMENT_SEND_BATCH,
        "Steps claimed per scheduler batch by engagement."
    );
    describe_histogram!(
        ENGAGEMENT_RECORD_BATCH,
        "Step outcomes written per transaction by engagement's recorder."
    );
    describe_histogram!(
        ENGAGEMENT_CONTACT_BATCH,
        "Lead contact events kept per statement by engagement."
    );
    describe_histogram!(
        ENGAGEMENT_PLAN_BATCH,
        "Triaged leads planned per transaction by engagement's planner."
    );
    describe_histogram!(
        ENGAGEMENT_GENERATION_BATCH,
        "Generations recorded per statement by engagement's composer."
    );
    describe_counter!(LLM_REQUESTS, "Language-model calls, by outcome.");
    describe_counter!(LLM_TOKENS, "Language-model tokens, by direction.");
    describe_histogram!(
        LLM_REQUEST_DURATION,
        Unit::Seconds,
        "Duration of one language-model call."
    );
    describe_counter!(
        LLM_CACHE_HITS,
        "Generations answered from the response cache."
    );
    describe_counter!(
        LLM_FALLBACKS,
        "Steps sent with their template instead of generated text, by reason."
    );
    describe_counter!(
        PROVIDER_CALLS,
        "Outreach provider calls, by provider and result."
    );
    describe_counter!(
        HTTP_REJECTED,
        "Requests refused by load shedding or rate limits."
    );
}

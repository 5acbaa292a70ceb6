//! Start-up validation with errors that name the key to fix.

use secrecy::ExposeSecret;

use crate::{env_name, Settings};

/// A configuration problem, naming the setting as an environment variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is missing, of the wrong type, or not a known setting.
    #[error("configuration: {key}: {message}")]
    Invalid {
        /// The setting, as its environment variable name.
        key: String,
        /// What is wrong with it (never the secret value itself).
        message: String,
    },
}

impl ConfigError {
    fn invalid(path: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: env_name(path),
            message: message.into(),
        }
    }

    pub(crate) fn from_figment(err: figment::Error) -> Self {
        let path = err.path.join(".");
        let message = match &err.kind {
            figment::error::Kind::UnknownField(field, _) => {
                // figment's path already ends with the field for unknown keys.
                let full = if path.is_empty() {
                    field.clone()
                } else if path == *field || path.ends_with(&format!(".{field}")) {
                    path.clone()
                } else {
                    format!("{path}.{field}")
                };
                return Self::invalid(&full, "unknown setting");
            }
            // The kind's own text names the expected type and never echoes secrets
            // beyond what the operator typed for a non-secret key.
            kind => kind.to_string(),
        };
        Self::invalid(if path.is_empty() { "(root)" } else { &path }, message)
    }
}

impl Settings {
    /// Checks cross-field rules that types alone cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_url(
            "database.url",
            self.database.url.expose_secret(),
            &["postgres", "postgresql"],
        )?;
        for url in &self.database.replica_urls {
            check_url(
                "database.replica_urls",
                url.expose_secret(),
                &["postgres", "postgresql"],
            )?;
        }
        if self.redis.nodes.is_empty() {
            return Err(ConfigError::invalid(
                "redis.nodes",
                "at least one node is required",
            ));
        }
        for node in &self.redis.nodes {
            check_url("redis.nodes", node.expose_secret(), &["redis", "rediss"])?;
        }
        if self.kafka.brokers.trim().is_empty() {
            return Err(ConfigError::invalid("kafka.brokers", "must not be empty"));
        }
        // librdkafka's own bounds are 0..=300_000; 0 would busy-poll the broker,
        // and a hold past the session timeout could cost the group membership.
        if self.kafka.fetch_wait_max_ms == 0
            || self.kafka.fetch_wait_max_ms >= self.kafka.session_timeout_ms
        {
            return Err(ConfigError::invalid(
                "kafka.fetch_wait_max_ms",
                "must be greater than zero and below kafka.session_timeout_ms",
            ));
        }
        positive(
            "database.max_connections",
            self.database.max_connections.into(),
        )?;
        positive("redis.pool_size", self.redis.pool_size as u64)?;
        positive("http.max_concurrency", self.http.max_concurrency as u64)?;
        positive("http.max_connections", self.http.max_connections as u64)?;
        positive("http.idle_timeout_secs", self.http.idle_timeout_secs)?;
        positive("http.body_limit_bytes", self.http.body_limit_bytes as u64)?;
        positive("http.request_timeout_ms", self.http.request_timeout_ms)?;
        positive(
            "consumer.max_in_flight_per_partition",
            self.consumer.max_in_flight_per_partition as u64,
        )?;
        positive("consumer.max_in_flight", self.consumer.max_in_flight as u64)?;
        positive(
            "consumer.retry_attempts",
            self.consumer.retry_attempts.into(),
        )?;
        positive(
            "consumer.processed_retention_hours",
            self.consumer.processed_retention_hours.into(),
        )?;
        positive("outbox.batch_size", self.outbox.batch_size.max(0) as u64)?;
        positive("cache.l1_capacity", self.cache.l1_capacity)?;
        positive("rate_limit.per_second", self.rate_limit.per_second.into())?;
        if !matches!(self.telemetry.log_format.as_str(), "json" | "pretty") {
            return Err(ConfigError::invalid(
                "telemetry.log_format",
                "must be `json` or `pretty`",
            ));
        }
        if !(0.0..=1.0).contains(&self.telemetry.trace_sample_ratio) {
            return Err(ConfigError::invalid(
                "telemetry.trace_sample_ratio",
                "must be between 0 and 1",
            ));
        }
        self.validate_engagement()?;
        if !self.telemetry.otlp_endpoint.is_empty() {
            check_url(
                "telemetry.otlp_endpoint",
                &self.telemetry.otlp_endpoint,
                &["http", "https"],
            )?;
        }
        Ok(())
    }
}

impl Settings {
    fn validate_engagement(&self) -> Result<(), ConfigError> {
        let e = &self.engagement;
        for (path, value, allowed) in [
            (
                "engagement.email_provider",
                &e.email_provider,
                &["log", "smtp", "webhook"][..],
            ),
            (
                "engagement.sms_provider",
                &e.sms_provider,
                &["log", "webhook"][..],
            ),
            (
                "engagement.phone_provider",
                &e.phone_provider,
                &["log", "webhook"][..],
            ),
            (
                "engagement.smtp_tls",
                &e.smtp_tls,
                &["none", "starttls", "tls"][..],
            ),
        ] {
            if !allowed.contains(&value.as_str()) {
                return Err(ConfigError::invalid(
                    path,
                    format!("must be one of {}", allowed.join(", ")),
                ));
            }
        }
        let uses = |p: &str| {
            [&e.email_provider, &e.sms_provider, &e.phone_provider]
                .iter()
                .any(|v| *v == p)
        };
        if uses("webhook") {
            check_url("engagement.webhook_url", &e.webhook_url, &["http", "https"])?;
        }
        if uses("smtp") && e.smtp_host.trim().is_empty() {
            return Err(ConfigError::invalid(
                "engagement.smtp_host",
                "must not be empty",
            ));
        }
        for (path, value) in [
            ("engagement.quiet_start", &e.quiet_start),
            ("engagement.quiet_end", &e.quiet_end),
        ] {
            if chrono::NaiveTime::parse_from_str(value, "%H:%M").is_err() {
                return Err(ConfigError::invalid(path, "must be a local time HH:MM"));
            }
        }
        if e.default_timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ConfigError::invalid(
                "engagement.default_timezone",
                "must be an IANA time zone such as Europe/Berlin",
            ));
        }
        if !(0.0..=1.0).contains(&e.breaker_failure_rate) || e.breaker_failure_rate == 0.0 {
            return Err(ConfigError::invalid(
                "engagement.breaker_failure_rate",
                "must be greater than 0 and at most 1",
            ));
        }
        positive("engagement.cap_per_day", e.cap_per_day.into())?;
        positive("engagement.cap_per_week", e.cap_per_week.into())?;
        positive("engagement.smtp_timeout_ms", e.smtp_timeout_ms)?;
        positive("engagement.webhook_timeout_ms", e.webhook_timeout_ms)?;
        positive("engagement.retry_base_ms", e.retry_base_ms)?;
        positive("engagement.breaker_window_secs", e.breaker_window_secs)?;
        positive("engagement.breaker_probes", e.breaker_probes.into())?;
        positive("engagement.scheduler_poll_ms", e.scheduler_poll_ms)?;
        positive(
            "engagement.scheduler_batch",
            e.scheduler_batch.max(0) as u64,
        )?;
        positive(
            "engagement.scheduler_concurrency",
            e.scheduler_concurrency as u64,
        )?;
        positive("engagement.scheduler_lease_secs", e.scheduler_lease_secs)?;
        self.validate_llm()
    }

    fn validate_llm(&self) -> Result<(), ConfigError> {
        let l = &self.llm;
        if !l.enabled() {
            return Ok(());
        }
        check_url("llm.base_url", &l.base_url, &["http", "https"])?;
        if l.model.trim().is_empty() {
            return Err(ConfigError::invalid("llm.model", "must not be empty"));
        }
        if !["wait", "fallback"].contains(&l.on_limit.as_str()) {
            return Err(ConfigError::invalid(
                "llm.on_limit",
                "must be one of wait, fallback",
            ));
        }
        for item in &l.prices {
            if crate::settings::parse_price(item).is_none() {
                return Err(ConfigError::invalid(
                    "llm.prices",
                    "each entry must be model=input/output (micros per 1,000 tokens)",
                ));
            }
        }
        positive("llm.timeout_ms", l.timeout_ms)?;
        positive("llm.retry_base_ms", l.retry_base_ms)?;
        positive("llm.requests_per_minute", l.requests_per_minute.into())?;
        positive("llm.tokens_per_minute", l.tokens_per_minute.into())?;
        positive("llm.concurrency", l.concurrency as u64)?;
        positive("llm.wait_secs", l.wait_secs)?;
        positive("llm.batch", l.batch.max(0) as u64)?;
        Ok(())
    }
}

fn positive(path: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError::invalid(path, "must be greater than zero"));
    }
    Ok(())
}

fn check_url(path: &str, raw: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    // The message never repeats the URL: it may carry a password.
    let parsed =
        url::Url::parse(raw).map_err(|e| ConfigError::invalid(path, format!("not a URL ({e})")))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(ConfigError::invalid(
            path,
            format!("scheme must be one of {}", schemes.join(", ")),
        ));
    }
    Ok(())
}

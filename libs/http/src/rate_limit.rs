//! Per-key rate limits shared by every instance: GCRA in one Redis script,
//! on the Redis server's clock, one key per API key.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use suite_config::RateLimitSettings;
use suite_store::Redis;

use crate::auth::Principal;

const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, allow_at - now, 0, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0, math.floor((tolerance - (new_tat - now)) / interval), new_tat - now}
"#;

/// The verdict for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Requests per second allowed for the key.
    pub limit: u32,
    /// Requests left in the current burst.
    pub remaining: u64,
    /// When the burst is fully restored.
    pub reset: Duration,
    /// When a refused request may be retried.
    pub retry_after: Duration,
}

impl Decision {
    /// Writes `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let secs = |d: Duration| d.as_secs() + u64::from(d.subsec_nanos() > 0);
        for (name, value) in [
            ("ratelimit-limit", u64::from(self.limit)),
            ("ratelimit-remaining", self.remaining),
            ("ratelimit-reset", secs(self.reset)),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
}

/// Checks requests against each key's budget.
#[derive(Clone)]
pub struct RateLimiter {
    redis: Redis,
    defaults: RateLimitSettings,
    script: redis::Script,
}

impl RateLimiter {
    /// A limiter over the shared Redis cluster.
    pub fn new(redis: Redis, defaults: RateLimitSettings) -> Self {
        Self {
            redis,
            defaults,
            script: redis::Script::new(GCRA),
        }
    }

    /// Spends one request of `principal`'s budget. If Redis cannot answer the
    /// request is allowed (availability over strictness) and the failure counted.
    pub async fn check(&self, principal: &Principal) -> Decision {
        let limit = principal
            .rate_limit_per_sec
            .unwrap_or(self.defaults.per_second)
            .max(1);
        let burst = u64::from(self.defaults.burst.max(1));
        let interval_us = 1_000_000 / u64::from(limit);
        let tolerance_us = interval_us * burst;
        let key = self.redis.key(&format!("rl:{}", principal.client_id()));
        let result: Result<(i64, i64, i64, i64), _> = async {
            let mut conn = self.redis.conn().await?;
            let mut invocation = self.script.key(key);
            invocation.arg(interval_us).arg(tolerance_us);
            Ok::<_, anyhow::Error>(invocation.invoke_async(&mut conn).await?)
        }
        .await;
        let us = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        match result {
            Ok((allowed, retry, remaining, reset)) => Decision {
                allowed: allowed == 1,
                limit,
                remaining: u64::try_from(remaining).unwrap_or(0),
                reset: us(reset),
                retry_after: us(retry),
            },
            Err(err) => {
                tracing::warn!(error = %err, "rate limit check failed; allowing the request");
                metrics::counter!(suite_telemetry::names::AGENT_ERRORS,
                    "agent_type" => crate::middleware::service_label(), "error_type" => "rate_limit_unavailable")
                .increment(1);
                Decision {
                    allowed: true,
                    limit,
                    remaining: burst,
                    reset: Duration::ZERO,
                    retry_after: Duration::ZERO,
                }
            }
        }
    }
}

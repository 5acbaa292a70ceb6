//! Per-key rate limits shared by every instance: GCRA in one Redis script,
//! on the Redis server's clock, one key per API key.
//!
//! An instance does not ask Redis for every request. It takes a *lease* of
//! several places of the key's budget in one script call (`lease_ms` of the
//! key's rate, at most half its burst) and spends them locally. The budget
//! is still one for all instances: a lease is taken from it like that many
//! requests would be, so together the instances never admit more than the
//! key's rate and burst. The cost is that places leased and not spent
//! within [`LEASE_LIFETIME`] lapse, so a key near its limit may be refused
//! up to one lease per instance early. With `lease_ms = 0`, or a rate too
//! low for a lease of two, every request asks Redis.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use suite_config::RateLimitSettings;
use suite_store::Redis;

use crate::auth::Principal;

/// How long leased places may be spent before they lapse.
pub const LEASE_LIFETIME: Duration = Duration::from_secs(1);
/// Keys whose leases are tracked at once (the least recently used go first).
const MAX_LEASED_KEYS: u64 = 100_000;

/// GCRA taking up to `ARGV[3]` places at once: grants as many as the
/// budget holds now (at least one, or the request is refused).
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local free = math.floor((now + tolerance - tat) / interval)
if free < 1 then
  return {0, tat + interval - tolerance - now, 0, tat - now}
end
local granted = math.min(want, free)
local new_tat = tat + granted * interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {granted, 0, math.floor((tolerance - (new_tat - now)) / interval), new_tat - now}
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

/// Places of one key's budget this instance holds, and what Redis said when it granted them.
#[derive(Debug)]
struct Lease {
    places: u64,
    taken_at: Instant,
    /// The key's remaining burst in Redis after the grant.
    remaining: u64,
    /// When the key's burst is fully restored, as of the grant.
    reset: Duration,
}

impl Lease {
    /// Spends one place if the lease holds one and has not lapsed.
    fn spend(&mut self, limit: u32, now: Instant) -> Option<Decision> {
        let age = now.saturating_duration_since(self.taken_at);
        if self.places == 0 || age >= LEASE_LIFETIME {
            return None;
        }
        self.places -= 1;
        Some(Decision {
            allowed: true,
            limit,
            remaining: self.remaining + self.places,
            reset: self.reset.saturating_sub(age),
            retry_after: Duration::ZERO,
        })
    }
}

/// Checks requests against each key's budget.
#[derive(Clone)]
pub struct RateLimiter {
    redis: Redis,
    defaults: RateLimitSettings,
    script: redis::Script,
    leases: moka::sync::Cache<String, Arc<Mutex<Lease>>>,
}

impl RateLimiter {
    /// A limiter over the shared Redis cluster.
    pub fn new(redis: Redis, defaults: RateLimitSettings) -> Self {
        Self {
            redis,
            defaults,
            script: redis::Script::new(GCRA),
            leases: moka::sync::Cache::builder()
                .max_capacity(MAX_LEASED_KEYS)
                .time_to_idle(LEASE_LIFETIME)
                .build(),
        }
    }

    /// Spends one request of `principal`'s budget: from this instance's
    /// lease when it holds one, else from Redis (taking a new lease). If
    /// Redis cannot answer the request is allowed (availability over
    /// strictness) and the failure counted.
    pub async fn check(&self, principal: &Principal) -> Decision {
        let limit = principal
            .rate_limit_per_sec
            .unwrap_or(self.defaults.per_second)
            .max(1);
        let client = principal.client_id();
        let lease = self.leases.get(&client);
        if let Some(lease) = &lease {
            if let Some(decision) = lock(lease).spend(limit, Instant::now()) {
                return decision;
            }
        }
        let burst = u64::from(self.defaults.burst.max(1));
        let want = lease_size(limit, burst, self.defaults.lease_ms);
        let interval_us = 1_000_000 / u64::from(limit);
        let tolerance_us = interval_us * burst;
        let key = self.redis.key(&format!("rl:{client}"));
        let result: Result<(i64, i64, i64, i64), _> = async {
            let mut conn = self.redis.conn().await?;
            let mut invocation = self.script.key(key);
            invocation.arg(interval_us).arg(tolerance_us).arg(want);
            Ok::<_, anyhow::Error>(invocation.invoke_async(&mut conn).await?)
        }
        .await;
        let us = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        match result {
            Ok((granted, retry, remaining, reset)) => {
                let granted = u64::try_from(granted).unwrap_or(0);
                let remaining = u64::try_from(remaining).unwrap_or(0);
                if granted > 1 {
                    self.keep(client, lease, granted - 1, remaining, us(reset));
                }
                Decision {
                    allowed: granted > 0,
                    limit,
                    remaining: remaining + granted.saturating_sub(1),
                    reset: us(reset),
                    retry_after: us(retry),
                }
            }
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

    /// Adds `places` granted by Redis to the key's lease (concurrent grants add up).
    fn keep(
        &self,
        client: String,
        lease: Option<Arc<Mutex<Lease>>>,
        places: u64,
        remaining: u64,
        reset: Duration,
    ) {
        let lease = lease.unwrap_or_else(|| {
            self.leases.get_with(client, || {
                Arc::new(Mutex::new(Lease {
                    places: 0,
                    taken_at: Instant::now(),
                    remaining: 0,
                    reset: Duration::ZERO,
                }))
            })
        });
        let mut lease = lock(&lease);
        let now = Instant::now();
        if now.saturating_duration_since(lease.taken_at) >= LEASE_LIFETIME {
            lease.places = 0;
        }
        lease.places += places;
        lease.taken_at = now;
        lease.remaining = remaining;
        lease.reset = reset;
    }
}

/// Places taken per Redis call: `lease_ms` of the key's rate, at most half
/// its burst, at least one.
fn lease_size(limit: u32, burst: u64, lease_ms: u32) -> u64 {
    let by_rate = u64::from(limit) * u64::from(lease_ms) / 1000;
    by_rate.min(burst / 2).max(1)
}

/// Locks a lease; a panic while holding it cannot leave it inconsistent (plain counters).
fn lock(lease: &Mutex<Lease>) -> std::sync::MutexGuard<'_, Lease> {
    lease
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_the_rate_times_lease_ms_within_half_the_burst() {
        assert_eq!(lease_size(2_000, 4_000, 20), 40);
        assert_eq!(lease_size(2_000, 40, 20), 20);
        assert_eq!(lease_size(2_000, 4_000, 0), 1);
        assert_eq!(lease_size(1, 4, 20), 1);
        assert_eq!(lease_size(100_000, 1, 20), 1);
    }

    #[test]
    fn a_lease_spends_its_places_then_lapses() {
        let start = Instant::now();
        let mut lease = Lease {
            places: 2,
            taken_at: start,
            remaining: 10,
            reset: Duration::from_millis(500),
        };
        let first = lease.spend(100, start).expect("first place");
        assert!(first.allowed);
        assert_eq!(first.remaining, 11);
        assert!(lease.spend(100, start).is_some());
        assert!(lease.spend(100, start).is_none(), "only two places");
        lease.places = 5;
        assert!(lease.spend(100, start + LEASE_LIFETIME).is_none(), "lapsed");
    }
}

//! The campaign's daily budget, enforced at send time: an atomic
//! check-and-reserve of the send's cost in Redis.
//!
//! campaign-optimization pauses a campaign when its consumer has counted a
//! day's spend, but it counts from `engagement.interactions`, so it learns
//! of a send seconds (or, with a lagging broker, minutes) after it. Without
//! a guard here the sends made in that window overshoot the budget; with it
//! a day's spend never exceeds the budget, whatever the optimizer's lag.
//!
//! # Keys
//! One Redis hash per campaign and UTC day (the day campaign-optimization
//! paces by, and the caps' day: [`next_day_start`]), hash-tagged on the campaign:
//!
//! ```text
//! {prefix}{campaign:<uuid>}:spend:<YYYY-MM-DD>   token → cost, and "_total"
//! ```
//!
//! Keyed by the send's unique token, so reserving twice (a redelivered or
//! reclaimed step) costs once and releasing twice gives back once. The hash
//! expires a day after its day ends.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use suite_store::Redis;
use uuid::Uuid;

use super::caps::{next_day_start, CapError};

/// Release: `KEYS` = the day's hash; `ARGV` = token. Returns 1 when the
/// token held a place.
const RELEASE: &str = r"
local cost = redis.call('HGET', KEYS[1], ARGV[1])
if not cost then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[1], '_total', -tonumber(cost))
return 1
";

/// Reserve for a set of sends of one campaign: `KEYS` = the day's hash;
/// `ARGV` = budget, TTL (seconds), then token, cost pairs, checked in order.
/// A pair fits when its token already holds a place or its cost fits what is
/// left of the budget; returns 1 or 0 per pair.
const RESERVE_MANY: &str = r"
local budget = tonumber(ARGV[1])
local total = tonumber(redis.call('HGET', KEYS[1], '_total') or '0')
local added = 0
local fits = {}
for i = 3, #ARGV, 2 do
  local token = ARGV[i]
  local cost = tonumber(ARGV[i + 1])
  if redis.call('HEXISTS', KEYS[1], token) == 1 then
    fits[#fits + 1] = 1
  elseif total + cost > budget then
    fits[#fits + 1] = 0
  else
    redis.call('HSET', KEYS[1], token, cost)
    total = total + cost
    added = added + cost
    fits[#fits + 1] = 1
  end
end
if added > 0 then
  redis.call('HINCRBY', KEYS[1], '_total', added)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return fits
";

/// Settle: `KEYS` = the day's hash; `ARGV` = token, cost. Sets the cost of
/// a held place (the estimate reserved becomes what was spent). Returns 1
/// when the token held a place.
const SETTLE: &str = r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], '_total', tonumber(ARGV[2]) - tonumber(old))
return 1
";

static SETTLE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(SETTLE));
static RELEASE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RELEASE));
static RESERVE_MANY_SCRIPT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(RESERVE_MANY));

/// A place in a campaign's day budget, held by one send.
#[derive(Debug, Clone)]
pub struct BudgetReservation {
    key: String,
    token: String,
}

fn day_key(redis: &Redis, campaign: Uuid, now: DateTime<Utc>) -> String {
    let day = now.date_naive().format("%Y-%m-%d");
    redis.tagged("campaign", &campaign.to_string(), &format!("spend:{day}"))
}

/// Reserves the cost of several sends of one campaign in the day's budget of
/// `now`, with one script call: `sends` are (token, cost) pairs, checked in
/// order against `budget`; a cost of 0 always fits, and a token that already
/// holds its place fits again without costing twice.
/// Returns one reservation per send, `None` where the cost did not fit.
pub async fn reserve_many(
    redis: &Redis,
    campaign: Uuid,
    sends: &[(&str, i64)],
    budget: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Option<BudgetReservation>>, CapError> {
    if sends.is_empty() {
        return Ok(Vec::new());
    }
    let key = day_key(redis, campaign, now);
    let ttl = (next_day_start(now) + Duration::days(1) - now).num_seconds();
    let mut invocation = RESERVE_MANY_SCRIPT.key(&key);
    invocation.arg(budget.max(0)).arg(ttl);
    for (token, cost) in sends {
        invocation.arg(*token).arg(cost.max(&0));
    }
    let mut conn = redis.conn().await?;
    let fits: Vec<u8> = invocation.invoke_async(&mut conn).await?;
    Ok(sends
        .iter()
        .zip(fits.into_iter().chain(std::iter::repeat(0)))
        .map(|((token, _), fit)| {
            (fit == 1).then(|| BudgetReservation {
                key: key.clone(),
                token: (*token).to_owned(),
            })
        })
        .collect())
}

/// Sets the cost of a held place to `cost` (a generation's estimate becomes
/// its price once the provider counted its tokens); the day's total follows.
/// Returns whether it still held one.
pub async fn settle(
    redis: &Redis,
    reservation: &BudgetReservation,
    cost: i64,
) -> Result<bool, CapError> {
    let mut conn = redis.conn().await?;
    let settled: u8 = SETTLE_SCRIPT
        .key(&reservation.key)
        .arg(&reservation.token)
        .arg(cost.max(0))
        .invoke_async(&mut conn)
        .await?;
    Ok(settled == 1)
}

/// Gives back the place of a send that was not made. Returns whether it
/// still held one.
pub async fn release(redis: &Redis, reservation: &BudgetReservation) -> Result<bool, CapError> {
    let mut conn = redis.conn().await?;
    let released: u8 = RELEASE_SCRIPT
        .key(&reservation.key)
        .arg(&reservation.token)
        .invoke_async(&mut conn)
        .await?;
    Ok(released == 1)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_day_ends_at_utc_midnight() {
        let now = Utc.with_ymd_and_hms(2025, 6, 1, 23, 59, 59).unwrap();
        assert_eq!(
            next_day_start(now),
            Utc.with_ymd_and_hms(2025, 6, 2, 0, 0, 0).unwrap()
        );
    }
}

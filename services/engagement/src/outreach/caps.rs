//! Frequency caps per lead and channel across all campaigns: an atomic
//! check-and-reserve in Redis.
//!
//! # Windows
//! A day is a UTC calendar day (00:00–24:00 UTC) and a week an ISO week in
//! UTC (Monday 00:00 UTC to the next Monday). UTC rather than the lead's
//! local time keeps every instance agreeing on a window without knowing the
//! lead's zone, and a cap counts sends, not local days; quiet hours
//! ([`super::quiet_hours`]) are what keeps sends in the lead's daytime.
//!
//! # Keys
//! Each window is a Redis set of reservation tokens (the send's unique key,
//! e.g. `lead:campaign:step:channel`), one per window, hash-tagged on the
//! lead so the script's keys share one cluster slot:
//!
//! ```text
//! {prefix}{lead:<uuid>}:cap:<channel>:d:<YYYY-MM-DD>    day set
//! {prefix}{lead:<uuid>}:cap:<channel>:w:<GGGG>-W<WW>    ISO-week set
//! ```
//!
//! Sets rather than counters make both calls idempotent: reserving a token
//! that already holds a place (a redelivered event, a restarted consumer)
//! is allowed without counting it twice, and releasing twice gives back one
//! place. A token is recognised within its own day; a redelivery on a
//! later day takes a new place, and the send reservation (docs/architecture.md §4.3) is
//! what stops a second send. Each set expires a day after its window ends.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use suite_domain::LeadId;
use suite_store::Redis;
use thiserror::Error;

use super::ladder::Channel;

#[cfg(test)]
mod tests;

/// Check-and-reserve: `KEYS` = day set, week set; `ARGV` = token, day
/// limit, week limit, day TTL, week TTL (seconds). Returns
/// `{allowed, day count, week count, blocked by}` where `blocked by` is 0
/// (allowed), 1 (day cap) or 2 (week cap), counts after the call.
const RESERVE: &str = r"
local token = ARGV[1]
local day_limit = tonumber(ARGV[2])
local week_limit = tonumber(ARGV[3])
local day = redis.call('SCARD', KEYS[1])
local week = redis.call('SCARD', KEYS[2])
if redis.call('SISMEMBER', KEYS[1], token) == 1 then
  return {1, day, week, 0}
end
if day >= day_limit then
  return {0, day, week, 1}
end
if week >= week_limit then
  return {0, day, week, 2}
end
redis.call('SADD', KEYS[1], token)
redis.call('SADD', KEYS[2], token)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return {1, day + 1, week + 1, 0}
";

/// Release: `KEYS` = day set, week set; `ARGV` = token. Returns how many
/// sets held the token.
const RELEASE: &str = r"
return redis.call('SREM', KEYS[1], ARGV[1]) + redis.call('SREM', KEYS[2], ARGV[1])
";

static RESERVE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RESERVE));
static RELEASE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RELEASE));

/// How long a window's set outlives the window (clock skew between instances).
const GRACE: Duration = Duration::days(1);

/// The caps of one channel for one lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapLimits {
    /// Sends per UTC day.
    pub per_day: u32,
    /// Sends per ISO week (UTC).
    pub per_week: u32,
}

impl Default for CapLimits {
    /// 3 a day, 10 a week.
    fn default() -> Self {
        Self {
            per_day: 3,
            per_week: 10,
        }
    }
}

/// A place taken under the caps; keep it (it serialises) to [`release`] it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapReservation {
    /// The lead.
    pub lead_id: LeadId,
    /// The channel.
    pub channel: Channel,
    /// The send's unique key.
    pub token: String,
    /// When it was reserved (names its day and week).
    pub reserved_at: DateTime<Utc>,
}

/// The answer of [`reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapDecision {
    /// A place was reserved (or the token already held one).
    pub allowed: bool,
    /// When not allowed: the start of the window that frees a place (the
    /// next UTC day, or the next ISO week when the week cap is reached).
    pub retry_at: Option<DateTime<Utc>>,
    /// Places left today after this call.
    pub left_today: u32,
    /// Places left this week after this call.
    pub left_week: u32,
    /// When allowed: the reservation, to [`release`] if the send is abandoned.
    pub reservation: Option<CapReservation>,
}

/// Errors of the cap store.
#[derive(Debug, Error)]
pub enum CapError {
    /// Redis could not be reached or the script failed.
    #[error("frequency cap store: {0}")]
    Store(#[from] suite_store::StoreError),
}

impl From<redis::RedisError> for CapError {
    fn from(e: redis::RedisError) -> Self {
        Self::Store(e.into())
    }
}

/// The day and week set keys of `lead`/`channel` for the windows holding `at`.
pub fn window_keys(
    redis: &Redis,
    lead: LeadId,
    channel: Channel,
    at: DateTime<Utc>,
) -> [String; 2] {
    let id = lead.to_string();
    let week = at.iso_week();
    [
        redis.tagged(
            "lead",
            &id,
            &format!("cap:{channel}:d:{}", at.format("%Y-%m-%d")),
        ),
        redis.tagged(
            "lead",
            &id,
            &format!("cap:{channel}:w:{}-W{:02}", week.year(), week.week()),
        ),
    ]
}

/// Start of the UTC day after the one holding `at`.
pub fn next_day_start(at: DateTime<Utc>) -> DateTime<Utc> {
    day_start(at.date_naive()) + Duration::days(1)
}

/// Start (Monday 00:00 UTC) of the ISO week after the one holding `at`.
pub fn next_week_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let since_monday = i64::from(at.weekday().num_days_from_monday());
    day_start(at.date_naive()) + Duration::days(7 - since_monday)
}

fn day_start(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// Atomically checks the day and week caps of `lead`/`channel` at `now`
/// and, when both have room, reserves a place for `token` (the send's
/// unique key). Reserving a token that already holds a place is allowed
/// and takes no second place.
pub async fn reserve(
    redis: &Redis,
    lead: LeadId,
    channel: Channel,
    token: &str,
    now: DateTime<Utc>,
    limits: CapLimits,
) -> Result<CapDecision, CapError> {
    let [day_key, week_key] = window_keys(redis, lead, channel, now);
    // TTLs relative to the caller's clock, so Redis's clock does not matter.
    let day_ttl = (next_day_start(now) + GRACE - now).num_seconds();
    let week_ttl = (next_week_start(now) + GRACE - now).num_seconds();
    let mut conn = redis.conn().await?;
    let (allowed, day, week, blocked): (u8, u32, u32, u8) = RESERVE_SCRIPT
        .key(&day_key)
        .key(&week_key)
        .arg(token)
        .arg(limits.per_day)
        .arg(limits.per_week)
        .arg(day_ttl)
        .arg(week_ttl)
        .invoke_async(&mut conn)
        .await?;
    let retry_at = match blocked {
        1 => Some(next_day_start(now)),
        2 => Some(next_week_start(now)),
        _ => None,
    };
    let allowed = allowed == 1;
    Ok(CapDecision {
        allowed,
        retry_at,
        left_today: limits.per_day.saturating_sub(day),
        left_week: limits.per_week.saturating_sub(week),
        reservation: allowed.then(|| CapReservation {
            lead_id: lead,
            channel,
            token: token.to_owned(),
            reserved_at: now,
        }),
    })
}

/// Gives back the place of `reservation` (a send abandoned before the
/// provider was called). Returns whether it still held one; releasing
/// twice is harmless.
pub async fn release(redis: &Redis, reservation: &CapReservation) -> Result<bool, CapError> {
    let [day_key, week_key] = window_keys(
        redis,
        reservation.lead_id,
        reservation.channel,
        reservation.reserved_at,
    );
    let mut conn = redis.conn().await?;
    let removed: u32 = RELEASE_SCRIPT
        .key(&day_key)
        .key(&week_key)
        .arg(&reservation.token)
        .invoke_async(&mut conn)
        .await?;
    Ok(removed > 0)
}

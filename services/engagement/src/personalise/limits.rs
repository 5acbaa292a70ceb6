//! The per-workspace limits of language-model use, shared by every
//! engagement instance through Redis: calls per minute and tokens per
//! minute, over a sliding minute.
//!
//! One sorted set per workspace, hash-tagged on it, holds the calls of the
//! last minute (member `<id>:<tokens>`, score the call's time in ms):
//!
//! ```text
//! {prefix}{llm:<workspace uuid>}:window
//! ```
//!
//! A call takes its place with one script run that drops the entries older
//! than the window, checks both limits and adds the call, so replicas never
//! exceed them together. A call's tokens are its estimate (prompt plus the
//! completion bound), which is never below what it uses.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use suite_store::Redis;
use uuid::Uuid;

use crate::outreach::CapError;

/// The window, in milliseconds.
const WINDOW_MS: i64 = 60_000;

/// `KEYS` = the window; `ARGV` = now (ms), window (ms), max calls, max
/// tokens, this call's tokens, its id. Returns `{1, 0}` when it took a
/// place, else `{0, ms until the oldest entry leaves the window}`.
const TAKE: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local calls = #entries / 2
local used = 0
for i = 1, #entries, 2 do
  used = used + tonumber(string.match(entries[i], ':(%d+)$') or '0')
end
local tokens = math.min(tonumber(ARGV[5]), tonumber(ARGV[4]))
if calls + 1 > tonumber(ARGV[3]) or used + tokens > tonumber(ARGV[4]) then
  local oldest = tonumber(entries[2] or now)
  return {0, math.max(oldest + window - now, 1)}
end
redis.call('ZADD', KEYS[1], now, ARGV[6] .. ':' .. tokens)
redis.call('PEXPIRE', KEYS[1], window)
return {1, 0}
";

static TAKE_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(TAKE));

/// A workspace's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Calls per minute.
    pub requests_per_minute: u32,
    /// Tokens per minute.
    pub tokens_per_minute: u32,
}

/// Takes a place for one call of about `tokens` tokens in `workspace`'s
/// window at `now`. `Ok(None)`: taken; `Ok(Some(at))`: the limits are
/// reached until about `at`.
pub async fn take(
    redis: &Redis,
    workspace: Uuid,
    tokens: u32,
    limits: Limits,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, CapError> {
    let key = redis.tagged("llm", &workspace.to_string(), "window");
    let mut conn = redis.conn().await?;
    let (taken, wait_ms): (u8, i64) = TAKE_SCRIPT
        .key(&key)
        .arg(now.timestamp_millis())
        .arg(WINDOW_MS)
        .arg(limits.requests_per_minute)
        .arg(limits.tokens_per_minute)
        .arg(tokens)
        .arg(Uuid::now_v7().simple().to_string())
        .invoke_async(&mut conn)
        .await?;
    Ok((taken != 1).then(|| now + chrono::Duration::milliseconds(wait_ms.max(1))))
}

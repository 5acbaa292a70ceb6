//! Read-your-writes: WAL positions (LSNs) and the per-client record of the
//! last write, shared across service instances through Redis.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use redis::Script;

use crate::error::{Result, StoreError};
use crate::redis::Redis;

/// A Postgres WAL position (`pg_lsn`), as a byte offset into the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Bytes of WAL between `earlier` and `self` (what `pg_wal_lsn_diff(self, earlier)`
    /// returns), 0 when `earlier` is ahead.
    pub fn bytes_since(self, earlier: Lsn) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Fixed-width hex form, ordered like the LSN itself when compared as strings
    /// (what is stored in Redis, so a Lua script can compare positions).
    fn to_sortable(self) -> String {
        format!("{:016X}", self.0)
    }

    fn from_sortable(s: &str) -> Option<Self> {
        u64::from_str_radix(s, 16).ok().map(Lsn)
    }
}

impl FromStr for Lsn {
    type Err = StoreError;

    /// Parses Postgres' text form `XXXXXXXX/XXXXXXXX` (two hex halves).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || StoreError::Unexpected(format!("malformed LSN {s:?}"));
        let (hi, lo) = s.split_once('/').ok_or_else(bad)?;
        let hi = u32::from_str_radix(hi, 16).map_err(|_| bad())?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| bad())?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

/// Keeps the highest WAL position: a slower instance must not lower a newer write's position.
const RECORD_MAX: &str = r"
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur < ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
";

/// Where clients' last write positions are remembered: an in-process map
/// (always) and Redis (when configured, so other instances see them).
pub(crate) struct WriteTracker {
    local: moka::future::Cache<String, Lsn>,
    redis: Option<Redis>,
    ttl: Duration,
    script: Script,
}

/// What is known about a client's pending write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    /// No write within the read-your-writes window.
    None,
    /// Reads must see at least this position.
    AtLeast(Lsn),
    /// Cannot tell (Redis unreachable): read from the primary.
    Unknown,
}

/// Bound on the in-process map: clients beyond it fall back to Redis only.
const LOCAL_CAPACITY: u64 = 100_000;

impl WriteTracker {
    pub(crate) fn new(redis: Option<Redis>, ttl: Duration) -> Self {
        let ttl = ttl.max(Duration::from_millis(1));
        Self {
            local: moka::future::Cache::builder()
                .max_capacity(LOCAL_CAPACITY)
                .time_to_live(ttl)
                .build(),
            redis,
            ttl,
            script: Script::new(RECORD_MAX),
        }
    }

    fn key(redis: &Redis, client: &str) -> String {
        redis.key(&format!("ryw:{client}"))
    }

    /// Remembers that `client` wrote up to `lsn`. A Redis failure is logged and
    /// tolerated: the in-process record still protects this instance's reads.
    pub(crate) async fn record(&self, client: &str, lsn: Lsn) {
        let local = self.local.get(client).await;
        if local.is_none_or(|prev| prev < lsn) {
            self.local.insert(client.to_owned(), lsn).await;
        }
        let Some(redis) = &self.redis else { return };
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let result: Result<()> = async {
            let mut conn = redis.conn().await?;
            let _: i64 = self
                .script
                .key(Self::key(redis, client))
                .arg(lsn.to_sortable())
                .arg(ttl_ms)
                .invoke_async(&mut conn)
                .await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record a write position in redis; read-your-writes is per instance until it is back");
        }
    }

    /// The position `client` must read at, merging this instance's record and Redis'.
    pub(crate) async fn pending(&self, client: &str) -> Pending {
        let local = self.local.get(client).await;
        let remote = match &self.redis {
            None => None,
            Some(redis) => match self.remote(redis, client).await {
                Ok(remote) => remote,
                // Another instance may have written: only the primary is safe.
                Err(e) => {
                    tracing::debug!(error = %e, "write position lookup failed; reading from the primary");
                    return Pending::Unknown;
                }
            },
        };
        match local.max(remote) {
            Some(lsn) => Pending::AtLeast(lsn),
            None => Pending::None,
        }
    }

    async fn remote(&self, redis: &Redis, client: &str) -> Result<Option<Lsn>> {
        let mut conn = redis.conn().await?;
        let value: Option<String> = redis::cmd("GET")
            .arg(Self::key(redis, client))
            .query_async(&mut conn)
            .await?;
        Ok(value.as_deref().and_then(Lsn::from_sortable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_postgres_lsns() {
        let lsn: Lsn = "16/B374D848".parse().expect("valid");
        assert_eq!(lsn.0, (0x16 << 32) | 0xB374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>().expect("valid"), Lsn(0));
        assert!("16B374D848".parse::<Lsn>().is_err());
        assert!("x/1".parse::<Lsn>().is_err());
    }

    #[test]
    fn sortable_form_orders_like_the_lsn() {
        let a = Lsn(0x0000_0001_0000_0000);
        let b = Lsn(0x0000_0000_FFFF_FFFF);
        assert!(a > b);
        assert!(a.to_sortable() > b.to_sortable());
        assert_eq!(Lsn::from_sortable(&a.to_sortable()), Some(a));
    }

    #[test]
    fn lag_is_never_negative() {
        assert_eq!(Lsn(100).bytes_since(Lsn(40)), 60);
        assert_eq!(Lsn(40).bytes_since(Lsn(100)), 0);
    }
}

//! Postgres primary/replica routing, the Redis cluster client and the two-level cache.
//!
//! - [`Db`]: writes and transactions on the primary ([`Db::primary`]); reads on a
//!   healthy, caught-up replica chosen by load ([`Db::read`]), the primary when
//!   none qualifies; read-your-writes through [`Db::note_write`]; a background
//!   probe ([`Db::spawn_monitor`]).
//! - [`Redis`]: the cluster connection pool, key prefix and hash tags, bounded commands,
//!   pub/sub connections.
//! - [`TwoLevelCache`]: L1 in process, L2 in Redis, cache-aside with cross-instance invalidation.
//! - [`ensure_partitions`] / [`spawn_partition_maintenance`]: monthly partitions ahead of time.
//! - [`retention`]: expired rows pruned in chunks, expired partitions dropped.
//!
//! # What degrades without Redis
//! Nothing is lost: Redis holds only copies and hints. Caches serve from
//! their loader (Postgres) and L1; cross-instance L1 invalidation stops (L1
//! entries live at most `l1_ttl_secs`, and L1 is cleared when the listener
//! re-subscribes); read-your-writes lookups that cannot reach Redis send that
//! client's reads to the primary.

pub mod cache;
pub mod db;
mod error;
mod metric_names;
pub mod partitions;
pub mod redis;
pub mod retention;

pub use self::cache::TwoLevelCache;
pub use self::db::{Db, Lsn, ReplicaStatus};
pub use self::error::{Result, StoreError};
pub use self::partitions::{ensure_partitions, spawn_partition_maintenance};
pub use self::redis::{Connection, Redis};

/// The workspace's migrations (`migrations/`), embedded.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

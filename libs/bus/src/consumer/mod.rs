//! The consumer runner: at-least-once consumption with offsets stored only
//! after durable work, bounded concurrency per partition, retries with
//! backoff, a dead-letter topic with provenance headers and a DLQ rate guard.
//!
//! Effects must be idempotent (see [`crate::processed`]): records are
//! redelivered after crashes and rebalances.

mod context;
mod dispatcher;
mod dlq;
mod handler;
mod health;
mod partition;
mod poller;
mod process;
mod record;
mod retry;
mod runner;

pub use dlq::header as dlq_header;
pub use handler::{Handler, HandlerError};
pub use health::{ConsumerHealth, ConsumerStatus};
pub use record::Record;
pub use runner::ConsumerRunner;

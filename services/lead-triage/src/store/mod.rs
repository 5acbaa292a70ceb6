//! Persistence of leads, models, tracking calls and idempotency records.

pub mod idempotency;
pub mod merge;
pub mod models;
pub mod reads;
pub mod tracking;
pub mod view;
pub mod writer;

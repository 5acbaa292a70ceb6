//! Postgres access of the service: campaigns, allocations, counters and
//! the performance summary.

pub mod allocations;
pub mod campaigns;
pub mod counters;
pub mod performance;

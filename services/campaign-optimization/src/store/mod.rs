//! Postgres access of the service: campaigns (and their definitions on
//! the bus), allocations, counters and the performance summary.

pub mod allocations;
pub mod campaigns;
pub mod counters;
pub mod definitions;
pub mod performance;

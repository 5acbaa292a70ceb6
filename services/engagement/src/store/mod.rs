//! Postgres access of the engagement service, one module per table group.

pub mod allocations;
pub mod campaigns;
pub mod consent;
pub mod gather;
pub mod generations;
pub mod interactions;
pub mod leads;
pub mod plans;
pub mod reads;
pub mod reservations;
pub mod steps;

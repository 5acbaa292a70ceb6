//! Process wiring shared by the three services: connects the backing
//! services ([`Platform`]), serves the API with the shared middleware and
//! health routes ([`serve`]), runs background work (outbox relay, consumers,
//! replica monitor, partition maintenance) and shuts down within a bound.

mod accept;
mod periodic;
mod platform;
mod serve;
mod signal;

pub use periodic::every;
pub use platform::Platform;
pub use serve::serve;
pub use signal::shutdown_on_signal;

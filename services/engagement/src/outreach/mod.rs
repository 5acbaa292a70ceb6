//! Self-contained building blocks of the send path (docs/architecture.md §4.3–4.5, §6.2).
//!
//! Each module holds one concern and does no I/O except [`caps`] and [`budget`] (Redis):
//!
//! - [`ladder`]: channels and step planning over a channel ladder, fallback
//!   to the next channel;
//! - [`quiet_hours`]: the recipient's time zone and the next allowed local
//!   time outside the quiet window;
//! - [`caps`]: frequency caps per lead and channel, an atomic
//!   check-and-reserve in Redis;
//! - [`budget`]: the campaign's daily budget, an atomic check-and-reserve
//!   of each send's cost in Redis;
//! - [`breaker`]: a circuit breaker per provider;
//! - [`retry`]: failure classification and backoff with full jitter;
//! - [`templates`]: per-variant message templates (validated at campaign
//!   creation, rendered strictly at send time).
//!
//! The send path runs them in this order: consent → [`quiet_hours`] →
//! [`caps`] → [`budget`] → send reservation → provider (behind a [`breaker`], retried
//! per [`retry`]) with a message rendered by [`templates`].

pub mod breaker;
pub mod budget;
pub mod caps;
pub mod ladder;
pub mod quiet_hours;
pub mod retry;
pub mod templates;

pub use breaker::{
    BreakerConfig, BreakerOpen, BreakerState, CircuitBreaker, Clock, ManualClock, Permit,
};
pub use caps::{CapDecision, CapError, CapLimits, CapReservation};
pub use ladder::{Channel, LadderError, PlannedStep, StepSpec};
pub use quiet_hours::QuietWindow;
pub use retry::{FailureClass, ProviderFailure, RetryPolicy};
pub use templates::{LeadFields, MessageTemplate, PartError, RenderedMessage, TemplateError};

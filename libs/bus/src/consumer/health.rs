//! Consumer state for readiness probes.

use std::sync::Mutex;

/// Where a consumer runner is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumerStatus {
    /// Created, not yet subscribed.
    Starting,
    /// Subscribed and consuming.
    Running,
    /// Finishing in-flight records before stopping.
    Draining,
    /// Stopped; `reason` is `None` after a requested shutdown.
    Stopped {
        /// Why it stopped on its own (e.g. the DLQ rate guard tripped).
        reason: Option<String>,
    },
}

/// Shared, cheaply readable status of one consumer runner.
#[derive(Debug)]
pub struct ConsumerHealth {
    status: Mutex<ConsumerStatus>,
}

impl Default for ConsumerHealth {
    fn default() -> Self {
        Self {
            status: Mutex::new(ConsumerStatus::Starting),
        }
    }
}

impl ConsumerHealth {
    /// The current status.
    pub fn status(&self) -> ConsumerStatus {
        match self.status.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// True while the runner is starting or consuming (not draining or stopped).
    pub fn is_ready(&self) -> bool {
        matches!(
            self.status(),
            ConsumerStatus::Starting | ConsumerStatus::Running
        )
    }

    pub(crate) fn set(&self, status: ConsumerStatus) {
        match self.status.lock() {
            Ok(mut s) => *s = status,
            Err(poisoned) => *poisoned.into_inner() = status,
        }
    }
}

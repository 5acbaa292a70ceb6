//! Leave to make one call through a breaker.

use super::CircuitBreaker;

/// Leave to make one call; report its outcome with [`Permit::success`] or
/// [`Permit::failure`]. Dropping it unreported records nothing (and frees a
/// half-open probe slot).
#[must_use = "report the call's outcome"]
pub struct Permit {
    breaker: CircuitBreaker,
    generation: u64,
    probe: bool,
    done: bool,
}

impl Permit {
    pub(super) fn new(breaker: CircuitBreaker, generation: u64, probe: bool) -> Self {
        Self {
            breaker,
            generation,
            probe,
            done: false,
        }
    }

    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The call succeeded (or failed for reasons that are not the provider's).
    pub fn success(mut self) {
        self.done = true;
        self.breaker.record(self.generation, self.probe, Some(true));
    }

    /// The call failed in a way that counts against the provider.
    pub fn failure(mut self) {
        self.done = true;
        self.breaker
            .record(self.generation, self.probe, Some(false));
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.record(self.generation, self.probe, None);
        }
    }
}

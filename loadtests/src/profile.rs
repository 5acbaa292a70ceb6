//! Arrival-rate profiles: how the target rate changes over a run.

use serde::Serialize;

/// The shape of the arrival rate over the run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum Profile {
    /// The base rate for the whole run (normal, peak, soak).
    Steady {
        /// Requests per second.
        rate: f64,
    },
    /// A spike: the base rate for the first quarter, a linear ramp to
    /// `factor` × base over `ramp_s` seconds (at most 60: "10× within a
    /// minute"), the peak until three quarters of the run, then the base
    /// rate again (recovery).
    Spike {
        /// Base requests per second.
        rate: f64,
        /// Peak rate as a multiple of the base rate.
        factor: f64,
        /// Seconds from base to peak.
        ramp_s: f64,
    },
}

impl Profile {
    /// A spike whose ramp fits the run: at most `ramp_s`, and at most a
    /// quarter of `duration_s` so that short smoke runs still show every phase.
    pub fn spike(rate: f64, factor: f64, ramp_s: f64, duration_s: u64) -> Self {
        let ramp_s = ramp_s.min(duration_s as f64 / 4.0).max(1.0);
        Profile::Spike {
            rate,
            factor,
            ramp_s,
        }
    }

    /// Target rate (requests/s) at `t` seconds into a run of `duration_s`.
    pub fn rate_at(&self, t: f64, duration_s: u64) -> f64 {
        match *self {
            Profile::Steady { rate } => rate,
            Profile::Spike {
                rate,
                factor,
                ramp_s,
            } => {
                let d = duration_s as f64;
                let start = d / 4.0;
                let peak_end = d * 3.0 / 4.0;
                if t < start || t >= peak_end {
                    rate
                } else if t < start + ramp_s {
                    rate * (1.0 + (factor - 1.0) * (t - start) / ramp_s)
                } else {
                    rate * factor
                }
            }
        }
    }

    /// The highest target rate of the run.
    pub fn peak_rate(&self) -> f64 {
        match *self {
            Profile::Steady { rate } => rate,
            Profile::Spike { rate, factor, .. } => rate * factor,
        }
    }

    /// The scheduled send offsets (seconds from the start), second by
    /// second: within second `s`, `rate_at(s + 0.5)` arrivals spaced evenly;
    /// fractional arrivals carry over to the next second.
    pub fn schedule(&self, duration_s: u64) -> Vec<f64> {
        let mut out = Vec::new();
        let mut carry = 0.0;
        for s in 0..duration_s {
            let want = self.rate_at(s as f64 + 0.5, duration_s) + carry;
            let n = want.floor().max(0.0);
            carry = want - n;
            let n = n as u64;
            for j in 0..n {
                out.push(s as f64 + j as f64 / n as f64);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_schedule_has_rate_times_duration_arrivals_in_order() {
        let s = Profile::Steady { rate: 50.0 }.schedule(10);
        assert_eq!(s.len(), 500);
        assert!(s.windows(2).all(|w| w[0] <= w[1]));
        assert!(s.iter().all(|&t| (0.0..10.0).contains(&t)));
    }

    #[test]
    fn fractional_rates_carry_over() {
        assert_eq!(Profile::Steady { rate: 2.5 }.schedule(4).len(), 10);
    }

    #[test]
    fn spike_reaches_ten_times_within_a_minute_and_recovers() {
        let p = Profile::spike(100.0, 10.0, 60.0, 600);
        assert_eq!(p.rate_at(10.0, 600), 100.0);
        assert!((p.rate_at(150.0 + 60.0, 600) - 1000.0).abs() < 1e-9);
        assert!(p.rate_at(180.0, 600) > 100.0 && p.rate_at(180.0, 600) < 1000.0);
        assert_eq!(p.rate_at(460.0, 600), 100.0);
        assert_eq!(p.peak_rate(), 1000.0);
    }

    #[test]
    fn spike_ramp_shrinks_to_fit_short_runs() {
        let p = Profile::spike(50.0, 10.0, 60.0, 20);
        assert_eq!(
            p,
            Profile::Spike {
                rate: 50.0,
                factor: 10.0,
                ramp_s: 5.0
            }
        );
        assert_eq!(p.rate_at(12.0, 20), 500.0);
    }
}

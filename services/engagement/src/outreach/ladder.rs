//! Channels and step planning over a channel ladder.
//!
//! A ladder is an ordered list of steps, each a channel and a delay
//! measured from the start of the sequence (not from the previous step), so
//! a drip "on days 0, 3 and 7" reads as delays 0, 3 d, 7 d. Every step of a
//! plan is attempted in order; when a step cannot use its channel (no
//! consent, no address, a permanent provider failure) the sequence falls
//! back to the next step on another channel ([`fallback_after`]).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use suite_domain::Category;
pub use suite_domain::Channel;
use thiserror::Error;

#[cfg(test)]
mod tests;

/// Most steps a campaign-defined ladder may have.
pub const MAX_STEPS: usize = 20;
/// Longest delay of a step from the start of its sequence (90 days).
pub const MAX_DELAY_SECS: u64 = 90 * 24 * 3600;

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// One step of a ladder as a campaign defines it.
///
/// JSON: `{"channel": "email", "delay_secs": 259200}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// The channel of the step.
    pub channel: Channel,
    /// Seconds from the start of the sequence until the step is due.
    #[serde(default)]
    pub delay_secs: u64,
}

impl StepSpec {
    /// A step on `channel`, due `delay_secs` after the start.
    pub const fn new(channel: Channel, delay_secs: u64) -> Self {
        Self {
            channel,
            delay_secs,
        }
    }

    /// The delay as a duration (capped at [`MAX_DELAY_SECS`]).
    pub fn delay(&self) -> TimeDelta {
        let secs = self.delay_secs.min(MAX_DELAY_SECS);
        // MAX_DELAY_SECS fits an i64; the fallback is unreachable.
        TimeDelta::try_seconds(i64::try_from(secs).unwrap_or(0)).unwrap_or_default()
    }
}

/// A step of a lead's plan: its position, channel and due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// Position in the ladder, from 0; part of the send's unique key.
    pub index: u32,
    /// The channel of the step.
    pub channel: Channel,
    /// When the step is due (before quiet hours and caps are applied).
    pub due_at: DateTime<Utc>,
}

/// A campaign-defined ladder that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LadderError {
    /// No steps.
    #[error("a ladder needs at least one step")]
    Empty,
    /// More than [`MAX_STEPS`] steps.
    #[error("a ladder has at most {MAX_STEPS} steps")]
    TooManySteps,
    /// A delay beyond [`MAX_DELAY_SECS`].
    #[error("step {index}: delay_secs must be at most {MAX_DELAY_SECS}")]
    DelayTooLong {
        /// The offending step.
        index: usize,
    },
    /// A step due before the one ahead of it.
    #[error("step {index}: delay_secs must not be less than the previous step's")]
    OutOfOrder {
        /// The offending step.
        index: usize,
    },
}

/// Checks a campaign-defined ladder (at campaign creation): 1 to
/// [`MAX_STEPS`] steps, delays non-decreasing and at most [`MAX_DELAY_SECS`].
pub fn validate(ladder: &[StepSpec]) -> Result<(), LadderError> {
    if ladder.is_empty() {
        return Err(LadderError::Empty);
    }
    if ladder.len() > MAX_STEPS {
        return Err(LadderError::TooManySteps);
    }
    let mut previous = 0;
    for (index, step) in ladder.iter().enumerate() {
        if step.delay_secs > MAX_DELAY_SECS {
            return Err(LadderError::DelayTooLong { index });
        }
        if step.delay_secs < previous {
            return Err(LadderError::OutOfOrder { index });
        }
        previous = step.delay_secs;
    }
    Ok(())
}

/// The default ladder of a category:
///
/// | category | steps (delay from start) |
/// |---|---|
/// | hot | phone (0), SMS (1 h), email (1 d) |
/// | warm | email (0), SMS (2 d) |
/// | nurture | email (0), email (3 d), email (7 d) |
/// | cold, disqualified | none (engagement does not contact them) |
pub fn default_ladder(category: Category) -> &'static [StepSpec] {
    const HOT: [StepSpec; 3] = [
        StepSpec::new(Channel::Phone, 0),
        StepSpec::new(Channel::Sms, HOUR),
        StepSpec::new(Channel::Email, DAY),
    ];
    const WARM: [StepSpec; 2] = [
        StepSpec::new(Channel::Email, 0),
        StepSpec::new(Channel::Sms, 2 * DAY),
    ];
    const NURTURE: [StepSpec; 3] = [
        StepSpec::new(Channel::Email, 0),
        StepSpec::new(Channel::Email, 3 * DAY),
        StepSpec::new(Channel::Email, 7 * DAY),
    ];
    match category {
        Category::Hot => &HOT,
        Category::Warm => &WARM,
        Category::Nurture => &NURTURE,
        Category::Cold | Category::Disqualified => &[],
    }
}

/// Plans the steps of a sequence starting at `start`: the campaign's
/// ladder when it has a non-empty one, else the category's
/// [`default_ladder`] (empty for cold and disqualified leads).
///
/// Steps beyond [`MAX_STEPS`] are dropped and delays are capped at
/// [`MAX_DELAY_SECS`]; campaigns are [`validate`]d at creation, so neither
/// happens in practice.
pub fn plan(
    category: Category,
    campaign_ladder: Option<&[StepSpec]>,
    start: DateTime<Utc>,
) -> Vec<PlannedStep> {
    let ladder = match campaign_ladder {
        Some(steps) if !steps.is_empty() => steps,
        _ => default_ladder(category),
    };
    ladder
        .iter()
        .take(MAX_STEPS)
        .zip(0u32..)
        .map(|(step, index)| PlannedStep {
            index,
            channel: step.channel,
            due_at: start
                .checked_add_signed(step.delay())
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        })
        .collect()
}

/// The step to fall back to when step `index` cannot use its channel: the
/// first later step on a different channel. `None` when there is none (or
/// `index` is not in the plan).
///
/// The returned step keeps its planned `due_at`; the send path runs a
/// fallback for a permanent failure at once (docs/architecture.md §6.2), so it schedules the
/// step at `max(now, …)` of its choosing.
pub fn fallback_after(ladder: &[PlannedStep], index: u32) -> Option<PlannedStep> {
    let failed = ladder.iter().find(|s| s.index == index)?;
    next_step_avoiding(ladder, index, &[failed.channel])
}

/// The first step after `index` whose channel is not in `avoid` (for
/// example every channel the lead has withdrawn consent for).
pub fn next_step_avoiding(
    ladder: &[PlannedStep],
    index: u32,
    avoid: &[Channel],
) -> Option<PlannedStep> {
    ladder
        .iter()
        .filter(|s| s.index > index && !avoid.contains(&s.channel))
        .min_by_key(|s| s.index)
        .copied()
}

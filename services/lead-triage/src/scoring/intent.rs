//! Intent: the lead's source and its behavioural events, decayed by age.

use chrono::{DateTime, Utc};
use suite_domain::Factor;

use super::decay::{decayed_micro, factor_q32, MICRO};
use super::fit::quote;
use super::model::{clamp_weight, ScoringModel};
use super::normalise::RawFactor;
use super::BehaviourEvent;

const HOUR_MS: i64 = 3_600_000;

/// The source factor: the source's weight; its maximum is the model's
/// highest source weight.
pub(crate) fn source(source: Option<&str>, model: &ScoringModel) -> RawFactor {
    let max = model
        .source_weights
        .values()
        .map(|w| u64::from(clamp_weight(*w)))
        .max()
        .unwrap_or(0);
    let make = |earned, reason| RawFactor {
        factor: Factor::Source,
        earned,
        max,
        reason,
    };
    let key = source
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());
    match key {
        _ if max == 0 => make(0, "no source weights in the model".into()),
        None => make(0, "source unknown".into()),
        Some(key) => match model.source_weights.get(&key) {
            Some(w) => {
                let w = u64::from(clamp_weight(*w));
                make(
                    w * MICRO,
                    format!("source {} is worth {w} of {max} model points", quote(&key)),
                )
            }
            None => make(0, format!("source {} has no weight", quote(&key))),
        },
    }
}

/// The events factor: each event's weight × 0.5^(age / half-life), summed
/// and capped at the model's `event_points_cap`. Events dated after `now`
/// count as new; events without a weight are ignored.
pub(crate) fn events(
    events: &[BehaviourEvent],
    model: &ScoringModel,
    now: DateTime<Utc>,
) -> RawFactor {
    let cap = if model.event_weights.is_empty() {
        0
    } else {
        u64::from(clamp_weight(model.event_points_cap))
    };
    let half_life_ms = i64::from(model.decay_half_life_hours).saturating_mul(HOUR_MS);
    let mut total: u64 = 0;
    let mut scored = 0usize;
    for event in events {
        let Some(weight) = model.event_weights.get(&event.name.trim().to_lowercase()) else {
            continue;
        };
        let age_ms = now
            .signed_duration_since(event.occurred_at)
            .num_milliseconds();
        let points = decayed_micro(
            u64::from(clamp_weight(*weight)),
            factor_q32(age_ms, half_life_ms),
        );
        total = total.saturating_add(points);
        scored += 1;
    }
    let earned = total.min(cap * MICRO);
    let ignored = events.len() - scored;
    let reason = if cap == 0 {
        "no event weights in the model".to_owned()
    } else {
        let capped = if total > earned { ", capped" } else { "" };
        format!(
            "{scored} weighted event(s), {ignored} without weight: {} decayed model points{capped} (cap {cap}, half-life {} h)",
            one_decimal(total),
            model.decay_half_life_hours,
        )
    };
    RawFactor {
        factor: Factor::Events,
        earned,
        max: cap,
        reason,
    }
}

/// Micro-points as a decimal with one digit, rounded down, integers only.
fn one_decimal(micro: u64) -> String {
    format!("{}.{}", micro / MICRO, (micro % MICRO) / (MICRO / 10))
}

//! Validation of campaign definitions: every problem is reported with the
//! JSON Pointer of the field, so one 422 lists them all.

use std::collections::HashSet;

use suite_domain::{Category, Channel, Objective};
use suite_http::FieldError;

use super::spec::{CampaignPatch, ChannelCosts, LadderStep, VariantContent};
use crate::allocation::{AllocationError, Policy};

/// Longest campaign name, in characters.
pub const MAX_NAME: usize = 200;
/// Longest variant name, in characters.
pub const MAX_VARIANT_NAME: usize = 100;
/// Most variants per campaign.
pub const MAX_VARIANTS: usize = 10;
/// Most ladder steps (as engagement plans them).
pub const MAX_STEPS: usize = 20;
/// Longest delay of a step from the start of the sequence (90 days).
pub const MAX_DELAY_SECS: u64 = 90 * 24 * 3600;
/// Largest warm-up, in sends per variant.
pub const MAX_WARMUP: i64 = 1_000_000;
/// Largest daily budget or channel cost, in micros (10^15: a billion units).
pub const MAX_MICROS: i64 = 1_000_000_000_000_000;
/// Largest pacing burst, in basis points of the daily budget.
pub const MAX_BURST_BPS: i64 = 10_000;
/// Categories engagement plans outreach for.
pub const TARGETABLE: [Category; 3] = [Category::Hot, Category::Warm, Category::Nurture];

/// A campaign definition in which every field is set (a create body, or a
/// stored campaign with a patch applied).
#[derive(Debug, Clone)]
pub struct Definition<'a> {
    /// Name.
    pub name: &'a str,
    /// Targeted categories.
    pub target_categories: &'a [Category],
    /// The ladder.
    pub ladder: &'a [LadderStep],
    /// Objective.
    pub objective: Objective,
    /// Daily budget in micros.
    pub daily_budget_micros: i64,
    /// Cost per send and channel.
    pub channel_costs: &'a ChannelCosts,
    /// Minimum share per variant.
    pub min_share: f64,
    /// Warm-up sends per variant.
    pub warmup_sends: i64,
    /// Pacing burst in basis points.
    pub pacing_burst_bps: i64,
    /// Variants: (JSON Pointer of the variant, name, content).
    pub variants: Vec<(String, &'a str, &'a VariantContent)>,
}

/// Every problem of `def`, or `Ok(())`.
pub fn check(def: &Definition<'_>) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    check_name(&mut errors, "/name", def.name, MAX_NAME);
    check_categories(&mut errors, def.target_categories);
    check_ladder(&mut errors, def.ladder);
    check_micros(&mut errors, "/daily_budget_micros", def.daily_budget_micros);
    check_costs(&mut errors, def.channel_costs, def.ladder);
    check_range(
        &mut errors,
        "/warmup_sends",
        def.warmup_sends,
        MAX_WARMUP,
        "",
    );
    check_range(
        &mut errors,
        "/pacing_burst_bps",
        def.pacing_burst_bps,
        MAX_BURST_BPS,
        " basis points",
    );
    check_variants(&mut errors, def);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A name is 1 to `max` characters as given (white space included), not
/// only white space, and has no control character anywhere; it is stored
/// trimmed.
fn check_name(errors: &mut Vec<FieldError>, pointer: &str, name: &str, max: usize) {
    if name.trim().is_empty() || name.chars().count() > max {
        errors.push(FieldError::new(
            pointer,
            format!("must be 1 to {max} characters, not only white space"),
        ));
    } else if name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            pointer,
            "must not contain control characters",
        ));
    }
}

fn check_categories(errors: &mut Vec<FieldError>, categories: &[Category]) {
    if categories.is_empty() {
        errors.push(FieldError::new(
            "/target_categories",
            "must name at least one category",
        ));
    }
    let mut seen = HashSet::new();
    for (i, category) in categories.iter().enumerate() {
        if !TARGETABLE.contains(category) {
            errors.push(FieldError::new(
                format!("/target_categories/{i}"),
                "must be hot, warm or nurture (engagement contacts no other leads)",
            ));
        } else if !seen.insert(*category) {
            errors.push(FieldError::new(
                format!("/target_categories/{i}"),
                "is repeated",
            ));
        }
    }
}

fn check_ladder(errors: &mut Vec<FieldError>, ladder: &[LadderStep]) {
    if ladder.is_empty() || ladder.len() > MAX_STEPS {
        errors.push(FieldError::new(
            "/ladder",
            format!("must have 1 to {MAX_STEPS} steps"),
        ));
    }
    let mut previous = 0;
    for (i, step) in ladder.iter().enumerate() {
        if step.delay_secs > MAX_DELAY_SECS {
            errors.push(FieldError::new(
                format!("/ladder/{i}/delay_secs"),
                format!("must be at most {MAX_DELAY_SECS} (90 days)"),
            ));
        } else if step.delay_secs < previous {
            errors.push(FieldError::new(
                format!("/ladder/{i}/delay_secs"),
                "must not be less than the previous step's (delays count from the start)",
            ));
        }
        previous = previous.max(step.delay_secs);
    }
}

fn ladder_channels(ladder: &[LadderStep]) -> Vec<Channel> {
    let mut channels: Vec<Channel> = ladder.iter().map(|s| s.channel).collect();
    channels.sort_unstable();
    channels.dedup();
    channels
}

fn check_micros(errors: &mut Vec<FieldError>, pointer: &str, micros: i64) {
    if !(0..=MAX_MICROS).contains(&micros) {
        errors.push(FieldError::new(
            pointer,
            format!("must be between 0 and {MAX_MICROS}"),
        ));
    }
}

fn check_cost_values(errors: &mut Vec<FieldError>, costs: &ChannelCosts) {
    for (channel, cost) in costs {
        check_micros(errors, &format!("/channel_costs/{channel}"), *cost);
    }
}

fn check_range(errors: &mut Vec<FieldError>, pointer: &str, value: i64, max: i64, what: &str) {
    if !(0..=max).contains(&value) {
        errors.push(FieldError::new(
            pointer,
            format!("must be between 0 and {max}{what}"),
        ));
    }
}

fn check_min_share(errors: &mut Vec<FieldError>, min_share: f64) {
    if !(0.0..=1.0).contains(&min_share) {
        errors.push(FieldError::new("/min_share", "must be a number in [0, 1]"));
    }
}

/// Every template and every generation spec of `content` (at `pointer`).
fn check_templates(errors: &mut Vec<FieldError>, pointer: &str, content: &VariantContent) {
    for (path, template) in content.templates() {
        if let Err(e) = suite_domain::templates::validate_lead_template(template) {
            errors.push(FieldError::new(format!("{pointer}/{path}"), e.to_string()));
        }
    }
    for (path, spec) in content.generations() {
        if let Err(e) = spec.validate() {
            errors.push(FieldError::new(
                format!("{pointer}/{path}/{}", e.field),
                e.message,
            ));
        }
    }
}

fn check_costs(errors: &mut Vec<FieldError>, costs: &ChannelCosts, ladder: &[LadderStep]) {
    check_cost_values(errors, costs);
    for channel in ladder_channels(ladder) {
        if !costs.contains_key(&channel) {
            errors.push(FieldError::new(
                format!("/channel_costs/{channel}"),
                "is required: the ladder uses this channel",
            ));
        }
    }
}

fn check_variants(errors: &mut Vec<FieldError>, def: &Definition<'_>) {
    let n = def.variants.len();
    if n == 0 || n > MAX_VARIANTS {
        errors.push(FieldError::new(
            "/variants",
            format!("must have 1 to {MAX_VARIANTS} variants"),
        ));
    }
    let policy = Policy {
        min_share: def.min_share,
        warm_up: 0,
        draws: 1,
    };
    match policy.validate(n.max(1)) {
        Err(AllocationError::MinShareTooLarge { .. }) => errors.push(FieldError::new(
            "/min_share",
            format!("min_share × {n} variants must not exceed 1"),
        )),
        Err(_) => errors.push(FieldError::new("/min_share", "must be a number in [0, 1]")),
        Ok(()) => {}
    }
    let channels = ladder_channels(def.ladder);
    let mut names = HashSet::new();
    for (pointer, name, content) in &def.variants {
        check_name(errors, &format!("{pointer}/name"), name, MAX_VARIANT_NAME);
        if !names.insert(name.trim()) {
            errors.push(FieldError::new(format!("{pointer}/name"), "is repeated"));
        }
        for channel in &channels {
            if !content.has(*channel) {
                errors.push(FieldError::new(
                    format!("{pointer}/content/{channel}"),
                    "is required: the ladder uses this channel",
                ));
            }
        }
        check_templates(errors, &format!("{pointer}/content"), content);
    }
}

/// Every problem of the fields of `patch` on their own (the rules of the
/// create body); the campaign as patched is checked with [`check`].
pub fn check_patch(patch: &CampaignPatch) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Some(name) = &patch.name {
        check_name(&mut errors, "/name", name, MAX_NAME);
    }
    if let Some(categories) = &patch.target_categories {
        check_categories(&mut errors, categories);
    }
    if let Some(ladder) = &patch.ladder {
        check_ladder(&mut errors, ladder);
    }
    if let Some(budget) = patch.daily_budget_micros {
        check_micros(&mut errors, "/daily_budget_micros", budget);
    }
    if let Some(costs) = &patch.channel_costs {
        check_cost_values(&mut errors, costs);
    }
    if let Some(min_share) = patch.min_share {
        check_min_share(&mut errors, min_share);
    }
    if let Some(warmup) = patch.warmup_sends {
        check_range(&mut errors, "/warmup_sends", warmup, MAX_WARMUP, "");
    }
    if let Some(burst) = patch.pacing_burst_bps {
        check_range(
            &mut errors,
            "/pacing_burst_bps",
            burst,
            MAX_BURST_BPS,
            " basis points",
        );
    }
    for (name, content) in patch.variant_content.iter().flatten() {
        let pointer = format!(
            "/variant_content/{}",
            name.replace('~', "~0").replace('/', "~1")
        );
        check_templates(&mut errors, &pointer, content);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests;

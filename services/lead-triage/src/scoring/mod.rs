//! Lead scoring: pure, deterministic and explainable (docs/architecture.md §6.1).
//!
//! [`score`] turns a lead's [`LeadSignals`] and [`BehaviourEvent`]s into a
//! [`Triage`] under a workspace's [`ScoringModel`] at a given `now`. No
//! I/O, no clock, no randomness, no floating point: the same inputs give
//! the same output on every machine (see `normalise` for the arithmetic).
//!
//! The score is *fit* (company size, seniority, industry, country, email
//! type, phone: how well the lead matches the ideal customer profile)
//! plus *intent* (the source and decayed behavioural events), scaled to
//! 0–100. Hard rules (opt-out, competitor domain, disposable domain)
//! override it: the lead is `disqualified` and scores 0.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use suite_domain::{Category, Email, FactorScore, Score};

mod decay;
pub mod email_domain;
mod fit;
mod intent;
pub mod model;
mod normalise;
pub mod seniority;
mod validate;

#[cfg(test)]
mod tests;

pub use email_domain::EmailKind;
pub use fit::{FREE_EMAIL_PERCENT, NEAR_MISS_PERCENT};
pub use model::{
    DisqualificationRules, FitWeights, IdealCustomerProfile, ScoringModel, SizeRange, Thresholds,
};
pub use seniority::Seniority;
pub use validate::ModelIssue;

/// What scoring needs to know about a lead, independent of how it arrived
/// (REST body, Kafka record, stored row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadSignals {
    /// The lead's email; only its domain is scored.
    pub email: Email,
    /// A phone number was given and is valid E.164.
    pub has_valid_phone: bool,
    /// Number of employees.
    pub company_size: Option<u32>,
    /// Job title, free text.
    pub title: Option<String>,
    /// Industry, matched case-insensitively.
    pub industry: Option<String>,
    /// ISO 3166-1 alpha-2 country code, matched case-insensitively.
    pub country: Option<String>,
    /// Where the lead came from, matched case-insensitively.
    pub source: Option<String>,
    /// The person opted out of marketing.
    pub opted_out: bool,
}

/// One behavioural event of the lead (a Segment-style `track` call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BehaviourEvent {
    /// Event name, matched case-insensitively against the model.
    pub name: String,
    /// When it happened (the event's own timestamp, not receipt time).
    pub occurred_at: DateTime<Utc>,
}

impl BehaviourEvent {
    /// An event named `name` that happened at `occurred_at`.
    pub fn new(name: impl Into<String>, occurred_at: DateTime<Utc>) -> Self {
        Self {
            name: name.into(),
            occurred_at,
        }
    }
}

/// The disqualification rule that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disqualification {
    /// The lead opted out of marketing.
    OptedOut,
    /// The email domain is (a subdomain of) a competitor's.
    CompetitorDomain,
    /// The email domain is a disposable-address service.
    DisposableEmail,
}

impl Disqualification {
    /// The snake_case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            Disqualification::OptedOut => "opted_out",
            Disqualification::CompetitorDomain => "competitor_domain",
            Disqualification::DisposableEmail => "disposable_email",
        }
    }
}

/// The result of scoring one lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triage {
    /// 0–100; 0 when disqualified.
    pub score: Score,
    /// From the model's thresholds, or `disqualified`.
    pub category: Category,
    /// One entry per factor, in [`suite_domain::Factor::ALL`] order; the
    /// points add up exactly to `score`.
    pub breakdown: Vec<FactorScore>,
    /// The rule that disqualified the lead, if one did.
    pub disqualified_by: Option<Disqualification>,
    /// The version of the model used.
    pub model_version: i32,
}

/// Scores a lead. Total: any model (even one that fails validation) and
/// any input give a result without panicking; invalid weights are clamped.
pub fn score(
    input: &LeadSignals,
    events: &[BehaviourEvent],
    model: &ScoringModel,
    now: DateTime<Utc>,
) -> Triage {
    let kind = email_domain::classify(input.email.domain());
    let disqualified_by = disqualification(input, kind, model);
    let mut raw = fit::factors(input, kind, model);
    raw.push(intent::source(input.source.as_deref(), model));
    raw.push(intent::events(events, model, now));
    let (points, breakdown) = normalise::normalise(raw, disqualified_by.is_some());
    let score = Score::parse(points).unwrap_or(Score::MIN);
    let category = match disqualified_by {
        Some(_) => Category::Disqualified,
        None => categorise(score, &model.thresholds),
    };
    Triage {
        score,
        category,
        breakdown,
        disqualified_by,
        model_version: model.version,
    }
}

/// The category of a (not disqualified) score: hot, warm, nurture, else cold.
pub fn categorise(score: Score, thresholds: &Thresholds) -> Category {
    let s = i32::from(score.get());
    if s >= thresholds.hot {
        Category::Hot
    } else if s >= thresholds.warm {
        Category::Warm
    } else if s >= thresholds.nurture {
        Category::Nurture
    } else {
        Category::Cold
    }
}

/// The first rule that fires, in order: opt-out, competitor, disposable.
fn disqualification(
    input: &LeadSignals,
    kind: EmailKind,
    model: &ScoringModel,
) -> Option<Disqualification> {
    let rules = &model.disqualification;
    let domain = input.email.domain();
    if rules.opt_out && input.opted_out {
        Some(Disqualification::OptedOut)
    } else if rules
        .competitor_domains
        .iter()
        .any(|c| email_domain::is_same_or_subdomain(domain, c))
    {
        Some(Disqualification::CompetitorDomain)
    } else if rules.disposable_email && kind == EmailKind::Disposable {
        Some(Disqualification::DisposableEmail)
    } else {
        None
    }
}

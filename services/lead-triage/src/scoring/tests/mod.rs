//! Scoring tests: unit cases, model validation, and properties.

use chrono::{DateTime, TimeZone, Utc};
use suite_domain::Email;

use super::*;

mod cases;
mod props;
mod validation;

/// A fixed `now` for deterministic tests.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

/// A lead with only an email.
fn lead(email: &str) -> LeadSignals {
    LeadSignals {
        email: Email::parse(email).unwrap(),
        has_valid_phone: false,
        company_size: None,
        title: None,
        industry: None,
        country: None,
        source: None,
        opted_out: false,
    }
}

/// A model that scores only the source: `score == source weight`.
fn source_only(weights: &[(&str, i32)]) -> ScoringModel {
    ScoringModel {
        fit_weights: FitWeights {
            company_size: 0,
            seniority: 0,
            industry: 0,
            country: 0,
            email_type: 0,
            phone: 0,
        },
        event_weights: Default::default(),
        source_weights: weights.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        ..ScoringModel::default()
    }
}

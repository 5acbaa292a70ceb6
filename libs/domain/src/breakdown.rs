//! The explainable part of a score: [`Factor`] and [`FactorScore`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// One scoring factor. Serialised in snake_case (`"company_size"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// Fit: company size against the ideal customer profile.
    CompanySize,
    /// Fit: seniority read from the job title.
    Seniority,
    /// Fit: industry against the profile.
    Industry,
    /// Fit: country against the profile.
    Country,
    /// Fit: business, free or disposable email domain.
    EmailType,
    /// Fit: a valid phone number was given.
    Phone,
    /// Intent: the weight of the lead's source.
    Source,
    /// Intent: behavioural events, decayed by age and capped.
    Events,
}

impl Factor {
    /// Every factor, in breakdown order (fit first, then intent).
    pub const ALL: [Factor; 8] = [
        Factor::CompanySize,
        Factor::Seniority,
        Factor::Industry,
        Factor::Country,
        Factor::EmailType,
        Factor::Phone,
        Factor::Source,
        Factor::Events,
    ];

    /// The snake_case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            Factor::CompanySize => "company_size",
            Factor::Seniority => "seniority",
            Factor::Industry => "industry",
            Factor::Country => "country",
            Factor::EmailType => "email_type",
            Factor::Phone => "phone",
            Factor::Source => "source",
            Factor::Events => "events",
        }
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one factor contributed to a score, on the 0–100 scale.
///
/// In a breakdown the `points` of all factors add up exactly to the score,
/// and the `max` of all factors add up to 100 (0 when the model gives no
/// factor any weight). `reason` is for people; it never contains the
/// lead's email address or phone number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorScore {
    /// Which factor.
    pub factor: Factor,
    /// Points earned, 0..=`max`.
    pub points: u8,
    /// Points this factor can earn under the model.
    pub max: u8,
    /// Why, for example `title "VP Sales" is vp, a target seniority`.
    pub reason: String,
}

//! [`Category`]: the outcome of triage, and the topic it routes to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::topics;

/// The triage category of a lead. Serialised in lower case (`"hot"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Score at or above the model's hot threshold.
    Hot,
    /// At or above the warm threshold.
    Warm,
    /// At or above the nurture threshold.
    Nurture,
    /// Below the nurture threshold.
    Cold,
    /// A disqualification rule fired (disposable or competitor domain,
    /// opt-out), whatever the score.
    Disqualified,
}

/// A string that names no category.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be one of hot, warm, nurture, cold, disqualified")]
pub struct CategoryError;

impl Category {
    /// Every category, hottest first.
    pub const ALL: [Category; 5] = [
        Category::Hot,
        Category::Warm,
        Category::Nurture,
        Category::Cold,
        Category::Disqualified,
    ];

    /// Parses the lower-case name; surrounding whitespace and ASCII case
    /// are ignored (query strings).
    pub fn parse(input: &str) -> Result<Self, CategoryError> {
        let input = input.trim();
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(input))
            .ok_or(CategoryError)
    }

    /// The lower-case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Hot => "hot",
            Category::Warm => "warm",
            Category::Nurture => "nurture",
            Category::Cold => "cold",
            Category::Disqualified => "disqualified",
        }
    }

    /// The topic a lead of this category is published to (`leads.hot`, …).
    pub const fn topic(self) -> &'static str {
        match self {
            Category::Hot => topics::LEADS_HOT,
            Category::Warm => topics::LEADS_WARM,
            Category::Nurture => topics::LEADS_NURTURE,
            Category::Cold => topics::LEADS_COLD,
            Category::Disqualified => topics::LEADS_DISQUALIFIED,
        }
    }

    /// Whether engagement consumes this category's topic (hot, warm, nurture).
    pub const fn is_engaged(self) -> bool {
        matches!(self, Category::Hot | Category::Warm | Category::Nurture)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = CategoryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_topics_and_serde_agree() {
        for c in Category::ALL {
            assert_eq!(c.topic(), format!("leads.{c}"));
            assert!(topics::ALL.contains(&c.topic()));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<Category>(&json).unwrap(), c);
            assert_eq!(Category::parse(&c.as_str().to_uppercase()), Ok(c));
        }
        assert_eq!(Category::Hot.topic(), "leads.hot");
        assert!(serde_json::from_str::<Category>("\"Hot\"").is_err());
        assert_eq!(Category::parse("lukewarm"), Err(CategoryError));
        assert!(!Category::Cold.is_engaged() && Category::Nurture.is_engaged());
    }
}

//! [`Score`]: a lead score, 0 to 100.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// A number outside 0–100.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("must be an integer between 0 and 100")]
pub struct ScoreError;

/// A lead score: an integer from 0 to 100. Serialised as a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Score(u8);

impl Score {
    /// The lowest score.
    pub const MIN: Score = Score(0);
    /// The highest score.
    pub const MAX: Score = Score(100);

    /// Accepts any integer type (a database `smallint`, a JSON number).
    pub fn parse(value: impl TryInto<i64>) -> Result<Self, ScoreError> {
        let value: i64 = value.try_into().map_err(|_| ScoreError)?;
        u8::try_from(value)
            .ok()
            .filter(|v| *v <= 100)
            .map(Score)
            .ok_or(ScoreError)
    }

    /// The value, 0–100.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<Score> for u8 {
    fn from(s: Score) -> u8 {
        s.0
    }
}

impl From<Score> for i16 {
    fn from(s: Score) -> i16 {
        i16::from(s.0)
    }
}

impl Serialize for Score {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for Score {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = i64::deserialize(deserializer)?;
        Self::parse(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn accepts_exactly_0_to_100(v in any::<i64>()) {
            let parsed = Score::parse(v);
            prop_assert_eq!(parsed.is_ok(), (0..=100).contains(&v));
            if let Ok(s) = parsed {
                prop_assert_eq!(i64::from(s.get()), v);
                let json = serde_json::to_string(&s).unwrap();
                prop_assert_eq!(serde_json::from_str::<Score>(&json).unwrap(), s);
            }
        }
    }

    #[test]
    fn serde_rejects_out_of_range() {
        assert!(serde_json::from_str::<Score>("101").is_err());
        assert!(serde_json::from_str::<Score>("-1").is_err());
        assert!(serde_json::from_str::<Score>("50.5").is_err());
        assert_eq!(serde_json::from_str::<Score>("100").unwrap(), Score::MAX);
    }
}

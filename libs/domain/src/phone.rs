//! [`PhoneE164`]: a phone number in E.164 form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

#[cfg(test)]
mod tests;

/// Longest raw input accepted (separators included), in characters.
pub const MAX_INPUT_LEN: usize = 32;
/// Fewest digits after the `+` (shortest national numbers plus country code).
pub const MIN_DIGITS: usize = 8;
/// Most digits after the `+` (ITU-T E.164).
pub const MAX_DIGITS: usize = 15;

/// Why a string is not an acceptable phone number.
///
/// The messages are safe to show to a caller: they never echo the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// Nothing but whitespace.
    #[error("must not be empty")]
    Empty,
    /// Longer than [`MAX_INPUT_LEN`] characters.
    #[error("must be at most 32 characters")]
    TooLong,
    /// A character other than digits, a leading `+` and the separators
    /// space, `-`, `.`, `/`, `(` and `)`.
    #[error("may only contain digits, a leading +, spaces, dashes, dots, slashes and parentheses")]
    InvalidCharacter,
    /// Neither a leading `+` nor the international prefix `00`.
    #[error("must start with + and the country code (E.164, such as +14155550123)")]
    MissingCountryCode,
    /// The country code starts with 0.
    #[error("the country code must not start with 0")]
    LeadingZero,
    /// Fewer than [`MIN_DIGITS`] or more than [`MAX_DIGITS`] digits.
    #[error("must have between 8 and 15 digits after the +")]
    WrongLength,
}

/// A phone number normalised to E.164: `+` then 8–15 ASCII digits, the
/// first not zero. No check against national numbering plans: that needs
/// a metadata library and says little more for scoring or routing.
///
/// `Debug` prints the redacted form; `Display` prints the number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneE164(String);

impl PhoneE164 {
    /// Validates `input` and normalises it: separators (space, no-break
    /// space, `-`, `.`, `/`, `(`, `)`) are dropped and a leading `00` is
    /// read as `+`. A number without `+` or `00` is rejected, since its
    /// country cannot be known.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        if trimmed.chars().count() > MAX_INPUT_LEN {
            return Err(PhoneError::TooLong);
        }
        let mut plus = false;
        let mut digits = String::with_capacity(MAX_DIGITS);
        for c in trimmed.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if !plus && digits.is_empty() => plus = true,
                ' ' | '\u{a0}' | '-' | '.' | '/' | '(' | ')' => {}
                _ => return Err(PhoneError::InvalidCharacter),
            }
        }
        let digits = match (plus, digits.strip_prefix("00")) {
            (true, _) => digits.as_str(),
            (false, Some(rest)) => rest,
            (false, None) => return Err(PhoneError::MissingCountryCode),
        };
        if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
            return Err(PhoneError::WrongLength);
        }
        if digits.starts_with('0') {
            return Err(PhoneError::LeadingZero);
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The number, `+` and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits after the `+`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// A form safe for logs: `+***23`.
    pub fn redacted(&self) -> String {
        crate::redact::phone(&self.0)
    }
}

impl fmt::Display for PhoneE164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneE164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneE164({})", self.redacted())
    }
}

impl AsRef<str> for PhoneE164 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for PhoneE164 {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for PhoneE164 {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl Serialize for PhoneE164 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PhoneE164 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

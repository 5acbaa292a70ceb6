//! [`EmailHash`]: a keyed pseudonym of an email address for events.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use thiserror::Error;

use crate::Email;

/// Shortest accepted key, in bytes.
pub const MIN_KEY_LEN: usize = 32;

/// A key shorter than [`MIN_KEY_LEN`], or a hash that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EmailHashError {
    /// The secret key is too short to resist guessing.
    #[error("the email hash key must be at least 32 bytes")]
    KeyTooShort,
    /// Not 64 lower-case hex digits.
    #[error("must be 64 lower-case hexadecimal digits")]
    Malformed,
}

/// The secret key of [`EmailHash`], prepared once (the HMAC inner and outer
/// pads are computed here, not per hash). `Debug` never prints it.
#[derive(Clone)]
pub struct EmailHashKey(Hmac<Sha256>);

impl EmailHashKey {
    /// Prepares `secret` (at least 32 bytes, from the deployment's secrets).
    pub fn new(secret: &[u8]) -> Result<Self, EmailHashError> {
        if secret.len() < MIN_KEY_LEN {
            return Err(EmailHashError::KeyTooShort);
        }
        Hmac::<Sha256>::new_from_slice(secret)
            .map(Self)
            .map_err(|_| EmailHashError::KeyTooShort)
    }
}

impl fmt::Debug for EmailHashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailHashKey(***)")
    }
}

/// HMAC-SHA-256 of [`Email::match_key`] under a deployment secret, as 64
/// lower-case hex digits.
///
/// Events carry this instead of the address: consumers can tell that two
/// leads share an address (and join on it) without the address leaving
/// lead-triage. It is keyed rather than a plain SHA-256 because the space
/// of real addresses is small enough to hash a list of them and reverse
/// an unkeyed digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailHash(String);

impl EmailHash {
    /// Hashes `email` under `key`.
    pub fn compute(key: &EmailHashKey, email: &Email) -> Self {
        let mut mac = key.0.clone();
        mac.update(email.match_key().as_bytes());
        Self(hex::encode(mac.finalize().into_bytes()))
    }

    /// Accepts 64 lower-case hex digits (a hash read back from an event).
    pub fn parse(input: &str) -> Result<Self, EmailHashError> {
        let ok = input.len() == 64
            && input
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(EmailHashError::Malformed)
        }
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for EmailHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EmailHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_case_insensitive_and_well_formed() {
        let key = EmailHashKey::new(&[7u8; 32]).unwrap();
        let other = EmailHashKey::new(&[8u8; 32]).unwrap();
        let a = Email::parse("Jane@Example.com").unwrap();
        let b = Email::parse("jane@example.com").unwrap();
        let h = EmailHash::compute(&key, &a);
        assert_eq!(h, EmailHash::compute(&key, &b));
        assert_ne!(h, EmailHash::compute(&other, &a));
        assert_eq!(EmailHash::parse(h.as_str()), Ok(h.clone()));
        assert!(!h.as_str().contains("jane"));
        assert_eq!(
            EmailHashKey::new(b"short").err(),
            Some(EmailHashError::KeyTooShort)
        );
        assert_eq!(format!("{key:?}"), "EmailHashKey(***)");
        assert_eq!(EmailHash::parse("ABC"), Err(EmailHashError::Malformed));
    }

    #[test]
    fn matches_the_standard_hmac_construction() {
        // HMAC-SHA-256 of "jane@example.com" under 32 bytes of 0x0b, computed
        // independently (Python hmac module).
        let key = EmailHashKey::new(&[0x0b; 32]).unwrap();
        let h = EmailHash::compute(&key, &Email::parse("jane@example.com").unwrap());
        assert_eq!(h.as_str(), EXPECTED);
    }

    const EXPECTED: &str = "cb37bc85c3bf2854c814cc6aa9c42a549355b0a14f3c396dfd947f2a4dc43ab7";
}

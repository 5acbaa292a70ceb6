//! [`Email`]: a validated, normalised email address.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

#[cfg(test)]
mod tests;

/// Longest address accepted, in bytes (RFC 5321: a 256-octet path minus the
/// angle brackets). Checked on the trimmed input and on the normalised form.
pub const MAX_LEN: usize = 254;
/// Longest local part (before the `@`), in bytes (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_LEN: usize = 64;

/// Why a string is not an acceptable email address.
///
/// The messages are safe to show to a caller: they never echo the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EmailError {
    /// Nothing but whitespace.
    #[error("must not be empty")]
    Empty,
    /// Longer than [`MAX_LEN`] bytes.
    #[error("must be at most 254 characters")]
    TooLong,
    /// No `@`, or nothing on one side of it.
    #[error("must have the form local-part@domain")]
    MissingAt,
    /// The part before the `@` is not an RFC 5322 dot-atom of at most 64 bytes.
    #[error("the part before @ is not valid (letters, digits and !#$%&'*+/=?^_`{{|}}~- separated by single dots, at most 64 characters)")]
    InvalidLocalPart,
    /// The part after the `@` is not a fully qualified host name.
    #[error("the part after @ is not a valid domain name (such as example.com)")]
    InvalidDomain,
}

/// A syntactically valid email address, trimmed, with its domain in
/// lower-case ASCII (internationalised domains in punycode).
///
/// The local part keeps its case (RFC 5321 says it may be case-sensitive);
/// [`Email::match_key`] is the fully lower-cased form used to find
/// duplicates. Quoted local parts, comments, display names and IP-literal
/// domains are rejected: they are legal but never seen from real leads.
///
/// `Debug` prints the redacted form, so an address that slips into a log
/// line through `?email` does not leak; `Display` prints the address.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email {
    value: String,
    at: usize,
}

impl Email {
    /// Validates and normalises `input`.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let Some((local, domain)) = trimmed.rsplit_once('@') else {
            return Err(EmailError::MissingAt);
        };
        if local.is_empty() || domain.is_empty() {
            return Err(EmailError::MissingAt);
        }
        check_local(local)?;
        let domain = normalise_domain(domain).ok_or(EmailError::InvalidDomain)?;
        let value = format!("{local}@{domain}");
        if value.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        Ok(Self {
            at: local.len(),
            value,
        })
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The part before the `@`, case preserved.
    pub fn local_part(&self) -> &str {
        &self.value[..self.at]
    }

    /// The domain, lower-case ASCII.
    pub fn domain(&self) -> &str {
        &self.value[self.at + 1..]
    }

    /// The whole address in lower case: the key under which leads with the
    /// same email merge, and the input of [`crate::EmailHash`].
    pub fn match_key(&self) -> String {
        self.value.to_lowercase()
    }

    /// A form safe for logs: `j***@example.com`.
    pub fn redacted(&self) -> String {
        crate::redact::email(&self.value)
    }

    /// The normalised address, owned.
    pub fn into_string(self) -> String {
        self.value
    }
}

fn check_local(local: &str) -> Result<(), EmailError> {
    let acceptable = local.len() <= MAX_LOCAL_LEN
        && !local.starts_with('"')
        && !local.chars().any(|c| c.is_control() || c.is_whitespace())
        && email_address::EmailAddress::is_valid_local_part(local);
    if acceptable {
        Ok(())
    } else {
        Err(EmailError::InvalidLocalPart)
    }
}

/// UTS 46 to ASCII with the STD3 (letter-digit-hyphen) rules, then: at least
/// two labels, no empty label (so no trailing dot), and an alphabetic or
/// punycode top-level label (so no bare IP addresses).
pub(crate) fn normalise_domain(domain: &str) -> Option<String> {
    if domain.starts_with('[') || domain.ends_with('.') {
        return None;
    }
    let ascii = idna::domain_to_ascii_strict(domain).ok()?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let well_formed = labels.len() >= 2
        && ascii.len() <= 253
        && labels.iter().all(|l| is_ldh_label(l))
        && labels.last().is_some_and(|tld| {
            tld.len() >= 2
                && (tld.starts_with("xn--") || tld.bytes().all(|b| b.is_ascii_lowercase()))
        });
    well_formed.then_some(ascii)
}

/// A DNS label: 1–63 of `[a-z0-9-]`, not starting or ending with `-`.
pub(crate) fn is_ldh_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.redacted())
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl FromStr for Email {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.value)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

//! Lists that can be written as a TOML array or a comma-separated env var.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum ListOrString {
    List(Vec<String>),
    String(String),
}

/// Deserializes `["a", "b"]` or `"a,b"` into a vector of trimmed, non-empty items.
pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<String>, D::Error> {
    Ok(match ListOrString::deserialize(de)? {
        ListOrString::List(items) => items,
        ListOrString::String(s) => split(&s),
    })
}

/// Splits a comma-separated list, dropping blanks.
pub fn split(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Like [`deserialize`], wrapping each item as a secret.
pub fn deserialize_secrets<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<Vec<secrecy::SecretString>, D::Error> {
    Ok(deserialize(de)?
        .into_iter()
        .map(secrecy::SecretString::from)
        .collect())
}

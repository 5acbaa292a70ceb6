//! A variant's request for a message written by a language model
//! (docs/personalisation.md): the prompt template and the bounds of the
//! completion, kept beside (never instead of) the channel's template, which
//! is sent whenever no generated text can be used.
//!
//! campaign-optimization checks a spec when its campaign is created or
//! changed ([`GenerationSpec::validate`]); engagement renders the prompt
//! with [`prompt_variables`] and checks the completion against the bounds.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::templates::{validate_with, TemplateError, LEAD_VARIABLES};
use crate::Channel;

/// The variables a prompt may use besides the lead's fields
/// ([`LEAD_VARIABLES`]): `category` (`hot`, `warm`, `nurture`), `score`
/// (0–100), `breakdown` (a list of `{factor, points, max, reason}`) and
/// `conversation` (the lead's recent messages and interactions, newest
/// first, each `{at, kind, channel, subject, excerpt}`).
pub const CONTEXT_VARIABLES: &[&str] = &["category", "score", "breakdown", "conversation"];

/// Every variable a prompt may use: [`LEAD_VARIABLES`], then [`CONTEXT_VARIABLES`].
pub fn prompt_variables() -> Vec<&'static str> {
    LEAD_VARIABLES
        .iter()
        .chain(CONTEXT_VARIABLES)
        .copied()
        .collect()
}

/// Highest `max_tokens` accepted.
pub const MAX_TOKENS_LIMIT: u32 = 4096;
/// Highest `max_chars` accepted.
pub const MAX_CHARS_LIMIT: u32 = 20_000;
/// Longest model name accepted.
pub const MAX_MODEL_CHARS: usize = 200;

fn default_max_tokens() -> u32 {
    300
}

/// A channel's request for generated content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GenerationSpec {
    /// Prompt (minijinja template) over the lead's fields, `category`,
    /// `score`, `breakdown` and `conversation`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 16384))]
    pub prompt: String,
    /// Model name; the deployment's `llm.model` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub model: Option<String>,
    /// Sampling temperature, 0–2 (default 0: deterministic, so answers are cached).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 2.0))]
    pub temperature: f64,
    /// Most tokens the completion may have, 1–4096 (default 300).
    #[serde(default = "default_max_tokens")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 4096))]
    pub max_tokens: u32,
    /// Longest message accepted, in characters, 1–20000 (default: email
    /// 4000, SMS 480, phone 2000); a longer completion is not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 20000))]
    pub max_chars: Option<u32>,
}

/// A field of a [`GenerationSpec`] that is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct GenerationSpecError {
    /// The field, as named in the spec (`prompt`, `temperature`, …).
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl GenerationSpec {
    /// Checks every field; the prompt must parse, use only
    /// [`prompt_variables`] and render with sample values.
    pub fn validate(&self) -> Result<(), GenerationSpecError> {
        let bad = |field, message: String| Err(GenerationSpecError { field, message });
        if self.prompt.trim().is_empty() {
            return bad("prompt", "must not be empty".into());
        }
        if let Err(e) = validate_prompt(&self.prompt) {
            return bad("prompt", e.to_string());
        }
        if let Some(model) = &self.model {
            if model.trim().is_empty() || model.chars().count() > MAX_MODEL_CHARS {
                return bad("model", format!("must be 1–{MAX_MODEL_CHARS} characters"));
            }
        }
        if !(0.0..=2.0).contains(&self.temperature) {
            return bad("temperature", "must be between 0 and 2".into());
        }
        if !(1..=MAX_TOKENS_LIMIT).contains(&self.max_tokens) {
            return bad(
                "max_tokens",
                format!("must be between 1 and {MAX_TOKENS_LIMIT}"),
            );
        }
        if let Some(chars) = self.max_chars {
            if !(1..=MAX_CHARS_LIMIT).contains(&chars) {
                return bad(
                    "max_chars",
                    format!("must be between 1 and {MAX_CHARS_LIMIT}"),
                );
            }
        }
        Ok(())
    }

    /// The longest message accepted on `channel`.
    pub fn max_chars_for(&self, channel: Channel) -> usize {
        let default = match channel {
            Channel::Email => 4000,
            Channel::Sms => 480,
            Channel::Phone => 2000,
        };
        self.max_chars.map_or(default, |c| c as usize)
    }

    /// Whether answers to this spec may be cached (temperature 0).
    pub fn deterministic(&self) -> bool {
        self.temperature == 0.0
    }

    /// The prompt version: a digest of everything that shapes the answer
    /// besides the lead (prompt, model, temperature, bounds), 16 hex digits.
    pub fn version(&self, model: &str) -> String {
        let mut digest = Sha256::new();
        for part in [
            self.prompt.as_bytes(),
            model.as_bytes(),
            &self.temperature.to_be_bytes(),
            &self.max_tokens.to_be_bytes(),
            &self.max_chars.unwrap_or(0).to_be_bytes(),
        ] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part);
        }
        hex::encode(&digest.finalize()[..8])
    }
}

/// Checks a prompt template: it parses, uses only [`prompt_variables`] and
/// renders with sample values of the right shapes.
pub fn validate_prompt(prompt: &str) -> Result<(), TemplateError> {
    let mut sample = serde_json::Map::new();
    for v in LEAD_VARIABLES {
        sample.insert((*v).to_owned(), "Sample".into());
    }
    sample.insert("category".into(), "hot".into());
    sample.insert("score".into(), 87.into());
    sample.insert(
        "breakdown".into(),
        serde_json::json!([{"factor": "title", "points": 20, "max": 25, "reason": "Sample"}]),
    );
    sample.insert(
        "conversation".into(),
        serde_json::json!([{"at": "2025-01-01T00:00:00Z", "kind": "message", "channel": "email",
                            "subject": "Sample", "excerpt": "Sample"}]),
    );
    validate_with(
        prompt,
        &prompt_variables(),
        minijinja::Value::from_serialize(&sample),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(prompt: &str) -> GenerationSpec {
        GenerationSpec {
            prompt: prompt.into(),
            model: None,
            temperature: 0.0,
            max_tokens: 300,
            max_chars: None,
        }
    }

    #[test]
    fn prompts_use_lead_fields_score_breakdown_and_conversation() {
        let prompt = "Write to {{ first_name }} ({{ title }}, {{ category }}, {{ score }}). \
            {% for f in breakdown %}{{ f.factor }}: {{ f.reason }} {% endfor %}\
            {% for m in conversation %}{{ m.kind }} {{ m.excerpt }}{% endfor %}";
        assert_eq!(spec(prompt).validate(), Ok(()));
    }

    #[test]
    fn an_unknown_variable_names_the_prompt() {
        let e = spec("Hi {{ salary }}").validate().unwrap_err();
        assert_eq!(e.field, "prompt");
        assert!(e.message.contains("salary"), "{e}");
    }

    #[test]
    fn bounds_are_checked_field_by_field() {
        let mut s = spec("Hi {{ name }}");
        s.temperature = 2.5;
        assert_eq!(s.validate().unwrap_err().field, "temperature");
        s.temperature = 0.0;
        s.max_tokens = 0;
        assert_eq!(s.validate().unwrap_err().field, "max_tokens");
        s.max_tokens = 10;
        s.max_chars = Some(MAX_CHARS_LIMIT + 1);
        assert_eq!(s.validate().unwrap_err().field, "max_chars");
        s.max_chars = None;
        s.model = Some(" ".into());
        assert_eq!(s.validate().unwrap_err().field, "model");
    }

    #[test]
    fn the_version_follows_what_shapes_the_answer() {
        let a = spec("Hi {{ name }}");
        let mut b = a.clone();
        assert_eq!(a.version("m"), b.version("m"));
        assert_ne!(a.version("m"), a.version("n"));
        b.temperature = 0.5;
        assert_ne!(a.version("m"), b.version("m"));
    }
}

//! Per-variant message templates (minijinja): rendering at send time; the
//! variable list, the environment and validation are shared with
//! campaign-optimization in `suite_domain::templates`.
//!
//! A template is checked when its campaign is created ([`validate`]): it
//! must parse, use only the documented lead fields ([`LEAD_VARIABLES`],
//! found by minijinja's undeclared-variables analysis) and render with
//! sample values. At send time [`render`] runs with undefined behaviour
//! `Strict`, so a variable that slipped through is an error, never a blank.
//!
//! Lead fields are plain text. A field the lead does not have renders as
//! the empty string, is false in `{% if company %}`, and is replaced by the
//! `default` filter: `{{ first_name | default("there") }}` (this
//! environment's `default` treats empty and missing values alike). Output
//! is not HTML-escaped: messages are plain text (SMS, voice scripts, the
//! text part of an email). Each render is bounded by [`FUEL`] instructions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[cfg(test)]
mod tests;

use suite_domain::templates::ENV;
pub use suite_domain::templates::{
    validate, TemplateError, FUEL, LEAD_VARIABLES, MAX_TEMPLATE_BYTES,
};

/// The lead's fields as templates see them (see [`LEAD_VARIABLES`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LeadFields {
    /// Given name; the first word of `name` when absent.
    pub first_name: Option<String>,
    /// Family name; the rest of `name` when absent.
    pub last_name: Option<String>,
    /// Full name.
    pub name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number (E.164).
    pub phone: Option<String>,
    /// Company name.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
}

impl LeadFields {
    /// The render context: every [`LEAD_VARIABLES`] entry, missing ones as `""`.
    pub fn context(&self) -> BTreeMap<&'static str, String> {
        let name = self.name.as_deref().map(str::trim).unwrap_or("");
        let (first, last) = name.split_once(char::is_whitespace).unwrap_or((name, ""));
        let given = |v: &Option<String>, fallback: &str| {
            v.as_deref()
                .map(str::trim)
                .unwrap_or(fallback)
                .trim()
                .to_owned()
        };
        let plain = |v: &Option<String>| given(v, "");
        BTreeMap::from([
            ("first_name", given(&self.first_name, first)),
            ("last_name", given(&self.last_name, last)),
            ("name", name.to_owned()),
            ("email", plain(&self.email)),
            ("phone", plain(&self.phone)),
            ("company", plain(&self.company)),
            ("title", plain(&self.title)),
            ("industry", plain(&self.industry)),
            ("country", plain(&self.country)),
        ])
    }
}

/// Renders `template` with the lead's fields (undefined behaviour `Strict`).
pub fn render(template: &str, lead: &LeadFields) -> Result<String, TemplateError> {
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError::TooLarge);
    }
    Ok(ENV.template_from_str(template)?.render(lead.context())?)
}

/// A variant's message: an optional subject (email) and a body, and
/// optionally a prompt for a language model to write the body instead
/// (docs/personalisation.md); the body template is the fallback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageTemplate {
    /// Subject line template (email only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Body template.
    pub body: String,
    /// The request for a generated body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<suite_domain::GenerationSpec>,
}

/// A rendered [`MessageTemplate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedMessage {
    /// Rendered subject, when the template has one.
    pub subject: Option<String>,
    /// Rendered body.
    pub body: String,
}

/// A [`TemplateError`] in one part of a [`MessageTemplate`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{part}: {error}")]
pub struct PartError {
    /// `"subject"` or `"body"` (the field path for a validation problem).
    pub part: &'static str,
    /// What is wrong with it.
    pub error: TemplateError,
}

impl MessageTemplate {
    /// [`validate`]s the subject and the body against [`LEAD_VARIABLES`].
    pub fn validate(&self) -> Result<(), PartError> {
        self.parts().try_for_each(|(part, source)| {
            validate(source, LEAD_VARIABLES).map_err(|error| PartError { part, error })
        })
    }

    /// [`render`]s the subject and the body.
    pub fn render(&self, lead: &LeadFields) -> Result<RenderedMessage, PartError> {
        let at = |part| move |error| PartError { part, error };
        let subject = match &self.subject {
            Some(subject) => Some(render(subject, lead).map_err(at("subject"))?),
            None => None,
        };
        let body = render(&self.body, lead).map_err(at("body"))?;
        Ok(RenderedMessage { subject, body })
    }

    fn parts(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.subject
            .as_deref()
            .map(|s| ("subject", s))
            .into_iter()
            .chain(std::iter::once(("body", self.body.as_str())))
    }
}

//! Message template validation shared by the services that accept and the
//! services that render campaign content (minijinja).
//!
//! campaign-optimization checks every template when a campaign is created
//! or updated ([`validate`]): it must parse, use only the documented lead
//! fields ([`LEAD_VARIABLES`], found by minijinja's undeclared-variables
//! analysis) and render with sample values. The environment is the one
//! engagement renders with: undefined behaviour `Strict`, bounded by
//! [`FUEL`], and a `default` filter that treats empty and missing values
//! alike (`{{ first_name | default("there") }}`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use minijinja::value::Value;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use thiserror::Error;

/// The lead fields a template may use.
///
/// `first_name` and `last_name` come from the lead's `name` (first word,
/// rest) unless given; `country` is the ISO 3166-1 alpha-2 code.
pub const LEAD_VARIABLES: &[&str] = &[
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "company",
    "title",
    "industry",
    "country",
];

/// Longest template source accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;
/// Instructions one render may execute.
pub const FUEL: u64 = 100_000;

/// The template environment (strict undefined, fuel, `default` filter).
pub static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.add_filter("default", default_filter);
    env
});

/// `default(value, other="", lax=false)`: `other` when `value` is undefined,
/// none or empty (and, with `lax`, any false value).
fn default_filter(value: &Value, other: Option<Value>, lax: Option<bool>) -> Value {
    let missing = value.is_undefined()
        || value.is_none()
        || value.as_str().is_some_and(str::is_empty)
        || (lax.unwrap_or(false) && !value.is_true());
    if missing {
        other.unwrap_or_else(|| Value::from(""))
    } else {
        value.clone()
    }
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TemplateError {
    /// The template does not parse.
    #[error("syntax error on line {line}: {message}")]
    Syntax {
        /// Line of the error (1-based; 0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The template uses variables that are not lead fields (sorted).
    #[error("unknown variables: {}", .0.join(", "))]
    UnknownVariables(Vec<String>),
    /// The template source is longer than [`MAX_TEMPLATE_BYTES`].
    #[error("template is longer than {MAX_TEMPLATE_BYTES} bytes")]
    TooLarge,
    /// Rendering failed (unknown filter, wrong types, out of fuel, …).
    #[error("cannot render: {0}")]
    Render(String),
}

impl From<minijinja::Error> for TemplateError {
    fn from(e: minijinja::Error) -> Self {
        match e.kind() {
            ErrorKind::SyntaxError | ErrorKind::BadEscape => TemplateError::Syntax {
                line: e.line().unwrap_or(0),
                message: e.detail().unwrap_or("invalid template").to_owned(),
            },
            _ => TemplateError::Render(match e.detail() {
                Some(detail) => format!("{}: {detail}", e.kind()),
                None => e.kind().to_string(),
            }),
        }
    }
}

/// Checks `template`: it parses, uses no variable outside
/// `allowed_variables` (the environment's globals such as `range` are
/// allowed), and renders with sample values for the allowed ones.
pub fn validate(template: &str, allowed_variables: &[&str]) -> Result<(), TemplateError> {
    let sample: BTreeMap<&str, &str> = allowed_variables.iter().map(|v| (*v, "Sample")).collect();
    validate_with(template, allowed_variables, Value::from_serialize(&sample))
}

/// [`validate`] with `sample` as the trial render's context (for variables
/// that are not plain text, such as a prompt's `conversation`).
pub fn validate_with(
    template: &str,
    allowed_variables: &[&str],
    sample: Value,
) -> Result<(), TemplateError> {
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError::TooLarge);
    }
    let compiled = ENV.template_from_str(template)?;
    let globals: Vec<&str> = ENV.globals().map(|(name, _)| name).collect();
    let mut unknown: Vec<String> = compiled
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !allowed_variables.contains(&v.as_str()) && !globals.contains(&v.as_str()))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        return Err(TemplateError::UnknownVariables(unknown));
    }
    // A trial render catches what parsing cannot: unknown filters and tests,
    // type errors, templates that run out of fuel.
    compiled.render(sample)?;
    Ok(())
}

/// [`validate`] against [`LEAD_VARIABLES`].
pub fn validate_lead_template(template: &str) -> Result<(), TemplateError> {
    validate(template, LEAD_VARIABLES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_fields_and_the_default_filter_are_accepted() {
        let ok =
            "Hi {{ first_name | default(\"there\") }} at {% if company %}{{ company }}{% endif %}";
        assert_eq!(validate_lead_template(ok), Ok(()));
        assert_eq!(
            validate_lead_template("{% for i in range(3) %}{{ i }}{% endfor %}"),
            Ok(())
        );
    }

    #[test]
    fn unknown_variables_are_named_and_sorted() {
        assert_eq!(
            validate_lead_template("{{ zeta }} {{ password }} {{ name }}"),
            Err(TemplateError::UnknownVariables(vec![
                "password".into(),
                "zeta".into()
            ]))
        );
    }

    #[test]
    fn syntax_errors_unknown_filters_and_oversized_templates_are_refused() {
        assert!(matches!(
            validate_lead_template("{{ name "),
            Err(TemplateError::Syntax { .. })
        ));
        assert!(matches!(
            validate_lead_template("{{ name | shout }}"),
            Err(TemplateError::Syntax { .. } | TemplateError::Render(_))
        ));
        let big = "x".repeat(MAX_TEMPLATE_BYTES + 1);
        assert_eq!(validate_lead_template(&big), Err(TemplateError::TooLarge));
        assert!(matches!(
            validate_lead_template(
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
            ),
            Err(TemplateError::Render(_))
        ));
    }
}

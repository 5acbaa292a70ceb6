//! Request bodies of the leads API and their validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use suite_domain::{Email, PhoneE164};
use suite_http::FieldError;
use utoipa::ToSchema;

pub use crate::lead::{ConsentFlags, LeadFields, NewLead, Utm};

/// Largest custom-attribute object accepted per lead, in serialized bytes.
const MAX_ATTRIBUTES_BYTES: usize = 8 * 1024;
/// Longest free-text field accepted.
const MAX_TEXT: usize = 300;

/// A lead as posted by a client or read from `leads.inbound`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadInput {
    /// Email address: required when creating a lead (leads with the same
    /// email in a workspace merge); not allowed in `identify` traits.
    #[serde(default)]
    #[schema(format = "email", max_length = 254)]
    pub email: Option<String>,
    /// The caller's own id for the lead; a second lead with the same external id merges too.
    #[serde(default)]
    #[schema(
        max_length = 300,
        pattern = "^[^\\x00]*[^\\x00\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00]*$"
    )]
    pub external_id: Option<String>,
    /// Full name.
    #[serde(default)]
    #[schema(max_length = 300)]
    pub name: Option<String>,
    /// Phone number with its country code (`+14155550123` or `0044…`), 8 to 15
    /// digits, at most 32 characters; spaces, dots, slashes, dashes and
    /// parentheses are ignored; blank means none.
    #[serde(default)]
    #[schema(
        max_length = 32,
        pattern = "^[\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*([ \\u00a0./()-]*(\\+[ \\u00a0./()-]*|0[ \\u00a0./()-]*0[ \\u00a0./()-]*)[1-9]([ \\u00a0./()-]*[0-9]){7,14}[ \\u00a0./()-]*[\\t\\n\\x0b\\x0c\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*)?$"
    )]
    pub phone: Option<String>,
    /// Company name.
    #[serde(default)]
    #[schema(max_length = 300)]
    pub company: Option<String>,
    /// Job title (its seniority is scored).
    #[serde(default)]
    #[schema(max_length = 300)]
    pub title: Option<String>,
    /// Number of employees.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10_000_000)]
    pub company_size: Option<i64>,
    /// Industry, e.g. `software`.
    #[serde(default)]
    #[schema(max_length = 300)]
    pub industry: Option<String>,
    /// ISO 3166-1 alpha-2 country code, e.g. `DE` (either case); empty means none.
    #[serde(default)]
    #[schema(pattern = "^([A-Za-z]{2})?(?![\\s\\S])")]
    pub country: Option<String>,
    /// IANA time zone, e.g. `Europe/Berlin`; empty means none.
    #[serde(default)]
    #[schema(schema_with = timezone_schema)]
    pub timezone: Option<String>,
    /// Where the lead came from, e.g. `demo_request`, `webinar`, `organic`.
    #[serde(default)]
    #[schema(max_length = 300)]
    pub source: Option<String>,
    /// UTM parameters of the visit that produced the lead.
    #[serde(default, deserialize_with = "suite_http::extract::optional_object")]
    pub utm: Option<Utm>,
    /// Consent flags per channel.
    #[serde(default, deserialize_with = "suite_http::extract::optional_object")]
    pub consent: Option<ConsentFlags>,
    /// Custom attributes (a JSON object up to 8 KiB).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<BTreeMap<String, serde_json::Value>>,
}

/// The schema of `timezone`: one of the IANA zone names the service knows
/// (exactly as written, e.g. `Europe/Berlin`), the empty string or null.
fn timezone_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let names = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| serde_json::Value::from(tz.name()));
    let values = std::iter::once(serde_json::Value::Null)
        .chain(std::iter::once(serde_json::Value::from("")))
        .chain(names);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values))
        .description(Some(
            "IANA time zone, e.g. `Europe/Berlin`; empty means none.",
        ))
        .build()
}

impl LeadInput {
    /// Trims white space around `country`, `timezone` and `phone`. Records on
    /// `leads.inbound` come from other systems' exports, which pad such
    /// fields; the HTTP API takes them exactly as its document says.
    pub fn trim_codes(&mut self) {
        for field in [&mut self.country, &mut self.timezone, &mut self.phone] {
            if let Some(value) = field.as_mut() {
                let trimmed = value.trim();
                if trimmed.len() != value.len() {
                    *value = trimmed.to_owned();
                }
            }
        }
    }

    /// Validates and normalises a lead to create or merge; errors carry JSON
    /// Pointers under `prefix`.
    pub fn validate_into(mut self, prefix: &str) -> Result<NewLead, Vec<FieldError>> {
        let email = match self.email.take() {
            Some(raw) => Email::parse(&raw)
                .map_err(|e| FieldError::new(format!("{prefix}/email"), e.to_string())),
            None => Err(FieldError::new(format!("{prefix}/email"), "is required")),
        };
        match (email, self.validate_fields(prefix)) {
            (Ok(email), Ok(fields)) => Ok(NewLead { email, fields }),
            (email, fields) => {
                let mut errors: Vec<FieldError> = email.err().into_iter().collect();
                errors.extend(fields.err().unwrap_or_default());
                Err(errors)
            }
        }
    }

    /// Validates `identify` traits: every field but `email` (a lead's email
    /// is its identity; a trait update does not change it).
    pub fn validate_traits(mut self, prefix: &str) -> Result<LeadFields, Vec<FieldError>> {
        if self.email.take().is_some() {
            return Err(vec![FieldError::new(
                format!("{prefix}/email"),
                "cannot be changed by identify",
            )]);
        }
        self.validate_fields(prefix)
    }

    fn validate_fields(self, prefix: &str) -> Result<LeadFields, Vec<FieldError>> {
        let mut errors = Vec::new();
        let at = |field: &str| format!("{prefix}/{field}");
        let phone = match self.phone.as_deref() {
            Some(raw) if raw.chars().count() > suite_domain::phone::MAX_INPUT_LEN => {
                errors.push(FieldError::new(
                    at("phone"),
                    format!(
                        "must be at most {} characters",
                        suite_domain::phone::MAX_INPUT_LEN
                    ),
                ));
                None
            }
            None => None,
            Some(raw) if raw.trim().is_empty() => None,
            Some(raw) => PhoneE164::parse(raw)
                .map_err(|e| errors.push(FieldError::new(at("phone"), e.to_string())))
                .ok(),
        };
        let company_size = match self.company_size {
            None => None,
            Some(n) if (0..=10_000_000).contains(&n) => i32::try_from(n).ok(),
            Some(_) => {
                errors.push(FieldError::new(
                    at("company_size"),
                    "must be between 0 and 10,000,000",
                ));
                None
            }
        };
        let country = self.country.as_deref().filter(|c| !c.is_empty());
        if let Some(c) = country {
            if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                errors.push(FieldError::new(
                    at("country"),
                    "must be an ISO 3166-1 alpha-2 code such as DE",
                ));
            }
        }
        let timezone = self.timezone.as_deref().filter(|t| !t.is_empty());
        if let Some(tz) = timezone {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                errors.push(FieldError::new(
                    at("timezone"),
                    "must be an IANA time zone such as Europe/Berlin",
                ));
            }
        }
        for (field, value) in [
            ("external_id", &self.external_id),
            ("name", &self.name),
            ("company", &self.company),
            ("title", &self.title),
            ("industry", &self.industry),
            ("source", &self.source),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > MAX_TEXT) {
                errors.push(FieldError::new(
                    at(field),
                    format!("must be at most {MAX_TEXT} characters"),
                ));
            }
        }
        if self
            .external_id
            .as_deref()
            .is_some_and(|v| v.trim().is_empty())
        {
            errors.push(FieldError::new(at("external_id"), "must not be empty"));
        }
        let attributes = self.attributes.unwrap_or_default();
        if serde_json::to_vec(&attributes).map_or(0, |v| v.len()) > MAX_ATTRIBUTES_BYTES {
            errors.push(FieldError::new(
                at("attributes"),
                "must be at most 8 KiB of JSON",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let clean = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(LeadFields {
            external_id: clean(self.external_id),
            name: clean(self.name),
            phone,
            company: clean(self.company),
            title: clean(self.title),
            company_size,
            industry: clean(self.industry).map(|s| s.to_lowercase()),
            country: country.map(str::to_ascii_uppercase),
            timezone: timezone.map(str::to_owned),
            source: clean(self.source).map(|s| s.to_lowercase()),
            utm: self.utm.unwrap_or_default(),
            consent: self.consent.unwrap_or_default(),
            attributes,
        })
    }
}

//! A lead as the service handles it once validated: what the store writes,
//! merges and scores. The API's request bodies ([`crate::api::dto`])
//! validate into these types; the store depends on them, not on the API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use suite_domain::{Email, PhoneE164};
use utoipa::ToSchema;

/// UTM parameters.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Utm {
    /// `utm_source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `utm_medium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    /// `utm_campaign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// `utm_term`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// `utm_content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// Consent flags given with the lead.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConsentFlags {
    /// Email marketing allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<bool>,
    /// SMS allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<bool>,
    /// Phone calls allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<bool>,
    /// The person opted out of all marketing (disqualifies the lead).
    #[serde(default)]
    pub opt_out: bool,
}

/// A lead that passed validation, normalised.
#[derive(Debug, Clone)]
pub struct NewLead {
    /// Normalised email.
    pub email: Email,
    /// Everything else.
    pub fields: LeadFields,
}

/// The optional fields of a lead, normalised; also what `identify` traits update.
#[derive(Debug, Clone, Default)]
pub struct LeadFields {
    /// External id.
    pub external_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Normalised phone.
    pub phone: Option<PhoneE164>,
    /// Company.
    pub company: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Employees.
    pub company_size: Option<i32>,
    /// Industry (lower-case).
    pub industry: Option<String>,
    /// Country (upper-case alpha-2).
    pub country: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// Source (lower-case).
    pub source: Option<String>,
    /// UTM parameters.
    pub utm: Utm,
    /// Consent flags.
    pub consent: ConsentFlags,
    /// Custom attributes.
    pub attributes: BTreeMap<String, serde_json::Value>,
}

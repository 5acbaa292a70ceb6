//! A lead as the API returns it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

/// Columns selected for a [`LeadView`].
pub const LEAD_COLUMNS: &str =
    "id, email, external_id, name, phone, company, title, company_size, \
    industry, country, timezone, source, utm, consent, attributes, status, score, category, \
    breakdown, model_version, correlation_id, created_at, updated_at";

/// A stored lead with its current triage.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct LeadView {
    /// Lead id.
    pub id: Uuid,
    /// Normalised email.
    pub email: String,
    /// The caller's id for the lead.
    pub external_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// E.164 phone.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Employees.
    pub company_size: Option<i32>,
    /// Industry.
    pub industry: Option<String>,
    /// ISO country code.
    pub country: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// UTM parameters.
    #[schema(value_type = Object)]
    pub utm: Json<serde_json::Value>,
    /// Consent flags.
    #[schema(value_type = Object)]
    pub consent: Json<serde_json::Value>,
    /// Custom attributes.
    #[schema(value_type = Object)]
    pub attributes: Json<serde_json::Value>,
    /// Lifecycle status (`new` until engagement picks it up).
    pub status: String,
    /// Score 0–100.
    pub score: i16,
    /// hot, warm, nurture, cold or disqualified.
    pub category: String,
    /// Per-factor breakdown of the score.
    #[schema(value_type = Vec<Object>)]
    pub breakdown: Json<serde_json::Value>,
    /// Scoring model version used.
    pub model_version: i32,
    /// Follows the lead through all three agents.
    pub correlation_id: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

//! Types that only describe values in the OpenAPI document: the closed sets
//! of strings (channels, kinds, statuses) the API takes and returns as plain
//! strings, and the per-channel maps, which always hold every channel.
#![allow(dead_code)] // describe the document; the handlers use the domain types

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::Object;
use utoipa::ToSchema;

use crate::api::context::CapsLeft;
use crate::store::consent::ChannelConsent;

/// An outreach channel.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelName {
    /// A phone call.
    Phone,
    /// A text message.
    Sms,
    /// An email.
    Email,
}

/// The interaction kinds, as the API writes them (`sent`, `delivered`, …).
fn kind_names() -> impl Iterator<Item = &'static str> {
    suite_domain::InteractionKind::ALL
        .iter()
        .map(|k| k.as_str())
}

/// A string schema whose values are `names`.
fn one_of_names(names: impl Iterator<Item = &'static str>, description: &str) -> Object {
    suite_http::openapi::string_enum(names)
        .description(Some(description))
        .build()
}

/// What happened to a send or a lead (`sent` is recorded by engagement itself).
pub fn interaction_kind() -> Object {
    one_of_names(kind_names(), "What happened to a send or a lead.")
}

/// What a caller can report happened: any kind but `sent`, which engagement
/// records itself.
pub fn reported_kind() -> Object {
    one_of_names(
        kind_names().filter(|k| *k != suite_domain::InteractionKind::Sent.as_str()),
        "What happened: delivered, opened, clicked, replied, converted (these two end the plan), \
         bounced or unsubscribed (these two withdraw consent for the channel).",
    )
}

/// A memory entry's kind: `message` (sent by us) or an interaction kind.
pub fn memory_kind() -> Object {
    one_of_names(
        std::iter::once("message").chain(kind_names()),
        "`message` (sent by us) or the interaction kind (`clicked`, …).",
    )
}

/// A consent entry's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConsentStatus {
    /// Outreach allowed.
    Granted,
    /// Outreach not allowed.
    Withdrawn,
}

/// A channel's current consent status: `intake` when no ledger entry speaks.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CurrentConsentStatus {
    /// Granted by the deciding ledger entry.
    Granted,
    /// Withdrawn by the deciding ledger entry.
    Withdrawn,
    /// Only the lead's intake flags speak.
    Intake,
}

/// The legal basis of a consent entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// Consent.
    Consent,
    /// Legitimate interest.
    LegitimateInterest,
    /// A contract.
    Contract,
    /// A legal obligation.
    LegalObligation,
    /// A withdrawal.
    Withdrawal,
}

impl LegalBasis {
    /// The name stored in the ledger (as written in the API).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::LegitimateInterest => "legitimate_interest",
            Self::Contract => "contract",
            Self::LegalObligation => "legal_obligation",
            Self::Withdrawal => "withdrawal",
        }
    }
}

/// Status of a scheduled step that is still to run.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Waiting for its due time.
    Pending,
    /// Being run.
    Running,
}

/// Where a context's `recent` came from.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecentSource {
    /// Short-term memory.
    Redis,
    /// The recent history in Postgres.
    Postgres,
}

/// The current consent of every channel.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentPerChannel {
    /// Phone.
    phone: ChannelConsent,
    /// SMS.
    sms: ChannelConsent,
    /// Email.
    email: ChannelConsent,
}

/// The frequency-cap places left on every channel.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapsPerChannel {
    /// Phone.
    phone: CapsLeft,
    /// SMS.
    sms: CapsLeft,
    /// Email.
    email: CapsLeft,
}

//! Event and entity types shared across the services, and the topic contract
//! (docs/architecture.md §3).
//!
//! Every value type here has a `parse` constructor that returns a typed
//! error, so holding one proves it is valid (STYLE 7). None of them does
//! I/O.

pub mod breakdown;
pub mod campaign;
pub mod category;
pub mod channel;
pub mod email;
pub mod email_hash;
pub mod events;
pub mod generation;
pub mod ids;
pub mod phone;
pub mod redact;
pub mod score;
pub mod templates;
pub mod topics;

pub use breakdown::{Factor, FactorScore};
pub use campaign::{CampaignStatus, InteractionKind, Objective, UnknownValue};
pub use category::{Category, CategoryError};
pub use channel::{Channel, ChannelError};
pub use email::{Email, EmailError};
pub use email_hash::{EmailHash, EmailHashError, EmailHashKey};
pub use events::{
    AllocationShare, CampaignAllocationV1, CampaignDefinitionV1, InteractionV1, LeadContactV1,
    LeadTriagedV1, VariantDefinition, CE_TYPE_CAMPAIGN_ALLOCATION, CE_TYPE_CAMPAIGN_DEFINITION,
    CE_TYPE_INTERACTION, CE_TYPE_LEAD_CONTACT, CE_TYPE_LEAD_TRIAGED,
};
pub use generation::{GenerationSpec, GenerationSpecError};
pub use ids::{
    CampaignId, CorrelationId, CorrelationIdError, IdError, InteractionId, LeadId, VariantId,
    WorkspaceId,
};
pub use phone::{PhoneE164, PhoneError};
pub use score::{Score, ScoreError};

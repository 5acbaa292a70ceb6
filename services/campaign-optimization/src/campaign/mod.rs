//! Campaign definitions as the API accepts them, and their validation.
//!
//! [`spec`] holds the wire types (ladder steps, per-channel content,
//! variants, the create and update bodies); [`validate`] checks them and
//! reports every problem with its JSON Pointer.

pub mod schema;
pub mod spec;
pub mod validate;

pub use spec::{
    CampaignPatch, ChannelCosts, CreateCampaign, EmailContent, LadderStep, TextContent,
    VariantContent, VariantInput,
};

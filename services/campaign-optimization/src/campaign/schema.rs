//! OpenAPI schemas of fields whose rules the derive cannot state from the
//! Rust type alone: the domain enumerations (from their `ALL` lists), names
//! with their character rules, channel costs, template strings.
//!
//! Each function here is a `schema_with` of a field in [`super::spec`] or
//! the views, so the document states exactly what [`super::validate`]
//! enforces.

use suite_domain::templates::MAX_TEMPLATE_BYTES;
use suite_domain::{CampaignStatus, Channel, Objective};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};

use super::validate::{
    MAX_DELAY_SECS, MAX_MICROS, MAX_NAME, MAX_STEPS, MAX_VARIANTS, MAX_VARIANT_NAME, TARGETABLE,
};

/// A name: no control character anywhere (`char::is_control`, U+0000–U+001F
/// and U+007F–U+009F) and at least one character that is not white space
/// (`char::is_whitespace`). `(?![\s\S])` ends the match at the end of the
/// string (`$` would also match before a final line feed in Python).
pub const NAME_PATTERN: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*(?![\\s\\S])";

fn name(max: usize, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(NAME_PATTERN))
        .description(Some(description))
        .into()
}

/// A campaign name: 1–200 characters (as given, white space included), not
/// only white space, no control characters; stored without leading and
/// trailing white space.
pub fn campaign_name() -> Schema {
    name(
        MAX_NAME,
        "1–200 characters (counted as given), not only white space, no control characters; stored without leading and trailing white space.",
    )
}

/// A variant name: as [`campaign_name`], 1–100 characters.
pub fn variant_name() -> Schema {
    name(
        MAX_VARIANT_NAME,
        "1–100 characters (counted as given), not only white space, no control characters; stored without leading and trailing white space. Unique within the campaign after that trimming.",
    )
}

/// `phone`, `sms` or `email`.
pub fn channel() -> Schema {
    suite_http::openapi::string_enum(Channel::ALL.iter().map(|c| c.as_str()))
        .description(Some("`phone`, `sms` or `email`."))
        .into()
}

/// `click`, `reply` or `conversion`.
pub fn objective() -> Schema {
    suite_http::openapi::string_enum(Objective::ALL.iter().map(|o| o.as_str())).into()
}

/// `active`, `paused` or `archived`.
pub fn status() -> Schema {
    suite_http::openapi::string_enum(CampaignStatus::ALL.iter().map(|s| s.as_str())).into()
}

/// Why a paused campaign is paused (`manual` or `budget`), null otherwise.
pub fn pause_reason() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some([
            serde_json::Value::from("manual"),
            serde_json::Value::from("budget"),
            serde_json::Value::Null,
        ]))
        .into()
}

/// The targeted categories: 1–3 of `hot`, `warm`, `nurture`, no repeats.
pub fn target_categories() -> Schema {
    ArrayBuilder::new()
        .items(suite_http::openapi::string_enum(
            TARGETABLE.iter().map(|c| c.as_str()),
        ))
        .min_items(Some(1))
        .max_items(Some(TARGETABLE.len()))
        .unique_items(true)
        .into()
}

/// A ladder: 1–20 steps.
pub fn ladder() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::Ref(Ref::from_schema_name("LadderStep")))
        .min_items(Some(1))
        .max_items(Some(MAX_STEPS))
        .description(Some(
            "1–20 steps; each step's `delay_secs` must not be less than the previous step's.",
        ))
        .into()
}

/// Seconds from the start of the sequence, 0 to 90 days.
pub fn delay_secs() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(MAX_DELAY_SECS))
        .default(Some(0.into()))
        .into()
}

/// An amount in micros, 0 to 10^15.
pub fn micros() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(MAX_MICROS))
        .into()
}

/// Cost of one send per channel: an object whose keys are channels, each
/// 0 to 10^15 micros.
pub fn channel_costs() -> Schema {
    let mut costs = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .description(Some(
            "Cost of one send per channel in micros (0 to 10^15), e.g. `{\"email\": 1000, \"sms\": 20000}`; every channel of the ladder needs one.",
        ));
    for channel in Channel::ALL {
        costs = costs.property(channel.as_str(), micros());
    }
    costs.into()
}

/// The variants of a new campaign: 1–10.
pub fn variants() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::Ref(Ref::from_schema_name("VariantInput")))
        .min_items(Some(1))
        .max_items(Some(MAX_VARIANTS))
        .description(Some(
            "1–10 variants with distinct names; each needs content for every channel of the ladder, and `min_share` × variants must not exceed 1.",
        ))
        .into()
}

/// A message template.
pub fn template() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_TEMPLATE_BYTES))
        .description(Some(
            "A minijinja template over the lead's fields (`first_name`, `last_name`, `name`, `email`, `phone`, `company`, `title`, `industry`, `country`; filter `default`). It must parse, use no other variable, render, and be at most 16384 bytes of UTF-8.",
        ))
        .into()
}

/// `schema` or null.
fn or_null(schema: Schema) -> Schema {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .item(schema)
        .into()
}

macro_rules! nullable {
    ($($name:ident => $inner:ident),+ $(,)?) => {
        $(
            #[doc = concat!("[`", stringify!($inner), "`] or null (a field of a patch: null keeps the value).")]
            pub fn $name() -> Schema {
                or_null($inner())
            }
        )+
    };
}

nullable!(
    nullable_campaign_name => campaign_name,
    nullable_target_categories => target_categories,
    nullable_ladder => ladder,
    nullable_objective => objective,
    nullable_micros => micros,
    nullable_channel_costs => channel_costs,
);

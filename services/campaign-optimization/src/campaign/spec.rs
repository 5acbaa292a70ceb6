//! Wire types of campaign definitions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use suite_domain::{Category, Channel, GenerationSpec, Objective};
use utoipa::ToSchema;

use super::schema;

/// One step of a campaign's channel ladder; `delay_secs` counts from the
/// start of the lead's sequence (not from the previous step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LadderStep {
    /// `phone`, `sms` or `email`.
    #[schema(schema_with = schema::channel, example = "email")]
    pub channel: Channel,
    /// Seconds from the start of the sequence until the step is due (0 to 90 days, default 0).
    #[serde(default)]
    #[schema(schema_with = schema::delay_secs)]
    pub delay_secs: u64,
}

/// An email: subject and body templates, and optionally a prompt for a
/// generated body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailContent {
    /// Subject line (minijinja template over the lead's fields).
    #[schema(schema_with = schema::template)]
    pub subject: String,
    /// Plain-text body (minijinja template over the lead's fields).
    #[schema(schema_with = schema::template)]
    pub body: String,
    /// Ask a language model to write the body from this prompt; the template above is sent whenever no generated text can be used (docs/personalisation.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<GenerationSpec>,
}

/// An SMS text or a voice script, and optionally a prompt for a generated one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextContent {
    /// Body (minijinja template over the lead's fields).
    #[schema(schema_with = schema::template)]
    pub body: String,
    /// Ask a language model to write the body from this prompt; the template above is sent whenever no generated text can be used (docs/personalisation.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<GenerationSpec>,
}

/// A variant's message per channel; every channel of the ladder needs one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantContent {
    /// Email content.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "suite_http::extract::optional_object"
    )]
    pub email: Option<EmailContent>,
    /// SMS content.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "suite_http::extract::optional_object"
    )]
    pub sms: Option<TextContent>,
    /// Voice script.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "suite_http::extract::optional_object"
    )]
    pub phone: Option<TextContent>,
}

impl VariantContent {
    /// Whether there is content for `channel`.
    pub fn has(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email.is_some(),
            Channel::Sms => self.sms.is_some(),
            Channel::Phone => self.phone.is_some(),
        }
    }

    /// Every template with its JSON Pointer below the content object.
    pub fn templates(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        if let Some(email) = &self.email {
            out.push(("email/subject".to_owned(), email.subject.as_str()));
            out.push(("email/body".to_owned(), email.body.as_str()));
        }
        if let Some(sms) = &self.sms {
            out.push(("sms/body".to_owned(), sms.body.as_str()));
        }
        if let Some(phone) = &self.phone {
            out.push(("phone/body".to_owned(), phone.body.as_str()));
        }
        out
    }

    /// Every generation spec with its JSON Pointer below the content object.
    pub fn generations(&self) -> Vec<(String, &GenerationSpec)> {
        let specs = [
            (
                "email",
                self.email.as_ref().and_then(|c| c.generation.as_ref()),
            ),
            ("sms", self.sms.as_ref().and_then(|c| c.generation.as_ref())),
            (
                "phone",
                self.phone.as_ref().and_then(|c| c.generation.as_ref()),
            ),
        ];
        specs
            .into_iter()
            .filter_map(|(channel, spec)| Some((format!("{channel}/generation"), spec?)))
            .collect()
    }
}

/// A variant as created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    /// Unique within the campaign, 1–100 characters.
    #[schema(schema_with = schema::variant_name)]
    pub name: String,
    /// Message per channel.
    #[serde(deserialize_with = "suite_http::extract::object")]
    pub content: VariantContent,
}

/// Cost of one send per channel, in micros (≥ 0); every ladder channel needs one.
pub type ChannelCosts = BTreeMap<Channel, i64>;

/// Body of `POST /v1/campaigns`.
///
/// Besides the rules each field states, a campaign must be consistent: every
/// channel of the ladder needs a `channel_costs` entry and content in every
/// variant, the ladder's delays must not decrease, variant names must be
/// distinct, `min_share` × variants must not exceed 1, every template
/// must parse and use only the lead fields, and every `generation` prompt
/// must parse and use only the prompt variables. Each problem is reported
/// (422) with its JSON Pointer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Spring demo push",
    "target_categories": ["hot", "warm"],
    "ladder": [{"channel": "email", "delay_secs": 0}, {"channel": "sms", "delay_secs": 86400}],
    "objective": "conversion",
    "daily_budget_micros": 50_000_000,
    "channel_costs": {"email": 1000, "sms": 20000},
    "min_share": 0.05,
    "variants": [
        {"name": "A", "content": {
            "email": {"subject": "Hi {{ first_name | default(\"there\") }}", "body": "A demo for {{ company }}?"},
            "sms": {"body": "Hi {{ first_name }}, shall we book a demo?"}}},
        {"name": "B", "content": {
            "email": {"subject": "{{ company }} and us", "body": "Hello {{ name }}"},
            "sms": {"body": "Hello {{ name }}"}}}
    ]
}))]
pub struct CreateCampaign {
    /// 1–200 characters.
    #[schema(schema_with = schema::campaign_name)]
    pub name: String,
    /// Lead categories the campaign targets: `hot`, `warm`, `nurture` (1–3, no repeats).
    #[schema(schema_with = schema::target_categories, example = json!(["hot", "warm"]))]
    pub target_categories: Vec<Category>,
    /// The channel ladder (1–20 steps, delays non-decreasing).
    #[schema(schema_with = schema::ladder)]
    #[serde(deserialize_with = "suite_http::extract::objects")]
    pub ladder: Vec<LadderStep>,
    /// `click`, `reply` or `conversion`.
    #[schema(schema_with = schema::objective, example = "conversion")]
    pub objective: Objective,
    /// Daily budget in micros of the workspace currency (0 to 10^15).
    #[schema(schema_with = schema::micros)]
    pub daily_budget_micros: i64,
    /// Cost of one send per channel in micros: `{"email": 1000, "sms": 20000}`.
    #[schema(schema_with = schema::channel_costs)]
    pub channel_costs: ChannelCosts,
    /// Minimum traffic share per variant in [0, 1]; `min_share × variants ≤ 1` (default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1, default = 0)]
    pub min_share: f64,
    /// Sends per variant before the allocation adapts (0 to 1,000,000, default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000, default = 0)]
    pub warmup_sends: i64,
    /// How far spend may run ahead of the linear daily pace, in basis points of the budget (0–10,000, default 1,000).
    #[serde(default = "default_burst")]
    #[schema(minimum = 0, maximum = 10000, default = 1000)]
    pub pacing_burst_bps: i64,
    /// 1–10 variants.
    #[schema(schema_with = schema::variants)]
    #[serde(deserialize_with = "suite_http::extract::objects")]
    pub variants: Vec<VariantInput>,
}

fn default_burst() -> i64 {
    1_000
}

/// Body of `PATCH /v1/campaigns/{id}`: the fields to change; a field that
/// is absent or null keeps its value. Variants cannot be added or removed
/// (their counts would lose their meaning); their content can be replaced
/// by variant name. Each field follows the rules of the create body, and
/// the campaign as changed must be consistent as a new one must be (see
/// `CreateCampaign`); `variant_content` may only name existing variants.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignPatch {
    /// New name (1–200 characters).
    #[schema(schema_with = schema::nullable_campaign_name)]
    pub name: Option<String>,
    /// New target categories.
    #[schema(schema_with = schema::nullable_target_categories)]
    pub target_categories: Option<Vec<Category>>,
    /// New ladder (every variant must have content for its channels).
    #[schema(schema_with = schema::nullable_ladder)]
    #[serde(default, deserialize_with = "suite_http::extract::optional_objects")]
    pub ladder: Option<Vec<LadderStep>>,
    /// New objective.
    #[schema(schema_with = schema::nullable_objective)]
    pub objective: Option<Objective>,
    /// New daily budget (0 to 10^15 micros).
    #[schema(schema_with = schema::nullable_micros)]
    pub daily_budget_micros: Option<i64>,
    /// New channel costs (replace the old ones).
    #[schema(schema_with = schema::nullable_channel_costs)]
    pub channel_costs: Option<ChannelCosts>,
    /// New minimum share, in [0, 1].
    #[schema(minimum = 0, maximum = 1)]
    pub min_share: Option<f64>,
    /// New warm-up size (0 to 1,000,000).
    #[schema(minimum = 0, maximum = 1000000)]
    pub warmup_sends: Option<i64>,
    /// New burst allowance (0–10,000 basis points).
    #[schema(minimum = 0, maximum = 10000)]
    pub pacing_burst_bps: Option<i64>,
    /// New content per variant name (variants not named keep theirs).
    #[schema(value_type = Option<BTreeMap<String, VariantContent>>)]
    #[serde(default, deserialize_with = "suite_http::extract::optional_object_map")]
    pub variant_content: Option<BTreeMap<String, VariantContent>>,
    /// Only apply when the campaign is still at this version (else 409).
    #[schema(minimum = -2147483648, maximum = 2147483647)]
    pub expected_version: Option<i32>,
}

//! The prompt a generation sends: the variant's prompt template rendered
//! with the lead's fields, its category, score and score breakdown (as the
//! triage that planned it gave them) and its recent conversation (the
//! short-term memory engagement keeps), under the same strict, fuel-bounded
//! environment as message templates; and the fixed system message that
//! tells the model what it writes.

use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, CreateChatCompletionRequest,
};
use minijinja::Value;
use suite_domain::templates::{TemplateError, ENV, MAX_TEMPLATE_BYTES};
use suite_domain::{Channel, GenerationSpec};

use crate::memory::MemoryEntry;
use crate::outreach::LeadFields;

/// What a prompt may use besides the lead's fields.
#[derive(Debug, Clone, Default)]
pub struct PromptInputs {
    /// The lead's fields.
    pub lead: LeadFields,
    /// `hot`, `warm` or `nurture`.
    pub category: String,
    /// 0–100, when the plan kept it.
    pub score: Option<i16>,
    /// `[{factor, points, max, reason}]`, when the plan kept it.
    pub breakdown: Option<serde_json::Value>,
    /// Recent messages and interactions, newest first.
    pub conversation: Vec<MemoryEntry>,
}

/// Renders `prompt` with `inputs`.
pub fn render(prompt: &str, inputs: &PromptInputs) -> Result<String, TemplateError> {
    if prompt.len() > MAX_TEMPLATE_BYTES {
        return Err(TemplateError::TooLarge);
    }
    let mut context: serde_json::Map<String, serde_json::Value> = inputs
        .lead
        .context()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into()))
        .collect();
    context.insert("category".into(), inputs.category.clone().into());
    context.insert(
        "score".into(),
        inputs.score.map_or(serde_json::Value::Null, Into::into),
    );
    context.insert(
        "breakdown".into(),
        inputs
            .breakdown
            .clone()
            .unwrap_or_else(|| serde_json::json!([])),
    );
    context.insert(
        "conversation".into(),
        serde_json::to_value(&inputs.conversation).unwrap_or_else(|_| serde_json::json!([])),
    );
    Ok(ENV
        .template_from_str(prompt)?
        .render(Value::from_serialize(&context))?)
}

/// The system message: plain text for `channel`, the body only.
fn system(channel: Channel, max_chars: usize) -> String {
    let kind = match channel {
        Channel::Email => "the body of a plain-text email",
        Channel::Sms => "an SMS text",
        Channel::Phone => "a short script a caller reads aloud",
    };
    format!(
        "You write {kind} to one person on behalf of a marketing team. \
         Answer with the message only, in plain text, at most {max_chars} characters. \
         Write no subject line, no signature block, no footer and no unsubscribe line: \
         the sender adds them. Use no links other than those the instructions give."
    )
}

/// The chat-completions request for `spec` with the rendered `prompt`.
pub fn request(
    spec: &GenerationSpec,
    model: &str,
    channel: Channel,
    prompt: &str,
) -> CreateChatCompletionRequest {
    let messages: Vec<ChatCompletionRequestMessage> = vec![
        ChatCompletionRequestSystemMessage::from(
            system(channel, spec.max_chars_for(channel)).as_str(),
        )
        .into(),
        ChatCompletionRequestUserMessage::from(prompt).into(),
    ];
    CreateChatCompletionRequest {
        messages,
        model: model.to_owned(),
        max_completion_tokens: Some(spec.max_tokens),
        temperature: Some(spec.temperature as f32),
        n: Some(1),
        ..CreateChatCompletionRequest::default()
    }
}

/// A rough token count of `text` (four characters a token), for limits and
/// budget estimates made before the provider counts.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.chars().count().div_ceil(4)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_sees_the_lead_its_score_and_its_conversation() {
        let inputs = PromptInputs {
            lead: LeadFields {
                name: Some("Ada Lovelace".into()),
                company: Some("Engines Ltd".into()),
                ..LeadFields::default()
            },
            category: "hot".into(),
            score: Some(91),
            breakdown: Some(
                serde_json::json!([{"factor": "title", "points": 25, "max": 25, "reason": "VP"}]),
            ),
            conversation: vec![],
        };
        let text = render(
            "{{ first_name }} of {{ company }}, {{ category }} {{ score }}: \
             {% for f in breakdown %}{{ f.factor }}={{ f.points }}{% endfor %} \
             ({{ conversation | length }} before)",
            &inputs,
        )
        .expect("renders");
        assert_eq!(text, "Ada of Engines Ltd, hot 91: title=25 (0 before)");
    }

    #[test]
    fn the_request_carries_the_model_bounds_and_prompt() {
        let spec: GenerationSpec =
            serde_json::from_value(serde_json::json!({"prompt": "x", "max_tokens": 50}))
                .expect("spec");
        let request = request(&spec, "m", Channel::Sms, "Write to Ada");
        let json = serde_json::to_value(&request).expect("json");
        assert_eq!(json["model"], "m");
        assert_eq!(json["max_completion_tokens"], 50);
        assert_eq!(json["messages"][1]["role"], "user");
        assert_eq!(json["messages"][1]["content"], "Write to Ada");
        assert!(json["messages"][0]["content"]
            .as_str()
            .unwrap_or("")
            .contains("SMS"));
    }
}

use std::collections::BTreeMap;

use suite_domain::GenerationSpec;

use super::*;
use crate::campaign::spec::{EmailContent, TextContent};

fn content() -> VariantContent {
    VariantContent {
        email: Some(EmailContent {
            subject: "Hi {{ first_name | default(\"there\") }}".into(),
            body: "About {{ company }}".into(),
            generation: None,
        }),
        sms: Some(TextContent {
            body: "Hi {{ name }}".into(),
            generation: None,
        }),
        phone: None,
    }
}

fn spec(prompt: &str, temperature: f64) -> GenerationSpec {
    GenerationSpec {
        prompt: prompt.into(),
        model: None,
        temperature,
        max_tokens: 300,
        max_chars: None,
    }
}

fn costs() -> ChannelCosts {
    BTreeMap::from([(Channel::Email, 1_000), (Channel::Sms, 20_000)])
}

fn ladder() -> Vec<LadderStep> {
    vec![
        LadderStep {
            channel: Channel::Email,
            delay_secs: 0,
        },
        LadderStep {
            channel: Channel::Sms,
            delay_secs: 3_600,
        },
    ]
}

fn pointers(result: Result<(), Vec<FieldError>>) -> Vec<String> {
    result
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.pointer)
        .collect()
}

#[test]
fn a_valid_definition_passes_and_each_rule_names_its_field() {
    let (c, costs, ladder) = (content(), costs(), ladder());
    let def = Definition {
        name: "Spring",
        target_categories: &[Category::Hot],
        ladder: &ladder,
        objective: Objective::Click,
        daily_budget_micros: 1_000_000,
        channel_costs: &costs,
        min_share: 0.5,
        warmup_sends: 10,
        pacing_burst_bps: 1_000,
        variants: vec![
            ("/variants/0".into(), "A", &c),
            ("/variants/1".into(), "B", &c),
        ],
    };
    assert_eq!(check(&def), Ok(()));

    let mut bad = def.clone();
    bad.min_share = 0.6;
    assert_eq!(pointers(check(&bad)), ["/min_share"]);

    let mut bad = def.clone();
    bad.daily_budget_micros = -1;
    bad.target_categories = &[Category::Cold];
    assert_eq!(
        pointers(check(&bad)),
        ["/target_categories/0", "/daily_budget_micros"]
    );

    let no_sms = VariantContent {
        sms: None,
        ..content()
    };
    let mut bad = def.clone();
    bad.variants[1] = ("/variants/1".into(), "A", &no_sms);
    assert_eq!(
        pointers(check(&bad)),
        ["/variants/1/name", "/variants/1/content/sms"]
    );

    let unknown = VariantContent {
        email: Some(EmailContent {
            subject: "{{ password }}".into(),
            body: "ok".into(),
            generation: None,
        }),
        ..content()
    };
    let mut bad = def.clone();
    bad.variants[0].2 = &unknown;
    assert_eq!(pointers(check(&bad)), ["/variants/0/content/email/subject"]);

    let no_costs = ChannelCosts::new();
    let mut bad = def;
    bad.channel_costs = &no_costs;
    assert_eq!(
        pointers(check(&bad)),
        ["/channel_costs/sms", "/channel_costs/email"]
    );
}

#[test]
fn names_are_counted_as_given_and_refuse_control_characters_anywhere() {
    let mut errors = Vec::new();
    check_name(
        &mut errors,
        "/name",
        &format!(" {} ", "a".repeat(200)),
        MAX_NAME,
    );
    check_name(&mut errors, "/ok", &"é".repeat(200), MAX_NAME);
    check_name(&mut errors, "/blank", " \u{3000}\u{a0}", MAX_NAME);
    check_name(&mut errors, "/newline", "Spring\n", MAX_NAME);
    let found: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(found, ["/name", "/blank", "/newline"]);
}

#[test]
fn a_patch_is_checked_field_by_field_before_the_campaign_is_read() {
    assert_eq!(check_patch(&CampaignPatch::default()), Ok(()));
    let patch = CampaignPatch {
        name: Some(" ".into()),
        target_categories: Some(vec![Category::Cold]),
        ladder: Some(vec![]),
        daily_budget_micros: Some(-1),
        channel_costs: Some(BTreeMap::from([(Channel::Sms, MAX_MICROS + 1)])),
        min_share: Some(1.5),
        warmup_sends: Some(MAX_WARMUP + 1),
        pacing_burst_bps: Some(-1),
        variant_content: Some(BTreeMap::from([(
            "A/1".to_owned(),
            VariantContent {
                sms: Some(TextContent {
                    body: "{{ password }}".into(),
                    generation: Some(spec("Hi {{ name }}", 2.5)),
                }),
                ..VariantContent::default()
            },
        )])),
        ..CampaignPatch::default()
    };
    assert_eq!(
        pointers(check_patch(&patch)),
        [
            "/name",
            "/target_categories/0",
            "/ladder",
            "/daily_budget_micros",
            "/channel_costs/sms",
            "/min_share",
            "/warmup_sends",
            "/pacing_burst_bps",
            "/variant_content/A~11/sms/body",
            "/variant_content/A~11/sms/generation/temperature",
        ]
    );
}

#[test]
fn generation_specs_are_checked_with_the_pointer_of_their_field() {
    let (costs, ladder) = (costs(), ladder());
    let mut generated = content();
    if let Some(email) = generated.email.as_mut() {
        email.generation = Some(spec(
            "Write to {{ first_name }} about {{ company }} ({{ score }})",
            0.0,
        ));
    }
    if let Some(sms) = generated.sms.as_mut() {
        sms.generation = Some(spec("Text {{ name }}", 0.7));
    }
    let def = Definition {
        name: "Generated",
        target_categories: &[Category::Hot],
        ladder: &ladder,
        objective: Objective::Click,
        daily_budget_micros: 1_000_000,
        channel_costs: &costs,
        min_share: 0.0,
        warmup_sends: 0,
        pacing_burst_bps: 1_000,
        variants: vec![("/variants/0".into(), "A", &generated)],
    };
    assert_eq!(check(&def), Ok(()));

    let mut bad_content = generated.clone();
    if let Some(email) = bad_content.email.as_mut() {
        email.generation = Some(spec("Mention {{ salary }}", 0.0));
    }
    if let Some(sms) = bad_content.sms.as_mut() {
        sms.generation = Some(spec("Text {{ name }}", 3.0));
    }
    let mut bad = def;
    bad.variants[0].2 = &bad_content;
    let errors = check(&bad).unwrap_err();
    let found: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.pointer.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].0, "/variants/0/content/email/generation/prompt");
    assert!(found[0].1.contains("salary"), "{found:?}");
    assert_eq!(found[1].0, "/variants/0/content/sms/generation/temperature");
}

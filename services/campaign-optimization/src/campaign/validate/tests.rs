use std::collections::BTreeMap;

use super::*;
use crate::campaign::spec::{EmailContent, TextContent};

fn content() -> VariantContent {
    VariantContent {
        email: Some(EmailContent {
            subject: "Hi {{ first_name | default(\"there\") }}".into(),
            body: "About {{ company }}".into(),
        }),
        sms: Some(TextContent {
            body: "Hi {{ name }}".into(),
        }),
        phone: None,
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
        ]
    );
}

use super::*;

fn ada() -> LeadFields {
    LeadFields {
        name: Some("Ada King Lovelace".into()),
        email: Some("ada@example.com".into()),
        company: Some("Analytical Engines".into()),
        title: Some("CTO".into()),
        country: Some("GB".into()),
        ..LeadFields::default()
    }
}

#[test]
fn renders_lead_fields() {
    let out = render(
        "Hi {{ first_name }} {{ last_name }}, how is {{ company }} ({{ country }})?",
        &ada(),
    )
    .expect("render");
    assert_eq!(out, "Hi Ada King Lovelace, how is Analytical Engines (GB)?");
}

#[test]
fn explicit_first_and_last_names_win_over_the_split_name() {
    let lead = LeadFields {
        first_name: Some("Augusta".into()),
        ..ada()
    };
    assert_eq!(
        render("{{ first_name }} {{ last_name }}", &lead).expect("render"),
        "Augusta King Lovelace"
    );
}

#[test]
fn missing_optional_fields_render_empty_and_take_defaults() {
    let lead = LeadFields::default();
    let template = "Hi {{ first_name | default(\"there\") }}!{% if company %} At {{ company }}.{% endif %}{{ phone }}";
    assert_eq!(validate(template, LEAD_VARIABLES), Ok(()));
    assert_eq!(render(template, &lead).expect("render"), "Hi there!");
    assert_eq!(
        render(template, &ada()).expect("render"),
        "Hi Ada! At Analytical Engines."
    );
    // `default` also replaces an empty value; `lax` any false one.
    assert_eq!(
        render("{{ title | default('friend', true) }}", &lead).expect("render"),
        "friend"
    );
}

#[test]
fn unknown_variables_are_refused_at_validation() {
    let err = validate(
        "Hi {{ first_name }}, {{ coupon_code }} {{ lead.score }} {{ coupon_code }}",
        LEAD_VARIABLES,
    )
    .expect_err("unknown");
    assert_eq!(
        err,
        TemplateError::UnknownVariables(vec!["coupon_code".into(), "lead".into()])
    );
    assert_eq!(err.to_string(), "unknown variables: coupon_code, lead");
    // Locals, loop variables and globals are not unknown.
    let ok = "{% set greeting = 'Hi' %}{{ greeting }} {% for c in name %}{{ loop.index }}{{ c }}{% endfor %}{% for i in range(2) %}{{ i }}{% endfor %}";
    assert_eq!(validate(ok, LEAD_VARIABLES), Ok(()));
    // The allowed set is the caller's.
    assert!(validate("{{ company }}", &["first_name"]).is_err());
}

#[test]
fn syntax_errors_name_the_line() {
    let err = validate("Hello\n{{ first_name }\n", LEAD_VARIABLES).expect_err("syntax");
    let TemplateError::Syntax { line, message } = err else {
        panic!("expected a syntax error, got {err:?}");
    };
    assert_eq!(line, 2);
    assert!(!message.is_empty());
    assert!(matches!(
        validate("{% if company %}open", LEAD_VARIABLES),
        Err(TemplateError::Syntax { .. })
    ));
}

#[test]
fn unknown_filters_and_runaway_loops_fail_validation() {
    assert!(matches!(
        validate("{{ name | shout }}", LEAD_VARIABLES),
        Err(TemplateError::Render(_))
    ));
    let endless =
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
    assert!(matches!(
        validate(endless, LEAD_VARIABLES),
        Err(TemplateError::Render(_))
    ));
    let huge = "x".repeat(MAX_TEMPLATE_BYTES + 1);
    assert_eq!(
        validate(&huge, LEAD_VARIABLES),
        Err(TemplateError::TooLarge)
    );
}

#[test]
fn render_is_strict_about_undefined_variables() {
    // A template that skipped validation fails at send time instead of sending a blank.
    assert!(matches!(
        render("Hi {{ nickname }}", &ada()),
        Err(TemplateError::Render(_))
    ));
    assert!(matches!(
        render("{% if nickname %}x{% endif %}", &ada()),
        Err(TemplateError::Render(_))
    ));
}

#[test]
fn output_is_plain_text() {
    let lead = LeadFields {
        company: Some("Smith & <Sons>".into()),
        ..LeadFields::default()
    };
    assert_eq!(
        render("{{ company }}", &lead).expect("render"),
        "Smith & <Sons>"
    );
}

#[test]
fn message_templates_validate_and_render_each_part() {
    let message: MessageTemplate = serde_json::from_str(
        r#"{"subject": "A note for {{ company }}", "body": "Hi {{ first_name }}"}"#,
    )
    .expect("parse");
    assert_eq!(message.validate(), Ok(()));
    let rendered = message.render(&ada()).expect("render");
    assert_eq!(
        rendered.subject.as_deref(),
        Some("A note for Analytical Engines")
    );
    assert_eq!(rendered.body, "Hi Ada");

    let bad = MessageTemplate {
        subject: None,
        body: "{{ discount }}".into(),
        generation: None,
    };
    let err = bad.validate().expect_err("unknown");
    assert_eq!(err.part, "body");
    assert_eq!(
        err.error,
        TemplateError::UnknownVariables(vec!["discount".into()])
    );
    let sms = MessageTemplate {
        subject: None,
        body: "Hi {{ name }}".into(),
        generation: None,
    };
    assert_eq!(sms.render(&ada()).expect("render").subject, None);
    assert!(serde_json::from_str::<MessageTemplate>(r#"{"body":"x","html":"y"}"#).is_err());
}

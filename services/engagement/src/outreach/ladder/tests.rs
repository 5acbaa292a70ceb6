use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use suite_domain::Category;

use super::*;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 2, 9, 0, 0)
        .single()
        .expect("valid")
}

fn channels(steps: &[PlannedStep]) -> Vec<Channel> {
    steps.iter().map(|s| s.channel).collect()
}

#[test]
fn channels_serialise_in_lower_case() {
    let json = serde_json::to_string(&Channel::ALL).expect("serialise");
    assert_eq!(json, r#"["phone","sms","email"]"#);
    let back: Vec<Channel> = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, Channel::ALL);
    assert!(serde_json::from_str::<Channel>(r#""Email""#).is_err());
    assert_eq!(Channel::Sms.to_string(), "sms");
}

#[test]
fn hot_ladder_is_phone_then_sms_then_email() {
    let steps = plan(Category::Hot, None, start());
    assert_eq!(
        channels(&steps),
        [Channel::Phone, Channel::Sms, Channel::Email]
    );
    assert_eq!(steps[0].due_at, start());
    assert_eq!(steps[1].due_at, start() + TimeDelta::hours(1));
    assert_eq!(steps[2].due_at, start() + TimeDelta::days(1));
    let indexes: Vec<u32> = steps.iter().map(|s| s.index).collect();
    assert_eq!(indexes, [0, 1, 2]);
}

#[test]
fn warm_ladder_is_email_then_sms() {
    let steps = plan(Category::Warm, None, start());
    assert_eq!(channels(&steps), [Channel::Email, Channel::Sms]);
}

#[test]
fn nurture_is_an_email_drip_on_days_0_3_7() {
    let steps = plan(Category::Nurture, None, start());
    assert_eq!(channels(&steps), [Channel::Email; 3]);
    let days: Vec<i64> = steps
        .iter()
        .map(|s| (s.due_at - start()).num_days())
        .collect();
    assert_eq!(days, [0, 3, 7]);
}

#[test]
fn cold_and_disqualified_get_no_steps() {
    assert!(plan(Category::Cold, None, start()).is_empty());
    assert!(plan(Category::Disqualified, None, start()).is_empty());
}

#[test]
fn a_campaign_ladder_replaces_the_default() {
    let ladder = [
        StepSpec::new(Channel::Sms, 0),
        StepSpec::new(Channel::Email, 600),
    ];
    let steps = plan(Category::Hot, Some(&ladder), start());
    assert_eq!(channels(&steps), [Channel::Sms, Channel::Email]);
    assert_eq!(steps[1].due_at, start() + TimeDelta::minutes(10));
    // An empty campaign ladder means "use the default".
    assert_eq!(plan(Category::Warm, Some(&[]), start()).len(), 2);
}

#[test]
fn step_specs_read_from_json() {
    let steps: Vec<StepSpec> =
        serde_json::from_str(r#"[{"channel":"email"},{"channel":"sms","delay_secs":86400}]"#)
            .expect("parse");
    assert_eq!(
        steps,
        [
            StepSpec::new(Channel::Email, 0),
            StepSpec::new(Channel::Sms, 86_400)
        ]
    );
    assert!(serde_json::from_str::<StepSpec>(r#"{"channel":"fax"}"#).is_err());
    assert!(serde_json::from_str::<StepSpec>(r#"{"channel":"sms","delay":1}"#).is_err());
}

#[test]
fn validate_rejects_bad_ladders() {
    assert_eq!(validate(&[]), Err(LadderError::Empty));
    let many = vec![StepSpec::new(Channel::Email, 0); MAX_STEPS + 1];
    assert_eq!(validate(&many), Err(LadderError::TooManySteps));
    let late = [StepSpec::new(Channel::Email, MAX_DELAY_SECS + 1)];
    assert_eq!(validate(&late), Err(LadderError::DelayTooLong { index: 0 }));
    let backwards = [
        StepSpec::new(Channel::Email, 100),
        StepSpec::new(Channel::Sms, 50),
    ];
    assert_eq!(
        validate(&backwards),
        Err(LadderError::OutOfOrder { index: 1 })
    );
    for category in [Category::Hot, Category::Warm, Category::Nurture] {
        assert_eq!(validate(default_ladder(category)), Ok(()));
    }
}

#[test]
fn fallback_skips_steps_on_the_failed_channel() {
    let hot = plan(Category::Hot, None, start());
    assert_eq!(
        fallback_after(&hot, 0).map(|s| s.channel),
        Some(Channel::Sms)
    );
    assert_eq!(
        fallback_after(&hot, 1).map(|s| s.channel),
        Some(Channel::Email)
    );
    assert_eq!(fallback_after(&hot, 2), None);
    assert_eq!(fallback_after(&hot, 9), None);

    // A hard bounce on the first drip email skips the other emails.
    let ladder = [
        StepSpec::new(Channel::Email, 0),
        StepSpec::new(Channel::Email, 10),
        StepSpec::new(Channel::Sms, 20),
    ];
    let steps = plan(Category::Nurture, Some(&ladder), start());
    let next = fallback_after(&steps, 0).expect("sms step");
    assert_eq!((next.index, next.channel), (2, Channel::Sms));
    assert_eq!(
        fallback_after(&plan(Category::Nurture, None, start()), 0),
        None
    );
}

#[test]
fn next_step_avoiding_skips_every_blocked_channel() {
    let hot = plan(Category::Hot, None, start());
    let next = next_step_avoiding(&hot, 0, &[Channel::Phone, Channel::Sms]).expect("email");
    assert_eq!((next.index, next.channel), (2, Channel::Email));
    assert_eq!(next_step_avoiding(&hot, 0, &Channel::ALL), None);
}

fn any_channel() -> impl Strategy<Value = Channel> {
    prop::sample::select(Channel::ALL.to_vec())
}

proptest! {
    #[test]
    fn plans_keep_order_and_delays(
        mut delays in prop::collection::vec(0..MAX_DELAY_SECS, 1..MAX_STEPS),
        picks in prop::collection::vec(any_channel(), MAX_STEPS),
    ) {
        delays.sort_unstable();
        let ladder: Vec<StepSpec> = delays
            .iter()
            .zip(&picks)
            .map(|(d, c)| StepSpec::new(*c, *d))
            .collect();
        prop_assert_eq!(validate(&ladder), Ok(()));
        let steps = plan(Category::Warm, Some(&ladder), start());
        prop_assert_eq!(steps.len(), ladder.len());
        for (i, (step, spec)) in steps.iter().zip(&ladder).enumerate() {
            prop_assert_eq!(step.index as usize, i);
            prop_assert_eq!(step.channel, spec.channel);
            prop_assert_eq!((step.due_at - start()).num_seconds() as u64, spec.delay_secs);
        }
        for window in steps.windows(2) {
            prop_assert!(window[0].due_at <= window[1].due_at);
        }
        for step in &steps {
            if let Some(next) = fallback_after(&steps, step.index) {
                prop_assert!(next.index > step.index);
                prop_assert_ne!(next.channel, step.channel);
            }
        }
    }
}

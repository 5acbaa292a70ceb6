use chrono::Duration;
use suite_domain::{Category, Factor};

use super::*;

#[test]
fn an_ideal_lead_scores_100_and_is_hot() {
    let model = ScoringModel::default();
    let signals = LeadSignals {
        has_valid_phone: true,
        company_size: Some(400),
        title: Some("VP Marketing".into()),
        industry: Some("Software".into()),
        country: Some("de".into()),
        source: Some("Referral".into()),
        ..lead("jane@acme.io")
    };
    let events = [BehaviourEvent::new("Demo Requested", now())];
    let t = score(&signals, &events, &model, now());
    assert_eq!(t.score.get(), 100, "{:#?}", t.breakdown);
    assert_eq!(t.category, Category::Hot);
    assert_eq!(t.disqualified_by, None);
    assert_eq!(t.model_version, 0);
    assert!(t.breakdown.iter().all(|f| f.points == f.max));
    let factors: Vec<Factor> = t.breakdown.iter().map(|f| f.factor).collect();
    assert_eq!(factors, Factor::ALL.to_vec());
}

#[test]
fn breakdown_explains_each_factor() {
    let model = ScoringModel::default();
    let signals = LeadSignals {
        company_size: Some(30),
        title: Some("Marketing Manager".into()),
        source: Some("webinar".into()),
        ..lead("jane@gmail.com")
    };
    let t = score(&signals, &[], &model, now());
    let get = |f: Factor| t.breakdown.iter().find(|b| b.factor == f).unwrap().clone();
    // 30 employees is within a factor of two of 50–5000: half of 15.
    assert_eq!(get(Factor::CompanySize).points, 8);
    assert!(get(Factor::CompanySize).reason.contains("factor of two"));
    // Manager is next to director: half of 20.
    assert_eq!(get(Factor::Seniority).points, 10);
    // A free provider earns a quarter of 10.
    assert!(get(Factor::EmailType)
        .reason
        .contains("free email provider gmail.com"));
    assert_eq!(get(Factor::Source).points, 10);
    assert_eq!(get(Factor::Industry).reason, "industry unknown");
    let sum: u32 = t.breakdown.iter().map(|f| u32::from(f.points)).sum();
    assert_eq!(sum, u32::from(t.score.get()));
    assert!(t.breakdown.iter().all(|f| !f.reason.contains("jane")));
}

#[test]
fn events_decay_by_event_time() {
    let model = ScoringModel {
        event_points_cap: 100,
        ..ScoringModel::default()
    };
    let half_life = Duration::hours(i64::from(model.decay_half_life_hours));
    let events_points = |at: DateTime<Utc>| {
        let t = score(
            &lead("a@acme.io"),
            &[BehaviourEvent::new("demo requested", at)],
            &model,
            now(),
        );
        t.breakdown
            .iter()
            .find(|f| f.factor == Factor::Events)
            .unwrap()
            .reason
            .clone()
    };
    assert!(events_points(now()).contains(": 20.0 decayed"));
    assert!(events_points(now() - half_life).contains(": 10.0 decayed"));
    assert!(events_points(now() - half_life * 2).contains(": 5.0 decayed"));
    // Dated in the future: counts as new.
    assert!(events_points(now() + Duration::days(3)).contains(": 20.0 decayed"));
}

#[test]
fn thresholds_are_inclusive_lower_bounds() {
    let model = source_only(&[
        ("s100", 100),
        ("s75", 75),
        ("s74", 74),
        ("s50", 50),
        ("s49", 49),
        ("s25", 25),
        ("s24", 24),
        ("s0", 0),
    ]);
    let expect = [
        ("s100", 100, Category::Hot),
        ("s75", 75, Category::Hot),
        ("s74", 74, Category::Warm),
        ("s50", 50, Category::Warm),
        ("s49", 49, Category::Nurture),
        ("s25", 25, Category::Nurture),
        ("s24", 24, Category::Cold),
        ("s0", 0, Category::Cold),
    ];
    for (source, points, category) in expect {
        let signals = LeadSignals {
            source: Some(source.into()),
            ..lead("a@acme.io")
        };
        let t = score(&signals, &[], &model, now());
        assert_eq!((t.score.get(), t.category), (points, category), "{source}");
    }
    let t = Thresholds {
        hot: 90,
        warm: 60,
        nurture: 0,
    };
    assert_eq!(categorise(suite_domain::Score::MIN, &t), Category::Nurture);
    assert_eq!(
        categorise(suite_domain::Score::parse(89).unwrap(), &t),
        Category::Warm
    );
    assert_eq!(categorise(suite_domain::Score::MAX, &t), Category::Hot);
}

#[test]
fn each_rule_disqualifies_and_scores_zero() {
    let mut model = ScoringModel::default();
    model.disqualification.competitor_domains = vec!["rival.com".into()];
    let strong = |email: &str| LeadSignals {
        has_valid_phone: true,
        title: Some("CEO".into()),
        source: Some("referral".into()),
        ..lead(email)
    };
    let cases = [
        (
            LeadSignals {
                opted_out: true,
                ..strong("a@acme.io")
            },
            Disqualification::OptedOut,
        ),
        (strong("a@rival.com"), Disqualification::CompetitorDomain),
        (strong("a@eu.rival.com"), Disqualification::CompetitorDomain),
        (
            strong("a@mailinator.com"),
            Disqualification::DisposableEmail,
        ),
    ];
    for (signals, rule) in cases {
        let t = score(&signals, &[], &model, now());
        assert_eq!(t.disqualified_by, Some(rule));
        assert_eq!(t.category, Category::Disqualified);
        assert_eq!(t.score.get(), 0);
        assert!(t.breakdown.iter().all(|f| f.points == 0));
        assert_eq!(
            t.breakdown.iter().map(|f| u32::from(f.max)).sum::<u32>(),
            100
        );
    }
    // Rules switched off: the same leads are scored normally.
    model.disqualification = DisqualificationRules {
        disposable_email: false,
        competitor_domains: vec![],
        opt_out: false,
    };
    let t = score(
        &LeadSignals {
            opted_out: true,
            ..strong("a@mailinator.com")
        },
        &[],
        &model,
        now(),
    );
    assert_eq!(t.disqualified_by, None);
    assert_ne!(t.category, Category::Disqualified);
    assert!(t.score.get() > 0);
    // "notrival.com" is not a subdomain of "rival.com".
    model.disqualification.competitor_domains = vec!["rival.com".into()];
    assert_eq!(
        score(&strong("a@notrival.com"), &[], &model, now()).disqualified_by,
        None
    );
}

#[test]
fn unconfigured_factors_carry_no_weight() {
    let mut model = ScoringModel::default();
    model.ideal_customer_profile.industries.clear();
    model.ideal_customer_profile.countries.clear();
    let maxima = model.effective_max_points();
    let get = |f: Factor| maxima.iter().find(|(x, _)| *x == f).unwrap().1;
    assert_eq!(get(Factor::Industry), 0);
    assert_eq!(get(Factor::Country), 0);
    assert_eq!(maxima.iter().map(|(_, m)| u32::from(*m)).sum::<u32>(), 100);
    let t = score(&lead("a@acme.io"), &[], &model, now());
    let industry = t
        .breakdown
        .iter()
        .find(|f| f.factor == Factor::Industry)
        .unwrap();
    assert_eq!(
        (industry.max, industry.reason.as_str()),
        (0, "no target industries in the profile")
    );
}

#[test]
fn the_default_model_is_valid_and_round_trips() {
    let model = ScoringModel::default();
    assert_eq!(model.validate(), Ok(()));
    let json = serde_json::to_value(&model).unwrap();
    let back: ScoringModel = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, model);
    // The version is optional on input (the store assigns it) ...
    let mut without_version = json.clone();
    without_version.as_object_mut().unwrap().remove("version");
    assert_eq!(
        serde_json::from_value::<ScoringModel>(without_version)
            .unwrap()
            .version,
        0
    );
    // ... and unknown fields are rejected, at every level.
    let mut unknown = json.clone();
    unknown["thresholds"]["lukewarm"] = serde_json::json!(10);
    assert!(serde_json::from_value::<ScoringModel>(unknown).is_err());
    let mut unknown = json;
    unknown["extra"] = serde_json::json!(true);
    assert!(serde_json::from_value::<ScoringModel>(unknown).is_err());
    assert_eq!(model.with_version(7).version, 7);
}

#[test]
fn scoring_never_trusts_the_model() {
    let mut model = source_only(&[("x", i32::MAX), ("y", -5)]);
    model.fit_weights.phone = -100;
    model.event_points_cap = i32::MIN;
    model.decay_half_life_hours = -1;
    model.thresholds = Thresholds {
        hot: -1,
        warm: 500,
        nurture: i32::MAX,
    };
    model.ideal_customer_profile.company_size = Some(SizeRange {
        min: i64::MAX,
        max: i64::MIN,
    });
    let signals = LeadSignals {
        source: Some("x".into()),
        company_size: Some(u32::MAX),
        ..lead("a@acme.io")
    };
    let t = score(
        &signals,
        &[BehaviourEvent::new("page viewed", now())],
        &model,
        now(),
    );
    assert_eq!(t.score.get(), 100);
    assert_eq!(t.category, Category::Hot);
}

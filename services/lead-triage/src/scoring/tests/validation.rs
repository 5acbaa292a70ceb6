use super::*;

/// Validates `model` after `change` and returns the pointers reported.
fn pointers(change: impl FnOnce(&mut ScoringModel)) -> Vec<String> {
    let mut model = ScoringModel::default();
    change(&mut model);
    match model.validate() {
        Ok(()) => Vec::new(),
        Err(issues) => issues.into_iter().map(|(pointer, _)| pointer).collect(),
    }
}

/// A change to the default model and the one pointer it must produce.
type Case = (&'static str, Box<dyn FnOnce(&mut ScoringModel)>);

#[test]
fn each_rule_reports_its_pointer() {
    let cases: Vec<Case> = vec![
        (
            "/fit_weights/company_size",
            Box::new(|m| m.fit_weights.company_size = -1),
        ),
        (
            "/fit_weights/seniority",
            Box::new(|m| m.fit_weights.seniority = 1_001),
        ),
        (
            "/fit_weights/industry",
            Box::new(|m| m.fit_weights.industry = -5),
        ),
        (
            "/fit_weights/country",
            Box::new(|m| m.fit_weights.country = i32::MAX),
        ),
        (
            "/fit_weights/email_type",
            Box::new(|m| m.fit_weights.email_type = -1),
        ),
        ("/fit_weights/phone", Box::new(|m| m.fit_weights.phone = -1)),
        (
            "/ideal_customer_profile/company_size/min",
            Box::new(|m| {
                m.ideal_customer_profile.company_size = Some(SizeRange { min: -1, max: 10 });
            }),
        ),
        (
            "/ideal_customer_profile/company_size/max",
            Box::new(|m| {
                m.ideal_customer_profile.company_size = Some(SizeRange { min: 100, max: 10 });
            }),
        ),
        (
            "/ideal_customer_profile/company_size/max",
            Box::new(|m| {
                m.ideal_customer_profile.company_size = Some(SizeRange {
                    min: 1,
                    max: 20_000_000,
                });
            }),
        ),
        (
            "/ideal_customer_profile/industries/1",
            Box::new(|m| m.ideal_customer_profile.industries[1] = "Software".into()),
        ),
        (
            "/ideal_customer_profile/industries/2",
            Box::new(|m| m.ideal_customer_profile.industries[2] = " padded".into()),
        ),
        (
            "/ideal_customer_profile/industries/3",
            Box::new(|m| m.ideal_customer_profile.industries[3] = String::new()),
        ),
        (
            "/ideal_customer_profile/industries/4",
            Box::new(|m| m.ideal_customer_profile.industries.push("software".into())),
        ),
        (
            "/ideal_customer_profile/industries",
            Box::new(|m| {
                m.ideal_customer_profile.industries =
                    (0..101).map(|i| format!("industry {i}")).collect();
            }),
        ),
        (
            "/ideal_customer_profile/countries/0",
            Box::new(|m| m.ideal_customer_profile.countries[0] = "us".into()),
        ),
        (
            "/ideal_customer_profile/countries/1",
            Box::new(|m| m.ideal_customer_profile.countries[1] = "USA".into()),
        ),
        (
            "/ideal_customer_profile/seniorities/3",
            Box::new(|m| m.ideal_customer_profile.seniorities.push(Seniority::Vp)),
        ),
        (
            "/source_weights/referral",
            Box::new(|m| {
                m.source_weights.insert("referral".into(), -1);
            }),
        ),
        (
            "/source_weights/Paid~1Search",
            Box::new(|m| {
                m.source_weights.insert("Paid/Search".into(), 5);
            }),
        ),
        (
            "/source_weights",
            Box::new(|m| {
                m.source_weights = (0..201).map(|i| (format!("s{i}"), 1)).collect();
            }),
        ),
        (
            "/event_weights/page viewed",
            Box::new(|m| {
                m.event_weights.insert("page viewed".into(), 2_000);
            }),
        ),
        (
            "/event_weights/a~0b",
            Box::new(|m| {
                m.event_weights.insert("a~b".into(), -3);
            }),
        ),
        (
            "/event_weights",
            Box::new(|m| {
                m.event_weights = (0..501).map(|i| (format!("e{i}"), 1)).collect();
            }),
        ),
        ("/event_points_cap", Box::new(|m| m.event_points_cap = -1)),
        (
            "/decay_half_life_hours",
            Box::new(|m| m.decay_half_life_hours = 0),
        ),
        (
            "/decay_half_life_hours",
            Box::new(|m| m.decay_half_life_hours = 8_761),
        ),
        ("/thresholds/hot", Box::new(|m| m.thresholds.hot = 101)),
        (
            "/thresholds/nurture",
            Box::new(|m| m.thresholds.nurture = -1),
        ),
        (
            "/thresholds/warm",
            Box::new(|m| m.thresholds.warm = m.thresholds.hot),
        ),
        (
            "/thresholds/nurture",
            Box::new(|m| m.thresholds.nurture = m.thresholds.warm + 1),
        ),
        (
            "/disqualification/competitor_domains/0",
            Box::new(|m| m.disqualification.competitor_domains = vec!["Rival.com".into()]),
        ),
        (
            "/disqualification/competitor_domains/0",
            Box::new(|m| m.disqualification.competitor_domains = vec!["localhost".into()]),
        ),
        (
            "/disqualification/competitor_domains/0",
            Box::new(|m| m.disqualification.competitor_domains = vec!["-x.com".into()]),
        ),
        (
            "/disqualification/competitor_domains/1",
            Box::new(|m| {
                m.disqualification.competitor_domains =
                    vec!["rival.com".into(), "rival.com".into()];
            }),
        ),
        (
            "/disqualification/competitor_domains",
            Box::new(|m| {
                m.disqualification.competitor_domains =
                    (0..1_001).map(|i| format!("r{i}.com")).collect();
            }),
        ),
        (
            "/fit_weights",
            Box::new(|m| {
                m.fit_weights = FitWeights {
                    company_size: 0,
                    seniority: 0,
                    industry: 0,
                    country: 0,
                    email_type: 0,
                    phone: 0,
                };
                m.source_weights.clear();
                m.event_weights.clear();
            }),
        ),
    ];
    for (expected, change) in cases {
        let got = pointers(change);
        assert_eq!(got, vec![expected.to_owned()], "expected only {expected}");
    }
}

#[test]
fn reports_every_problem_at_once_with_messages() {
    let mut model = ScoringModel::default();
    model.fit_weights.phone = -1;
    model.thresholds.hot = 200;
    model.decay_half_life_hours = 0;
    let issues = model.validate().unwrap_err();
    let got: Vec<&str> = issues.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        got,
        [
            "/fit_weights/phone",
            "/decay_half_life_hours",
            "/thresholds/hot"
        ]
    );
    assert_eq!(issues[0].1, "must be between 0 and 1000");
    assert_eq!(issues[2].1, "must be between 0 and 100");
}

#[test]
fn a_zero_weight_factor_or_empty_lists_are_fine() {
    assert!(pointers(|m| m.fit_weights.phone = 0).is_empty());
    assert!(
        pointers(|m| m.ideal_customer_profile = IdealCustomerProfile {
            company_size: None,
            industries: vec![],
            countries: vec![],
            seniorities: vec![],
        })
        .is_empty()
    );
    assert!(pointers(|m| m.thresholds = Thresholds {
        hot: 100,
        warm: 1,
        nurture: 0
    })
    .is_empty());
}

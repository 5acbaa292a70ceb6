//! Properties of `score` over generated leads, events and models.

use chrono::Duration;
use proptest::prelude::*;
use suite_domain::Category;

use super::*;

const SOURCES: [&str; 5] = [
    "referral",
    "webinar",
    "organic",
    "paid_social",
    "purchased_list",
];
const EVENTS: [&str; 5] = [
    "demo requested",
    "pricing page viewed",
    "email opened",
    "page viewed",
    "trial started",
];
const DOMAINS: [&str; 7] = [
    "acme.io",
    "gmail.com",
    "mailinator.com",
    "rival.com",
    "eu.rival.com",
    "example.org",
    "qq.com",
];
const TITLES: [&str; 7] = [
    "CEO",
    "VP Sales",
    "Head of Growth",
    "Marketing Manager",
    "Engineer",
    "Intern",
    "",
];
const INDUSTRIES: [&str; 3] = ["software", "Retail", "financial services"];
const COUNTRIES: [&str; 3] = ["US", "de", "BR"];

fn thresholds() -> impl Strategy<Value = Thresholds> {
    prop::collection::btree_set(0i32..=100, 3).prop_map(|set| {
        let v: Vec<i32> = set.into_iter().collect();
        Thresholds {
            hot: v[2],
            warm: v[1],
            nurture: v[0],
        }
    })
}

fn weights<const N: usize>(
    names: [&'static str; N],
) -> impl Strategy<Value = std::collections::BTreeMap<String, i32>> {
    prop::collection::vec(prop::option::of(0i32..=30), N).prop_map(move |ws| {
        names
            .iter()
            .zip(ws)
            .filter_map(|(n, w)| w.map(|w| ((*n).to_owned(), w)))
            .collect()
    })
}

/// Valid models.
fn model() -> impl Strategy<Value = ScoringModel> {
    (
        prop::array::uniform6(0i32..=50),
        (
            prop::option::of((0i64..500, 0i64..5000)),
            prop::sample::subsequence(INDUSTRIES.to_vec(), 0..=2),
        ),
        (
            prop::sample::subsequence(vec!["US", "DE"], 0..=2),
            prop::sample::subsequence(
                vec![Seniority::CLevel, Seniority::Vp, Seniority::Manager],
                0..=3,
            ),
        ),
        (weights(SOURCES), weights(EVENTS), 0i32..=40, 1i32..=2000),
        (
            thresholds(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0i32..1000,
        ),
    )
        .prop_map(
            |(
                fit,
                (size, industries),
                (countries, seniorities),
                (sources, events, cap, half_life),
                (thresholds, disposable, competitor, opt_out, version),
            )| {
                ScoringModel {
                    version,
                    fit_weights: FitWeights {
                        company_size: fit[0],
                        seniority: fit[1],
                        industry: fit[2],
                        country: fit[3],
                        email_type: fit[4],
                        phone: fit[5],
                    },
                    ideal_customer_profile: IdealCustomerProfile {
                        company_size: size.map(|(a, b)| SizeRange {
                            min: a.min(b),
                            max: a.max(b),
                        }),
                        industries: industries.into_iter().map(str::to_lowercase).collect(),
                        countries: countries.into_iter().map(str::to_owned).collect(),
                        seniorities,
                    },
                    source_weights: sources,
                    event_weights: events,
                    event_points_cap: cap,
                    decay_half_life_hours: half_life,
                    thresholds,
                    disqualification: DisqualificationRules {
                        disposable_email: disposable,
                        competitor_domains: if competitor {
                            vec!["rival.com".into()]
                        } else {
                            vec![]
                        },
                        opt_out,
                    },
                }
            },
        )
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &[T]) -> impl Strategy<Value = Option<T>> {
    prop::option::of(prop::sample::select(items.to_vec()))
}

fn signals() -> impl Strategy<Value = LeadSignals> {
    (
        (
            "[a-z]{1,8}",
            prop::sample::select(DOMAINS.to_vec()),
            any::<bool>(),
            prop::option::of(0u32..20_000),
        ),
        (
            pick(&TITLES),
            pick(&INDUSTRIES),
            pick(&COUNTRIES),
            pick(&[SOURCES[0], SOURCES[1], SOURCES[4], "unknown"]),
        ),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |((local, domain, phone, size), (title, industry, country, source), opted_out)| {
                LeadSignals {
                    email: Email::parse(&format!("{local}@{domain}")).unwrap(),
                    has_valid_phone: phone,
                    company_size: size,
                    title: title.map(str::to_owned),
                    industry: industry.map(str::to_owned),
                    country: country.map(str::to_owned),
                    source: source.map(str::to_owned),
                    opted_out,
                }
            },
        )
}

fn event() -> impl Strategy<Value = BehaviourEvent> {
    (
        prop::sample::select(vec![
            EVENTS[0],
            EVENTS[1],
            EVENTS[2],
            "Page Viewed",
            "unknown",
        ]),
        -100i64..10_000,
    )
        .prop_map(|(name, hours_ago)| BehaviourEvent::new(name, now() - Duration::hours(hours_ago)))
}

fn events() -> impl Strategy<Value = Vec<BehaviourEvent>> {
    prop::collection::vec(event(), 0..20)
}

fn check_invariants(t: &Triage) -> Result<(), TestCaseError> {
    prop_assert!(t.score.get() <= 100);
    let points: u32 = t.breakdown.iter().map(|f| u32::from(f.points)).sum();
    let maxes: u32 = t.breakdown.iter().map(|f| u32::from(f.max)).sum();
    prop_assert_eq!(points, u32::from(t.score.get()));
    prop_assert!(maxes == 100 || maxes == 0);
    prop_assert!(t.breakdown.iter().all(|f| f.points <= f.max));
    prop_assert_eq!(t.breakdown.len(), 8);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn score_is_0_to_100_and_the_breakdown_adds_up(s in signals(), e in events(), m in model()) {
        prop_assert_eq!(m.validate(), Ok(()));
        let t = score(&s, &e, &m, now());
        check_invariants(&t)?;
        prop_assert_eq!(t.model_version, m.version);
    }

    #[test]
    fn same_input_same_output_whatever_the_event_order(s in signals(), e in events(), m in model()) {
        let first = score(&s, &e, &m, now());
        prop_assert_eq!(&score(&s, &e, &m, now()), &first);
        let mut reversed = e.clone();
        reversed.reverse();
        prop_assert_eq!(&score(&s, &reversed, &m, now()), &first);
    }

    #[test]
    fn an_extra_weighted_event_never_lowers_the_score(s in signals(), e in events(), extra in event(), m in model()) {
        let before = score(&s, &e, &m, now());
        let mut more = e.clone();
        more.push(extra);
        prop_assert!(score(&s, &more, &m, now()).score >= before.score);
    }

    #[test]
    fn a_better_source_never_lowers_the_score(s in signals(), e in events(), m in model(), a in pick(&SOURCES), b in pick(&SOURCES)) {
        let weight = |src: &Option<&str>| src.and_then(|k| m.source_weights.get(k).copied()).unwrap_or(0);
        let (worse, better) = if weight(&a) <= weight(&b) { (a, b) } else { (b, a) };
        let with = |src: Option<&str>| LeadSignals { source: src.map(str::to_owned), ..s.clone() };
        prop_assert!(score(&with(better), &e, &m, now()).score >= score(&with(worse), &e, &m, now()).score);
    }

    #[test]
    fn a_valid_phone_never_lowers_the_score(s in signals(), e in events(), m in model()) {
        let without = LeadSignals { has_valid_phone: false, ..s.clone() };
        let with = LeadSignals { has_valid_phone: true, ..s };
        prop_assert!(score(&with, &e, &m, now()).score >= score(&without, &e, &m, now()).score);
    }

    #[test]
    fn disqualified_iff_a_rule_fired(s in signals(), e in events(), m in model()) {
        let domain = s.email.domain();
        let rules = &m.disqualification;
        let expected = (rules.opt_out && s.opted_out)
            || (!rules.competitor_domains.is_empty() && domain.ends_with("rival.com"))
            || (rules.disposable_email && domain == "mailinator.com");
        let t = score(&s, &e, &m, now());
        prop_assert_eq!(t.category == Category::Disqualified, expected);
        prop_assert_eq!(t.disqualified_by.is_some(), expected);
        if expected {
            prop_assert_eq!(t.score.get(), 0);
        }
    }

    #[test]
    fn any_model_even_invalid_scores_without_panicking(
        s in signals(),
        e in events(),
        ints in prop::array::uniform12(any::<i32>()),
        size in (any::<i64>(), any::<i64>()),
        names in prop::collection::btree_map("\\PC{0,12}", any::<i32>(), 0..6),
    ) {
        let mut m = ScoringModel {
            fit_weights: FitWeights { company_size: ints[0], seniority: ints[1], industry: ints[2], country: ints[3], email_type: ints[4], phone: ints[5] },
            event_points_cap: ints[6],
            decay_half_life_hours: ints[7],
            thresholds: Thresholds { hot: ints[8], warm: ints[9], nurture: ints[10] },
            version: ints[11],
            ..ScoringModel::default()
        };
        m.ideal_customer_profile.company_size = Some(SizeRange { min: size.0, max: size.1 });
        m.source_weights.extend(names.clone());
        m.event_weights.extend(names);
        let t = score(&s, &e, &m, now());
        check_invariants(&t)?;
        let _ = m.validate();
    }
}

use super::*;

fn stats(sends: u64, successes: u64) -> VariantStats {
    VariantStats::new(sends, successes).expect("valid counts")
}

fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} vs {expected} (tolerance {tolerance})"
    );
}

#[test]
fn counts_reject_more_successes_than_sends() {
    assert_eq!(
        VariantStats::new(3, 4),
        Err(AllocationError::SuccessesExceedSends {
            sends: 3,
            successes: 4
        })
    );
    let s = stats(10, 4);
    assert_eq!((s.sends(), s.successes(), s.failures()), (10, 4, 6));
}

#[test]
fn record_counts_sends_and_successes() {
    let mut s = VariantStats::default();
    s.record(true);
    s.record(false);
    s.record(false);
    assert_eq!(s, stats(3, 1));
}

#[test]
fn posterior_is_uniform_prior_updated_by_counts() {
    let p = stats(100, 10).posterior();
    assert_eq!((p.alpha(), p.beta()), (11.0, 91.0));
    assert_close(p.mean(), 11.0 / 102.0, 1e-15, "mean");
    assert_close(stats(0, 0).posterior().mean(), 0.5, 0.0, "prior mean");
}

/// Reference quantiles (to 15 digits) computed at 50 digits with mpmath by bisection on
/// the regularised incomplete beta (the binomial-tail identity for the
/// large shapes): (sends, successes, q(0.025), q(0.975)).
const REFERENCE: &[(u64, u64, f64, f64)] = &[
    (2, 1, 0.0942993240502461, 0.905700675949754),
    (99, 2, 0.00622997153830639, 0.0703839324710701),
    (100, 10, 0.055637223835303, 0.174552826077119),
    (1_000, 20, 0.0130321139983341, 0.0306895115349063),
    (10_000, 300, 0.0268359009097043, 0.0335300173160812),
    (50_000, 1_000, 0.0188098166758145, 0.0212649471369871),
    (100_000, 6_000, 0.0585451445715902, 0.0614891241466343),
];

#[test]
fn credible_interval_matches_reference_quantiles() {
    for &(sends, successes, lower, upper) in REFERENCE {
        let ci = stats(sends, successes).posterior().credible_interval_95();
        let what = format!("{successes}/{sends}");
        assert_close(ci.lower, lower, 1e-12 + 1e-9 * lower, &what);
        assert_close(ci.upper, upper, 1e-12 + 1e-9 * upper, &what);
        let general = stats(sends, successes)
            .posterior()
            .credible_interval(0.95)
            .expect("level in range");
        // (1 − 0.95) / 2 is 0.025 only up to rounding.
        assert_close(general.lower, ci.lower, 1e-12, &what);
        assert_close(general.upper, ci.upper, 1e-12, &what);
    }
}

#[test]
fn quantiles_match_closed_forms() {
    // Beta(1, 1) is uniform; Beta(a, 1) has CDF x^a; Beta(1, b) has CDF
    // 1 − (1 − x)^b.
    for p in [0.0, 0.025, 0.3, 0.5, 0.975, 1.0] {
        let uniform = stats(0, 0).posterior().quantile(p).expect("p in range");
        assert_close(uniform, p, 1e-12, "Beta(1,1)");
        let all_hits = stats(9, 9).posterior().quantile(p).expect("p in range");
        assert_close(all_hits, p.powf(1.0 / 10.0), 1e-12, "Beta(10,1)");
        let no_hits = stats(100, 0).posterior().quantile(p).expect("p in range");
        let expected = 1.0 - (1.0 - p).powf(1.0 / 101.0);
        assert_close(no_hits, expected, 1e-12, "Beta(1,101)");
    }
}

#[test]
fn interval_brackets_the_mean_and_narrows_with_data() {
    let small = stats(100, 5).posterior();
    let large = stats(10_000, 500).posterior();
    for p in [small, large] {
        let ci = p.credible_interval_95();
        assert!(ci.lower < p.mean() && p.mean() < ci.upper);
    }
    let width = |p: Posterior| {
        let ci = p.credible_interval_95();
        ci.upper - ci.lower
    };
    assert!(width(large) < width(small) / 5.0);
}

#[test]
fn out_of_range_probabilities_are_rejected() {
    let p = stats(10, 1).posterior();
    for bad in [-0.1, 1.1, f64::NAN] {
        assert!(p.quantile(bad).is_err(), "quantile({bad})");
    }
    for bad in [0.0, 1.0, -0.5, 2.0, f64::NAN] {
        assert!(p.credible_interval(bad).is_err(), "level {bad}");
    }
}

#[test]
fn prob_best_matches_an_analytic_case() {
    // X ~ Beta(1, 1), Y ~ Beta(2, 1): P(Y > X) = ∫ 2y · y dy = 2/3.
    let probs = prob_best(&[stats(0, 0), stats(1, 1)], 200_000, 11);
    assert_close(probs[0], 1.0 / 3.0, 0.005, "P(X best)");
    assert_close(probs[1], 2.0 / 3.0, 0.005, "P(Y best)");
}

#[test]
fn prob_best_is_reproducible_and_sums_to_one() {
    let variants = [stats(1_000, 20), stats(1_000, 30), stats(1_000, 25)];
    let a = prob_best(&variants, 5_000, 42);
    let b = prob_best(&variants, 5_000, 42);
    assert_eq!(a, b, "same seed, same output");
    assert_ne!(a, prob_best(&variants, 5_000, 43), "seed matters");
    assert_close(a.iter().sum(), 1.0, 1e-12, "sum");
    assert!(a[1] > a[2] && a[2] > a[0], "ordered like the rates: {a:?}");
}

#[test]
fn prob_best_is_symmetric_for_identical_variants() {
    let probs = prob_best(&[stats(500, 10); 4], 40_000, 7);
    for p in probs {
        assert_close(p, 0.25, 0.015, "identical variants");
    }
}

#[test]
fn prob_best_edges() {
    assert!(prob_best(&[], 100, 1).is_empty());
    assert_eq!(prob_best(&[stats(5, 1), stats(5, 2)], 0, 1), vec![0.5, 0.5]);
    assert_eq!(prob_best(&[stats(5, 1)], 10, 1), vec![1.0]);
    let clear = prob_best(&[stats(10_000, 100), stats(10_000, 600)], 2_000, 3);
    assert_eq!(clear, vec![0.0, 1.0]);
}

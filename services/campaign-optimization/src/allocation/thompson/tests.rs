use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;

fn stats(sends: u64, successes: u64) -> VariantStats {
    VariantStats::new(sends, successes).expect("valid counts")
}

fn policy(min_share: f64, warm_up: u64, draws: u32) -> Policy {
    Policy {
        min_share,
        warm_up,
        draws,
    }
}

#[test]
fn validation_names_the_problem() {
    let one = [stats(10, 1)];
    let three = [stats(10, 1); 3];
    let cases = [
        (&[][..], policy(0.0, 0, 10), AllocationError::NoVariants),
        (
            &three[..],
            policy(0.34, 0, 10),
            AllocationError::MinShareTooLarge {
                min_share: 0.34,
                variants: 3,
            },
        ),
        (
            &one[..],
            policy(-0.1, 0, 10),
            AllocationError::MinShareOutOfRange(-0.1),
        ),
        (
            &one[..],
            policy(1.5, 0, 10),
            AllocationError::MinShareOutOfRange(1.5),
        ),
        (&one[..], policy(0.1, 0, 0), AllocationError::ZeroDraws),
    ];
    for (variants, policy, expected) in cases {
        assert_eq!(allocate(variants, &policy, 1), Err(expected));
    }
    assert!(matches!(
        allocate(&one, &policy(f64::NAN, 0, 10), 1),
        Err(AllocationError::MinShareOutOfRange(_))
    ));
    // Floors that fill the traffic exactly are allowed and give uniform shares.
    let shares = allocate(&three, &policy(1.0 / 3.0, 0, 100), 1)
        .expect("valid")
        .shares;
    assert!(
        shares.iter().all(|s| (s - 1.0 / 3.0).abs() < 1e-12),
        "{shares:?}"
    );
}

#[test]
fn warm_up_ends_when_every_variant_has_enough_sends() {
    let p = policy(0.0, 100, 1_000);
    let during = [stats(500, 50), stats(99, 0)];
    assert_eq!(allocate(&during, &p, 1), Ok(Allocation::uniform(2)));
    let after = [stats(500, 50), stats(100, 0)];
    let shares = allocate(&after, &p, 1).expect("valid").shares;
    assert!(shares[0] > 0.99, "{shares:?}");
}

#[test]
fn clear_winner_gets_all_but_the_floors() {
    let variants = [stats(5_000, 100), stats(5_000, 300), stats(5_000, 150)];
    let shares = allocate(&variants, &policy(0.05, 100, 2_000), 9)
        .expect("valid")
        .shares;
    for (s, e) in shares.iter().zip([0.05, 0.9, 0.05]) {
        assert!((s - e).abs() < 1e-12, "{shares:?}");
    }
}

#[test]
fn pick_is_seeded_and_fails_only_without_variants() {
    let variants = [stats(100, 2), stats(100, 3), stats(100, 6)];
    let picks = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..50)
            .map(|_| pick(&variants, &mut rng).expect("variants"))
            .collect::<Vec<_>>()
    };
    assert_eq!(picks(5), picks(5));
    assert!(picks(5).iter().all(|&i| i < 3));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    assert_eq!(pick(&[], &mut rng), Err(AllocationError::NoVariants));
}

#[test]
fn choose_follows_the_shares() {
    let allocation = Allocation {
        shares: vec![0.2, 0.0, 0.8],
    };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut counts = [0_u32; 3];
    for _ in 0..20_000 {
        counts[allocation.choose(&mut rng).expect("positive shares")] += 1;
    }
    assert_eq!(counts[1], 0);
    assert!(
        (f64::from(counts[0]) / 20_000.0 - 0.2).abs() < 0.015,
        "{counts:?}"
    );
    assert_eq!(Allocation { shares: vec![0.0] }.choose(&mut rng), None);
    assert_eq!(Allocation::uniform(0).choose(&mut rng), None);
}

/// Up to 6 variants with up to 5,000 sends each, a policy whose floors fit,
/// and a seed.
fn campaign() -> impl Strategy<Value = (Vec<VariantStats>, Policy, u64)> {
    let variant = (0_u64..5_000)
        .prop_flat_map(|sends| (0..=sends).prop_map(move |successes| stats(sends, successes)));
    prop::collection::vec(variant, 1..=6).prop_flat_map(|variants| {
        let n = variants.len() as f64;
        let policy = (0.0..=1.0 / n, 0_u64..300, 1_u32..400).prop_map(|(m, w, d)| policy(m, w, d));
        (Just(variants), policy, any::<u64>())
    })
}

proptest! {
    #[test]
    fn shares_sum_to_one((variants, policy, seed) in campaign()) {
        let shares = allocate(&variants, &policy, seed).expect("valid policy").shares;
        prop_assert_eq!(shares.len(), variants.len());
        let sum: f64 = shares.iter().sum();
        prop_assert!((sum - 1.0).abs() <= 1e-9, "sum {}", sum);
    }

    #[test]
    fn no_variant_below_its_minimum_share((variants, policy, seed) in campaign()) {
        let shares = allocate(&variants, &policy, seed).expect("valid policy").shares;
        for s in shares {
            prop_assert!(s >= policy.min_share, "{} < {}", s, policy.min_share);
        }
    }

    #[test]
    fn identical_seeds_give_identical_allocations((variants, policy, seed) in campaign()) {
        let first = allocate(&variants, &policy, seed).expect("valid policy");
        let second = allocate(&variants, &policy, seed).expect("valid policy");
        prop_assert_eq!(first, second);
    }

    #[test]
    fn warm_up_gives_uniform_shares(
        (variants, policy, seed) in campaign(),
        short in 0_usize..6,
    ) {
        // Put one variant one send short of the warm-up.
        let mut variants = variants;
        let policy = Policy { warm_up: policy.warm_up.max(1), ..policy };
        let i = short % variants.len();
        variants[i] = stats(policy.warm_up - 1, 0);
        let shares = allocate(&variants, &policy, seed).expect("valid policy").shares;
        let uniform = 1.0 / variants.len() as f64;
        prop_assert!(shares.iter().all(|&s| s == uniform), "{:?}", shares);
    }

    #[test]
    fn pick_is_in_range((variants, _policy, seed) in campaign()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let i = pick(&variants, &mut rng).expect("variants");
        prop_assert!(i < variants.len());
    }
}

//! Early exit against the full window: the exact rule never changes the class, and it
//! does stop early on some inputs (so the property is exercised).

mod common;

use common::{random_image, random_model};
use proptest::prelude::*;
use snn_core::{EarlyExit, Model};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn exact_early_exit_keeps_the_class(model_seed in any::<u64>(), image_seed in any::<u64>(), seed in any::<u64>()) {
        let spec = random_model(model_seed);
        let image = random_image(&spec, image_seed);
        let blob = spec.to_bytes();
        let model = Model::from_bytes(&blob).unwrap();
        let mut state = vec![0u32; model.state_words()];
        for steps in [1, 5, 20] {
            let full = model.classify(&mut state, &image, seed, steps).unwrap();
            let early = model.classify_until(&mut state, &image, seed, steps, EarlyExit::Exact).unwrap();
            prop_assert_eq!(early.class, full.class);
            prop_assert!(early.steps >= 1 && early.steps <= steps);
            let never = model.classify_until(&mut state, &image, seed, steps, EarlyExit::Never).unwrap();
            prop_assert_eq!(never, full);
        }
    }
}

/// Over many random networks the exact rule stops early a fair share of the time, and
/// a margin rule of 0 (any lead, ties included, is enough) stops after one step.
#[test]
fn early_exit_stops_early() {
    let (mut early, mut runs) = (0, 0);
    for s in 0..200u64 {
        let spec = random_model(s);
        let image = random_image(&spec, s);
        let blob = spec.to_bytes();
        let model = Model::from_bytes(&blob).unwrap();
        let mut state = vec![0u32; model.state_words()];
        let r = model
            .classify_until(&mut state, &image, s, 30, EarlyExit::Exact)
            .unwrap();
        runs += 1;
        early += u32::from(r.steps < 30);
        let m = model
            .classify_until(&mut state, &image, s, 30, EarlyExit::Margin { per_step: 0 })
            .unwrap();
        assert_eq!(m.steps, 1);
    }
    assert!(
        early > runs / 10,
        "exact early exit stopped early on {early} of {runs}"
    );
}

/// Ties at the bound: a tie goes to the lowest index, so a leader with the lower index
/// that can at worst tie has settled, and one with the higher index has not; the margin
/// rule settles at exactly `per_step * remaining`.
#[test]
fn ties_at_the_bound_follow_the_lowest_index_rule() {
    use snn_core::early_exit::settled;
    use snn_core::neuron::Leak;
    let current = [[-10, 10], [-10, 10], [-10, 10]];
    let exact = EarlyExit::Exact;
    // Two steps left: the leader loses at most 20, the others gain at most 20.
    // Leader 0 (lower index) ends at worst 30, class 1 at best 30: the tie is class 0's.
    assert!(settled(&[50, 10, 0], &current, Leak::ONE, 2, exact));
    // Leader 1 (higher index), class 0 at best ties it: class 0 would take the tie.
    assert!(!settled(&[10, 50, 0], &current, Leak::ONE, 2, exact));
    assert!(settled(&[9, 50, 0], &current, Leak::ONE, 2, exact));
    // Leader 1 against class 2 (higher index) at the bound: settled.
    assert!(settled(&[0, 50, 10], &current, Leak::ONE, 2, exact));
    // With a leak the bounds leak too, through the engine's own `Leak::apply` (its
    // rounding included): sweep class 0 across the leader's worst case.
    let half = Leak::from_bits(16384).unwrap();
    let run = |mut m: i32, i: i32| {
        for _ in 0..2 {
            m = half.apply(m + i);
        }
        m
    };
    for other in -40..40 {
        let (lo, hi) = (run(50, -10), run(other, 10));
        let scores = [other, 50];
        let leader_wins = lo > hi; // leader 1 has the higher index: a tie is lost
        assert_eq!(
            settled(&scores, &current[..2], half, 2, exact),
            leader_wins,
            "scores {scores:?}: leader at worst {lo}, class 0 at best {hi}"
        );
    }
    // Margin: settled at exactly per_step * remaining, not one unit below.
    let margin = EarlyExit::Margin { per_step: 5 };
    assert!(settled(&[30, 20, 0], &current, Leak::ONE, 2, margin));
    assert!(!settled(&[30, 21, 0], &current, Leak::ONE, 2, margin));
    // No steps left: every rule has settled.
    assert!(settled(
        &[0, 1, 0],
        &current,
        Leak::ONE,
        0,
        EarlyExit::Never
    ));
}

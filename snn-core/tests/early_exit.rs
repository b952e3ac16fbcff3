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

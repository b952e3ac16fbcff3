//! The inference analysis on the committed default model: its figures agree with
//! `snn-core`'s own counts and the paper's energy formula, and every plot renders to a
//! PNG with the shipped font.

use snn_train::analysis::{accuracy_vs_steps, analyze, raster, E_AC_PJ, E_MAC_PJ};
use snn_train::data::{self, DatasetKind};
use snn_train::plots;

fn model_bytes() -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/lenet-mnist-subset.snn"),
    )
    .unwrap()
}

#[test]
fn analysis_matches_the_engine_and_the_energy_formula() {
    let blob = model_bytes();
    let model = snn_core::Model::from_bytes(&blob).unwrap();
    let (_, mut test) = data::load(DatasetKind::MnistSubset, &data::bundled_dir()).unwrap();
    test.truncate(20);
    let a = analyze(&model, &test, 10);
    assert_eq!(a.images, 20);
    assert_eq!(a.layers.len(), 6);
    // #MAC of LeNet (method.md §7): 20*25*784 + 4*3920 + 50*20*25*196 + 4*2450 + 2450*200 + 200*10.
    assert_eq!(a.total_mac, 5_809_480.0);
    // #AC equals the engine's own event counts, averaged.
    let mut state = vec![0u32; model.state_words()];
    let direct: f64 = (0..20)
        .map(|i| {
            model
                .classify(&mut state, test.image(i), snn_train::seed::eval_seed(i), 10)
                .unwrap()
                .total_synaptic_events() as f64
        })
        .sum::<f64>()
        / 20.0;
    assert!(
        (a.total_ac - direct).abs() < 1e-6 * direct,
        "{} vs {direct}",
        a.total_ac
    );
    assert!((a.energy_ratio - a.total_ac * E_AC_PJ / (a.total_mac * E_MAC_PJ)).abs() < 1e-12);
    assert!(a
        .layers
        .iter()
        .filter(|l| l.kind != "output")
        .all(|l| l.spikes_per_neuron > 0.0));
    assert!(a.accuracy >= 80.0, "{}", a.accuracy);
}

#[test]
fn every_plot_renders_a_png() {
    let blob = model_bytes();
    let model = snn_core::Model::from_bytes(&blob).unwrap();
    let (_, mut test) = data::load(DatasetKind::MnistSubset, &data::bundled_dir()).unwrap();
    test.truncate(8);
    let dir = tempfile::tempdir().unwrap();
    let a = analyze(&model, &test, 5);
    plots::ac_vs_mac(&a, &dir.path().join("bars.png")).unwrap();
    let curve: Vec<(f64, f64)> = accuracy_vs_steps(&model, &test, &[2, 5])
        .into_iter()
        .map(|(t, v)| (f64::from(t), v))
        .collect();
    plots::lines(
        "t",
        "x",
        "y",
        &[("a", curve)],
        &dir.path().join("curve.png"),
    )
    .unwrap();
    let spikes = raster(&model, test.image(0), 1, 5);
    assert_eq!(spikes.len(), model.populations());
    assert!(spikes.iter().any(|p| !p.is_empty()));
    let sizes = vec![15680, 3920, 9800, 2450, 200];
    let names: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
    plots::raster(&spikes, &sizes, &names, 5, &dir.path().join("raster.png")).unwrap();
    for f in ["bars.png", "curve.png", "raster.png"] {
        let bytes = std::fs::read(dir.path().join(f)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{f}");
        assert!(bytes.len() > 5_000, "{f} is suspiciously small");
    }
}

//! The inference analysis on the committed default model: its figures agree with
//! `snn-core`'s own counts and the paper's energy formula, and every plot renders to a
//! PNG with the shipped font.

use snn_train::data::{self, DatasetKind};
use snn_train::measure::analysis::{accuracy_vs_steps, analyze, raster, E_AC_PJ, E_MAC_PJ};
use snn_train::measure::plots;

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
    let a = analyze(&model, &test, 10).unwrap();
    assert_eq!(a.images, 20);
    assert_eq!(a.layers.len(), 6);
    // #MAC of LeNet (method.md §7): 20*25*784 + 4*3920 + 50*20*25*196 + 4*2450 + 2450*200 + 200*10.
    assert_eq!(a.total_mac, 5_809_480.0);
    // #AC equals the engine's own event counts, averaged.
    let mut state = vec![0u32; model.state_words()];
    let direct: f64 = (0..20)
        .map(|i| {
            model
                .classify(
                    &mut state,
                    test.image(i),
                    snn_train::exec::seed::eval_seed(i),
                    10,
                )
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
    let a = analyze(&model, &test, 5).unwrap();
    plots::ac_vs_mac(&a.ops_title(), &a.ops_bars(), &dir.path().join("bars.png")).unwrap();
    let curve: Vec<(f64, f64)> = accuracy_vs_steps(&model, &test, &[2, 5])
        .unwrap()
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

fn mnist_dir_of(side: usize, n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..n * side * side).map(|i| (i * 7 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    for split in ["train", "t10k"] {
        std::fs::write(
            dir.path().join(format!("{split}-images-idx3-ubyte")),
            data::idx::encode_idx(&[n, side, side], &pixels),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(format!("{split}-labels-idx1-ubyte")),
            data::idx::encode_idx(&[n], &labels),
        )
        .unwrap();
    }
    dir
}

fn default_model_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/lenet-mnist-subset.snn")
}

#[test]
fn bad_analysis_inputs_are_errors_that_name_the_problem() {
    let blob = model_bytes();
    let model = snn_core::Model::from_bytes(&blob).unwrap();
    let (_, mut test) = data::load(DatasetKind::MnistSubset, &data::bundled_dir()).unwrap();
    test.truncate(3);
    let msg = |e: snn_train::measure::analysis::AnalyzeError| e.to_string();
    assert!(msg(analyze(&model, &test, 0).unwrap_err()).contains("at least 1"));
    assert!(msg(accuracy_vs_steps(&model, &test, &[5, 0]).unwrap_err()).contains("at least 1"));
    let mut wide = test.clone();
    wide.height = 32;
    wide.width = 32;
    wide.images = vec![0; 3 * 32 * 32];
    let e = msg(analyze(&model, &wide, 5).unwrap_err());
    assert_eq!(
        e,
        "model takes 1x28x28 inputs, the test set has 1x32x32 images"
    );
    let mut empty = test.clone();
    empty.truncate(0);
    assert!(msg(analyze(&model, &empty, 5).unwrap_err()).contains("no test images"));
    assert!(msg(accuracy_vs_steps(&model, &empty, &[5]).unwrap_err()).contains("no test images"));
    let mut many = test.clone();
    many.classes = 12;
    assert!(msg(analyze(&model, &many, 5).unwrap_err()).contains("model has 10 classes"));
}

#[test]
fn the_analyze_command_rejects_bad_options_before_any_work() {
    use snn_train::measure::analysis::{run, AnalyzeOptions};
    let out = tempfile::tempdir().unwrap();
    let base = AnalyzeOptions {
        model: Some(default_model_path()),
        images: 4,
        timesteps: Some(2),
        curve: vec![2],
        out: Some(out.path().to_path_buf()),
        ..AnalyzeOptions::default()
    };
    let err = |o: AnalyzeOptions| run(&o).unwrap_err().to_string();
    let cases = [
        (
            AnalyzeOptions {
                timesteps: Some(0),
                ..base.clone()
            },
            "--timesteps must be at least 1",
        ),
        (
            AnalyzeOptions {
                curve: vec![5, 0, 10],
                ..base.clone()
            },
            "--curve value must be at least 1",
        ),
        (
            AnalyzeOptions {
                curve: vec![],
                ..base.clone()
            },
            "--curve needs at least one",
        ),
        (
            AnalyzeOptions {
                images: 0,
                ..base.clone()
            },
            "no test images: --images must be at least 1",
        ),
        (
            AnalyzeOptions {
                model: None,
                ..base.clone()
            },
            "give a run directory or --model FILE",
        ),
        (
            AnalyzeOptions {
                model: None,
                run: Some(out.path().join("missing-run")),
                ..base.clone()
            },
            "no such run directory",
        ),
        (
            AnalyzeOptions {
                model: Some(out.path().join("missing.snn")),
                ..base.clone()
            },
            "missing.snn",
        ),
    ];
    for (o, want) in cases {
        let e = err(o);
        assert!(e.contains(want), "{e:?} does not contain {want:?}");
    }
    // Nothing was written for any of them.
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn the_analyze_command_names_a_model_that_does_not_fit_the_dataset() {
    use snn_train::measure::analysis::{run, AnalyzeOptions};
    let data_dir = mnist_dir_of(32, 3);
    let out = tempfile::tempdir().unwrap();
    let e = run(&AnalyzeOptions {
        model: Some(default_model_path()),
        dataset: Some(DatasetKind::Mnist),
        data_dir: Some(data_dir.path().to_path_buf()),
        images: 4,
        timesteps: Some(2),
        curve: vec![2],
        out: Some(out.path().to_path_buf()),
        ..AnalyzeOptions::default()
    })
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "model takes 1x28x28 inputs, dataset mnist has 1x32x32 images"
    );
}

#[test]
fn the_analyze_command_writes_its_files() {
    use snn_train::measure::analysis::{run, AnalyzeOptions};
    let out = tempfile::tempdir().unwrap();
    let r = run(&AnalyzeOptions {
        model: Some(default_model_path()),
        images: 3,
        timesteps: Some(2),
        curve: vec![1, 2],
        out: Some(out.path().to_path_buf()),
        ..AnalyzeOptions::default()
    })
    .unwrap();
    assert_eq!(r.analysis.images, 3);
    assert_eq!(r.curve.len(), 2);
    for f in &r.written {
        assert!(out.path().join(f).is_file(), "{f} missing");
    }
}

/// The deployed line: the committed default model stores T = 20 without early exit,
/// and the line reports exactly what `snn-core` gives at that setting, in the form
/// scripts read.
#[test]
fn the_deployed_line_measures_the_stored_setting() {
    let blob = model_bytes();
    let model = snn_core::Model::from_bytes(&blob).unwrap();
    let (_, mut test) = data::load(DatasetKind::MnistSubset, &data::bundled_dir()).unwrap();
    test.truncate(30);
    let d = snn_train::measure::early_exit::deployed(&model, &test)
        .unwrap()
        .expect("the default model stores its deployment");
    let mut state = vec![0u32; model.state_words()];
    let correct = (0..30)
        .filter(|&i| {
            let r = model
                .classify(
                    &mut state,
                    test.image(i),
                    snn_train::exec::seed::eval_seed(i),
                    20,
                )
                .unwrap();
            usize::from(r.class) == usize::from(test.labels[i])
        })
        .count();
    let line = d.to_string();
    assert_eq!(
        line,
        format!(
            "deployed: accuracy {:.2}% on 30 images, T = 20, early exit never, mean steps 20.00",
            100.0 * correct as f64 / 30.0
        )
    );
}

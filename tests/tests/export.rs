//! The trainer's export read and scored by the engine: a short training run, its
//! quantised model loaded by `snn-core`, float and fixed point compared on the same
//! input spikes, and the blob's encoding reproduced byte for byte.

use snn_train::train::config::TrainConfig;
use snn_train::train::{self, RunOptions};

#[test]
fn export_is_loaded_and_scored_by_snn_core() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TrainConfig::default();
    cfg.optim.epochs = 2;
    cfg.optim.lr = 0.4;
    cfg.optim.batch_size = 16;
    cfg.optim.lr_milestones = vec![];
    cfg.data.train_limit = Some(1000);
    cfg.data.test_limit = Some(200);
    cfg.run.timesteps = 10;
    cfg.network.dropout = 0.0;
    let s = train::run(&cfg, dir.path(), &RunOptions::default()).unwrap();
    let a = s.export.unwrap();
    assert_eq!(a.images, 200);
    let blob = std::fs::read(dir.path().join("model.snn")).unwrap();
    let model = snn_core::Model::from_bytes(&blob).unwrap();
    assert_eq!(
        (model.classes(), model.input_len(), model.populations()),
        (10, 784, 5)
    );
    // Same spikes in, quantisation the only difference: the two mostly agree.
    assert!(a.float_accuracy >= 75.0, "{a:?}");
    assert!(a.agreement >= 90.0, "{a:?}");
    assert!((a.float_accuracy - a.fixed_accuracy).abs() <= 5.0, "{a:?}");
}

/// An analog-input network (the pixels as a constant current, activity regularised)
/// trained briefly: its export carries the analog drive and the run's deployment, and
/// float and fixed point agree as closely as for spikes.
#[test]
fn analog_export_is_scored_by_snn_core() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("analog.toml");
    std::fs::write(
        &path,
        r#"
        [data]
        analog = true
        train_limit = 2000
        test_limit = 300
        [network]
        layers = [
          { type = "conv", channels = 8, kernel = 5, stride = 2 },
          { type = "dense", units = 64 },
          { type = "output" },
        ]
        [optim]
        epochs = 2
        batch_size = 16
        lr = 0.2
        normalized_step = 0.0
        activity = [1.0]
        [run]
        timesteps = 6
        early_exit = "margin:4"
        "#,
    )
    .unwrap();
    let cfg = TrainConfig::from_file(&path).unwrap();
    let s = train::run(&cfg, dir.path(), &RunOptions::default()).unwrap();
    let a = s.export.unwrap();
    let blob = std::fs::read(dir.path().join("model.snn")).unwrap();
    let model = snn_core::Model::from_bytes(&blob).unwrap();
    assert!(matches!(
        model.drive(),
        snn_core::format::Drive::Analog { .. }
    ));
    assert_eq!(
        model.deployment(),
        Some(snn_core::format::Deployment {
            steps: 6,
            early_exit: snn_core::EarlyExit::Margin { per_step: 4 }
        })
    );
    // The analog input draws no spikes: every seed gives the same result.
    let mut state = vec![0u32; model.state_words()];
    let image = vec![200u8; 784];
    let r1 = model.classify(&mut state, &image, 1, 6).unwrap();
    let r2 = model.classify(&mut state, &image, 2, 6).unwrap();
    assert_eq!((r1.scores, r1.input_spikes), (r2.scores, 0));
    assert!(a.float_accuracy >= 75.0, "{a:?}");
    assert!(a.agreement >= 95.0, "{a:?}");
}

#[test]
fn committed_models_load_and_round_trip_through_the_format() {
    // Every model under models/ is of today's format, validates, carries its
    // deployment setting, and decodes and encodes to the same bytes (the encoding is
    // canonical).
    let dir = snn_tests::root().join("models");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "snn") {
            continue;
        }
        let blob = std::fs::read(&path).unwrap();
        let model = snn_core::Model::from_bytes(&blob)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(model.deployment().is_some(), "{}", path.display());
        let (_, payload) = snn_core::format::split_payload(&blob).unwrap();
        let desc = snn_core::format::decode_body(payload).unwrap();
        let mut again = vec![0u8; blob.len() + 64];
        let n = snn_core::write_model(&desc, &mut again).unwrap();
        assert!(again[..n] == blob[..], "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} models in {}", dir.display());
}

//! The trainer's export read and scored by the engine: a short training run, its
//! quantised model loaded by `snn-core`, float and fixed point compared on the same
//! input spikes, and the blob's encoding reproduced byte for byte.

use snn_train::config::TrainConfig;
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

#[test]
fn exported_blob_round_trips_through_the_format() {
    // Decode the body and write it again: the same bytes (the encoding is canonical).
    let blob = std::fs::read(snn_tests::root().join("models/lenet-mnist-subset.snn")).unwrap();
    let (_, payload) = snn_core::format::split_payload(&blob).unwrap();
    let desc = snn_core::format::decode_body(payload).unwrap();
    let mut again = vec![0u8; blob.len() + 64];
    let n = snn_core::write_model(&desc, &mut again).unwrap();
    assert_eq!(&again[..n], &blob[..]);
}

//! Knowledge distillation (`[optim.distill]`): the teacher's targets change training,
//! weight 0 is training on the labels, the result does not depend on the thread count,
//! and an unusable teacher is a clear error naming its file.

use std::path::{Path, PathBuf};

use snn_train::data::{self, DatasetKind};
use snn_train::train::config::{DistillConfig, TrainConfig};
use snn_train::train::distill::Teacher;
use snn_train::train::{self, RunOptions};

fn teacher_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/lenet-mnist-subset.snn")
}

fn small(weight: Option<f32>, threads: usize) -> TrainConfig {
    let mut c = TrainConfig::default();
    c.run.timesteps = 5;
    c.run.threads = threads;
    c.optim.epochs = 1;
    c.optim.batch_size = 16;
    c.optim.lr = 0.05;
    c.data.train_limit = Some(96);
    c.data.test_limit = Some(16);
    c.optim.distill = weight.map(|weight| DistillConfig {
        teacher: teacher_path(),
        weight,
    });
    c
}

fn trained(cfg: &TrainConfig) -> Vec<u32> {
    let dir = tempfile::tempdir().unwrap();
    let s = train::run(cfg, dir.path(), &RunOptions::default()).unwrap();
    s.params
        .iter()
        .flat_map(|a| a.iter().map(|v| v.to_bits()))
        .collect()
}

#[test]
fn the_teacher_changes_training_and_weight_zero_is_the_labels_alone() {
    let plain = trained(&small(None, 2));
    assert_eq!(
        trained(&small(Some(0.0), 2)),
        plain,
        "weight 0 must be the labels"
    );
    let taught = trained(&small(Some(0.5), 2));
    assert_ne!(taught, plain, "the teacher's targets must matter");
    assert_eq!(
        trained(&small(Some(0.5), 1)),
        taught,
        "the thread count changed a distilled run"
    );
}

#[test]
fn the_teacher_scores_the_training_images_it_labels() {
    let (train, _) = data::load(DatasetKind::MnistSubset, &data::bundled_dir()).unwrap();
    let mut train = train;
    train.truncate(200);
    let cfg = DistillConfig {
        teacher: teacher_path(),
        weight: 0.5,
    };
    let t = Teacher::run(&cfg, &train, 20).unwrap();
    // The committed subset model scores about 98% on its own training images: a
    // teacher that is read or run wrongly scores near chance.
    assert!(t.accuracy > 90.0, "{}", t.accuracy);
    let y = t.outputs(0);
    assert_eq!(y.len(), 10);
    assert!(y.iter().all(|v| v.is_finite()));
}

#[test]
fn an_unusable_teacher_is_an_error_naming_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.snn");
    let corrupt = dir.path().join("corrupt.snn");
    std::fs::write(&corrupt, b"SNNM not a model").unwrap();
    for (path, says) in [(missing, "No such file"), (corrupt, "not a valid model")] {
        let mut cfg = small(Some(0.5), 1);
        cfg.optim.distill.as_mut().unwrap().teacher = path.clone();
        let out = tempfile::tempdir().unwrap();
        let msg = train::run(&cfg, out.path(), &RunOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(&path.display().to_string()) && msg.contains(says),
            "{msg}"
        );
    }
    // A teacher for other images: the 28 x 28 LeNet on 14 x 14 data.
    let (mut train, _) = data::load(DatasetKind::MnistSubset, &data::bundled_dir()).unwrap();
    train.truncate(2);
    train.height = 14;
    train.width = 14;
    train.images.truncate(2 * 14 * 14);
    let cfg = DistillConfig {
        teacher: teacher_path(),
        weight: 0.5,
    };
    let msg = Teacher::run(&cfg, &train, 5).unwrap_err().to_string();
    assert!(
        msg.contains("1x28x28 images in 10 classes, the dataset has 1x14x14 in 10"),
        "{msg}"
    );
}

#[test]
fn the_weight_must_lie_in_zero_one() {
    let mut cfg = small(Some(1.5), 1);
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .contains("optim.distill.weight"));
    cfg.optim.distill.as_mut().unwrap().weight = 1.0;
    cfg.validate().unwrap();
}

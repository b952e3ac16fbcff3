//! The training loop end to end on a slice of the bundled subset: determinism across
//! thread counts, exact resume, atomic checkpoints, and the shipped configuration
//! files. The export through snn-core is checked in the workspace `tests` crate.

use std::path::Path;

use snn_train::checkpoint::Checkpoint;
use snn_train::config::TrainConfig;
use snn_train::grad::GradForm;
use snn_train::train::{self, RunOptions};

fn small(grad: GradForm) -> TrainConfig {
    TrainConfig {
        timesteps: 5,
        epochs: 2,
        batch_size: 16,
        lr: 0.02,
        lr_milestones: vec![1],
        train_limit: Some(96),
        test_limit: Some(48),
        grad,
        dropout: 0.1,
        ..TrainConfig::default()
    }
}

fn weights(p: &snn_train::net::Params) -> Vec<u32> {
    p.iter()
        .flat_map(|a| a.iter().map(|v| v.to_bits()))
        .collect()
}

#[test]
fn same_seed_same_weights_with_one_or_two_threads() {
    for grad in [GradForm::Code, GradForm::Aggregate] {
        let mut runs = Vec::new();
        for threads in [1, 2] {
            let dir = tempfile::tempdir().unwrap();
            let cfg = TrainConfig {
                threads,
                ..small(grad)
            };
            let s = train::run(&cfg, dir.path(), &RunOptions::default()).unwrap();
            runs.push(weights(&s.params));
        }
        assert_eq!(
            runs[0], runs[1],
            "{grad:?}: thread count changed the weights"
        );
        let dir = tempfile::tempdir().unwrap();
        let other = TrainConfig {
            seed: 2,
            ..small(grad)
        };
        let s = train::run(&other, dir.path(), &RunOptions::default()).unwrap();
        assert_ne!(weights(&s.params), runs[0], "the seed must matter");
    }
}

#[test]
fn resume_continues_exactly_where_it_stopped() {
    let cfg = small(GradForm::Code);
    let straight = tempfile::tempdir().unwrap();
    let full = train::run(&cfg, straight.path(), &RunOptions::default()).unwrap();

    let split = tempfile::tempdir().unwrap();
    let first = RunOptions {
        stop_after: Some(1),
        ..RunOptions::default()
    };
    let half = train::run(&cfg, split.path(), &first).unwrap();
    assert!(half.export.is_none(), "an interrupted run exports nothing");
    assert_eq!(
        Checkpoint::load(&split.path().join("checkpoint_latest"))
            .unwrap()
            .epochs_done,
        1
    );
    let resumed = train::run(
        &TrainConfig::default(),
        split.path(),
        &RunOptions {
            resume: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!(weights(&resumed.params), weights(&full.params));
    assert_eq!(resumed.best, full.best);

    let lines = |d: &Path| {
        std::fs::read_to_string(d.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines(split.path()), 2);
    assert_eq!(lines(straight.path()), 2);
    for f in [
        "config.toml",
        "checkpoint_latest",
        "checkpoint_best",
        "model.snn",
    ] {
        assert!(split.path().join(f).is_file(), "{f} missing");
    }
    // No temporary files are left behind by the atomic writes.
    let leftovers: Vec<_> = std::fs::read_dir(split.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn corrupt_checkpoints_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ck");
    std::fs::write(&p, b"garbage").unwrap();
    assert!(Checkpoint::load(&p)
        .unwrap_err()
        .to_string()
        .contains("not a valid checkpoint"));
    let cfg = TrainConfig {
        epochs: 1,
        ..small(GradForm::Aggregate)
    };
    train::run(
        &cfg,
        dir.path(),
        &RunOptions {
            stop_after: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let good = std::fs::read(dir.path().join("checkpoint_latest")).unwrap();
    std::fs::write(&p, &good[..good.len() - 3]).unwrap();
    assert!(Checkpoint::load(&p)
        .unwrap_err()
        .to_string()
        .contains("truncated"));
    assert!(Checkpoint::load(&dir.path().join("missing")).is_err());
}

#[test]
fn shipped_configs_parse_build_and_take_a_step() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        seen += 1;
        let cfg = TrainConfig::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
        // Build the network on data of the dataset's shape and run one sample at T=2:
        // the recipe starts correctly even where its dataset is not installed here.
        let (c, hw) = match cfg.dataset {
            snn_train::data::DatasetKind::Cifar10 | snn_train::data::DatasetKind::Svhn => (3, 32),
            _ => (1, 28),
        };
        let data = snn_train::data::Dataset {
            channels: c,
            height: hw,
            width: hw,
            classes: 10,
            images: (0..c * hw * hw).map(|i| (i * 31 % 256) as u8).collect(),
            labels: vec![3],
        };
        let net = snn_train::net::Network::build(
            &cfg.layer_list(),
            snn_train::net::Shape { c, h: hw, w: hw },
            10,
            cfg.neuron(),
            cfg.dropout,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let params = net.init(cfg.init_gain, 1);
        let quick = TrainConfig {
            timesteps: 2,
            ..cfg.clone()
        };
        let (g, stats) = train::chunk_gradient(
            &net,
            &params,
            &cfg.dataset.encoding(),
            &quick,
            &data,
            0,
            &[0],
        );
        assert_eq!(stats.samples, 1);
        assert!(
            g.iter().all(|t| t.iter().all(|v| v.is_finite())),
            "{}",
            path.display()
        );
    }
    assert!(
        seen >= 6,
        "expected the paper and fast recipes in configs/, found {seen}"
    );
}

#[test]
fn bad_configs_are_rejected_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, "epochs = 0\n").unwrap();
    assert!(TrainConfig::from_file(&p)
        .unwrap_err()
        .to_string()
        .contains("epochs"));
    std::fs::write(&p, "epoch = 3\n").unwrap();
    let e = TrainConfig::from_file(&p).unwrap_err().to_string();
    assert!(e.contains("c.toml") && e.contains("epoch"), "{e}");
    std::fs::write(&p, "[[layers]]\ntype = \"conv\"\nchannels = 4\nkernel = 40\npadding = 0\n[[layers]]\ntype = \"output\"\n").unwrap();
    let cfg = TrainConfig::from_file(&p).unwrap();
    let e = train::setup(&cfg).err().unwrap().to_string();
    assert!(e.contains("does not fit"), "{e}");
}

/// The momentum resume test's configuration, as the TOML a user would write. Only TOML
/// text, parsed by `TrainConfig::from_file`, so the test follows the file format rather
/// than the struct's field layout. Keys: the flat `TrainConfig` keys of this commit.
const MOMENTUM_RESUME_TOML: &str = r#"
timesteps = 5
epochs = 2
batch_size = 16
lr = 0.02
lr_milestones = [1]
momentum = 0.9
weight_decay = 0.0005
train_limit = 96
test_limit = 48
grad = "code"
dropout = 0.1
"#;

fn config_from_toml(text: &str) -> (tempfile::TempDir, TrainConfig) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.toml");
    std::fs::write(&p, text).unwrap();
    let cfg = TrainConfig::from_file(&p).unwrap_or_else(|e| panic!("{e}"));
    (dir, cfg)
}

#[test]
fn resume_with_momentum_restores_the_velocity_exactly() {
    let (_keep, cfg) = config_from_toml(MOMENTUM_RESUME_TOML);
    let straight = tempfile::tempdir().unwrap();
    let full = train::run(&cfg, straight.path(), &RunOptions::default()).unwrap();

    let split = tempfile::tempdir().unwrap();
    let first = RunOptions {
        stop_after: Some(1),
        ..RunOptions::default()
    };
    train::run(&cfg, split.path(), &first).unwrap();
    let half = Checkpoint::load(&split.path().join("checkpoint_latest")).unwrap();
    assert_eq!(half.epochs_done, 1);
    // The velocity is saved, and it is not trivially zero (else resuming without it
    // would also pass).
    assert!(half.sgd.momentum > 0.0);
    assert_eq!(half.sgd.velocity.len(), half.params.len());
    assert!(
        weights(&half.sgd.velocity)
            .iter()
            .any(|&b| f32::from_bits(b) != 0.0),
        "momentum 0.9 left a zero velocity after one epoch"
    );
    let resumed = train::run(
        &TrainConfig::default(),
        split.path(),
        &RunOptions {
            resume: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        weights(&resumed.params),
        weights(&full.params),
        "resuming with momentum changed the weights"
    );
    assert_eq!(resumed.best, full.best);
    let end = |d: &Path| Checkpoint::load(&d.join("checkpoint_latest")).unwrap();
    assert_eq!(
        weights(&end(split.path()).sgd.velocity),
        weights(&end(straight.path()).sgd.velocity),
        "the velocity after resuming differs from the uninterrupted run's"
    );
}

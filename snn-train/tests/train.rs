//! The training loop end to end on a slice of the bundled subset: determinism across
//! thread counts, exact resume, atomic checkpoints, and the shipped configuration
//! files. The export through snn-core is checked in the workspace `tests` crate.

use std::path::Path;

use snn_train::sim::grad::GradForm;
use snn_train::train::checkpoint::Checkpoint;
use snn_train::train::config::TrainConfig;
use snn_train::train::setup::setup;
use snn_train::train::step::StepContext;
use snn_train::train::{self, RunOptions};

fn small(grad: GradForm) -> TrainConfig {
    let mut c = TrainConfig::default();
    c.run.timesteps = 5;
    c.optim.epochs = 2;
    c.optim.batch_size = 16;
    c.optim.lr = 0.02;
    c.optim.lr_milestones = vec![1];
    c.optim.grad = grad;
    c.data.train_limit = Some(96);
    c.data.test_limit = Some(48);
    c.network.dropout = 0.1;
    c
}

fn weights(p: &snn_train::model::net::Params) -> Vec<u32> {
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
            let mut cfg = small(grad);
            cfg.run.threads = threads;
            let s = train::run(&cfg, dir.path(), &RunOptions::default()).unwrap();
            runs.push(weights(&s.params));
        }
        assert_eq!(
            runs[0], runs[1],
            "{grad:?}: thread count changed the weights"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut other = small(grad);
        other.run.seed = 2;
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
    let mut cfg = small(GradForm::Aggregate);
    cfg.optim.epochs = 1;
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
        use snn_train::data::{events, DatasetKind};
        let kind = cfg.data.dataset;
        let (c, hw) = match kind {
            DatasetKind::Cifar10 | DatasetKind::Svhn => (3, 32),
            DatasetKind::Nmnist => (2, 34),
            DatasetKind::DvsGesture => (2, 32),
            _ => (1, 28),
        };
        // Event datasets: one synthetic recording, binned as the config says.
        let events = kind.is_events().then(|| {
            let mut set = events::EventSet::new(hw, hw, cfg.data.event_options().binning);
            let ev = events::synthetic::nmnist_sample(3, 1, 50);
            let inside = ev
                .into_iter()
                .filter(|e| usize::from(e.x.max(e.y)) < hw)
                .collect();
            set.push(inside).unwrap();
            set
        });
        let data = snn_train::data::Dataset {
            channels: c,
            height: hw,
            width: hw,
            classes: 10,
            images: match &events {
                Some(_) => Vec::new(),
                None => (0..c * hw * hw).map(|i| (i * 31 % 256) as u8).collect(),
            },
            labels: vec![3],
            events,
        };
        let net = snn_train::model::net::Network::build(
            &cfg.network.layer_list(),
            snn_train::model::net::shape(snn_train::LayerIndex::Input, c, hw, hw).unwrap(),
            10,
            cfg.network.neuron(),
            cfg.network.dropout,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let enc = cfg.data.dataset.encoding();
        snn_train::train::setup::check_exportable(&net, &enc)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let params = net.init(cfg.network.init_gain, 1);
        let mut quick = cfg.clone();
        quick.run.timesteps = 2;
        let ctx = StepContext::new(&quick, &net, &enc);
        let (g, stats) = ctx.chunk_gradient(&params, &data, 0, &[0]);
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
    std::fs::write(&p, "[optim]\nepochs = 0\n").unwrap();
    assert!(TrainConfig::from_file(&p)
        .unwrap_err()
        .to_string()
        .contains("optim.epochs"));
    std::fs::write(&p, "[optim]\nepoch = 3\n").unwrap();
    let e = TrainConfig::from_file(&p).unwrap_err().to_string();
    assert!(e.contains("c.toml") && e.contains("epoch"), "{e}");
    // Non-finite numbers are out of range, wherever they are.
    for (text, key) in [
        ("[network]\ninit_gain = inf\n", "network.init_gain"),
        ("[network]\nthreshold = nan\n", "network.threshold"),
        (
            "[network]\npool_threshold = -inf\n",
            "network.pool_threshold",
        ),
        ("[optim]\nlr = inf\n", "optim.lr"),
        ("[optim]\nweight_decay = nan\n", "optim.weight_decay"),
        ("[optim]\nmomentum = nan\n", "optim.momentum"),
        ("[network]\nleak = nan\n", "network.leak"),
        ("[network]\ndropout = nan\n", "network.dropout"),
        ("[run]\ntimesteps = 0\n", "run.timesteps"),
        ("[data]\ntest_limit = 0\n", "data.test_limit"),
        ("[optim]\nactivity = [0.5, -1.0]\n", "optim.activity"),
        (
            "[optim]\noptimizer = \"adam\"\nnormalized_step = 0.0\nbetas = [0.9, 1.0]\n",
            "optim.betas",
        ),
        (
            "[optim]\noptimizer = \"adam\"\nnormalized_step = 0.0\nmomentum = 0.9\n",
            "optim.momentum",
        ),
        ("[optim]\noptimizer = \"adam\"\n", "optim.normalized_step"),
        (
            "[optim.distill]\nteacher = \"t.snn\"\nweight = -0.5\n",
            "optim.distill.weight",
        ),
        ("[run]\nearly_exit = \"soon\"\n", "run.early_exit"),
    ] {
        std::fs::write(&p, text).unwrap();
        let e = TrainConfig::from_file(&p).unwrap_err().to_string();
        assert!(e.contains(key) && e.contains("out of range"), "{text}: {e}");
    }
    let layers = |l: &str| format!("[network]\nlayers = [{l}, {{type = \"output\"}}]\n");
    for (l, want) in [
        (
            "{type = \"conv\", channels = 4, kernel = 40, padding = 0}",
            "does not fit",
        ),
        (
            "{type = \"dense\", units = 70000}",
            "units = 70000 is larger than the maximum 65535",
        ),
        (
            "{type = \"conv\", channels = 70000, kernel = 3}",
            "channels = 70000 is larger than the maximum 65535",
        ),
        (
            "{type = \"conv\", channels = 4, kernel = 300, padding = 200}",
            "kernel = 300 is larger than the maximum 255",
        ),
        ("{type = \"dense\", units = 0}", "units is zero"),
        ("{type = \"output\"}", "`output` must be the last layer"),
    ] {
        std::fs::write(&p, layers(l)).unwrap();
        let cfg = TrainConfig::from_file(&p).unwrap();
        let e = setup(&cfg).err().unwrap().to_string();
        assert!(e.contains(want), "{l}: {e}");
    }
    let many = vec!["{type = \"dense\", units = 4}"; 30].join(", ");
    std::fs::write(&p, layers(&many)).unwrap();
    let e = setup(&TrainConfig::from_file(&p).unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("31 layers, the model format allows at most 24"),
        "{e}"
    );
}

#[test]
fn a_resumed_run_takes_a_new_lr_epochs_threads_activity_and_qat() {
    let cfg = small(GradForm::Aggregate);
    let dir = tempfile::tempdir().unwrap();
    let first = RunOptions {
        stop_after: Some(1),
        ..RunOptions::default()
    };
    train::run(&cfg, dir.path(), &first).unwrap();
    let resume = |overrides| RunOptions {
        resume: true,
        overrides,
        ..RunOptions::default()
    };
    // An override out of range is refused, and the run is left as it was.
    let bad = train::ResumeOverrides {
        lr: Some(f32::NAN),
        ..Default::default()
    };
    let e = train::run(&TrainConfig::default(), dir.path(), &resume(bad))
        .unwrap_err()
        .to_string();
    assert!(e.contains("optim.lr"), "{e}");
    let bad = train::ResumeOverrides {
        activity: Some(vec![-1.0]),
        ..Default::default()
    };
    let e = train::run(&TrainConfig::default(), dir.path(), &resume(bad))
        .unwrap_err()
        .to_string();
    assert!(e.contains("optim.activity"), "{e}");
    let bad = train::ResumeOverrides {
        qat_epochs: Some(4),
        ..Default::default()
    };
    let e = train::run(&TrainConfig::default(), dir.path(), &resume(bad))
        .unwrap_err()
        .to_string();
    assert!(e.contains("optim.qat_epochs"), "{e}");
    let good = train::ResumeOverrides {
        lr: Some(0.01),
        epochs: Some(3),
        threads: Some(1),
        activity: Some(vec![0.5]),
        qat_epochs: Some(1),
    };
    let s = train::run(&TrainConfig::default(), dir.path(), &resume(good)).unwrap();
    assert!(s.export.is_some(), "the run ran to its new last epoch");
    let ck = Checkpoint::load(&dir.path().join("checkpoint_latest")).unwrap();
    assert_eq!(ck.epochs_done, 3);
    assert_eq!((ck.config.optim.lr, ck.config.optim.epochs), (0.01, 3));
    assert_eq!(ck.config.optim.activity, vec![0.5]);
    assert_eq!(ck.config.optim.qat_epochs, 1);
    let saved = TrainConfig::from_file(&dir.path().join("config.toml")).unwrap();
    assert_eq!(saved, ck.config, "config.toml says what the run now uses");
    let metrics: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lrs: Vec<f64> = metrics.iter().map(|v| v["lr"].as_f64().unwrap()).collect();
    let qat: Vec<bool> = metrics
        .iter()
        .map(|v| v["qat"].as_bool().unwrap())
        .collect();
    assert_eq!(
        qat,
        [false, false, true],
        "the last epoch trained on i8 weights"
    );
    // Epoch 1 at the original 0.02; epochs 2 and 3 past the milestone at 1: 0.01 * 0.2.
    assert_eq!(lrs.len(), 3);
    assert!(
        (lrs[0] - 0.02).abs() < 1e-7 && (lrs[1] - 0.002).abs() < 1e-7,
        "{lrs:?}"
    );
}

/// The resume tests' configuration, as the TOML a user would write, plus the
/// optimiser's keys. Only TOML text, parsed by `TrainConfig::from_file`, so the tests
/// follow the file format rather than the struct's field layout. Keys: dotted keys of
/// the config's sections.
fn resume_toml(optimiser: &str) -> String {
    format!(
        "run.timesteps = 5\noptim.epochs = 2\noptim.batch_size = 16\n\
         optim.lr_milestones = [1]\noptim.weight_decay = 0.0005\n\
         data.train_limit = 96\ndata.test_limit = 48\nnetwork.dropout = 0.1\n{optimiser}"
    )
}

/// SGD with momentum, code form.
const MOMENTUM: &str = "optim.lr = 0.02\noptim.momentum = 0.9\noptim.grad = \"code\"\n";

/// Adam, aggregate form.
const ADAM: &str = "optim.optimizer = \"adam\"\noptim.lr = 0.002\noptim.normalized_step = 0.0\n\
                    optim.grad = \"aggregate\"\n";

fn config_from_toml(text: &str) -> (tempfile::TempDir, TrainConfig) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.toml");
    std::fs::write(&p, text).unwrap();
    let cfg = TrainConfig::from_file(&p).unwrap_or_else(|e| panic!("{e}"));
    (dir, cfg)
}

#[test]
fn resume_with_momentum_restores_the_velocity_exactly() {
    resume_restores_the_optimiser_exactly(&resume_toml(MOMENTUM));
}

#[test]
fn resume_with_adam_restores_its_moments_exactly() {
    resume_restores_the_optimiser_exactly(&resume_toml(ADAM));
}

/// A run of `toml` stopped after one epoch and resumed ends with the weights and the
/// optimiser state (velocity, Adam's second moments and step count) of the run that
/// went straight through.
fn resume_restores_the_optimiser_exactly(toml: &str) {
    let (_keep, cfg) = config_from_toml(toml);
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
    if let Some(adam) = &half.sgd.adam {
        assert_eq!(adam.steps, 6, "96 samples in batches of 16");
        assert!(weights(&adam.second)
            .iter()
            .any(|&b| f32::from_bits(b) > 0.0));
    }
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
        "resuming changed the weights"
    );
    assert_eq!(resumed.best, full.best);
    let end = |d: &Path| Checkpoint::load(&d.join("checkpoint_latest")).unwrap();
    let (a, b) = (end(split.path()).sgd, end(straight.path()).sgd);
    assert_eq!(
        weights(&a.velocity),
        weights(&b.velocity),
        "the velocity after resuming differs from the uninterrupted run's"
    );
    assert_eq!(a.adam.is_some(), toml.contains("adam"));
    if let (Some(x), Some(y)) = (a.adam, b.adam) {
        assert_eq!((x.steps, weights(&x.second)), (y.steps, weights(&y.second)));
    }
}

#[test]
fn the_guard_names_the_first_silent_population_within_a_few_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small(GradForm::Code);
    cfg.network.init = snn_train::train::config::Init::Random;
    cfg.network.threshold = 1e30; // nothing can fire: conv1 is silent from the start
    cfg.run.guard_samples = 40; // 3 batches of 16
    let e = train::run(&cfg, dir.path(), &RunOptions::default()).unwrap_err();
    let msg = e.to_string();
    let snn_train::TrainError::Guard(g) = &e else {
        panic!("expected a guard stop, got: {msg}");
    };
    assert_eq!(
        (g.epoch, g.batch),
        (1, snn_train::train::guard::MIN_BATCHES),
        "{msg}"
    );
    assert!(msg.contains("population conv1 did not fire"), "{msg}");
    assert!(
        msg.contains("lower learning rate") && msg.contains("--resume"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "one line: {msg}");
    // The initial weights are kept as the last good checkpoint; no metrics were faked.
    let ck = Checkpoint::load(&dir.path().join("checkpoint_latest")).unwrap();
    assert_eq!(ck.epochs_done, 0);
    assert!(!dir.path().join("metrics.jsonl").exists());
    // With the guard off the same run finishes, silently useless.
    cfg.run.guard = false;
    let other = tempfile::tempdir().unwrap();
    train::run(&cfg, other.path(), &RunOptions::default()).unwrap();
}

#[test]
fn a_run_the_guard_stopped_resumes_with_a_lower_lr() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small(GradForm::Aggregate);
    cfg.optim.lr = f32::MAX; // the first steps blow the weights up
    let e = train::run(&cfg, dir.path(), &RunOptions::default()).unwrap_err();
    let snn_train::TrainError::Guard(g) = &e else {
        panic!("expected a guard stop, got: {e}");
    };
    assert_eq!(g.epoch, 1, "{e}");
    let opts = RunOptions {
        resume: true,
        overrides: train::ResumeOverrides {
            lr: Some(0.5),
            ..Default::default()
        },
        ..Default::default()
    };
    let s = train::run(&cfg, dir.path(), &opts).unwrap();
    assert!(s.best.1 > 0);
    assert!(s.params.iter().all(|p| p.iter().all(|w| w.is_finite())));
    let metrics = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    // Telemetry: every spiking population, train and test, with rates in [0, 1].
    for key in ["train_activity", "test_activity"] {
        let pops = last[key].as_array().unwrap();
        let names: Vec<&str> = pops.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["input", "conv1", "pool1", "conv2", "pool2", "fc1"],
            "{key}"
        );
        for p in pops {
            let (r, s) = (p["rate"].as_f64().unwrap(), p["silent"].as_f64().unwrap());
            assert!((0.0..=1.0).contains(&r) && (0.0..=1.0).contains(&s), "{p}");
        }
    }
}

#[test]
fn the_committed_default_config_is_the_default_recipe() {
    // `cargo xtask train` without a config trains `TrainConfig::default()`; the robustness
    // matrix and the README read `models/config.toml`: they must be the same recipe.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/config.toml");
    assert_eq!(
        TrainConfig::from_file(&path).unwrap(),
        TrainConfig::default()
    );
}

/// `data.encoding` chooses the input encoding the run trains with and exports:
/// `rate:1` is snnTorch's `spikegen.rate`; it contradicts `analog = true`, and event
/// datasets take their own spikes only.
#[test]
fn the_config_chooses_the_input_encoding() {
    let mut cfg = TrainConfig::default();
    cfg.data.encoding = Some("rate:1".parse().unwrap());
    cfg.data.train_limit = Some(8);
    cfg.data.test_limit = Some(8);
    let s = setup(&cfg).unwrap();
    assert_eq!(s.enc.gain, vec![snn_core::encode::unsigned_gain(1.0)]);
    let toml = cfg.to_toml().unwrap();
    assert!(toml.contains("encoding = \"rate:1\""), "{toml}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, &toml).unwrap();
    assert_eq!(
        TrainConfig::from_file(&path).unwrap().data.encoding,
        cfg.data.encoding
    );
    let mut both = cfg.clone();
    both.data.analog = true;
    assert!(both
        .validate()
        .unwrap_err()
        .to_string()
        .contains("data.encoding"));
    let mut events = cfg.clone();
    events.data.dataset = snn_train::data::DatasetKind::Nmnist;
    assert!(events
        .validate()
        .unwrap_err()
        .to_string()
        .contains("data.encoding"));
    // Unset, nothing is written: older configs and checkpoints keep their bytes.
    assert!(!TrainConfig::default()
        .to_toml()
        .unwrap()
        .contains("encoding"));
}

//! Event-camera data end to end: N-MNIST and DVS128 Gesture directories in their real
//! formats (written by `data::events::synthetic`), loaded, trained on through the
//! given-spikes path with both backward forms and two thread counts, exported and run
//! bit-exact by `snn-core`; damaged files and wrong settings as clear errors; the
//! committed sample data equal to its generator; and, where `.ci/run`'s virtual
//! environment has `tonic`, our readers, denoising and frames against tonic's.

use std::path::{Path, PathBuf};
use std::process::Command;

use snn_train::data::events::{aedat, bins, nmnist, synthetic, Binning, Event};
use snn_train::data::{self, DatasetKind};
use snn_train::model::spec::LayerSpec;
use snn_train::sim::grad::GradForm;
use snn_train::train::config::TrainConfig;
use snn_train::train::{self, RunOptions};
use snn_train::DataError;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn nmnist_config(dir: &Path, grad: GradForm) -> TrainConfig {
    let mut c = TrainConfig::default();
    c.data.dataset = DatasetKind::Nmnist;
    c.data.dir = Some(dir.to_path_buf());
    c.data.events.jitter = 1;
    c.data.events.drop = 0.1;
    c.network.layers = vec![
        LayerSpec::Conv {
            channels: 8,
            kernel: 5,
            stride: 2,
            padding: Some(0),
        },
        LayerSpec::Dense { units: 32 },
        LayerSpec::Output,
    ];
    c.run.timesteps = 6;
    c.optim.epochs = 12;
    c.optim.batch_size = 16;
    c.optim.lr = 0.3;
    c.optim.lr_milestones = vec![];
    c.optim.grad = grad;
    c
}

#[test]
fn nmnist_format_data_trains_and_runs_bit_exact_in_snn_core() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic::write_nmnist(tmp.path(), 10, 3, 11).unwrap();
    let (train_set, test_set) = data::load(DatasetKind::Nmnist, tmp.path()).unwrap();
    assert_eq!((train_set.len(), test_set.len()), (100, 30));
    assert_eq!(
        (train_set.channels, train_set.height, train_set.width),
        (2, 34, 34)
    );
    for grad in [GradForm::Code, GradForm::Aggregate] {
        let mut weights = Vec::new();
        for threads in [1, 2] {
            let run = tempfile::tempdir().unwrap();
            let mut cfg = nmnist_config(tmp.path(), grad);
            cfg.run.threads = threads;
            let s = train::run(&cfg, run.path(), &RunOptions::default()).unwrap();
            let a = s.export.expect("the run exports its best checkpoint");
            assert!(
                s.best.0 >= 35.0,
                "{grad:?}: {:.1}% on 10 classes (chance 10%)",
                s.best.0
            );
            // The exported model is fed the same binned spikes, step by step.
            assert!(
                a.agreement >= 90.0,
                "{grad:?}: float vs fixed point agree on {:.1}%",
                a.agreement
            );
            weights.push(
                s.params
                    .iter()
                    .flat_map(|p| p.iter().map(|v| v.to_bits()))
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(
            weights[0], weights[1],
            "{grad:?}: the thread count changed the weights"
        );
    }
}

#[test]
fn gesture_recordings_are_cut_at_their_labels_and_down_sampled() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic::write_gesture(tmp.path(), 2, 1, 5).unwrap();
    let (tr, te) = data::load(DatasetKind::DvsGesture, tmp.path()).unwrap();
    assert_eq!((tr.len(), te.len()), (22, 11));
    assert_eq!((tr.channels, tr.height, tr.width), (2, 32, 32));
    assert_eq!(te.labels, (0..11).collect::<Vec<u8>>());
    // Every event of a labelled interval lands in its sample, down-sampled 4x.
    let (events, labels) = synthetic::gesture_recording(5 ^ 3, 1_000_000, 300);
    let set = te.events.as_ref().unwrap();
    for (i, l) in labels.iter().enumerate() {
        let want: Vec<(u16, u16, u8)> = events
            .iter()
            .filter(|e| (l.start..l.end).contains(&e.t))
            .map(|e| (e.x / 4, e.y / 4, e.p))
            .collect();
        let mut got: Vec<(u16, u16, u8)> = set.sample(i).iter().map(|e| (e.x, e.y, e.p)).collect();
        let mut want = want;
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want, "gesture {i}");
    }
}

#[test]
fn damaged_files_and_wrong_settings_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    synthetic::write_nmnist(tmp.path(), 1, 1, 2).unwrap();
    let victim = tmp.path().join("Train/3/00001.bin");
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() - 2]).unwrap();
    let err = data::load(DatasetKind::Nmnist, tmp.path()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, DataError::Format { .. })
            && msg.contains("00001.bin")
            && msg.contains("truncated"),
        "{msg}"
    );
    // An event off the 34 x 34 sensor.
    std::fs::write(&victim, [40, 1, 0, 0, 1]).unwrap();
    let msg = data::load(DatasetKind::Nmnist, tmp.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("outside the 34 x 34 sensor"), "{msg}");
    // No recordings at all.
    let empty = tempfile::tempdir().unwrap();
    let msg = data::load(DatasetKind::Nmnist, empty.path())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("nmnist"), "{msg}");

    let g = tempfile::tempdir().unwrap();
    synthetic::write_gesture(g.path(), 1, 1, 3).unwrap();
    let rec = g.path().join("user01_synthetic.aedat");
    let bytes = std::fs::read(&rec).unwrap();
    std::fs::write(&rec, &bytes[..bytes.len() - 3]).unwrap();
    let msg = data::load(DatasetKind::DvsGesture, g.path())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("user01_synthetic.aedat") && msg.contains("truncated"),
        "{msg}"
    );
    std::fs::write(
        g.path().join("user02_synthetic_labels.csv"),
        "class,startTime_usec,endTime_usec\n12,0,5\n",
    )
    .unwrap();
    std::fs::write(&rec, &bytes).unwrap();
    let msg = data::load(DatasetKind::DvsGesture, g.path())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("user02_synthetic_labels.csv") && msg.contains("class 12"),
        "{msg}"
    );

    // Settings that do not fit the dataset.
    let mut cfg = nmnist_config(tmp.path(), GradForm::Code);
    cfg.data.analog = true;
    let msg = cfg.validate().unwrap_err().to_string();
    assert!(msg.contains("data.analog"), "{msg}");
    let mut cfg = TrainConfig::default();
    cfg.data.events.jitter = 2;
    let msg = cfg.validate().unwrap_err().to_string();
    assert!(msg.contains("data.events"), "{msg}");
    let mut cfg = nmnist_config(tmp.path(), GradForm::Code);
    cfg.data.events.drop = 1.0;
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .contains("data.events.drop"));
    assert!(DatasetKind::Nmnist
        .require_images("snn-train analyze")
        .is_err());
}

/// The committed sample data (`data/events-sample`) is what the generator writes, so
/// the README's command can be re-run from the generator alone.
#[test]
fn committed_sample_data_matches_its_generator() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, g) = (tmp.path().join("nmnist"), tmp.path().join("dvs-gesture"));
    synthetic::write_nmnist(&n, SAMPLE_NMNIST.0, SAMPLE_NMNIST.1, SAMPLE_SEED).unwrap();
    synthetic::write_gesture(&g, 2, 1, SAMPLE_SEED).unwrap();
    let committed = root().join("data/events-sample");
    if std::env::var_os("SNN_WRITE_EVENT_SAMPLE").is_some() {
        let _ = std::fs::remove_dir_all(&committed);
        copy_dir(tmp.path(), &committed);
    }
    let mut files = Vec::new();
    list(tmp.path(), tmp.path(), &mut files);
    assert!(files.len() > 100);
    for rel in files {
        let a = std::fs::read(tmp.path().join(&rel)).unwrap();
        let b = std::fs::read(committed.join(&rel)).unwrap_or_else(|e| {
            panic!(
                "data/events-sample/{} : {e} (regenerate with SNN_WRITE_EVENT_SAMPLE=1)",
                rel.display()
            )
        });
        assert!(
            a == b,
            "data/events-sample/{} differs from the generator",
            rel.display()
        );
    }
}

const SAMPLE_NMNIST: (usize, usize) = (20, 5);
const SAMPLE_SEED: u64 = 2024;

fn list(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            list(base, &p, out);
        } else {
            out.push(p.strip_prefix(base).unwrap().to_path_buf());
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let mut files = Vec::new();
    list(from, from, &mut files);
    for rel in files {
        std::fs::create_dir_all(to.join(&rel).parent().unwrap()).unwrap();
        std::fs::copy(from.join(&rel), to.join(&rel)).unwrap();
    }
}

/// The Python with `tonic`: `SNN_TONIC_PYTHON`, else `.ci/run`'s
/// `target/tonic-venv`. `None` (the caller prints why it skips) where it is absent.
fn tonic_python(test: &str) -> Option<PathBuf> {
    let p = std::env::var_os("SNN_TONIC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/tonic-venv/bin/python"));
    let ok = Command::new(&p)
        .args(["-c", "import tonic"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "skipped {test}: {} has no `tonic` (python3 -m venv target/tonic-venv && \
             target/tonic-venv/bin/pip install tonic==1.7.0, or set SNN_TONIC_PYTHON)",
            p.display()
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: CI must have tonic (.ci/run installs it)"
        );
        return None;
    }
    Some(p)
}

/// Runs `tests/tonic_reference.py MODE FILE STEPS` and parses its lines of integers.
fn tonic(py: &Path, mode: &str, file: &Path, arg: &str) -> Vec<Vec<i64>> {
    let out = Command::new(py)
        .arg(root().join("snn-train/tests/tonic_reference.py"))
        .args([mode, file.to_str().unwrap(), arg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tonic_reference.py {mode}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect())
        .collect()
}

fn rows(events: &[Event]) -> Vec<Vec<i64>> {
    events
        .iter()
        .map(|e| vec![e.x as i64, e.y as i64, e.t as i64, e.p as i64])
        .collect()
}

#[test]
fn readers_denoising_and_frames_agree_with_tonic() {
    let Some(py) = tonic_python("readers_denoising_and_frames_agree_with_tonic") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // N-MNIST, with a timestamp-overflow mark in the middle.
    let ev = synthetic::nmnist_sample(7, 99, 400);
    let mut bytes = nmnist::encode(&ev).unwrap();
    let mid = (ev.len() / 2) * 5;
    bytes.splice(mid..mid, [0, nmnist::OVERFLOW_Y, 0, 0, 0]);
    let file = tmp.path().join("sample.bin");
    std::fs::write(&file, &bytes).unwrap();
    let ours = nmnist::parse(&bytes).unwrap();
    assert_eq!(
        rows(&ours),
        tonic(&py, "nmnist", &file, "0"),
        "N-MNIST events"
    );
    assert_eq!(
        rows(&bins::denoise(&ours, 3000)),
        tonic(&py, "denoise", &file, "3000"),
        "Denoise(filter_time = 3000)"
    );
    for (mode, binning, arg) in [
        ("time-bins", Binning::TimeBins, "7"),
        ("event-bins", Binning::EventBins, "7"),
    ] {
        let theirs: Vec<i64> = tonic(&py, mode, &file, arg).concat();
        let frames = bins::frames(&ours, (34, 34), 7, binning);
        let frames: Vec<i64> = frames.iter().map(|&c| i64::from(c)).collect();
        assert_eq!(frames, theirs, "ToFrame({mode} = 7)");
    }
    // Time windows: tonic gives as many frames as fit (no incomplete one); ours the
    // same ones, then empty steps.
    let theirs: Vec<i64> = tonic(&py, "window", &file, "40000").concat();
    let plane = 2 * 34 * 34;
    let n = theirs.len() / plane;
    let ours_w: Vec<i64> = bins::frames(&ours, (34, 34), n + 2, Binning::Window(40_000))
        .iter()
        .map(|&c| i64::from(c))
        .collect();
    assert!(n > 0);
    assert_eq!(
        ours_w[..n * plane],
        theirs[..],
        "ToFrame(time_window = 40000)"
    );
    assert!(
        ours_w[n * plane..].iter().all(|&c| c == 0),
        "steps past tonic's frames are empty"
    );

    // AEDAT 3.1 polarity packets.
    let (ev, _) = synthetic::gesture_recording(4, 0, 200);
    let file = tmp.path().join("rec.aedat");
    std::fs::write(&file, aedat::encode(&ev, 500).unwrap()).unwrap();
    let ours = aedat::parse(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(ours, ev);
    assert_eq!(
        rows(&ours),
        tonic(&py, "aedat", &file, "0"),
        "AEDAT 3.1 events"
    );
}

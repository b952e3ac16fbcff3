//! NIR files written by the producers themselves (feature `nir`):
//!
//! - networks built, exported and simulated by snnTorch and Norse
//!   (`tests/nir/producers.py`, run by `.ci/run` into `target/producers`), imported
//!   here and run by `snn-core` on the same input spikes, spike count for spike count
//!   against the producer's own simulation;
//! - the two snnTorch networks trained on MNIST and committed in `tests/nir`
//!   (`tests/nir/snntorch_mnist.py`), imported with `--encoding rate:1`, against
//!   snnTorch's own accuracy on the 10,000 MNIST test images (needs the full MNIST:
//!   `SNN_MNIST_DIR`, default `../shared/data/mnist`).
#![cfg(feature = "nir")]

use std::path::{Path, PathBuf};

mod common;
use common::{read_npy, run_engine};

use snn_core::format::Reset;
use snn_train::data::{self, DatasetKind, Encoding};
use snn_train::io::nir::{self, ImportOptions};
use snn_train::measure::analysis::accuracy_vs_steps;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

/// Where `producers.py` wrote its checks: `SNN_PRODUCERS` (a directory, or
/// `skip:REASON` where `.ci/run` could not install the producers), else
/// `target/producers`. `None` (the reason printed) where there are none, except under
/// CI without a reason, where they must exist.
fn producers_dir(test: &str) -> Option<PathBuf> {
    let given = std::env::var("SNN_PRODUCERS").ok();
    if let Some(reason) = given.as_deref().and_then(|v| v.strip_prefix("skip:")) {
        eprintln!("skipped {test}: {reason}");
        return None;
    }
    // A relative path is the repository's (the test runs in snn-train/).
    let dir = root().join(given.as_deref().unwrap_or("target/producers"));
    if dir.join("checks.json").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{}: no producer checks; .ci/run writes them with tests/nir/producers.py",
        dir.display()
    );
    eprintln!(
        "skipped {test}: no {} (python3 -m venv V && V/bin/pip install snntorch==1.0.0 \
         norse==1.1.0 nir==1.0.8 nirtorch==2.6 torch, then V/bin/python \
         tests/nir/producers.py target/producers)",
        dir.join("checks.json").display()
    );
    None
}

/// How one producer check compared with `snn-core`.
struct Agreement {
    images: usize,
    /// Images whose output spike counts are all equal.
    equal_output: usize,
    /// Images where every neuron of every layer spiked as often.
    equal_all: usize,
    /// Images with the same class (first largest count, as `argmax` in torch).
    same_class: usize,
    /// Neurons (over all images) whose counts differ, and the neurons compared.
    neurons_differing: usize,
    neurons: usize,
    /// Per spiking layer: neurons (over all images) whose counts differ.
    per_layer: Vec<usize>,
}

fn first_max<T: PartialOrd + Copy>(v: &[T]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn compare(dir: &Path, name: &str, meta: &serde_json::Value) -> Agreement {
    let reset = match meta["reset"].as_str().unwrap() {
        "subtract" => Reset::Subtract,
        _ => Reset::Hard,
    };
    let graph = nir::read(&dir.join(format!("{name}.nir"))).unwrap();
    let imported = nir::to_model(
        &graph,
        &ImportOptions {
            dt: meta["dt"].as_f64(),
            reset: Some(reset),
            encoding: None,
        },
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let (shape, spikes) = read_npy(&dir.join(format!("{name}.spikes.npy")));
    let pops = meta["populations"].as_u64().unwrap() as usize;
    let theirs: Vec<(Vec<usize>, Vec<i8>)> = (0..pops)
        .map(|k| read_npy(&dir.join(format!("{name}.pop{k}.npy"))))
        .collect();
    let (n, per_image) = (shape[0], shape[1..].iter().product::<usize>());
    let mut a = Agreement {
        images: n,
        equal_output: 0,
        equal_all: 0,
        same_class: 0,
        neurons_differing: 0,
        neurons: 0,
        per_layer: vec![0; pops],
    };
    for i in 0..n {
        let input = &spikes[i * per_image..(i + 1) * per_image];
        let (ours, scores) = run_engine(&imported.blob, &shape[2..], input);
        assert_eq!(ours.len(), pops, "{name}: spiking layers");
        let mut all = true;
        for (k, (tshape, counts)) in theirs.iter().enumerate() {
            let len = tshape[1];
            let row = &counts[i * len..(i + 1) * len];
            let differing = row
                .iter()
                .zip(&ours[k])
                .filter(|&(&t, &o)| t as u32 != o)
                .count();
            assert!(ours[k][len..].iter().all(|&c| c == 0), "{name}: padding");
            a.neurons += len;
            a.neurons_differing += differing;
            a.per_layer[k] += differing;
            all &= differing == 0;
            if k == pops - 1 {
                a.equal_output += usize::from(differing == 0);
                a.same_class += usize::from(first_max(row) == first_max(&scores));
            }
        }
        a.equal_all += usize::from(all);
    }
    a
}

#[test]
fn producer_networks_spike_as_their_producers_simulate_them() {
    let test = "producer_networks_spike_as_their_producers_simulate_them";
    let Some(dir) = producers_dir(test) else {
        return;
    };
    let checks = json(&dir.join("checks.json"));
    let names: Vec<&str> = checks
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for expected in [
        "snntorch-cnn",
        "snntorch-cnn-exact",
        "snntorch-dense",
        "snntorch-dense-exact",
        "norse-dense-exact",
    ] {
        assert!(names.contains(&expected), "{expected} missing from checks");
    }
    let mut failures = Vec::new();
    for name in names {
        let meta = json(&dir.join(format!("{name}.json")));
        let a = compare(&dir, name, &meta);
        let pct = |k: usize| 100.0 * k as f64 / a.images as f64;
        eprintln!(
            "{name} ({}): {} images, output counts equal on {:.1}%, every neuron on \
             {:.1}%, same class on {:.1}%; {} of {} neuron counts differ (by layer {:?})",
            meta["producer"].as_str().unwrap(),
            a.images,
            pct(a.equal_output),
            pct(a.equal_all),
            pct(a.same_class),
            a.neurons_differing,
            a.neurons,
            a.per_layer
        );
        let mut fail = |ok: bool, what: String| {
            if !ok {
                failures.push(format!("{name}: {what}"));
            }
        };
        fail(a.images >= 200, format!("{} images, too few", a.images));
        // Every check makes the producer's decisions on (nearly) every image.
        fail(
            a.same_class * 100 >= a.images * 98,
            format!("the same class on {} of {} images", a.same_class, a.images),
        );
        if meta["exact"].as_bool().unwrap() {
            // Whole-unit weights and thresholds: only the leak's rounding to a whole
            // unit at every step differs (measured 2026-12-04: output counts equal on
            // 96.0% of the images for snnTorch's dense net, 94.5% for Norse's, 71% for
            // the CNN, where a conv1 neuron that moves by a spike moves the counts of
            // the conv2 neurons above it); at most 1.3% of all counts differ.
            let floor = match name {
                "snntorch-dense-exact" => 95,
                "norse-dense-exact" => 90,
                _ => 60,
            };
            fail(
                a.equal_output * 100 >= a.images * floor,
                format!(
                    "output counts equal on {} of {} images (at least {floor}%)",
                    a.equal_output, a.images
                ),
            );
            fail(
                a.neurons_differing * 50 <= a.neurons,
                format!(
                    "{} of {} neuron counts differ",
                    a.neurons_differing, a.neurons
                ),
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The full MNIST: `SNN_MNIST_DIR` (relative to the repository; it must exist when
/// set), else `../shared/data/mnist` when it exists.
fn full_mnist() -> Option<PathBuf> {
    match std::env::var_os("SNN_MNIST_DIR") {
        Some(d) => {
            let dir = root().join(d);
            assert!(dir.is_dir(), "SNN_MNIST_DIR: no {}", dir.display());
            Some(dir)
        }
        None => Some(root().join("../shared/data/mnist")).filter(|d| d.is_dir()),
    }
}

#[test]
fn snntorch_mnist_networks_score_as_in_snntorch() {
    let Some(mnist) = full_mnist() else {
        eprintln!(
            "skipped snntorch_mnist_networks_score_as_in_snntorch: no full MNIST (set \
             SNN_MNIST_DIR)"
        );
        return;
    };
    let (_, test) = data::load(DatasetKind::Mnist, &mnist).unwrap();
    let recorded = json(&root().join("tests/nir/snntorch-mnist.json"));
    for name in ["snntorch-cnn", "snntorch-dense"] {
        let r = &recorded[name];
        let theirs = r["snntorch_accuracy"].as_f64().unwrap();
        let steps = r["timesteps"].as_u64().unwrap() as u32;
        assert_eq!(r["encoding"], "rate:1");
        let graph = nir::read(&root().join(format!("tests/nir/{name}.nir"))).unwrap();
        let imported = nir::to_model(
            &graph,
            &ImportOptions {
                dt: None,
                reset: Some(Reset::Subtract),
                encoding: Some(Encoding::unsigned(1.0)),
            },
        )
        .unwrap();
        let model = snn_core::Model::from_bytes(&imported.blob).unwrap();
        let ours = accuracy_vs_steps(&model, &test, &[steps]).unwrap()[0].1;
        eprintln!(
            "{name}: {ours:.2}% fixed point on {} MNIST test images at T = {steps}, \
             snnTorch {theirs:.2}%",
            test.len()
        );
        assert_eq!(test.len(), 10_000);
        assert!(
            (ours - theirs).abs() <= 1.5,
            "{name}: {ours:.2}% against snnTorch's {theirs:.2}%"
        );
    }
}

#[test]
fn import_nir_stores_the_time_steps_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let import = |out: &str, extra: &[&str]| -> snn_core::format::Deployment {
        let path = dir.path().join(out);
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_snn-train"))
            .arg("import-nir")
            .arg(root().join("tests/nir/snntorch-dense.nir"))
            .args([
                "--encoding",
                "rate:1",
                "--reset",
                "subtract",
                "--images",
                "0",
            ])
            .args(extra)
            .arg("--out")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
        let blob = std::fs::read(&path).unwrap();
        let model = snn_core::Model::from_bytes(&blob).unwrap();
        model.deployment().unwrap_or(snn_core::format::Deployment {
            steps: 0,
            early_exit: snn_core::EarlyExit::Never,
        })
    };
    let d = import("t25.snn", &["--timesteps", "25"]);
    assert_eq!((d.steps, d.early_exit), (25, snn_core::EarlyExit::Never));
    // Without --timesteps no setting is stored (what `ours -> NIR -> ours` relies on).
    assert_eq!(import("none.snn", &[]).steps, 0);
}

//! The golden files: small models, input images, and the scores, spike counts and
//! synaptic events `snn-core` computes for them. Three device cases:
//!
//! * `model.snn`: every layer kind, signed and unsigned rate-coded input;
//! * `analog.snn`: the same network driven by the analog input current;
//! * `saturating.snn`: 16-bit membranes that saturate in every DSP kernel path
//!   (`common::saturating_device`; `reference.rs` checks that they do).
//!
//! The firmware is checked against the same files (`tests/golden/`). This test pins
//! both the encoding (the committed blob must equal what the builder writes today)
//! and the engine's results. After a deliberate change, regenerate with
//! `SNN_BLESS=1 cargo test -p snn-core --test golden` and review the diff.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;

use common::{rand_i8s, ConvSpec, LayerSpec, ModelSpec, NeuronSpec, ShortcutSpec};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use snn_core::format::Reset;
use snn_core::Model;

const CASES: u64 = 24;
const STEPS: u32 = 16;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden_spec() -> ModelSpec {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2020);
    let n = |c: usize, th: i32, leak: u16, reset| NeuronSpec {
        thresholds: vec![th; c],
        leak,
        reset,
        synapse: 0,
    };
    let conv = |rng: &mut Xoshiro256PlusPlus, ic: usize, oc: usize, k: u8, s: u8, p: u8| ConvSpec {
        out_channels: oc as u16,
        kernel: k,
        stride: s,
        padding: p,
        weights: (0..ic * (k as usize).pow(2) * oc)
            .map(|_| rng.random_range(-50..=127))
            .collect(),
    };
    let c0 = conv(&mut rng, 2, 4, 3, 1, 1);
    let r1a = conv(&mut rng, 4, 6, 3, 1, 1);
    let r1b = conv(&mut rng, 6, 6, 3, 2, 1);
    let r1s = rand_i8s(&mut rng, 4 * 6, 127);
    let r2a = conv(&mut rng, 6, 6, 3, 1, 1);
    let r2b = conv(&mut rng, 6, 6, 3, 1, 1);
    let dense: Vec<i8> = (0..24 * 16).map(|_| rng.random_range(-40..=127)).collect();
    // Zero-mean class columns, so the class depends on which hidden neurons fire.
    let mut out = rand_i8s(&mut rng, 16 * 5, 100);
    for k in 0..5 {
        let mean = (0..16).map(|j| i32::from(out[j * 5 + k])).sum::<i32>() / 16;
        for j in 0..16 {
            out[j * 5 + k] = (i32::from(out[j * 5 + k]) - mean).clamp(-127, 127) as i8;
        }
    }
    ModelSpec {
        channels: 2,
        height: 8,
        width: 8,
        // channel 0 signed around mid-grey (CIFAR-style), channel 1 unsigned (MNIST-style)
        center: vec![128 * 256, 0],
        gain: vec![65793, common::MNIST_GAIN],
        membranes: snn_core::format::Membranes::I16,
        drive: snn_core::format::Drive::Rate,
        deployment: None,
        layers: vec![
            LayerSpec::Conv(c0, n(4, 90, 32440, Reset::Hard)),
            LayerSpec::Pool(n(4, 3, 32768, Reset::Hard)),
            LayerSpec::Residual {
                conv1: r1a,
                n1: n(6, 150, 32440, Reset::Hard),
                conv2: r1b,
                shortcut: ShortcutSpec::Conv(r1s),
                n2: n(6, 200, 32440, Reset::Subtract),
            },
            LayerSpec::Residual {
                conv1: r2a,
                n1: n(6, 150, 32440, Reset::Subtract),
                conv2: r2b,
                shortcut: ShortcutSpec::Identity(vec![300; 6]),
                n2: n(6, 600, 32440, Reset::Hard),
            },
            LayerSpec::Dense {
                outputs: 16,
                weights: dense,
                neuron: n(16, 900, 32440, Reset::Hard),
            },
            LayerSpec::Output {
                classes: 5,
                weights: out,
                leak: 32440,
                scale: 0.004,
                synapse: 0,
            },
        ],
    }
}

fn golden_images() -> Vec<Vec<u8>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(77);
    (0..CASES)
        .map(|i| {
            let lit = (i as f64 + 1.0) / (CASES as f64 + 1.0);
            (0..128)
                .map(|_| {
                    if rng.random_bool(lit) {
                        rng.random()
                    } else {
                        0
                    }
                })
                .collect()
        })
        .collect()
}

/// One line per case: `seed steps class input_spikes | scores | spikes | events`.
fn expected_text<const L: usize>(model: &Model<'_, L>, images: &[Vec<u8>], steps: u32) -> String {
    let mut out = format!(
        "# snn-core golden results: one line per input image ({} bytes each, HWC)\n\
         # case seed steps class input_spikes | scores | spikes per population | synaptic events per layer\n",
        model.input_len()
    );
    let mut state = vec![0; model.state_words()];
    let join = |v: &mut dyn Iterator<Item = String>| v.collect::<Vec<_>>().join(" ");
    for (i, img) in images.iter().enumerate() {
        let seed = 1000 + i as u64;
        let r = model.classify(&mut state, img, seed, steps).unwrap();
        writeln!(
            out,
            "{i} {seed} {steps} {} {} | {} | {} | {}",
            r.class,
            r.input_spikes,
            join(&mut r.scores.iter().map(|v| v.to_string())),
            join(&mut r.spikes.iter().map(|v| v.to_string())),
            join(&mut r.synaptic_events.iter().map(|v| v.to_string())),
        )
        .unwrap();
    }
    out
}

/// The golden network with current-based (CUBA) neurons: a synaptic current with its
/// own decay in every population and in the output integrator.
fn cuba_spec() -> ModelSpec {
    let mut spec = golden_spec();
    let mut decays = [16384u16, 26214, 29491, 8192, 32768, 24576]
        .into_iter()
        .cycle();
    for l in &mut spec.layers {
        match l {
            LayerSpec::Conv(_, n) | LayerSpec::Pool(n) | LayerSpec::Dense { neuron: n, .. } => {
                n.synapse = decays.next().unwrap()
            }
            // One decay for the block (NIR export and import keep one per block).
            LayerSpec::Residual { n1, n2, .. } => {
                n1.synapse = decays.next().unwrap();
                n2.synapse = n1.synapse;
            }
            LayerSpec::Output { synapse, .. } => *synapse = decays.next().unwrap(),
        }
    }
    spec
}

/// The golden network driven by the analog input current (shift 3).
fn analog_spec() -> ModelSpec {
    let mut spec = golden_spec();
    spec.drive = snn_core::format::Drive::Analog { shift: 3 };
    spec
}

/// Checks (or with `SNN_BLESS`, writes) one device case: `{name}.snn`, its inputs and
/// its expected results (the golden model keeps its historical file names).
fn check_case(files: [&str; 3], spec: &ModelSpec, images: &[Vec<u8>], steps: u32) {
    let [model_file, inputs_file, expected_file] = files;
    let blob = spec.to_bytes();
    let model = Model::from_bytes(&blob).unwrap();
    let expected = expected_text(&model, images, steps);
    let d = dir();
    if std::env::var_os("SNN_BLESS").is_some() {
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(model_file), &blob).unwrap();
        std::fs::write(d.join(inputs_file), images.concat()).unwrap();
        std::fs::write(d.join(expected_file), &expected).unwrap();
    }
    let committed = std::fs::read(d.join(model_file))
        .unwrap_or_else(|e| panic!("tests/golden/{model_file}: {e} (bless with SNN_BLESS=1)"));
    assert_eq!(committed, blob, "the encoding of {model_file} changed");
    assert_eq!(std::fs::read(d.join(inputs_file)).unwrap(), images.concat());
    let text = std::fs::read_to_string(d.join(expected_file)).unwrap();
    assert_eq!(text, expected, "engine results on {model_file} changed");
}

/// A descriptor sized to the model (as the firmware builds it) runs the model exactly
/// as the default one does; one layer less is refused with the counts.
#[test]
fn a_descriptor_sized_to_the_model_runs_it_the_same() {
    let blob = std::fs::read(dir().join("model.snn")).unwrap();
    let images = golden_images();
    let wide = Model::from_bytes(&blob).unwrap();
    assert_eq!(wide.layers().len(), 6);
    let sized = Model::<'_, 6>::from_bytes_sized(&blob).unwrap();
    assert!(std::mem::size_of_val(&sized) < std::mem::size_of_val(&wide) / 3);
    assert_eq!(
        expected_text(&sized, &images, 16),
        expected_text(&wide, &images, 16)
    );
    let err = Model::<'_, 5>::from_bytes_sized(&blob).unwrap_err();
    assert_eq!(
        err,
        snn_core::FormatError::LayerCapacity {
            layers: 6,
            capacity: 5
        }
    );
    assert_eq!(
        err.to_string(),
        "model has 6 layers, the descriptor it is loaded into has room for 5"
    );
}

#[test]
fn golden_files_match_the_engine() {
    let images = golden_images();
    check_case(
        ["model.snn", "inputs.bin", "expected.txt"],
        &golden_spec(),
        &images,
        STEPS,
    );
    check_case(
        ["analog.snn", "analog-inputs.bin", "analog-expected.txt"],
        &analog_spec(),
        &images,
        STEPS,
    );
    check_case(
        ["cuba.snn", "inputs.bin", "cuba-expected.txt"],
        &cuba_spec(),
        &images,
        STEPS,
    );
    check_case(
        [
            "saturating.snn",
            "saturating-inputs.bin",
            "saturating-expected.txt",
        ],
        &common::saturating_device(),
        &common::saturating_images(SATURATING_CASES),
        SATURATING_STEPS,
    );
}

/// Cases and steps of the saturating device case (`reference.rs` uses the same).
const SATURATING_CASES: usize = 8;
const SATURATING_STEPS: u32 = 100;

/// With 16 bits the saturating case's results differ from the same network's with
/// 32-bit membranes: saturation changes what it computes.
#[test]
fn the_saturating_case_differs_from_32_bit_membranes() {
    let mut spec = common::saturating_device();
    let narrow = spec.to_bytes();
    spec.membranes = snn_core::format::Membranes::I32;
    let wide = spec.to_bytes();
    let (narrow, wide) = (
        Model::from_bytes(&narrow).unwrap(),
        Model::from_bytes(&wide).unwrap(),
    );
    let images = common::saturating_images(SATURATING_CASES);
    assert_ne!(
        expected_text(&narrow, &images, SATURATING_STEPS),
        expected_text(&wide, &images, SATURATING_STEPS)
    );
}

/// The current-based case is not a dead network, and its synaptic currents change
/// what the golden network computes.
#[test]
fn cuba_golden_model_is_meaningful() {
    let blob = std::fs::read(dir().join("cuba.snn")).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let golden = std::fs::read(dir().join("model.snn")).unwrap();
    let golden = Model::from_bytes(&golden).unwrap();
    let images = golden_images();
    let mut state = vec![0; model.state_words()];
    let mut fired = vec![0u64; model.populations()];
    for (i, img) in images.iter().enumerate() {
        let r = model
            .classify(&mut state, img, 1000 + i as u64, STEPS)
            .unwrap();
        for (f, &s) in fired.iter_mut().zip(&r.spikes) {
            *f += u64::from(s);
        }
    }
    assert!(
        fired.iter().all(|&f| f > 0),
        "a silent population: {fired:?}"
    );
    assert!(model.state_words() > golden.state_words());
    assert_ne!(
        expected_text(&model, &images, STEPS),
        expected_text(&golden, &images, STEPS)
    );
}

/// The analog case is not a dead network either, and it draws no input spikes.
#[test]
fn analog_golden_model_is_meaningful() {
    let blob = analog_spec().to_bytes();
    let model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0; model.state_words()];
    let mut spikes = vec![0u64; model.populations()];
    let mut classes = std::collections::BTreeSet::new();
    for (i, img) in golden_images().iter().enumerate() {
        let r = model
            .classify(&mut state, img, 1000 + i as u64, STEPS)
            .unwrap();
        assert_eq!(r.input_spikes, 0);
        classes.insert(r.class);
        for (a, b) in spikes.iter_mut().zip(&r.spikes) {
            *a += u64::from(*b);
        }
    }
    assert!(
        spikes.iter().all(|&s| s > 0),
        "silent population: {spikes:?}"
    );
    assert!(classes.len() >= 2, "one class only: {classes:?}");
}

#[test]
fn golden_model_is_meaningful() {
    // Every population fires and the classes are not all the same: a golden file of a
    // dead network would pin nothing.
    let blob = golden_spec().to_bytes();
    let model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0; model.state_words()];
    let mut classes = std::collections::BTreeSet::new();
    let mut spikes = vec![0u64; model.populations()];
    for (i, img) in golden_images().iter().enumerate() {
        let r = model
            .classify(&mut state, img, 1000 + i as u64, STEPS)
            .unwrap();
        classes.insert(r.class);
        for (a, b) in spikes.iter_mut().zip(&r.spikes) {
            *a += u64::from(*b);
        }
    }
    assert!(
        spikes.iter().all(|&s| s > 0),
        "silent population: {spikes:?}"
    );
    assert!(classes.len() >= 2, "one class only: {classes:?}");
}

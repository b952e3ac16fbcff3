//! Malformed and malicious model blobs: each header failure gets its own error, each
//! validation rule is exercised, and 100,000+ corrupted blobs (with the checksum
//! repaired so they reach the decoder and the validator) never make `from_bytes` or
//! the engine panic.

mod common;

use common::{random_image, random_model, LayerSpec, ModelSpec, NeuronSpec};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use snn_core::format::{crc32, Reset, HEADER_LEN};
use snn_core::{FormatError, InputProblem, LayerProblem, Model, RunError};

fn small() -> ModelSpec {
    ModelSpec {
        channels: 1,
        height: 4,
        width: 4,
        center: vec![0],
        gain: vec![common::MNIST_GAIN],
        membranes: snn_core::format::Membranes::I32,
        drive: snn_core::format::Drive::Rate,
        deployment: None,
        layers: vec![
            LayerSpec::Pool(NeuronSpec {
                thresholds: vec![3],
                leak: 32768,
                reset: Reset::Hard,
                synapse: 0,
            }),
            LayerSpec::Output {
                classes: 2,
                weights: vec![1; 8],
                leak: 32440,
                scale: 0.5,
                synapse: 0,
            },
        ],
    }
}

/// Rewrites length and checksum so the blob passes the header checks.
fn reseal(blob: &mut [u8]) {
    let len = (blob.len() - HEADER_LEN) as u32;
    blob[8..12].copy_from_slice(&len.to_le_bytes());
    let crc = crc32(&blob[HEADER_LEN..]);
    blob[12..16].copy_from_slice(&crc.to_le_bytes());
}

fn err(spec: &ModelSpec) -> FormatError {
    Model::from_bytes(&spec.to_bytes()).unwrap_err()
}

#[test]
fn valid_blob_loads() {
    let blob = small().to_bytes();
    let m = Model::from_bytes(&blob).unwrap();
    assert_eq!(m.classes(), 2);
    assert_eq!(m.input_len(), 16);
    assert_eq!(m.populations(), 1);
    assert!((m.output_scale() - 0.5).abs() < 1e-9);
}

/// Blobs of format versions 1 to 3 (the golden model as committed before versions 2,
/// 3 and 4) are refused with an error that names their version and says what to do.
#[test]
fn older_versions_are_refused_with_their_version() {
    for v in [1u16, 2, 3] {
        let path = format!("{}/tests/golden/model-v{v}.snn", env!("CARGO_MANIFEST_DIR"));
        let blob = std::fs::read(path).unwrap();
        let err = Model::from_bytes(&blob).unwrap_err();
        assert_eq!(err, FormatError::UnsupportedVersion { found: v });
        let msg = err.to_string();
        assert!(msg.contains(&format!("version {v}")), "{msg}");
        assert!(msg.contains("reads version 4"), "{msg}");
        assert!(msg.contains("snn-train upgrade"), "{msg}");
    }
}

/// Thresholds above `i16::MAX` need 32-bit membranes.
#[test]
fn sixteen_bit_membranes_bound_the_thresholds() {
    let mut spec = small();
    spec.membranes = snn_core::format::Membranes::I16;
    assert!(Model::from_bytes(&spec.to_bytes()).is_ok());
    for l in &mut spec.layers {
        if let LayerSpec::Pool(n) = l {
            n.thresholds[0] = 32768;
        }
    }
    let err = Model::from_bytes(&spec.to_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::Layer {
                problem: snn_core::LayerProblem::ThresholdAboveI16 {
                    channel: 0,
                    found: 32768
                },
                ..
            }
        ),
        "{err:?}"
    );
    spec.membranes = snn_core::format::Membranes::I32;
    assert!(Model::from_bytes(&spec.to_bytes()).is_ok());
}

#[test]
fn header_errors_are_distinct() {
    let blob = small().to_bytes();
    assert_eq!(
        Model::from_bytes(&blob[..10]).unwrap_err(),
        FormatError::Truncated {
            needed: 16,
            found: 10
        }
    );
    let mut b = blob.clone();
    b[0] = b'X';
    assert_eq!(
        Model::from_bytes(&b).unwrap_err(),
        FormatError::BadMagic { found: *b"XNNM" }
    );
    let mut b = blob.clone();
    b[4] = 5;
    assert_eq!(
        Model::from_bytes(&b).unwrap_err(),
        FormatError::UnsupportedVersion { found: 5 }
    );
    let mut b = blob.clone();
    b[6] = 1;
    assert_eq!(
        Model::from_bytes(&b).unwrap_err(),
        FormatError::UnknownFlags { found: 1 }
    );
    let cut = blob.len() - 3;
    assert_eq!(
        Model::from_bytes(&blob[..cut]).unwrap_err(),
        FormatError::Truncated {
            needed: blob.len(),
            found: cut
        }
    );
    let mut b = blob.clone();
    b.push(0);
    assert_eq!(
        Model::from_bytes(&b).unwrap_err(),
        FormatError::TrailingBytes { extra: 1 }
    );
    let mut b = blob.clone();
    let last = b.len() - 1;
    b[last] ^= 0x40;
    assert!(matches!(
        Model::from_bytes(&b).unwrap_err(),
        FormatError::ChecksumMismatch { .. }
    ));
    let mut b = blob.clone();
    b.push(0);
    reseal(&mut b);
    assert_eq!(
        Model::from_bytes(&b).unwrap_err(),
        FormatError::BodyTrailingBytes { extra: 1 }
    );
    let mut b = blob[..HEADER_LEN + 3].to_vec();
    reseal(&mut b);
    assert_eq!(Model::from_bytes(&b).unwrap_err(), FormatError::Body);
}

#[test]
fn validation_names_the_problem() {
    let mut s = small();
    s.height = 0;
    assert_eq!(err(&s), FormatError::Input(InputProblem::ZeroDimension));

    let mut s = small();
    s.gain = vec![1, 2];
    assert_eq!(
        err(&s),
        FormatError::Input(InputProblem::EncoderLength {
            expected: 4,
            found: 8
        })
    );

    let mut s = small();
    s.center = vec![70000];
    assert_eq!(
        err(&s),
        FormatError::Input(InputProblem::CenterRange {
            channel: 0,
            found: 70000
        })
    );

    let mut s = small();
    s.layers.remove(0);
    s.layers.remove(0);
    assert_eq!(err(&s), FormatError::NoLayers);

    let mut s = small();
    s.layers.swap(0, 1);
    assert_eq!(err(&s), FormatError::OutputPlacement { layer: 0 });

    let mut s = small();
    s.layers.pop();
    assert_eq!(err(&s), FormatError::OutputPlacement { layer: 0 });

    let layer = |s: &ModelSpec, l| match err(s) {
        FormatError::Layer { layer, problem } if layer == l => problem,
        e => panic!("expected a layer {l} error, got {e:?}"),
    };

    let mut s = small();
    s.layers[0] = LayerSpec::Pool(NeuronSpec {
        thresholds: vec![0],
        leak: 32768,
        reset: Reset::Hard,
        synapse: 0,
    });
    assert_eq!(
        layer(&s, 0),
        LayerProblem::ThresholdRange {
            channel: 0,
            found: 0
        }
    );

    let mut s = small();
    s.layers[0] = LayerSpec::Pool(NeuronSpec {
        thresholds: vec![3],
        leak: 40000,
        reset: Reset::Hard,
        synapse: 0,
    });
    assert_eq!(layer(&s, 0), LayerProblem::LeakRange { found: 40000 });

    let mut s = small();
    s.layers[0] = LayerSpec::Pool(NeuronSpec {
        thresholds: vec![3, 3],
        leak: 1,
        reset: Reset::Hard,
        synapse: 0,
    });
    assert_eq!(
        layer(&s, 0),
        LayerProblem::TableLength {
            expected: 4,
            found: 8
        }
    );

    let mut s = small();
    s.layers[1] = LayerSpec::Output {
        classes: 2,
        weights: vec![1; 7],
        leak: 1,
        scale: 1.0,
        synapse: 0,
    };
    assert_eq!(
        layer(&s, 1),
        LayerProblem::WeightLength {
            expected: 8,
            found: 7
        }
    );

    let mut s = small();
    s.layers[1] = LayerSpec::Output {
        classes: 2,
        weights: vec![1; 8],
        leak: 1,
        scale: f32::NAN,
        synapse: 0,
    };
    assert_eq!(layer(&s, 1), LayerProblem::ScaleRange);

    let mut s = small();
    s.layers[1] = LayerSpec::Output {
        classes: 200,
        weights: vec![1; 800],
        leak: 1,
        scale: 1.0,
        synapse: 0,
    };
    assert_eq!(layer(&s, 1), LayerProblem::TooManyClasses { found: 200 });

    let conv = |k, s, p, oc: u16, n| common::ConvSpec {
        out_channels: oc,
        kernel: k,
        stride: s,
        padding: p,
        weights: vec![1; n],
    };
    let n = |c| NeuronSpec {
        thresholds: vec![5; c],
        leak: 32768,
        reset: Reset::Hard,
        synapse: 0,
    };
    let mut s = small();
    s.layers[0] = LayerSpec::Conv(conv(5, 1, 0, 1, 25), n(1));
    assert_eq!(layer(&s, 0), LayerProblem::Geometry); // 5x5 kernel on 4x4, no padding
    s.layers[0] = LayerSpec::Conv(conv(3, 0, 1, 1, 9), n(1));
    assert_eq!(layer(&s, 0), LayerProblem::ZeroStride);
    s.layers[0] = LayerSpec::Conv(conv(3, 1, 3, 1, 9), n(1));
    assert_eq!(layer(&s, 0), LayerProblem::Geometry); // padding >= kernel

    let mut s = small();
    s.layers[0] = LayerSpec::Residual {
        conv1: conv(3, 1, 1, 2, 18),
        n1: n(2),
        conv2: conv(3, 1, 1, 2, 36),
        shortcut: common::ShortcutSpec::Identity(vec![1, 1]),
        n2: n(2),
    };
    s.layers[1] = LayerSpec::Output {
        classes: 2,
        weights: vec![1; 64],
        leak: 1,
        scale: 1.0,
        synapse: 0,
    };
    assert_eq!(
        layer(&s, 0),
        LayerProblem::ChannelMismatch {
            input: 1,
            output: 2
        }
    );

    // Fan-in too large: a dense layer of 2^23 + 1 inputs could bring more than 2^30.
    let mut s = small();
    s.height = 4097;
    s.width = 2049;
    s.layers = vec![LayerSpec::Output {
        classes: 1,
        weights: vec![0; 4097 * 2049],
        leak: 1,
        scale: 1.0,
        synapse: 0,
    }];
    assert_eq!(layer(&s, 0), LayerProblem::FanInTooLarge);
}

#[test]
fn run_errors() {
    let blob = small().to_bytes();
    let m = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0; m.state_words() - 1];
    assert_eq!(
        m.classify(&mut state, &[0; 16], 1, 1).unwrap_err(),
        RunError::StateTooSmall {
            needed: m.state_words(),
            found: m.state_words() - 1
        }
    );
    let mut state = vec![0; m.state_words()];
    assert_eq!(
        m.classify(&mut state, &[0; 15], 1, 1).unwrap_err(),
        RunError::InputLength {
            expected: 16,
            found: 15
        }
    );
    assert_eq!(
        m.classify(&mut state, &[0; 16], 1, 0).unwrap_err(),
        RunError::ZeroSteps
    );
    let mut s = m.session_without_encoder(&mut state).unwrap();
    assert_eq!(
        s.step_with_spikes(&[0, 0], &[0]).unwrap_err(),
        RunError::SpikeWords {
            expected: 1,
            found: 2
        }
    );
}

/// A spike has one sign: the same input neuron in both bitsets is rejected, and the
/// session is left as it was. Bits past the 16 input neurons do not count.
#[test]
fn spike_in_both_bitsets_is_rejected() {
    let blob = small().to_bytes();
    let m = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0; m.state_words()];
    let mut s = m.session_without_encoder(&mut state).unwrap();
    assert_eq!(
        s.step_with_spikes(&[0b1010_0000], &[0b0010_0001])
            .unwrap_err(),
        RunError::SpikeOverlap { neuron: 5 }
    );
    assert_eq!(s.steps(), 0);
    assert_eq!(s.result().input_spikes, 0);
    assert!(RunError::SpikeOverlap { neuron: 5 }
        .to_string()
        .contains("neuron 5"));
    // Overlap only past the last input neuron: ignored, and not counted.
    s.step_with_spikes(&[0xffff_0001], &[0xffff_0002]).unwrap();
    assert_eq!(s.steps(), 1);
    assert_eq!(s.result().input_spikes, 2);
}

/// One corruption of a valid blob. Most repair the header so that the body decoder
/// and the validator see the damage.
fn mutate(rng: &mut impl Rng, blob: &[u8]) -> Vec<u8> {
    let mut b = blob.to_vec();
    let body = HEADER_LEN..b.len();
    match rng.random_range(0..8) {
        0 => {
            // flip 1-4 bits in the body
            for _ in 0..rng.random_range(1..=4) {
                let i = rng.random_range(body.clone());
                b[i] ^= 1 << rng.random_range(0..8);
            }
            reseal(&mut b);
        }
        1 => {
            // overwrite a byte with an interesting value
            let i = rng.random_range(body.clone());
            b[i] = [0, 1, 0x7f, 0x80, 0xff, rng.random()][rng.random_range(0..6)];
            reseal(&mut b);
        }
        2 => {
            // truncate the body
            b.truncate(rng.random_range(HEADER_LEN..b.len()));
            reseal(&mut b);
        }
        3 => {
            // insert or delete a run of bytes
            let i = rng.random_range(body.clone());
            if rng.random_bool(0.5) {
                let n = rng.random_range(1..=8).min(b.len() - i);
                b.drain(i..i + n);
            } else {
                for _ in 0..rng.random_range(1..=8) {
                    b.insert(i, rng.random());
                }
            }
            reseal(&mut b);
        }
        4 => {
            // a huge varint length somewhere
            let i = rng.random_range(body.clone());
            let huge = [0xff, 0xff, 0xff, 0xff, 0x0f];
            for (k, v) in huge.iter().enumerate() {
                if let Some(x) = b.get_mut(i + k) {
                    *x = *v;
                }
            }
            reseal(&mut b);
        }
        5 => {
            // random bytes for the whole body
            for x in &mut b[HEADER_LEN..] {
                *x = rng.random();
            }
            reseal(&mut b);
        }
        6 => {
            // damage the header itself, no repair
            let i = rng.random_range(0..HEADER_LEN);
            b[i] ^= 1 << rng.random_range(0..8);
        }
        _ => {
            // plain truncation, no repair
            b.truncate(rng.random_range(0..b.len()));
        }
    }
    b
}

/// `Model::from_bytes` decodes the layers one at a time (`decode_parts`); the whole
/// body at once (`decode_body`, then `Model::from_desc`) must reach the same verdict.
fn same_verdict_streamed_and_whole(blob: &[u8]) {
    let Ok((_, payload)) = snn_core::format::split_payload(blob) else {
        return;
    };
    let streamed = snn_core::format::decode_parts(payload).map(|_| ());
    let whole = snn_core::format::decode_body(payload);
    assert_eq!(streamed, whole.as_ref().map(|_| ()).map_err(|e| *e));
    if let Ok(desc) = whole {
        let a = Model::from_bytes(blob).map(|m| (m.state_words(), m.classes()));
        let b = Model::from_desc(&desc).map(|m| (m.state_words(), m.classes()));
        assert_eq!(a, b);
    }
}

#[test]
fn hundred_thousand_corrupted_blobs_never_panic() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x5eed);
    let mut loaded = 0;
    let mut rejected = 0;
    let mut state = Vec::new();
    const MODELS: u64 = 40;
    const PER_MODEL: usize = 2600;
    for m in 0..MODELS {
        let spec = random_model(m);
        let blob = spec.to_bytes();
        let image = random_image(&spec, m);
        for _ in 0..PER_MODEL {
            let bad = mutate(&mut rng, &blob);
            same_verdict_streamed_and_whole(&bad);
            match Model::from_bytes(&bad) {
                Err(e) => {
                    rejected += 1;
                    assert!(!e.to_string().is_empty());
                }
                Ok(model) => {
                    loaded += 1;
                    // A corruption that still validates must run safely. Its input may
                    // have another size: feed an image of the model's own size.
                    assert!(model.state_bytes() <= snn_core::MAX_STATE_BYTES);
                    state.resize(model.state_words(), 0);
                    let img: Vec<u8> = image
                        .iter()
                        .copied()
                        .cycle()
                        .take(model.input_len())
                        .collect();
                    let r = model.classify(&mut state, &img, 7, 3).unwrap();
                    assert!(usize::from(r.class) < model.classes());
                    assert_eq!(r.scores.len(), model.classes());
                }
            };
        }
    }
    let total = loaded + rejected;
    assert!(total >= 100_000, "{total}");
    // Both paths must be exercised: some corruptions (weight bytes) stay valid models.
    assert!(
        loaded > 1_000 && rejected > 50_000,
        "loaded {loaded}, rejected {rejected}"
    );
    println!(
        "corrupted blobs on {} ({}-bit usize): {total} tried, {rejected} rejected, {loaded} loaded and ran",
        std::env::consts::ARCH,
        usize::BITS
    );
}

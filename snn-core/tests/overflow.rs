//! Blobs crafted to break one validation rule each, above all the size products that
//! overflow a 32-bit `usize`: every multiplication in validation has a blob here, and
//! each test checks that the error names the rule. The same blobs, written to
//! `snn-core/fuzz/seeds/`, seed the fuzzer. Runs on 32-bit targets too (CI runs it for
//! `i686-unknown-linux-gnu`), where an unchecked product would wrap and pass.

mod common;

use std::path::PathBuf;

use common::{ConvSpec, LayerSpec, ModelSpec, NeuronSpec, ShortcutSpec};
use snn_core::format::Reset;
use snn_core::layer::MAX_SHORTCUT_GAIN;
use snn_core::{FormatError, InputProblem, LayerProblem, Model, MAX_STATE_BYTES};

fn neurons(channels: usize) -> NeuronSpec {
    NeuronSpec {
        thresholds: vec![5; channels],
        leak: 32768,
        reset: Reset::Hard,
        synapse: 0,
    }
}

fn conv(ic: usize, oc: u16, kernel: u8, stride: u8, padding: u8) -> ConvSpec {
    let k = usize::from(kernel);
    ConvSpec {
        out_channels: oc,
        kernel,
        stride,
        padding,
        weights: vec![1; ic * k * k * usize::from(oc)],
    }
}

/// A conv spec whose weight array is empty, for products too large to allocate.
fn conv_no_weights(oc: u16, kernel: u8, stride: u8, padding: u8) -> ConvSpec {
    ConvSpec {
        out_channels: oc,
        kernel,
        stride,
        padding,
        weights: Vec::new(),
    }
}

fn output(inputs: usize, classes: u16) -> LayerSpec {
    LayerSpec::Output {
        classes,
        weights: vec![1; inputs * usize::from(classes)],
        leak: 32768,
        scale: 1.0,
        synapse: 0,
    }
}

/// An output layer with no weights: the layers before it are the ones under test.
fn output_no_weights() -> LayerSpec {
    LayerSpec::Output {
        classes: 1,
        weights: Vec::new(),
        leak: 32768,
        scale: 1.0,
        synapse: 0,
    }
}

fn model(channels: u16, height: u16, width: u16, layers: Vec<LayerSpec>) -> ModelSpec {
    let c = usize::from(channels);
    ModelSpec {
        channels,
        height,
        width,
        center: vec![0; c],
        gain: vec![common::MNIST_GAIN; c],
        membranes: snn_core::format::Membranes::I32,
        drive: snn_core::format::Drive::Rate,
        deployment: None,
        layers,
    }
}

fn layer0(problem: LayerProblem) -> FormatError {
    FormatError::Layer { layer: 0, problem }
}

/// A residual block on a `1 x h x w` input with an identity shortcut of `gain`.
fn residual(conv1: ConvSpec, conv2: ConvSpec, gains: Vec<i32>) -> LayerSpec {
    let (mid, out) = (
        usize::from(conv1.out_channels),
        usize::from(conv2.out_channels),
    );
    LayerSpec::Residual {
        conv1,
        n1: neurons(mid),
        conv2,
        shortcut: ShortcutSpec::Identity(gains),
        n2: neurons(out),
    }
}

/// Each crafted blob: a name, the model, and the error it must give. `seed` says
/// whether it is small enough to be a fuzz seed.
struct Crafted {
    name: &'static str,
    spec: ModelSpec,
    expected: FormatError,
    seed: bool,
}

fn crafted() -> Vec<Crafted> {
    let c = |name, spec, expected| Crafted {
        name,
        spec,
        expected,
        seed: true,
    };
    vec![
        // Input `channels * height * width`: 2^32 + 2^22 pixels wraps to 2^22 in 32 bits.
        c(
            "input-len-wraps-32bit",
            model(1025, 2048, 2048, vec![output_no_weights()]),
            FormatError::Input(InputProblem::TooLarge),
        ),
        // Input over MAX_NEURONS without any overflow.
        c(
            "input-too-large",
            model(5, 2048, 2048, vec![output_no_weights()]),
            FormatError::Input(InputProblem::TooLarge),
        ),
        // Layer `channels * height * width`: 257 * 257 * 65027 = 2^32 + 1027.
        c(
            "layer-len-wraps-32bit",
            model(
                1,
                3,
                3,
                vec![
                    // No thresholds: the size is checked first.
                    LayerSpec::Conv(conv_no_weights(65027, 255, 1, 254), neurons(0)),
                    output_no_weights(),
                ],
            ),
            layer0(LayerProblem::TooLarge),
        ),
        // Layer over MAX_NEURONS: 64 * 64 * 4097.
        c(
            "layer-too-large",
            model(
                1,
                64,
                64,
                vec![
                    LayerSpec::Conv(conv_no_weights(4097, 1, 1, 0), neurons(0)),
                    output_no_weights(),
                ],
            ),
            layer0(LayerProblem::TooLarge),
        ),
        // Conv weights `in * k * k * out`: 512 * 128 * 128 * 512 = 2^32, which wraps to
        // 0 in 32 bits and would match the empty weight array; the fan-in (2^23) and
        // the output (2^23 neurons) are within their limits.
        c(
            "conv-weights-wrap-32bit",
            model(
                512,
                1,
                1,
                vec![
                    LayerSpec::Conv(conv_no_weights(512, 128, 1, 127), neurons(512)),
                    output_no_weights(),
                ],
            ),
            layer0(LayerProblem::WeightsTooLarge { bytes: 1 << 32 }),
        ),
        // Conv fan-in `in * k * k` at its largest (65535 * 255^2, still a u32), one
        // output channel: the weight count fits and is reported exactly. Its encoder
        // tables take 512 KiB: no seed.
        Crafted {
            name: "conv-fan-in-largest",
            spec: model(
                65535,
                1,
                1,
                vec![
                    LayerSpec::Conv(conv_no_weights(1, 255, 1, 254), neurons(1)),
                    output_no_weights(),
                ],
            ),
            expected: layer0(LayerProblem::WeightLength {
                expected: 65535 * 255 * 255,
                found: 0,
            }),
            seed: false,
        },
        // Dense weights `inputs * outputs`: 2^22 * 1024 = 2^32 wraps to 0.
        c(
            "dense-weights-wrap-32bit",
            model(
                64,
                256,
                256,
                vec![
                    LayerSpec::Dense {
                        outputs: 1024,
                        weights: Vec::new(),
                        neuron: neurons(1024),
                    },
                    output_no_weights(),
                ],
            ),
            layer0(LayerProblem::WeightsTooLarge { bytes: 1 << 32 }),
        ),
        // Output weights `inputs * classes`: 2^23 * 128 = 2^30 (the largest possible
        // product fits 32 bits; the count is reported exactly).
        c(
            "output-weights-largest",
            model(
                1,
                2048,
                4096,
                vec![LayerSpec::Output {
                    classes: 128,
                    weights: Vec::new(),
                    leak: 32768,
                    scale: 1.0,
                    synapse: 0,
                }],
            ),
            layer0(LayerProblem::WeightLength {
                expected: 1 << 30,
                found: 0,
            }),
        ),
        // State words: a 1x1 convolution to 16 channels of a 1024x1024 input: the
        // input's 2^18 pixel words, 2 table words and 2 x 2^15 bitset words, then 2^24
        // membranes (32-bit), over 64 MiB.
        c(
            "state-too-large",
            model(
                1,
                1024,
                1024,
                vec![
                    LayerSpec::Conv(conv(1, 16, 1, 1, 0), neurons(16)),
                    output_no_weights(),
                ],
            ),
            FormatError::StateTooLarge {
                bytes: ((1 << 18) + 2 + (1 << 16) + (1 << 24)) * 4,
            },
        ),
        // Residual stride `stride1 * stride2` = 256 does not fit the 1x1 conv
        // shortcut's `u8` stride.
        c(
            "residual-stride-product",
            model(
                1,
                1,
                1,
                vec![
                    LayerSpec::Residual {
                        conv1: conv(1, 1, 1, 16, 0),
                        n1: neurons(1),
                        conv2: conv(1, 1, 1, 16, 0),
                        shortcut: ShortcutSpec::Conv(vec![1]),
                        n2: neurons(1),
                    },
                    output(1, 1),
                ],
            ),
            layer0(LayerProblem::Geometry),
        ),
        c(
            "residual-gain-range",
            model(
                1,
                4,
                4,
                vec![
                    residual(
                        conv(1, 1, 3, 1, 1),
                        conv(1, 1, 3, 1, 1),
                        vec![MAX_SHORTCUT_GAIN + 1],
                    ),
                    output(16, 2),
                ],
            ),
            layer0(LayerProblem::GainRange {
                channel: 0,
                found: MAX_SHORTCUT_GAIN + 1,
            }),
        ),
        c(
            "residual-gain-table-length",
            model(
                1,
                4,
                4,
                vec![
                    residual(conv(1, 1, 3, 1, 1), conv(1, 1, 3, 1, 1), vec![1, 1]),
                    output(16, 2),
                ],
            ),
            layer0(LayerProblem::TableLength {
                expected: 4,
                found: 8,
            }),
        ),
        // conv1 shrinks 4x4 to 2x2 (no padding), the shortcut keeps 4x4.
        c(
            "residual-shortcut-shape",
            model(
                1,
                4,
                4,
                vec![
                    residual(conv(1, 1, 3, 1, 0), conv(1, 1, 3, 1, 1), vec![1]),
                    output(4, 2),
                ],
            ),
            layer0(LayerProblem::ShortcutShape),
        ),
        c(
            "residual-zero-stride-conv1",
            model(
                1,
                4,
                4,
                vec![
                    residual(conv(1, 1, 3, 0, 1), conv(1, 1, 3, 1, 1), vec![1]),
                    output(16, 2),
                ],
            ),
            layer0(LayerProblem::ZeroStride),
        ),
        c(
            "residual-zero-stride-conv2",
            model(
                1,
                4,
                4,
                vec![
                    residual(conv(1, 1, 3, 1, 1), conv(1, 1, 3, 0, 1), vec![1]),
                    output(16, 2),
                ],
            ),
            layer0(LayerProblem::ZeroStride),
        ),
        // Main path 65 * 255^2 * 128 > 2^29, plus an identity gain of 2^29: over 2^30
        // although each part alone is within the bound. 4 MiB of weights: no seed.
        Crafted {
            name: "residual-fan-in",
            spec: model(
                1,
                1,
                1,
                vec![
                    residual(
                        conv(1, 65, 1, 1, 0),
                        conv(65, 1, 255, 1, 127),
                        vec![MAX_SHORTCUT_GAIN],
                    ),
                    output(1, 1),
                ],
            ),
            expected: layer0(LayerProblem::FanInTooLarge),
            seed: false,
        },
    ]
}

#[test]
fn each_crafted_blob_names_its_problem() {
    for c in crafted() {
        let blob = c.spec.to_bytes();
        let got = Model::from_bytes(&blob).map(|_| ());
        assert_eq!(got, Err(c.expected), "{}", c.name);
        assert!(!c.expected.to_string().is_empty());
    }
}

/// Products just inside the limits load: the checks reject overflow, not size.
#[test]
fn limits_themselves_load() {
    // A shortcut gain of exactly -2^29 is allowed.
    let s = model(
        1,
        4,
        4,
        vec![
            residual(
                conv(1, 1, 3, 1, 1),
                conv(1, 1, 3, 1, 1),
                vec![-MAX_SHORTCUT_GAIN],
            ),
            output(16, 2),
        ],
    );
    Model::from_bytes(&s.to_bytes()).unwrap();
    // 2^23 inputs straight into the output: a fan-in current of exactly 2^30, and
    // 2^23 weights.
    let blob = model(1, 2048, 4096, vec![output(1 << 23, 1)]).to_bytes();
    let m = Model::from_bytes(&blob).unwrap();
    assert!(m.state_bytes() <= MAX_STATE_BYTES);
    assert_eq!(m.input_len(), 1 << 23);
}

fn seeds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds")
}

/// The committed fuzz seeds are exactly these blobs. `SNN_BLESS_SEEDS=1` rewrites them.
#[test]
fn fuzz_seeds_are_the_crafted_blobs() {
    let bless = std::env::var_os("SNN_BLESS_SEEDS").is_some();
    for c in crafted().into_iter().filter(|c| c.seed) {
        let path = seeds_dir().join(format!("{}.snn", c.name));
        let blob = c.spec.to_bytes();
        if bless {
            std::fs::write(&path, &blob).unwrap();
        }
        let committed = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with SNN_BLESS_SEEDS=1)", path.display()));
        assert!(committed == blob, "{} is stale (SNN_BLESS_SEEDS=1)", c.name);
    }
}

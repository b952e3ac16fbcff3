//! Owned model descriptions for tests and benchmarks: build, serialise, randomise.
//!
//! `ModelSpec` mirrors `snn_core::format::ModelDesc` with owned, typed vectors, so a
//! test can write a network by hand (or draw one at random) and get a blob with
//! `to_bytes`. Nothing here runs a model.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use snn_core::format::{
    interleave_rows, ConvDesc, InputDesc, LayerDesc, Membranes, ModelDesc, NeuronDesc, Reset,
    Shortcut,
};

#[derive(Debug, Clone)]
pub struct NeuronSpec {
    pub thresholds: Vec<i32>,
    pub leak: u16,
    pub reset: Reset,
    /// Synaptic-current decay (U1F15; 0: none).
    pub synapse: u16,
}

#[derive(Debug, Clone)]
pub struct ConvSpec {
    pub out_channels: u16,
    pub kernel: u8,
    pub stride: u8,
    pub padding: u8,
    /// `[ic][ky][kx][oc]`
    pub weights: Vec<i8>,
}

#[derive(Debug, Clone)]
pub enum ShortcutSpec {
    Conv(Vec<i8>),
    Identity(Vec<i32>),
}

#[derive(Debug, Clone)]
pub enum LayerSpec {
    Conv(ConvSpec, NeuronSpec),
    Pool(NeuronSpec),
    Dense {
        outputs: u16,
        weights: Vec<i8>,
        neuron: NeuronSpec,
    },
    Residual {
        conv1: ConvSpec,
        n1: NeuronSpec,
        conv2: ConvSpec,
        shortcut: ShortcutSpec,
        n2: NeuronSpec,
    },
    Output {
        classes: u16,
        weights: Vec<i8>,
        leak: u16,
        scale: f32,
        /// Synaptic-current decay (U1F15; 0: none).
        synapse: u16,
    },
}

#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub channels: u16,
    pub height: u16,
    pub width: u16,
    pub center: Vec<i32>,
    pub gain: Vec<u32>,
    pub membranes: Membranes,
    pub drive: snn_core::format::Drive,
    pub deployment: Option<snn_core::format::Deployment>,
    pub layers: Vec<LayerSpec>,
}

pub fn i8s(v: &[i8]) -> Vec<u8> {
    v.iter().map(|&x| x as u8).collect()
}
/// `i8` weights in logical order, as stored: rows of `row` interleaved.
pub fn rows(v: &[i8], row: u16) -> Vec<u8> {
    let mut b = i8s(v);
    interleave_rows(&mut b, usize::from(row));
    b
}
pub fn i32s(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
pub fn u32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Byte arrays of one layer, in the order `desc_layer` reads them.
fn layer_bytes(l: &LayerSpec) -> Vec<Vec<u8>> {
    match l {
        LayerSpec::Conv(c, n) => vec![rows(&c.weights, c.out_channels), i32s(&n.thresholds)],
        LayerSpec::Pool(n) => vec![i32s(&n.thresholds)],
        LayerSpec::Dense {
            outputs,
            weights,
            neuron,
        } => vec![rows(weights, *outputs), i32s(&neuron.thresholds)],
        LayerSpec::Residual {
            conv1,
            n1,
            conv2,
            shortcut,
            n2,
        } => vec![
            rows(&conv1.weights, conv1.out_channels),
            i32s(&n1.thresholds),
            rows(&conv2.weights, conv2.out_channels),
            match shortcut {
                ShortcutSpec::Conv(w) => rows(w, conv2.out_channels),
                ShortcutSpec::Identity(g) => i32s(g),
            },
            i32s(&n2.thresholds),
        ],
        LayerSpec::Output {
            weights, classes, ..
        } => vec![rows(weights, *classes)],
    }
}

fn neuron<'a>(n: &NeuronSpec, th: &'a [u8]) -> NeuronDesc<'a> {
    NeuronDesc {
        thresholds: th,
        leak: n.leak,
        reset: n.reset,
        synapse: n.synapse,
    }
}

fn conv<'a>(c: &ConvSpec, w: &'a [u8]) -> ConvDesc<'a> {
    ConvDesc {
        out_channels: c.out_channels,
        kernel: c.kernel,
        stride: c.stride,
        padding: c.padding,
        weights: w,
    }
}

fn desc_layer<'a>(l: &LayerSpec, b: &'a [Vec<u8>]) -> LayerDesc<'a> {
    match l {
        LayerSpec::Conv(c, n) => LayerDesc::Conv {
            conv: conv(c, &b[0]),
            neuron: neuron(n, &b[1]),
        },
        LayerSpec::Pool(n) => LayerDesc::Pool {
            neuron: neuron(n, &b[0]),
        },
        LayerSpec::Dense {
            outputs, neuron: n, ..
        } => LayerDesc::Dense {
            outputs: *outputs,
            weights: &b[0],
            neuron: neuron(n, &b[1]),
        },
        LayerSpec::Residual {
            conv1,
            n1,
            conv2,
            shortcut,
            n2,
        } => LayerDesc::Residual {
            conv1: conv(conv1, &b[0]),
            neuron1: neuron(n1, &b[1]),
            conv2: conv(conv2, &b[2]),
            shortcut: match shortcut {
                ShortcutSpec::Conv(_) => Shortcut::Conv { weights: &b[3] },
                ShortcutSpec::Identity(_) => Shortcut::Identity { gains: &b[3] },
            },
            neuron2: neuron(n2, &b[4]),
        },
        LayerSpec::Output {
            classes,
            leak,
            scale,
            synapse,
            ..
        } => LayerDesc::Output {
            classes: *classes,
            weights: &b[0],
            leak: *leak,
            synapse: *synapse,
            scale: *scale,
        },
    }
}

impl ModelSpec {
    /// Serialises the model (header + postcard body).
    pub fn to_bytes(&self) -> Vec<u8> {
        let center = i32s(&self.center);
        let gain = u32s(&self.gain);
        let bytes: Vec<Vec<Vec<u8>>> = self.layers.iter().map(layer_bytes).collect();
        let mut layers = heapless::Vec::new();
        for (l, b) in self.layers.iter().zip(&bytes) {
            layers.push(desc_layer(l, b)).expect("too many layers");
        }
        let desc = ModelDesc {
            input: InputDesc {
                channels: self.channels,
                height: self.height,
                width: self.width,
                center: &center,
                gain: &gain,
                drive: self.drive,
            },
            membranes: self.membranes,
            deployment: self.deployment,
            layers,
        };
        let body = postcard::to_allocvec(&desc).expect("serialise");
        let mut out = vec![0u8; body.len() + 64];
        let n = snn_core::write_model(&desc, &mut out).expect("write");
        out.truncate(n);
        out
    }
}

/// MNIST-style encoder gain: probability 0.5 * p / 255.
pub const MNIST_GAIN: u32 = 32897;

pub fn rand_i8s(rng: &mut impl Rng, n: usize, max: i8) -> Vec<i8> {
    (0..n).map(|_| rng.random_range(-max..=max)).collect()
}

pub fn rand_neuron(
    rng: &mut impl Rng,
    channels: usize,
    th: std::ops::RangeInclusive<i32>,
) -> NeuronSpec {
    let leak = match rng.random_range(0..3) {
        0 => 32768,
        1 => 32440,
        _ => rng.random_range(0..=32768),
    };
    NeuronSpec {
        thresholds: (0..channels)
            .map(|_| rng.random_range(th.clone()))
            .collect(),
        leak,
        reset: if rng.random_bool(0.5) {
            Reset::Hard
        } else {
            Reset::Subtract
        },
        synapse: 0,
    }
}

fn conv_out(n: usize, k: usize, s: usize, p: usize) -> usize {
    (n + 2 * p - k) / s + 1
}

/// A random, valid, small network exercising every layer kind, for the reference
/// comparisons and the mutation test.
pub fn random_model(seed: u64) -> ModelSpec {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let channels = rng.random_range(1..=3u16);
    let (height, width) = (rng.random_range(3..=9u16), rng.random_range(3..=9u16));
    let signed = rng.random_bool(0.5);
    let center = (0..channels)
        .map(|_| {
            if signed {
                rng.random_range(0..=65280)
            } else {
                0
            }
        })
        .collect();
    let gain = (0..channels)
        .map(|_| rng.random_range(20000..=90000))
        .collect();
    let (mut c, mut h, mut w) = (channels as usize, height as usize, width as usize);
    let mut layers = Vec::new();
    let mut flat = false;
    for _ in 0..rng.random_range(0..=4) {
        let kind = if flat { 3 } else { rng.random_range(0..4) };
        match kind {
            0 => {
                let k = rng.random_range(1..=3usize);
                let p = rng.random_range(0..k);
                let s = rng.random_range(1..=2usize);
                if h + 2 * p < k || w + 2 * p < k {
                    continue;
                }
                let oc = rng.random_range(1..=4usize);
                let weights = rand_i8s(&mut rng, c * k * k * oc, 127);
                let (oh, ow) = (conv_out(h, k, s, p), conv_out(w, k, s, p));
                let th = (c * k * k) as i32 * 20;
                layers.push(LayerSpec::Conv(
                    ConvSpec {
                        out_channels: oc as u16,
                        kernel: k as u8,
                        stride: s as u8,
                        padding: p as u8,
                        weights,
                    },
                    rand_neuron(&mut rng, oc, 1..=th.max(2)),
                ));
                (c, h, w) = (oc, oh, ow);
            }
            1 if h >= 2 && w >= 2 => {
                layers.push(LayerSpec::Pool(rand_neuron(&mut rng, c, 1..=4)));
                (h, w) = (h / 2, w / 2);
            }
            2 => {
                let mid = rng.random_range(1..=3usize);
                let s = rng.random_range(1..=2usize);
                let oc = if rng.random_bool(0.5) {
                    c
                } else {
                    rng.random_range(1..=4usize)
                };
                let conv1 = ConvSpec {
                    out_channels: mid as u16,
                    kernel: 3,
                    stride: 1,
                    padding: 1,
                    weights: rand_i8s(&mut rng, c * 9 * mid, 127),
                };
                let conv2 = ConvSpec {
                    out_channels: oc as u16,
                    kernel: 3,
                    stride: s as u8,
                    padding: 1,
                    weights: rand_i8s(&mut rng, mid * 9 * oc, 127),
                };
                let shortcut = if oc == c && rng.random_bool(0.5) {
                    ShortcutSpec::Identity((0..oc).map(|_| rng.random_range(-300..=300)).collect())
                } else {
                    ShortcutSpec::Conv(rand_i8s(&mut rng, c * oc, 127))
                };
                let n1 = rand_neuron(&mut rng, mid, 1..=(c as i32 * 180));
                let n2 = rand_neuron(&mut rng, oc, 1..=(mid as i32 * 180));
                layers.push(LayerSpec::Residual {
                    conv1,
                    n1,
                    conv2,
                    shortcut,
                    n2,
                });
                (c, h, w) = (oc, (h - 1) / s + 1, (w - 1) / s + 1);
            }
            _ => {
                let n = rng.random_range(1..=12usize);
                let weights = rand_i8s(&mut rng, c * h * w * n, 127);
                let neuron = rand_neuron(&mut rng, n, 1..=((c * h * w) as i32 * 20).max(2));
                layers.push(LayerSpec::Dense {
                    outputs: n as u16,
                    weights,
                    neuron,
                });
                (c, h, w) = (n, 1, 1);
                flat = true;
            }
        }
    }
    let classes = rng.random_range(1..=10u16);
    let leak = if rng.random_bool(0.5) {
        32768
    } else {
        rng.random_range(30000..=32768)
    };
    layers.push(LayerSpec::Output {
        classes,
        weights: rand_i8s(&mut rng, c * h * w * classes as usize, 127),
        leak,
        scale: 0.01,
        synapse: 0,
    });
    let membranes = if rng.random_bool(0.5) {
        Membranes::I16
    } else {
        Membranes::I32
    };
    with_synapses(&mut layers, seed);
    ModelSpec {
        channels,
        height,
        width,
        center,
        gain,
        membranes,
        drive: snn_core::format::Drive::Rate,
        deployment: None,
        layers,
    }
}

/// Synaptic currents (current-based populations) on about a third of the populations
/// and outputs, drawn from a stream of their own, so that every other draw of
/// [`random_model`] is what it was before synaptic currents existed.
fn with_synapses(layers: &mut [LayerSpec], seed: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x0053_594e_4150_5345);
    let mut draw = || {
        if rng.random_bool(1.0 / 3.0) {
            rng.random_range(1..=32768)
        } else {
            0
        }
    };
    for l in layers {
        match l {
            LayerSpec::Conv(_, n) | LayerSpec::Pool(n) | LayerSpec::Dense { neuron: n, .. } => {
                n.synapse = draw()
            }
            LayerSpec::Residual { n1, n2, .. } => {
                n1.synapse = draw();
                n2.synapse = draw();
            }
            LayerSpec::Output { synapse, .. } => *synapse = draw(),
        }
    }
}

/// A random image for a model.
pub fn random_image(spec: &ModelSpec, seed: u64) -> Vec<u8> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xA5A5);
    let n = spec.channels as usize * spec.height as usize * spec.width as usize;
    (0..n)
        .map(|_| {
            if rng.random_bool(0.3) {
                0
            } else {
                rng.random()
            }
        })
        .collect()
}

/// The LeNet of method.md section 7 (28x28x1: 20C5-AP-50C5-AP-FC200-FC10) with random
/// weights and thresholds scaled so that layers stay active.
pub fn lenet(seed: u64) -> ModelSpec {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let th = |n: usize, v: i32| NeuronSpec {
        thresholds: vec![v; n],
        leak: 32440,
        reset: Reset::Hard,
        synapse: 0,
    };
    let conv = |rng: &mut Xoshiro256PlusPlus, ic: usize, oc: usize| ConvSpec {
        out_channels: oc as u16,
        kernel: 5,
        stride: 1,
        padding: 2,
        weights: (0..ic * 25 * oc)
            .map(|_| rng.random_range(-40..=127))
            .collect(),
    };
    let c1 = conv(&mut rng, 1, 20);
    let c2 = conv(&mut rng, 20, 50);
    ModelSpec {
        channels: 1,
        height: 28,
        width: 28,
        center: vec![0],
        gain: vec![MNIST_GAIN],
        membranes: Membranes::I16,
        drive: snn_core::format::Drive::Rate,
        deployment: None,
        layers: vec![
            LayerSpec::Conv(c1, th(20, 150)),
            LayerSpec::Pool(th(20, 3)),
            LayerSpec::Conv(c2, th(50, 600)),
            LayerSpec::Pool(th(50, 3)),
            LayerSpec::Dense {
                outputs: 200,
                weights: (0..2450 * 200)
                    .map(|_| rng.random_range(-60..=127))
                    .collect(),
                neuron: th(200, 1500),
            },
            LayerSpec::Output {
                classes: 10,
                weights: rand_i8s(&mut rng, 2000, 127),
                leak: 32440,
                scale: 0.01,
                synapse: 0,
            },
        ],
    }
}

/// An MNIST-like image: a bright blob on black.
pub fn blob_image(seed: u64) -> Vec<u8> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (cy, cx) = (
        rng.random_range(8..20) as f32,
        rng.random_range(8..20) as f32,
    );
    (0..28 * 28)
        .map(|i| {
            let (y, x) = ((i / 28) as f32, (i % 28) as f32);
            let d = ((y - cy).powi(2) + (x - cx).powi(2)).sqrt();
            if d < 7.0 {
                255 - (d * 30.0) as u8
            } else {
                0
            }
        })
        .collect()
}

/// Channels of the saturating device case's layers: a block of eight weights, a group
/// of four, a pair and a single one in every row, the four row-add paths of the
/// Cortex-M DSP kernels.
pub const SATURATING_CHANNELS: usize = 15;
/// Input channels of the saturating device case: 200 taps per first-layer neuron, so
/// one step's current can exceed the 16-bit range.
pub const SATURATING_INPUTS: usize = 8;

/// The saturating device case: 16-bit membranes that leave the 16-bit range in every
/// synaptic kernel (signed input spikes, so subtracting adds too): stride-1 and
/// stride-2 convolutions, a residual block with an identity shortcut and one with a
/// 1x1-conv shortcut, a pool and a dense layer, each with [`SATURATING_CHANNELS`]
/// channels, mostly excitatory weights and thresholds near `i16::MAX`.
pub fn saturating_device() -> ModelSpec {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1616);
    let c = SATURATING_CHANNELS;
    let mut w = |n: usize, lo: i8, hi: i8| -> Vec<i8> {
        (0..n).map(|_| rng.random_range(lo..=hi)).collect()
    };
    let (w0, r1a, r1b, w2, r3a, r3b, r3s, dense) = (
        w(SATURATING_INPUTS * 25 * c, -30, 127),
        w(c * 9 * c, -127, 127),
        w(c * 9 * c, -127, 127),
        w(c * 9 * c, -127, 100),
        w(c * 9 * c, -127, 127),
        w(c * 9 * c, -127, 127),
        w(c * c, -127, 127),
        w(3 * 3 * c * c, -127, -40),
    );
    let mut out = w(c * 4, -127, 127);
    for v in &mut out {
        *v /= 2;
    }
    // Thresholds spread over the channels, high enough that the step a membrane
    // crosses one overshoots 32767.
    let neuron = |th: i32, leak: u16, reset: Reset| NeuronSpec {
        thresholds: (0..c as i32).map(|k| th - 20 * k).collect(),
        leak,
        reset,
        synapse: 0,
    };
    let conv = |k: u8, s: u8, weights: Vec<i8>| ConvSpec {
        out_channels: c as u16,
        kernel: k,
        stride: s,
        padding: k / 2,
        weights,
    };
    ModelSpec {
        channels: SATURATING_INPUTS as u16,
        height: 12,
        width: 12,
        // Signed around mid-grey: dark pixels give negative spikes.
        center: (0..SATURATING_INPUTS as i32)
            .map(|k| (100 + 8 * k) * 256)
            .collect(),
        gain: vec![65793 * 2; SATURATING_INPUTS],
        membranes: Membranes::I16,
        drive: snn_core::format::Drive::Rate,
        deployment: None,
        layers: vec![
            LayerSpec::Conv(conv(5, 1, w0), neuron(31000, 32768, Reset::Subtract)),
            LayerSpec::Residual {
                conv1: conv(3, 1, r1a),
                n1: neuron(700, 32768, Reset::Subtract),
                conv2: conv(3, 1, r1b),
                shortcut: ShortcutSpec::Identity(
                    (0..c as i32)
                        .map(|k| if k % 2 == 0 { -9000 } else { 9000 })
                        .collect(),
                ),
                n2: neuron(700, 32768, Reset::Subtract),
            },
            LayerSpec::Residual {
                conv1: conv(3, 1, r3a),
                n1: neuron(700, 32768, Reset::Subtract),
                conv2: conv(3, 1, r3b),
                shortcut: ShortcutSpec::Conv(r3s),
                n2: neuron(700, 32768, Reset::Subtract),
            },
            LayerSpec::Conv(conv(3, 2, w2), neuron(700, 32768, Reset::Subtract)),
            LayerSpec::Pool(NeuronSpec {
                thresholds: vec![1; c],
                leak: 32768,
                reset: Reset::Hard,
                synapse: 0,
            }),
            LayerSpec::Dense {
                outputs: c as u16,
                weights: dense,
                neuron: neuron(700, 32768, Reset::Subtract),
            },
            LayerSpec::Output {
                classes: 4,
                weights: out,
                leak: 32768,
                scale: 0.01,
                synapse: 0,
            },
        ],
    }
}

/// Inputs of the saturating device case: bright and dark regions, so both signs spike.
pub fn saturating_images(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1617);
    (0..n)
        .map(|_| {
            (0..SATURATING_INPUTS * 12 * 12)
                .map(|i| {
                    let dark = (i / 96 + i % 7) % 8 == 0;
                    if dark {
                        rng.random_range(0..=40)
                    } else {
                        rng.random_range(200..=255)
                    }
                })
                .collect()
        })
        .collect()
}

//! Quantisation of a float network to the `snn-core` format, and the evaluation of
//! the exported model *by `snn-core` itself* against the float network.
//!
//! Weights become `i8` with one scale per output channel (`s = max|w| / 127`); each
//! channel's float threshold becomes the integer `round(V_th / s)`; a residual block's
//! `conv2` and shortcut share the second population's scales; the output layer uses
//! one scale for all classes. See `docs/model-format.md`, "Quantisation contract".

use ndarray::ArrayD;
use snn_core::format::{ConvDesc, InputDesc, LayerDesc, ModelDesc, NeuronDesc, Reset, Shortcut};

use crate::data::{Dataset, Encoding};
use crate::net::{LayerSpec, Network, Op, Params};
use crate::sim::{forward, Masks};

/// Why a network could not be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// `snn-core` rejected the result (a shape or range it cannot run).
    #[error("snn-core rejects the exported model: {0}")]
    Format(snn_core::FormatError),
    /// The network has more layers or classes than the format allows.
    #[error("cannot export: {0}")]
    Unsupported(String),
}

/// Per-output-channel scales of weights whose last axis is the output channel:
/// `max |w| / 127` over everything else (a tiny floor keeps all-zero channels finite).
fn channel_scales(tensors: &[&ArrayD<f32>]) -> Vec<f32> {
    let oc = *tensors[0].shape().last().expect("at least one axis");
    let mut max = vec![0.0f32; oc];
    for t in tensors {
        for (i, v) in t.iter().enumerate() {
            let c = i % oc;
            max[c] = max[c].max(v.abs());
        }
    }
    max.into_iter().map(|m| (m / 127.0).max(1e-12)).collect()
}

fn quantize(t: &ArrayD<f32>, scales: &[f32]) -> Vec<u8> {
    let oc = scales.len();
    t.iter()
        .enumerate()
        .map(|(i, &v)| ((v / scales[i % oc]).round().clamp(-127.0, 127.0) as i8) as u8)
        .collect()
}

fn le_i32(values: impl Iterator<Item = i32>) -> Vec<u8> {
    values.flat_map(|v| v.to_le_bytes()).collect()
}

/// `round(x)` clamped to `1..=2^30`.
fn int_threshold(x: f32) -> i32 {
    x.round().clamp(1.0, (1u32 << 30) as f32) as i32
}

/// Owned byte arrays of the exported layers (the description borrows them).
struct Bytes {
    center: Vec<u8>,
    gain: Vec<u8>,
    layers: Vec<Vec<Vec<u8>>>,
}

/// Quantises `params` and writes a complete `snn-core` model blob.
///
/// # Errors
/// [`ExportError`] when the network cannot be represented.
pub fn export(net: &Network, params: &Params, enc: &Encoding) -> Result<Vec<u8>, ExportError> {
    let leak = (net.neuron.leak * 32768.0).round().clamp(0.0, 32768.0) as u16;
    let reset = net.neuron.reset;
    let th = net.neuron.threshold;
    let conv_geo = |li: usize, k: usize| -> (u8, u8, u8) {
        let param = net.layer_params[li][k];
        let c = net
            .conns
            .iter()
            .find(|c| c.param == Some(param))
            .expect("param has a conn");
        match c.op {
            Op::Conv(g) => (g.k as u8, g.s as u8, g.p as u8),
            _ => (1, 1, 0),
        }
    };
    // First pass: the byte arrays.
    let mut bytes = Bytes {
        center: le_i32(enc.center.iter().copied()),
        gain: enc.gain.iter().flat_map(|g| g.to_le_bytes()).collect(),
        layers: Vec::new(),
    };
    let mut output_scale = 1.0f32;
    for (li, layer) in net.layers.iter().enumerate() {
        let ps: Vec<&ArrayD<f32>> = net.layer_params[li].iter().map(|&i| &params[i]).collect();
        let arrays = match layer {
            LayerSpec::Conv { .. } | LayerSpec::Dense { .. } => {
                let s = channel_scales(&[ps[0]]);
                vec![
                    quantize(ps[0], &s),
                    le_i32(s.iter().map(|s| int_threshold(th / s))),
                ]
            }
            LayerSpec::Pool => {
                let c = net.pops[net.layer_pops[li][0]].shape.c;
                // Each spike adds one quarter-unit: the float threshold times 4.
                let t = int_threshold(net.neuron.pool_threshold * 4.0);
                vec![le_i32(std::iter::repeat_n(t, c))]
            }
            LayerSpec::Residual { .. } => {
                let s1 = channel_scales(&[ps[0]]);
                let s2 = channel_scales(&ps[1..]);
                let shortcut = if ps.len() == 3 {
                    quantize(ps[2], &s2)
                } else {
                    le_i32(s2.iter().map(|s| {
                        (1.0 / s).round().clamp(-(1 << 29) as f32, (1 << 29) as f32) as i32
                    }))
                };
                vec![
                    quantize(ps[0], &s1),
                    le_i32(s1.iter().map(|s| int_threshold(th / s))),
                    quantize(ps[1], &s2),
                    shortcut,
                    le_i32(s2.iter().map(|s| int_threshold(th / s))),
                ]
            }
            LayerSpec::Output => {
                let max = ps[0].iter().fold(0.0f32, |m, v| m.max(v.abs()));
                output_scale = (max / 127.0).max(1e-12);
                let oc = *ps[0].shape().last().expect("2-D");
                vec![quantize(ps[0], &vec![output_scale; oc])]
            }
        };
        bytes.layers.push(arrays);
    }
    // Second pass: the description borrowing them.
    let mut layers = heapless::Vec::<LayerDesc<'_>, { snn_core::MAX_LAYERS }>::new();
    for (li, layer) in net.layers.iter().enumerate() {
        let b = &bytes.layers[li];
        fn neuron(t: &[u8], leak: u16, reset: Reset) -> NeuronDesc<'_> {
            NeuronDesc {
                thresholds: t,
                leak,
                reset,
            }
        }
        let pops = &net.layer_pops[li];
        let desc = match layer {
            LayerSpec::Conv { channels, .. } => {
                let (k, s, p) = conv_geo(li, 0);
                LayerDesc::Conv {
                    conv: ConvDesc {
                        out_channels: *channels as u16,
                        kernel: k,
                        stride: s,
                        padding: p,
                        weights: &b[0],
                    },
                    neuron: neuron(&b[1], leak, reset),
                }
            }
            LayerSpec::Pool => LayerDesc::Pool {
                neuron: NeuronDesc {
                    thresholds: &b[0],
                    leak: 32768,
                    reset: Reset::Hard,
                },
            },
            LayerSpec::Dense { units } => LayerDesc::Dense {
                outputs: *units as u16,
                weights: &b[0],
                neuron: neuron(&b[1], leak, reset),
            },
            LayerSpec::Residual { channels, .. } => {
                let (k1, s1, p1) = conv_geo(li, 0);
                let (k2, s2, p2) = conv_geo(li, 1);
                let _ = pops;
                LayerDesc::Residual {
                    conv1: ConvDesc {
                        out_channels: *channels as u16,
                        kernel: k1,
                        stride: s1,
                        padding: p1,
                        weights: &b[0],
                    },
                    neuron1: neuron(&b[1], leak, reset),
                    conv2: ConvDesc {
                        out_channels: *channels as u16,
                        kernel: k2,
                        stride: s2,
                        padding: p2,
                        weights: &b[2],
                    },
                    shortcut: if net.layer_params[li].len() == 3 {
                        Shortcut::Conv { weights: &b[3] }
                    } else {
                        Shortcut::Identity { gains: &b[3] }
                    },
                    neuron2: neuron(&b[4], leak, reset),
                }
            }
            LayerSpec::Output => LayerDesc::Output {
                classes: net.classes() as u16,
                weights: &b[0],
                leak,
                scale: output_scale,
            },
        };
        layers.push(desc).map_err(|_| {
            ExportError::Unsupported(format!("more than {} layers", snn_core::MAX_LAYERS))
        })?;
    }
    let input = net.pops[0].shape;
    let desc = ModelDesc {
        input: InputDesc {
            channels: input.c as u16,
            height: input.h as u16,
            width: input.w as u16,
            center: &bytes.center,
            gain: &bytes.gain,
        },
        layers,
    };
    let weights: usize = bytes.layers.iter().flatten().map(Vec::len).sum();
    let mut out = vec![0u8; weights + 4096 + 64 * net.layers.len()];
    let n = snn_core::write_model(&desc, &mut out).map_err(ExportError::Format)?;
    out.truncate(n);
    snn_core::Model::from_bytes(&out).map_err(ExportError::Format)?;
    Ok(out)
}

/// Float and fixed-point accuracy of an exported model on a test set.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Agreement {
    /// Images evaluated.
    pub images: usize,
    /// Float network accuracy (percent).
    pub float_accuracy: f64,
    /// Exported model accuracy under `snn-core` (percent).
    pub fixed_accuracy: f64,
    /// Share of images on which both predict the same class (percent).
    pub agreement: f64,
}

/// The encoder seed of test image `i` (the same in float and fixed-point evaluation).
pub fn eval_seed(i: usize) -> u64 {
    crate::train::derive_seed(0x5EED_E7A1, 0, i as u64)
}

/// Evaluates the float network and the exported blob (through `snn-core`) on `test`
/// with the same input spikes (same encoder seeds), in parallel.
///
/// # Errors
/// [`ExportError::Format`] when `blob` does not load.
pub fn compare(
    net: &Network,
    params: &Params,
    enc: &Encoding,
    blob: &[u8],
    test: &Dataset,
    steps: usize,
) -> Result<Agreement, ExportError> {
    let model = snn_core::Model::from_bytes(blob).map_err(ExportError::Format)?;
    let idx: Vec<usize> = (0..test.len()).collect();
    let masks = Masks::none(net);
    let per_chunk = crate::par::map_chunks(&idx, 16, |_, chunk| {
        let mut state = vec![0u32; model.state_words()];
        let (mut f, mut q, mut a) = (0usize, 0usize, 0usize);
        for &i in chunk {
            let img = test.image(i);
            let label = usize::from(test.labels[i]);
            let tr = forward(net, params, enc, img, eval_seed(i), steps, &masks, false);
            let fp = crate::train::argmax(&tr.y);
            let r = model
                .classify(&mut state, img, eval_seed(i), steps as u32)
                .expect("validated model and input");
            let qp = usize::from(r.class);
            f += usize::from(fp == label);
            q += usize::from(qp == label);
            a += usize::from(fp == qp);
        }
        (f, q, a)
    });
    let (f, q, a) = per_chunk
        .into_iter()
        .fold((0, 0, 0), |s, c| (s.0 + c.0, s.1 + c.1, s.2 + c.2));
    let pct = |v: usize| 100.0 * v as f64 / test.len().max(1) as f64;
    Ok(Agreement {
        images: test.len(),
        float_accuracy: pct(f),
        fixed_accuracy: pct(q),
        agreement: pct(a),
    })
}

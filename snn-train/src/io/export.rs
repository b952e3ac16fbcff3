//! Quantisation of a float network to the `snn-core` format.
//!
//! Weights become `i8` with one scale per output channel (`s = max|w| / 127`); each
//! channel's float threshold becomes the integer `round(V_th / s)`; a residual block's
//! `conv2` and shortcut share the second population's scales; the output layer uses
//! one scale for all classes. See `docs/model-format.md`, "Quantisation contract".
//! Export happens in two passes: each layer is quantised on its own ([`QLayer`]), then
//! one pass describes the layers (borrowing the quantised bytes) and `snn-core` writes
//! and validates the blob. Evaluating the result is [`crate::train::eval`]'s job.
//!
//! With an analog input ([`Encoding::analog`]) the first layer's float current per step
//! is `sum w x` with `x = v / 255` (`v` the centred pixel), and the engine computes
//! `(sum q v) >> shift` ([`snn_core::analog`]): its membrane unit is
//! `s * 2^shift / 255`, so its thresholds are `round(V_th * 255 / (s * 2^shift))`, with
//! the smallest `shift` that keeps every one at most [`ANALOG_THRESHOLD_MAX`].

use ndarray::ArrayD;
use snn_core::format::{
    interleave_rows, ConvDesc, Deployment, Drive, InputDesc, LayerDesc, Membranes, ModelDesc,
    NeuronDesc, Reset, Shortcut,
};
use snn_core::layer::{shortcut_gain_from_f32, weight_scale};
use snn_core::model::MAX_ANALOG_SHIFT;
use snn_core::neuron::{threshold_from_f32, Leak};

use crate::data::Encoding;
use crate::io::quant;
use crate::model::net::{Network, Op, Params, Shape};
use crate::model::spec::LayerSpec;

/// Why a network could not be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// `snn-core` rejected the result (a shape or range it cannot run).
    #[error("snn-core rejects the exported model: {0}")]
    Format(snn_core::FormatError),
    /// `snn-core` could not run the model on an input (a shape mismatch).
    #[error("snn-core cannot run the exported model: {0}")]
    Run(snn_core::RunError),
    /// The network has more layers than the format allows.
    #[error("cannot export: {layers} layers, the format allows at most {max}")]
    TooManyLayers {
        /// Layers of the network.
        layers: usize,
        /// The format's limit.
        max: usize,
    },
}

/// Per-output-channel scales of weights whose last axis is the output channel
/// ([`quant::scales`] with one group per channel).
pub(crate) fn channel_scales(tensors: &[&ArrayD<f32>]) -> Vec<f32> {
    let oc = tensors[0].shape().last().copied().unwrap_or(1);
    let slices: Vec<&[f32]> = tensors
        .iter()
        .map(|t| t.as_slice().expect("parameters are contiguous"))
        .collect();
    quant::scales(&slices, oc, oc)
}

/// `i8` weights (as bytes) of `t` with per-output-channel `scales`.
fn quantize(t: &ArrayD<f32>, scales: &[f32]) -> Vec<u8> {
    let oc = t.shape().last().copied().unwrap_or(1);
    quant::quantize(t.as_slice().expect("parameters are contiguous"), scales, oc)
}

pub(crate) fn le_i32(values: impl Iterator<Item = i32>) -> Vec<u8> {
    values.flat_map(|v| v.to_le_bytes()).collect()
}

/// Integer thresholds `V_th / s` of channels with scales `s`.
fn thresholds(th: f32, scales: &[f32]) -> Vec<u8> {
    le_i32(scales.iter().map(|s| threshold_from_f32(th / s)))
}

/// Largest first-layer threshold an analog export aims for: fine enough that one unit
/// of rounding per step is below 0.1% of a threshold at the usual weight scales, and
/// room below `i16::MAX` for the current that overshoots it.
pub const ANALOG_THRESHOLD_MAX: i32 = 8192;

/// Requantises the first layer `q` of `net` for an analog input: its thresholds in the
/// units of `snn_core::analog` (module documentation), and the shift that goes with
/// them: the smallest that brings every threshold to at most [`ANALOG_THRESHOLD_MAX`],
/// leaving out the channels that no shift brings there. Those have weights below
/// `127 * 255 / (2^24 * 8192)`, about `2.4e-7` (a dead channel: weight decay takes an
/// unused one to 0; a 3 x 3 grey convolution then draws at most `2e-6` of a threshold
/// of 1 per step), and keep their large thresholds; were they counted, the shift would
/// be the largest and every other channel's current would round to 0.
fn analog_first_layer(q: &mut QLayer, net: &Network, params: &Params) -> Drive {
    let s = channel_scales(&[&params[net.layer_params[0][0]]]);
    let th = net.neuron.threshold;
    let at = |shift: u8| -> Vec<i32> {
        let unit = 255.0 / (1u64 << shift) as f32;
        s.iter()
            .map(|s| threshold_from_f32(th * unit / s))
            .collect()
    };
    let fits = |t: i32| t <= ANALOG_THRESHOLD_MAX;
    let at_most = at(MAX_ANALOG_SHIFT);
    let shift = (0..=MAX_ANALOG_SHIFT)
        .find(|&k| {
            at(k)
                .iter()
                .zip(&at_most)
                .all(|(&t, &m)| fits(t) || !fits(m))
        })
        .unwrap_or(MAX_ANALOG_SHIFT);
    if let QLayer::Conv { thresholds, .. } | QLayer::Dense { thresholds, .. } = q {
        *thresholds = le_i32(at(shift).into_iter());
    }
    Drive::Analog { shift }
}

/// What an export writes besides the network: the membrane width (`None`: 16 bits when
/// every threshold fits, [`choose_membranes`]) and the deployment setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Membrane width; `None` picks one.
    pub membranes: Option<Membranes>,
    /// Time steps and early-exit rule stored in the model.
    pub deployment: Option<Deployment>,
}

/// Kernel, stride and padding of a convolution, in the format's `u8` fields (the
/// network builder keeps them in range).
type Geometry = (u8, u8, u8);

/// A layer's neuron constants in the format's units: the membrane leak and the
/// synaptic-current decay (U1F15), and the reset rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dynamics {
    /// Membrane leak (`32768` = none).
    pub leak: u16,
    /// Reset rule.
    pub reset: Reset,
    /// Synaptic-current decay (`0` = no synaptic current; see `snn_core::synapse`).
    pub synapse: u16,
}

/// One layer quantised: its sizes and its arrays in the byte layout of the format
/// (owned, so that the description pass can borrow them).
#[derive(Debug, Clone, PartialEq)]
pub enum QLayer {
    /// Convolution feeding LIF neurons.
    Conv {
        /// Output channels.
        channels: u16,
        /// Kernel, stride, padding.
        geometry: Geometry,
        /// `i8` weights.
        weights: Vec<u8>,
        /// `i32` thresholds.
        thresholds: Vec<u8>,
    },
    /// 2x2 pooling IF neurons.
    Pool {
        /// `i32` thresholds.
        thresholds: Vec<u8>,
    },
    /// Dense layer feeding LIF neurons.
    Dense {
        /// Output neurons.
        units: u16,
        /// `i8` weights.
        weights: Vec<u8>,
        /// `i32` thresholds.
        thresholds: Vec<u8>,
    },
    /// Residual block.
    Residual {
        /// Channels of both convolutions.
        channels: u16,
        /// conv1 geometry.
        geometry1: Geometry,
        /// conv1 weights.
        w1: Vec<u8>,
        /// First population's thresholds.
        th1: Vec<u8>,
        /// conv2 geometry.
        geometry2: Geometry,
        /// conv2 weights.
        w2: Vec<u8>,
        /// Shortcut: 1x1 conv weights (`conv_shortcut`), or `i32` identity gains.
        shortcut: Vec<u8>,
        /// Whether the shortcut is a 1x1 convolution.
        conv_shortcut: bool,
        /// Second population's thresholds.
        th2: Vec<u8>,
    },
    /// Output integrator.
    Output {
        /// Classes.
        classes: u16,
        /// `i8` weights.
        weights: Vec<u8>,
        /// Float value of one weight unit (one scale for all classes).
        scale: f32,
    },
}

/// Geometry of weight tensor `k` of layer `li`.
fn geometry(net: &Network, li: usize, k: usize) -> Geometry {
    let param = net.layer_params[li][k];
    net.conns
        .iter()
        .find(|c| c.param == Some(param))
        .map_or((1, 1, 0), |c| match c.op {
            Op::Conv(g) => (g.k as u8, g.s as u8, g.p as u8),
            _ => (1, 1, 0),
        })
}

/// Quantises layer `li` of `net`.
pub fn quantize_layer(net: &Network, params: &Params, li: usize) -> QLayer {
    let ps: Vec<&ArrayD<f32>> = net.layer_params[li].iter().map(|&i| &params[i]).collect();
    let th = net.neuron.threshold;
    match net.layers[li] {
        LayerSpec::Conv { channels, .. } => {
            let s = channel_scales(&[ps[0]]);
            QLayer::Conv {
                channels: channels as u16,
                geometry: geometry(net, li, 0),
                weights: quantize(ps[0], &s),
                thresholds: thresholds(th, &s),
            }
        }
        LayerSpec::Dense { units } => {
            let s = channel_scales(&[ps[0]]);
            QLayer::Dense {
                units: units as u16,
                weights: quantize(ps[0], &s),
                thresholds: thresholds(th, &s),
            }
        }
        LayerSpec::Pool => {
            let c = usize::from(net.pops[net.layer_pops[li][0]].shape.channels);
            // Each spike adds one quarter-unit: the float threshold times 4.
            let t = threshold_from_f32(net.neuron.pool_threshold * 4.0);
            QLayer::Pool {
                thresholds: le_i32(std::iter::repeat_n(t, c)),
            }
        }
        LayerSpec::Residual { channels, .. } => {
            let s1 = channel_scales(&[ps[0]]);
            let s2 = channel_scales(&ps[1..]);
            let conv_shortcut = ps.len() == 3;
            let shortcut = if conv_shortcut {
                quantize(ps[2], &s2)
            } else {
                le_i32(s2.iter().map(|s| shortcut_gain_from_f32(1.0 / s)))
            };
            QLayer::Residual {
                channels: channels as u16,
                geometry1: geometry(net, li, 0),
                w1: quantize(ps[0], &s1),
                th1: thresholds(th, &s1),
                geometry2: geometry(net, li, 1),
                w2: quantize(ps[1], &s2),
                shortcut,
                conv_shortcut,
                th2: thresholds(th, &s2),
            }
        }
        LayerSpec::Output => {
            let scale = weight_scale(ps[0].iter().fold(0.0f32, |m, v| m.max(v.abs())));
            let oc = ps[0].shape().last().copied().unwrap_or(1);
            QLayer::Output {
                classes: net.classes() as u16,
                weights: quantize(ps[0], &vec![scale; oc]),
                scale,
            }
        }
    }
}

impl QLayer {
    /// The layer with the threshold of every channel that no weight reaches (all its
    /// `i8` weights 0, in a convolution or a dense layer) lowered to at most
    /// `i16::MAX`. Exact: such a membrane receives nothing, stays at 0 and never fires,
    /// whatever its threshold; a channel whose float weights all quantised to 0 (a
    /// dead neuron) then no longer forces 32-bit membranes on the whole model.
    pub fn without_unreachable_thresholds(&self) -> Self {
        let mut q = self.clone();
        if let Self::Conv {
            channels: co,
            weights,
            thresholds,
            ..
        }
        | Self::Dense {
            units: co,
            weights,
            thresholds,
        } = &mut q
        {
            let co = usize::from(*co).max(1);
            for (o, th) in thresholds.chunks_exact_mut(4).enumerate() {
                if weights.iter().skip(o).step_by(co).all(|&w| w == 0) {
                    let t = i32::from_le_bytes([th[0], th[1], th[2], th[3]]);
                    th.copy_from_slice(&t.min(i32::from(i16::MAX)).to_le_bytes());
                }
            }
        }
        q
    }

    /// The layer with its weight rows in the stored order of the format
    /// ([`interleave_rows`]; rows are one output channel long). Applying it twice gives
    /// the layer back.
    pub fn interleaved(&self) -> Self {
        let rows = |w: &[u8], row: u16| {
            let mut w = w.to_vec();
            interleave_rows(&mut w, usize::from(row));
            w
        };
        let mut q = self.clone();
        match &mut q {
            Self::Conv {
                channels, weights, ..
            } => *weights = rows(weights, *channels),
            Self::Dense { units, weights, .. } => *weights = rows(weights, *units),
            Self::Residual {
                channels,
                w1,
                w2,
                shortcut,
                conv_shortcut,
                ..
            } => {
                *w1 = rows(w1, *channels);
                *w2 = rows(w2, *channels);
                if *conv_shortcut {
                    *shortcut = rows(shortcut, *channels);
                }
            }
            Self::Output {
                classes, weights, ..
            } => *weights = rows(weights, *classes),
            Self::Pool { .. } => {}
        }
        q
    }

    /// The largest threshold of the layer's spiking populations (0 for the output).
    pub fn max_threshold(&self) -> i32 {
        let max = |t: &[u8]| {
            t.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .max()
                .unwrap_or(0)
        };
        match self {
            Self::Conv { thresholds, .. }
            | Self::Pool { thresholds }
            | Self::Dense { thresholds, .. } => max(thresholds),
            Self::Residual { th1, th2, .. } => max(th1).max(max(th2)),
            Self::Output { .. } => 0,
        }
    }

    /// The format's description of this layer, borrowing its arrays, with the neuron
    /// constants `d` (pooling neurons never leak, reset hard and have no synaptic
    /// current).
    pub fn describe(&self, d: Dynamics) -> LayerDesc<'_> {
        let lif = |thresholds| NeuronDesc {
            thresholds,
            leak: d.leak,
            reset: d.reset,
            synapse: d.synapse,
        };
        let conv = |out_channels, (kernel, stride, padding): Geometry, weights| ConvDesc {
            out_channels,
            kernel,
            stride,
            padding,
            weights,
        };
        match self {
            Self::Conv {
                channels,
                geometry,
                weights,
                thresholds,
            } => LayerDesc::Conv {
                conv: conv(*channels, *geometry, weights),
                neuron: lif(thresholds),
            },
            Self::Pool { thresholds } => LayerDesc::Pool {
                neuron: NeuronDesc {
                    thresholds,
                    leak: Leak::ONE.to_bits(),
                    reset: Reset::Hard,
                    synapse: 0,
                },
            },
            Self::Dense {
                units,
                weights,
                thresholds,
            } => LayerDesc::Dense {
                outputs: *units,
                weights,
                neuron: lif(thresholds),
            },
            Self::Residual {
                channels,
                geometry1,
                w1,
                th1,
                geometry2,
                w2,
                shortcut,
                conv_shortcut,
                th2,
            } => LayerDesc::Residual {
                conv1: conv(*channels, *geometry1, w1),
                neuron1: lif(th1),
                conv2: conv(*channels, *geometry2, w2),
                shortcut: if *conv_shortcut {
                    Shortcut::Conv { weights: shortcut }
                } else {
                    Shortcut::Identity { gains: shortcut }
                },
                neuron2: lif(th2),
            },
            Self::Output {
                classes,
                weights,
                scale,
            } => LayerDesc::Output {
                classes: *classes,
                weights,
                leak: d.leak,
                synapse: d.synapse,
                scale: *scale,
            },
        }
    }
}

/// Quantises `params` and writes a complete `snn-core` model blob, validated by
/// `snn-core` before it is returned, with the membrane width [`choose_membranes`]
/// picks.
///
/// # Errors
/// [`ExportError`] when the network cannot be represented.
pub fn export(net: &Network, params: &Params, enc: &Encoding) -> Result<Vec<u8>, ExportError> {
    export_with(net, params, enc, ExportOptions::default())
}

/// [`export`] with the membrane width and the deployment setting given.
///
/// # Errors
/// [`ExportError`] when the network cannot be represented, for example 16-bit
/// membranes asked for with a threshold above `i16::MAX`.
pub fn export_with(
    net: &Network,
    params: &Params,
    enc: &Encoding,
    opts: ExportOptions,
) -> Result<Vec<u8>, ExportError> {
    let dynamics = Dynamics {
        leak: Leak::from_f32(net.neuron.leak).to_bits(),
        reset: net.neuron.reset,
        synapse: 0,
    };
    let mut layers: Vec<(QLayer, Dynamics)> = (0..net.layers.len())
        .map(|li| (quantize_layer(net, params, li), dynamics))
        .collect();
    let drive = match layers.first_mut() {
        Some((q, _)) if enc.analog => analog_first_layer(q, net, params),
        _ => Drive::Rate,
    };
    assemble(&layers, net.pops[0].shape, enc, drive, opts)
}

/// The membrane width for quantised layers: 16 bits when every threshold fits
/// `i16` (half the state memory and the Cortex-M DSP kernels), else 32 bits.
pub fn choose_membranes(quantized: &[(QLayer, Dynamics)]) -> Membranes {
    let max = quantized
        .iter()
        .map(|(q, _)| q.max_threshold())
        .max()
        .unwrap_or(0);
    if max <= i32::from(i16::MAX) {
        Membranes::I16
    } else {
        Membranes::I32
    }
}

/// Writes quantised layers, each with its leak bits and reset, behind an input of
/// `input` shape with encoder `enc` and `drive`, as a model blob validated by
/// `snn-core`.
///
/// # Errors
/// [`ExportError`] when the layers cannot be represented.
pub fn assemble(
    quantized: &[(QLayer, Dynamics)],
    input: Shape,
    enc: &Encoding,
    drive: Drive,
    opts: ExportOptions,
) -> Result<Vec<u8>, ExportError> {
    let reachable: Vec<(QLayer, Dynamics)> = quantized
        .iter()
        .map(|(q, d)| (q.without_unreachable_thresholds(), *d))
        .collect();
    let membranes = opts
        .membranes
        .unwrap_or_else(|| choose_membranes(&reachable));
    let stored: Vec<(QLayer, Dynamics)> = reachable
        .iter()
        .map(|(q, d)| (q.interleaved(), *d))
        .collect();
    let mut layers = heapless::Vec::<LayerDesc<'_>, { snn_core::MAX_LAYERS }>::new();
    for (q, d) in &stored {
        layers
            .push(q.describe(*d))
            .map_err(|_| ExportError::TooManyLayers {
                layers: quantized.len(),
                max: snn_core::MAX_LAYERS,
            })?;
    }
    let center = le_i32(enc.center.iter().copied());
    let gain: Vec<u8> = enc.gain.iter().flat_map(|g| g.to_le_bytes()).collect();
    let desc = ModelDesc {
        input: InputDesc {
            channels: input.channels,
            height: input.height,
            width: input.width,
            center: &center,
            gain: &gain,
            drive,
        },
        membranes,
        deployment: opts.deployment,
        layers,
    };
    let mut out = vec![0u8; desc.encoded_len_bound()];
    let n = snn_core::write_model(&desc, &mut out).map_err(ExportError::Format)?;
    out.truncate(n);
    snn_core::Model::from_bytes(&out).map_err(ExportError::Format)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dense channel that no weight reaches gives up a threshold above `i16::MAX`
    /// (it never fires either way); a reachable one keeps its threshold, so only the
    /// unreachable one stops forcing 32-bit membranes.
    #[test]
    fn unreachable_channels_do_not_force_wide_membranes() {
        let dense = |th: [i32; 2]| QLayer::Dense {
            units: 2,
            weights: vec![0, 5, 0, 7],
            thresholds: le_i32(th.into_iter()),
        };
        let d = Dynamics {
            leak: 32768,
            reset: Reset::Hard,
            synapse: 0,
        };
        let q = dense([1 << 30, 900]);
        assert_eq!(choose_membranes(&[(q.clone(), d)]), Membranes::I32);
        let r = q.without_unreachable_thresholds();
        assert_eq!(r, dense([i32::from(i16::MAX), 900]));
        assert_eq!(choose_membranes(&[(r, d)]), Membranes::I16);
        let reachable = dense([900, 1 << 30]);
        assert_eq!(reachable.without_unreachable_thresholds(), reachable);
    }

    /// A dead first-layer channel (weights 0, or far below the others) does not set the
    /// analog shift: the others keep the shift they have alone (at the largest shift
    /// their currents would round to 0 and the network would never fire). One whose
    /// `i8` weights are all 0 does not widen the membranes either.
    #[test]
    fn dead_analog_channels_do_not_set_the_shift() {
        use crate::model::net::Neuron;
        use crate::model::spec::Preset;
        let neuron = Neuron {
            leak: 0.99,
            threshold: 1.0,
            pool_threshold: 0.75,
            reset: Reset::Hard,
        };
        let input = Shape {
            channels: 1,
            height: 28,
            width: 28,
        };
        let net = Network::build(&Preset::Lenet.layers(), input, 10, neuron, 0.0).unwrap();
        let enc = Encoding::unsigned(0.5).analog();
        let shift_of = |params: &Params| {
            let blob = export(&net, params, &enc).unwrap();
            let model = snn_core::Model::from_bytes(&blob).unwrap();
            match model.drive() {
                Drive::Analog { shift } => (shift, model.membranes()),
                Drive::Rate => panic!("an analog export has the analog drive"),
            }
        };
        let params = net.init(2.0, 3);
        let (alone, membranes) = shift_of(&params);
        assert!(alone < MAX_ANALOG_SHIFT);
        assert_eq!(membranes, Membranes::I16);
        let w1 = net.layer_params[0][0];
        let co = *params[w1].shape().last().unwrap();
        for dead in [0.0f32, 3e-37, 1e-9] {
            let mut p = params.clone();
            for (i, w) in p[w1].iter_mut().enumerate() {
                if i % co == 0 {
                    *w = dead;
                }
            }
            let (shift, membranes) = shift_of(&p);
            assert!(
                shift <= alone,
                "weights {dead}: shift {shift}, alone {alone}"
            );
            if dead < 1e-30 {
                assert_eq!(membranes, Membranes::I16, "weights {dead}");
            }
        }
    }
}

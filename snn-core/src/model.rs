//! A validated model: [`Model::from_bytes`] and the execution plan it builds.
//!
//! This module turns a decoded [`ModelDesc`] into a plan whose every shape, length
//! and range has been checked, and lays out the caller's state arena. It holds no
//! arithmetic of its own: the kernels are in [`crate::layer`] and [`crate::neuron`],
//! the time loop in [`crate::engine`].

use core::ops::Range;

use crate::error::{FormatError, InputProblem, LayerProblem};
use crate::format::{self, ConvDesc, LayerDesc, ModelDesc, NeuronDesc, Shortcut, MAX_LAYERS};
use crate::layer::{words_for, Conv, Shape};
use crate::neuron::{Leak, Neurons, MAX_THRESHOLD};

/// Most neurons in one population (and input pixels): `2^24`.
pub const MAX_NEURONS: usize = 1 << 24;
/// Most output classes.
pub const MAX_CLASSES: usize = 128;
/// Most spiking populations (a residual block has two).
pub const MAX_POPULATIONS: usize = 2 * MAX_LAYERS;
/// Most state memory a model may ask for: 64 MiB.
pub const MAX_STATE_BYTES: usize = 64 << 20;
/// Largest current one step may bring into a membrane (see [`crate::neuron::STATE_LIMIT`]).
pub const MAX_STEP_CURRENT: u64 = 1 << 30;

/// What kind of layer a plan entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LayerKind {
    /// Convolution + LIF.
    Conv,
    /// 2x2 average pool + IF.
    Pool,
    /// Fully connected + LIF.
    Dense,
    /// Residual basic block (two LIF populations).
    Residual,
    /// Non-spiking output integrator.
    Output,
}

/// Static facts about one layer, for reports and analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LayerInfo {
    /// Kind of layer.
    pub kind: LayerKind,
    /// Shape of the layer's input.
    pub input: Shape,
    /// Shape of the layer's (last population's) output.
    pub output: Shape,
    /// Multiply-accumulates the same layer costs in a non-spiking network, per step
    /// (the paper's `#MAC`, section 9).
    pub macs: u64,
    /// Spiking populations in this layer (0, 1 or 2).
    pub populations: u8,
    /// Neurons of those populations (a residual block counts both).
    pub neurons: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Pop<'a> {
    pub neurons: Neurons<'a>,
    pub mem: Range<usize>,
    pub bits: Range<usize>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum PlannedShortcut<'a> {
    Conv(Conv<'a>),
    Identity { stride: usize, gains: &'a [u8] },
}

#[derive(Debug, Clone)]
pub(crate) enum Plan<'a> {
    Conv {
        conv: Conv<'a>,
        pop: Pop<'a>,
    },
    Pool {
        pop: Pop<'a>,
    },
    Dense {
        weights: &'a [u8],
        pop: Pop<'a>,
    },
    Residual {
        conv1: Conv<'a>,
        pop1: Pop<'a>,
        conv2: Conv<'a>,
        shortcut: PlannedShortcut<'a>,
        pop2: Pop<'a>,
    },
    Output {
        weights: &'a [u8],
        leak: Leak,
        mem: Range<usize>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct PlannedLayer<'a> {
    pub info: LayerInfo,
    /// First arena word of this layer (all its regions follow).
    pub base: usize,
    pub plan: Plan<'a>,
}

/// Arena regions of the input encoder.
#[derive(Debug, Clone)]
pub(crate) struct InputPlan<'a> {
    pub shape: Shape,
    pub center: &'a [u8],
    pub gain: &'a [u8],
    pub thr: Range<usize>,
    pub sign: Range<usize>,
    pub pos: Range<usize>,
    pub neg: Range<usize>,
}

/// A validated model, borrowing its weights from the blob (zero-copy).
///
/// ```
/// # use snn_core::{Model, FormatError};
/// let err = Model::from_bytes(b"definitely not a model").unwrap_err();
/// assert_eq!(err, FormatError::BadMagic { found: *b"defi" });
/// ```
#[derive(Debug, Clone)]
pub struct Model<'a> {
    pub(crate) input: InputPlan<'a>,
    pub(crate) layers: heapless::Vec<PlannedLayer<'a>, MAX_LAYERS>,
    pub(crate) state_words: usize,
    pub(crate) classes: usize,
    pub(crate) populations: usize,
    pub(crate) output_scale: f32,
    pub(crate) output_mem: Range<usize>,
}

/// Hands out consecutive arena regions, counting words with overflow checks.
struct Arena {
    next: usize,
}

impl Arena {
    fn take(&mut self, words: usize) -> Result<Range<usize>, FormatError> {
        let end = self
            .next
            .checked_add(words)
            .filter(|&e| e <= MAX_STATE_BYTES / 4);
        let end = end.ok_or(FormatError::StateTooLarge {
            bytes: u32::try_from(self.next.saturating_add(words).saturating_mul(4))
                .unwrap_or(u32::MAX),
        })?;
        let r = self.next..end;
        self.next = end;
        Ok(r)
    }

    fn population<'a>(&mut self, neurons: Neurons<'a>, n: usize) -> Result<Pop<'a>, FormatError> {
        Ok(Pop {
            neurons,
            mem: self.take(n)?,
            bits: self.take(words_for(n))?,
        })
    }
}

fn le_i32s(bytes: &[u8]) -> impl Iterator<Item = i32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn expect_len(
    found: usize,
    expected: usize,
    err: fn(u32, u32) -> LayerProblem,
) -> Result<(), LayerProblem> {
    if found == expected {
        Ok(())
    } else {
        let c = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        Err(err(c(expected), c(found)))
    }
}

fn weight_len(expected: u32, found: u32) -> LayerProblem {
    LayerProblem::WeightLength { expected, found }
}

fn table_len(expected: u32, found: u32) -> LayerProblem {
    LayerProblem::TableLength { expected, found }
}

fn check_neurons<'a>(d: &NeuronDesc<'a>, channels: usize) -> Result<Neurons<'a>, LayerProblem> {
    expect_len(d.thresholds.len(), channels * 4, table_len)?;
    for (c, th) in le_i32s(d.thresholds).enumerate() {
        if !(1..=MAX_THRESHOLD).contains(&th) {
            return Err(LayerProblem::ThresholdRange {
                channel: c as u16,
                found: th,
            });
        }
    }
    let leak = Leak::from_bits(d.leak).ok_or(LayerProblem::LeakRange { found: d.leak })?;
    Ok(Neurons {
        thresholds: d.thresholds,
        leak,
        reset: d.reset,
    })
}

fn check_size(shape: Shape) -> Result<usize, LayerProblem> {
    let n = shape.len();
    if n == 0 {
        Err(LayerProblem::ZeroDimension)
    } else if n > MAX_NEURONS {
        Err(LayerProblem::TooLarge)
    } else {
        Ok(n)
    }
}

fn check_conv<'a>(input: Shape, d: &ConvDesc<'a>) -> Result<Conv<'a>, LayerProblem> {
    if d.out_channels == 0 || d.kernel == 0 {
        return Err(LayerProblem::ZeroDimension);
    }
    if d.stride == 0 {
        return Err(LayerProblem::ZeroStride);
    }
    let (k, s, p) = (
        usize::from(d.kernel),
        usize::from(d.stride),
        usize::from(d.padding),
    );
    if p >= k {
        return Err(LayerProblem::Geometry);
    }
    let dim = |n: u16| {
        Conv::out_len(usize::from(n), k, s, p)
            .and_then(|v| u16::try_from(v).ok())
            .ok_or(LayerProblem::Geometry)
    };
    let output = Shape {
        channels: d.out_channels,
        height: dim(input.height)?,
        width: dim(input.width)?,
    };
    check_size(output)?;
    let fan_in = usize::from(input.channels) * k * k;
    expect_len(
        d.weights.len(),
        fan_in * usize::from(d.out_channels),
        weight_len,
    )?;
    Ok(Conv {
        input,
        output,
        kernel: k,
        stride: s,
        padding: p,
        weights: d.weights,
    })
}

/// Largest current one spike per synapse can bring: `fan_in * 128`.
fn fan_in_current(fan_in: usize) -> u64 {
    (fan_in as u64).saturating_mul(128)
}

fn check_current(current: u64) -> Result<(), LayerProblem> {
    if current <= MAX_STEP_CURRENT {
        Ok(())
    } else {
        Err(LayerProblem::FanInTooLarge)
    }
}

impl<'a> Model<'a> {
    /// Checks and loads a model blob without copying it.
    ///
    /// Validates the magic, version, flags, length and CRC-32, decodes the postcard
    /// body, then checks every layer: geometry, weight and table lengths, layer
    /// chaining, threshold / leak / gain ranges, the per-step current bound that makes
    /// saturation exact, and the total state size.
    ///
    /// # Errors
    /// A [`FormatError`] naming the first problem found. Never panics, whatever the
    /// bytes.
    pub fn from_bytes(blob: &'a [u8]) -> Result<Self, FormatError> {
        let (_, payload) = format::split_payload(blob)?;
        let desc = format::decode_body(payload)?;
        Self::from_desc(&desc)
    }

    /// Validates an already decoded description (borrowing its arrays).
    ///
    /// # Errors
    /// As [`from_bytes`](Self::from_bytes), minus the header checks.
    pub fn from_desc(desc: &ModelDesc<'a>) -> Result<Self, FormatError> {
        let mut arena = Arena { next: 0 };
        let input = Self::check_input(desc, &mut arena)?;
        if desc.layers.is_empty() {
            return Err(FormatError::NoLayers);
        }
        let mut layers = heapless::Vec::new();
        let mut shape = input.shape;
        let mut populations = 0;
        let mut output = None;
        for (i, layer) in desc.layers.iter().enumerate() {
            let is_last = i + 1 == desc.layers.len();
            if matches!(layer, LayerDesc::Output { .. }) != is_last {
                return Err(FormatError::OutputPlacement { layer: i as u8 });
            }
            let planned = Self::check_layer(shape, layer, &mut arena).map_err(|e| match e {
                Checked::Layer(problem) => FormatError::Layer {
                    layer: i as u8,
                    problem,
                },
                Checked::Format(f) => f,
            })?;
            shape = planned.info.output;
            populations += usize::from(planned.info.populations);
            if let Plan::Output { ref mem, .. } = planned.plan {
                output = Some(mem.clone());
            }
            // Cannot fail: `desc.layers` has the same capacity.
            let _ = layers.push(planned);
        }
        let Some(LayerDesc::Output { scale, .. }) = desc.layers.last() else {
            return Err(FormatError::NoLayers);
        };
        Ok(Self {
            input,
            layers,
            state_words: arena.next,
            classes: usize::from(shape.channels),
            populations,
            output_scale: *scale,
            output_mem: output.unwrap_or(0..0),
        })
    }

    fn check_input(desc: &ModelDesc<'a>, arena: &mut Arena) -> Result<InputPlan<'a>, FormatError> {
        let d = &desc.input;
        let shape = Shape {
            channels: d.channels,
            height: d.height,
            width: d.width,
        };
        let bad = |p| Err(FormatError::Input(p));
        if shape.is_empty() {
            return bad(InputProblem::ZeroDimension);
        }
        let n = shape.len();
        if n > MAX_NEURONS {
            return bad(InputProblem::TooLarge);
        }
        let table = 4 * u32::from(d.channels);
        for t in [d.center, d.gain] {
            if t.len() != table as usize {
                return bad(InputProblem::EncoderLength {
                    expected: table,
                    found: u32::try_from(t.len()).unwrap_or(u32::MAX),
                });
            }
        }
        for (c, center) in le_i32s(d.center).enumerate() {
            if !(0..=65280).contains(&center) {
                return bad(InputProblem::CenterRange {
                    channel: c as u16,
                    found: center,
                });
            }
        }
        let w = words_for(n);
        Ok(InputPlan {
            shape,
            center: d.center,
            gain: d.gain,
            thr: arena.take(n)?,
            sign: arena.take(w)?,
            pos: arena.take(w)?,
            neg: arena.take(w)?,
        })
    }

    fn check_layer(
        input: Shape,
        layer: &LayerDesc<'a>,
        arena: &mut Arena,
    ) -> Result<PlannedLayer<'a>, Checked> {
        let base = arena.next;
        let n_in = input.len();
        let (plan, output, macs, pops) = match layer {
            LayerDesc::Conv { conv, neuron } => {
                let conv = check_conv(input, conv)?;
                check_current(fan_in_current(
                    usize::from(input.channels) * conv.kernel * conv.kernel,
                ))?;
                let neurons = check_neurons(neuron, usize::from(conv.output.channels))?;
                let pop = arena.population(neurons, conv.output.len())?;
                let macs = conv.weights.len() as u64 * conv_positions(&conv);
                (Plan::Conv { conv, pop }, conv.output, macs, 1)
            }
            LayerDesc::Pool { neuron } => {
                let output = Shape {
                    channels: input.channels,
                    height: input.height / 2,
                    width: input.width / 2,
                };
                if output.is_empty() {
                    return Err(LayerProblem::Geometry.into());
                }
                let neurons = check_neurons(neuron, usize::from(input.channels))?;
                let pop = arena.population(neurons, output.len())?;
                (Plan::Pool { pop }, output, 4 * output.len() as u64, 1)
            }
            LayerDesc::Dense {
                outputs,
                weights,
                neuron,
            } => {
                let output = Shape {
                    channels: *outputs,
                    height: 1,
                    width: 1,
                };
                let n = check_size(output)?;
                expect_len(weights.len(), n_in * n, weight_len)?;
                check_current(fan_in_current(n_in))?;
                let neurons = check_neurons(neuron, n)?;
                let pop = arena.population(neurons, n)?;
                (
                    Plan::Dense { weights, pop },
                    output,
                    weights.len() as u64,
                    1,
                )
            }
            LayerDesc::Residual {
                conv1,
                neuron1,
                conv2,
                shortcut,
                neuron2,
            } => {
                let conv1 = check_conv(input, conv1)?;
                let mid = conv1.output;
                check_current(fan_in_current(
                    usize::from(input.channels) * conv1.kernel * conv1.kernel,
                ))?;
                let n1 = check_neurons(neuron1, usize::from(mid.channels))?;
                let conv2 = check_conv(mid, conv2)?;
                let output = conv2.output;
                let n2 = check_neurons(neuron2, usize::from(output.channels))?;
                let stride = conv1.stride * conv2.stride;
                let dims = |n: u16| Conv::out_len(usize::from(n), 1, stride, 0);
                if dims(input.height) != Some(usize::from(output.height))
                    || dims(input.width) != Some(usize::from(output.width))
                {
                    return Err(LayerProblem::ShortcutShape.into());
                }
                let main = fan_in_current(usize::from(mid.channels) * conv2.kernel * conv2.kernel);
                let (shortcut, side, side_macs) = match shortcut {
                    Shortcut::Conv { weights } => {
                        let sc = check_conv(
                            input,
                            &ConvDesc {
                                out_channels: output.channels,
                                kernel: 1,
                                stride: u8::try_from(stride).map_err(|_| LayerProblem::Geometry)?,
                                padding: 0,
                                weights,
                            },
                        )?;
                        let macs = sc.weights.len() as u64 * conv_positions(&sc);
                        (
                            PlannedShortcut::Conv(sc),
                            fan_in_current(usize::from(input.channels)),
                            macs,
                        )
                    }
                    Shortcut::Identity { gains } => {
                        if input.channels != output.channels {
                            return Err(LayerProblem::ChannelMismatch {
                                input: input.channels,
                                output: output.channels,
                            }
                            .into());
                        }
                        expect_len(gains.len(), 4 * usize::from(output.channels), table_len)?;
                        let mut max = 0u64;
                        for (c, g) in le_i32s(gains).enumerate() {
                            if g.unsigned_abs() > 1 << 29 {
                                return Err(LayerProblem::GainRange {
                                    channel: c as u16,
                                    found: g,
                                }
                                .into());
                            }
                            max = max.max(u64::from(g.unsigned_abs()));
                        }
                        (PlannedShortcut::Identity { stride, gains }, max, 0)
                    }
                };
                check_current(main + side)?;
                let pop1 = arena.population(n1, mid.len())?;
                let pop2 = arena.population(n2, output.len())?;
                let macs = conv1.weights.len() as u64 * conv_positions(&conv1)
                    + conv2.weights.len() as u64 * conv_positions(&conv2)
                    + side_macs;
                let plan = Plan::Residual {
                    conv1,
                    pop1,
                    conv2,
                    shortcut,
                    pop2,
                };
                (plan, output, macs, 2)
            }
            LayerDesc::Output {
                classes,
                weights,
                leak,
                scale,
            } => {
                let n = usize::from(*classes);
                if n == 0 {
                    return Err(LayerProblem::ZeroDimension.into());
                }
                if n > MAX_CLASSES {
                    return Err(LayerProblem::TooManyClasses { found: n as u32 }.into());
                }
                expect_len(weights.len(), n_in * n, weight_len)?;
                check_current(fan_in_current(n_in))?;
                let leak =
                    Leak::from_bits(*leak).ok_or(LayerProblem::LeakRange { found: *leak })?;
                if !(scale.is_finite() && *scale > 0.0) {
                    return Err(LayerProblem::ScaleRange.into());
                }
                let output = Shape {
                    channels: *classes,
                    height: 1,
                    width: 1,
                };
                let mem = arena.take(n)?;
                (
                    Plan::Output { weights, leak, mem },
                    output,
                    weights.len() as u64,
                    0,
                )
            }
        };
        let neurons = match &plan {
            Plan::Conv { pop, .. } | Plan::Pool { pop } | Plan::Dense { pop, .. } => pop.mem.len(),
            Plan::Residual { pop1, pop2, .. } => pop1.mem.len() + pop2.mem.len(),
            Plan::Output { .. } => 0,
        };
        Ok(PlannedLayer {
            info: LayerInfo {
                neurons,
                kind: match plan {
                    Plan::Conv { .. } => LayerKind::Conv,
                    Plan::Pool { .. } => LayerKind::Pool,
                    Plan::Dense { .. } => LayerKind::Dense,
                    Plan::Residual { .. } => LayerKind::Residual,
                    Plan::Output { .. } => LayerKind::Output,
                },
                input,
                output,
                macs,
                populations: pops,
            },
            base,
            plan,
        })
    }

    /// 32-bit words of state memory [`classify`](Self::classify) needs.
    #[inline]
    pub fn state_words(&self) -> usize {
        self.state_words
    }

    /// Bytes of state memory (`4 * state_words()`).
    #[inline]
    pub fn state_bytes(&self) -> usize {
        self.state_words * 4
    }

    /// Input shape; images are `u8` pixels in `HWC` order.
    #[inline]
    pub fn input_shape(&self) -> Shape {
        self.input.shape
    }

    /// Number of input pixels (`channels * height * width`).
    #[inline]
    pub fn input_len(&self) -> usize {
        self.input.shape.len()
    }

    /// Number of output classes.
    #[inline]
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Number of spiking populations (the length of the spike counts).
    #[inline]
    pub fn populations(&self) -> usize {
        self.populations
    }

    /// Float value of one output score unit: `y = score * output_scale / T`.
    #[inline]
    pub fn output_scale(&self) -> f32 {
        self.output_scale
    }

    /// Static facts about each layer, in order.
    pub fn layers(&self) -> impl ExactSizeIterator<Item = LayerInfo> + '_ {
        self.layers.iter().map(|l| l.info)
    }
}

/// Output positions of a convolution (`out_h * out_w`).
fn conv_positions(c: &Conv<'_>) -> u64 {
    u64::from(c.output.height) * u64::from(c.output.width)
}

/// Either a per-layer problem (wrapped with the layer index) or a model-wide one.
enum Checked {
    Layer(LayerProblem),
    Format(FormatError),
}

impl From<LayerProblem> for Checked {
    fn from(p: LayerProblem) -> Self {
        Self::Layer(p)
    }
}

impl From<FormatError> for Checked {
    fn from(e: FormatError) -> Self {
        Self::Format(e)
    }
}

//! A validated model: [`Model::from_bytes`] and the execution plan it builds.
//!
//! This module turns a decoded [`ModelDesc`] into a plan whose every shape, length
//! and range has been checked, and lays out the caller's state arena. It holds no
//! arithmetic of its own: the kernels are in [`crate::layer`] and [`crate::neuron`],
//! the time loop in [`crate::engine`].

use core::ops::Range;

use crate::encode::PIXEL_UNIT;
use crate::error::{FormatError, InputProblem, LayerProblem};
use crate::format::{
    self, ConvDesc, Deployment, Drive, Header, InputDesc, LayerDesc, Membranes, ModelDesc,
    NeuronDesc, Shortcut, MAX_LAYERS,
};
use crate::layer::{words_for, Conv, Shape, MAX_SHORTCUT_GAIN};
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

/// A spiking population's parameters and arena regions: its packed thresholds
/// (16-bit membranes only, else empty), its membranes (`n` values of the model's
/// width, two per word for 16 bits), its spike bitset and its synaptic currents (`n`
/// `i32`, current-based populations only: [`Pop::syn`]). The four are contiguous.
#[derive(Debug, Clone)]
pub(crate) struct Pop<'a> {
    pub neurons: Neurons<'a>,
    pub n: usize,
    pub pairs: Range<usize>,
    pub mem: Range<usize>,
    pub bits: Range<usize>,
}

impl Pop<'_> {
    /// The synaptic currents' region: `n` words right after the bitset for a
    /// current-based population, else empty.
    pub fn syn(&self) -> Range<usize> {
        let n = if self.neurons.synapse() == Leak::ZERO {
            0
        } else {
            self.n
        };
        self.bits.end..self.bits.end + n
    }
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
        /// Decay of the synaptic current (zero: none).
        synapse: Leak,
        mem: Range<usize>,
        /// Per-class current bounds for early exit (two words per class).
        bounds: Range<usize>,
        /// Synaptic currents, one `i32` per class (empty without a synapse).
        syn: Range<usize>,
    },
}

impl<'a> Plan<'a> {
    /// The layer's spiking populations, in order (none, one, or two for a residual
    /// block).
    pub(crate) fn populations(&self) -> [Option<&Pop<'a>>; 2] {
        match self {
            Plan::Conv { pop, .. } | Plan::Pool { pop } | Plan::Dense { pop, .. } => {
                [Some(pop), None]
            }
            Plan::Residual { pop1, pop2, .. } => [Some(pop1), Some(pop2)],
            Plan::Output { .. } => [None, None],
        }
    }
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
    /// The image, one byte per pixel (written when a session starts).
    pub pixels: Range<usize>,
    /// `[center, gain]` per channel, decoded from the blob when a session starts.
    pub tables: Range<usize>,
    pub pos: Range<usize>,
    pub neg: Range<usize>,
    /// Rate-coded spikes or an analog current.
    pub drive: Drive,
    /// The analog current of each first-layer neuron, at the membrane width (empty for
    /// a rate-coded input), written when a session starts.
    pub current: Range<usize>,
}

/// A validated model, borrowing its weights from the blob (zero-copy).
///
/// ```
/// # use snn_core::{Model, FormatError};
/// let err = Model::from_bytes(b"definitely not a model").unwrap_err();
/// assert_eq!(err, FormatError::BadMagic { found: *b"defi" });
/// ```
///
/// # Capacity
/// The descriptor has room for `L` layers (default [`MAX_LAYERS`]), about 210 bytes
/// each on a 32-bit core, whatever the model holds. A device that runs one known model
/// sizes it to that model (the firmware's build script does): the 6-layer golden
/// model needs `Model<'_, 6>`, about a third of the default's RAM. A model with more layers
/// than `L` is refused with [`FormatError::LayerCapacity`].
///
/// ```
/// # use snn_core::{Model, FormatError};
/// # let blob = include_bytes!("../tests/golden/model.snn");
/// let model = Model::<'_, 6>::from_bytes_sized(blob)?;
/// assert!(core::mem::size_of_val(&model) < core::mem::size_of::<Model<'_>>() / 3);
/// let err = Model::<'_, 5>::from_bytes_sized(blob).unwrap_err();
/// assert_eq!(err, FormatError::LayerCapacity { layers: 6, capacity: 5 });
/// # Ok::<(), FormatError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Model<'a, const L: usize = MAX_LAYERS> {
    /// Everything but the layer plans (what a [`crate::Session`] reads besides them).
    pub(crate) layout: Layout<'a>,
    /// The layer plans, first to last.
    pub(crate) layers: heapless::Vec<PlannedLayer<'a>, L>,
}

/// A validated model's facts and arena regions other than its layers' plans: the part
/// of a [`Model`] that does not depend on its capacity.
#[derive(Debug, Clone)]
pub(crate) struct Layout<'a> {
    pub(crate) header: Header,
    pub(crate) input: InputPlan<'a>,
    pub(crate) state_words: usize,
    pub(crate) membranes: Membranes,
    pub(crate) classes: usize,
    pub(crate) populations: usize,
    pub(crate) output_scale: f32,
    pub(crate) output_mem: Range<usize>,
    /// The output integrator's leak.
    pub(crate) output_leak: Leak,
    /// The output integrator's synaptic-current decay (zero: none).
    pub(crate) output_synapse: Leak,
    /// Arena words holding, per class, the least and the most current one step can
    /// bring into its score (for [`crate::EarlyExit::Exact`]; written when a session
    /// starts, by [`output_currents`]).
    pub(crate) output_bounds: Range<usize>,
    /// The output layer's weights, and whether it reads the signed input encoder.
    pub(crate) output_weights: (&'a [u8], bool),
    /// Arena words counting, over a session, the spikes of each population, then the
    /// synaptic events of each layer (two words each, low word first).
    pub(crate) counts: Range<usize>,
    /// The stored deployment setting.
    pub(crate) deployment: Option<Deployment>,
}

/// Writes, per class, the least and the most current one step can bring into its
/// score into `out` (`[lo, hi]` per class): the sums of its negative and of its
/// positive weights (`-sum |w|` and `sum |w|` when the output layer reads the signed
/// input encoder). Weight rows are stored interleaved.
pub(crate) fn output_currents(weights: &[u8], signed: bool, out: &mut [[i32; 2]]) {
    let classes = out.len();
    out.fill([0; 2]);
    if classes == 0 {
        return;
    }
    for row in weights.chunks_exact(classes) {
        for (p, &w) in row.iter().enumerate() {
            let w = i32::from(w as i8);
            let k = format::stored_index(p, classes);
            if let Some([lo, hi]) = out.get_mut(k) {
                // At most 2^30 in magnitude in a valid model (the fan-in bound).
                if signed {
                    *lo = lo.saturating_sub(w.abs());
                    *hi = hi.saturating_add(w.abs());
                } else if w < 0 {
                    *lo = lo.saturating_add(w);
                } else {
                    *hi = hi.saturating_add(w);
                }
            }
        }
    }
}

/// Hands out consecutive arena regions, counting words with overflow checks.
struct Arena {
    next: usize,
    membranes: Membranes,
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
        let (pairs, mem) = match self.membranes {
            Membranes::I16 => (neurons.pair_words(), n.div_ceil(2)),
            Membranes::I32 => (0, n),
        };
        let pop = Pop {
            neurons,
            n,
            pairs: self.take(pairs)?,
            mem: self.take(mem)?,
            bits: self.take(words_for(n))?,
        };
        // The currents follow the bitset (`Pop::syn`).
        self.take(pop.syn().len())?;
        Ok(pop)
    }
}

/// What [`Model::validate_into`] takes from the body besides the layers.
#[derive(Clone, Copy)]
struct Body<'d, 'a> {
    input: &'d InputDesc<'a>,
    membranes: Membranes,
    deployment: Option<Deployment>,
}

/// Largest analog input shift.
pub const MAX_ANALOG_SHIFT: u8 = 24;
/// Most `i8 x u8` products one analog-input neuron sums (`65793`): `128 * 255 * n`
/// fits an `i32` (weights down to `-128`, values `p - center / 256` up to `255` in size).
pub const MAX_ANALOG_FAN_IN: u64 = (i32::MAX as u64) / (128 * 255);

fn le_i32s(bytes: &[u8]) -> impl Iterator<Item = i32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// `usize` to `u32` for error reports, saturating.
fn sat_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn expect_len(
    found: usize,
    expected: usize,
    err: fn(u32, u32) -> LayerProblem,
) -> Result<(), LayerProblem> {
    if found == expected {
        Ok(())
    } else {
        Err(err(sat_u32(expected), sat_u32(found)))
    }
}

fn weight_len(expected: u32, found: u32) -> LayerProblem {
    LayerProblem::WeightLength { expected, found }
}

fn table_len(expected: u32, found: u32) -> LayerProblem {
    LayerProblem::TableLength { expected, found }
}

/// Bytes of a weight array with the given dimensions, computed without overflow on
/// any target: the product in `u64` (at most `2^48` here), rejected when a blob (whose
/// length is a `u32`) could not hold it.
fn weight_count(dims: &[usize]) -> Result<usize, LayerProblem> {
    let bytes = dims.iter().try_fold(1u64, |acc, &d| {
        u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
    });
    bytes
        .filter(|&b| b <= u64::from(u32::MAX))
        .and_then(|b| usize::try_from(b).ok())
        .ok_or(LayerProblem::WeightsTooLarge {
            bytes: bytes.unwrap_or(u64::MAX),
        })
}

/// Checks that a weight array holds exactly `dims` multiplied together bytes.
fn check_weights(weights: &[u8], dims: &[usize]) -> Result<(), LayerProblem> {
    expect_len(weights.len(), weight_count(dims)?, weight_len)
}

/// Checks a per-channel `i32` table: 4 bytes per channel.
fn check_table(table: &[u8], channels: u16) -> Result<(), LayerProblem> {
    expect_len(table.len(), 4 * usize::from(channels), table_len)
}

fn check_neurons<'a>(
    d: &NeuronDesc<'a>,
    channels: u16,
    membranes: Membranes,
) -> Result<Neurons<'a>, LayerProblem> {
    check_table(d.thresholds, channels)?;
    for (c, th) in le_i32s(d.thresholds).enumerate() {
        if !(1..=MAX_THRESHOLD).contains(&th) {
            return Err(LayerProblem::ThresholdRange {
                channel: c as u16,
                found: th,
            });
        }
        if membranes == Membranes::I16 && th > i32::from(i16::MAX) {
            return Err(LayerProblem::ThresholdAboveI16 {
                channel: c as u16,
                found: th,
            });
        }
    }
    let leak = Leak::from_bits(d.leak).ok_or(LayerProblem::LeakRange { found: d.leak })?;
    let synapse =
        Leak::from_bits(d.synapse).ok_or(LayerProblem::SynapseRange { found: d.synapse })?;
    Ok(Neurons {
        thresholds: d.thresholds,
        leak,
        reset: d.reset,
        synapse,
    })
}

/// Neurons of a population, checked against [`MAX_NEURONS`] without overflow (on a
/// 32-bit target `channels * height * width` can exceed `usize`).
fn check_size(shape: Shape) -> Result<usize, LayerProblem> {
    match shape.checked_len() {
        Some(0) => Err(LayerProblem::ZeroDimension),
        Some(n) if n <= MAX_NEURONS => Ok(n),
        _ => Err(LayerProblem::TooLarge),
    }
}

/// Fan-in of a convolution: `in_channels * kernel^2` (at most `65535 * 255^2`, which
/// fits a `u32`; computed in `u64` all the same).
fn conv_fan_in(input: Shape, kernel: usize) -> u64 {
    let k = kernel as u64;
    u64::from(input.channels).saturating_mul(k.saturating_mul(k))
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
    check_weights(
        d.weights,
        &[
            usize::from(input.channels),
            k,
            k,
            usize::from(d.out_channels),
        ],
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
fn fan_in_current(fan_in: u64) -> u64 {
    fan_in.saturating_mul(128)
}

fn check_current(current: u64) -> Result<(), LayerProblem> {
    if current <= MAX_STEP_CURRENT {
        Ok(())
    } else {
        Err(LayerProblem::FanInTooLarge)
    }
}

/// Multiply-accumulates of a convolution per step (`weights * out_h * out_w`).
fn conv_macs(c: &Conv<'_>) -> u64 {
    (c.weights.len() as u64).saturating_mul(conv_positions(c))
}

/// What checking one layer yields, before it is placed in the model.
struct Checked<'a> {
    plan: Plan<'a>,
    output: Shape,
    macs: u64,
}

fn check_identity_gains(gains: &[u8], channels: u16) -> Result<u64, LayerProblem> {
    check_table(gains, channels)?;
    let mut max = 0u64;
    for (c, g) in le_i32s(gains).enumerate() {
        if g.unsigned_abs() > MAX_SHORTCUT_GAIN.unsigned_abs() {
            return Err(LayerProblem::GainRange {
                channel: c as u16,
                found: g,
            });
        }
        max = max.max(u64::from(g.unsigned_abs()));
    }
    Ok(max)
}

impl<'a> Model<'a> {
    /// Checks and loads a model blob without copying it.
    ///
    /// Validates the magic, version, flags, length and CRC-32, decodes the postcard
    /// body, then checks every layer: geometry, weight and table lengths, layer
    /// chaining, threshold / leak / gain ranges, the per-step current bound that makes
    /// saturation exact, and the total state size. Every size computed from the blob
    /// is checked for overflow, so the same blob gives the same answer on 32-bit and
    /// 64-bit targets.
    ///
    /// # Errors
    /// A [`FormatError`] naming the first problem found. Never panics, whatever the
    /// bytes.
    pub fn from_bytes(blob: &'a [u8]) -> Result<Self, FormatError> {
        Self::from_bytes_sized(blob)
    }

    /// Checks and loads a model blob into `slot`, in place, and returns it.
    ///
    /// The same checks and errors as [`from_bytes`](Self::from_bytes), but the model is
    /// built where `slot` lives (typically a `static` on a device) and the layers are
    /// decoded one at a time ([`format::decode_parts`]): loading costs one layer's
    /// worth of stack, not copies of a descriptor with room for
    /// [`MAX_LAYERS`] layers. On an error `slot` is left `None`.
    ///
    /// ```
    /// # let blob = include_bytes!("../tests/golden/model.snn");
    /// use snn_core::Model;
    /// let mut slot = None;
    /// let model = Model::load(blob, &mut slot)?;
    /// assert_eq!(model.classes(), 5);
    /// assert!(Model::load(&blob[..20], &mut slot).is_err());
    /// assert!(slot.is_none());
    /// # Ok::<(), snn_core::FormatError>(())
    /// ```
    ///
    /// # Errors
    /// A [`FormatError`] naming the first problem found. Never panics, whatever the
    /// bytes.
    pub fn load<'s>(blob: &'a [u8], slot: &'s mut Option<Self>) -> Result<&'s Self, FormatError> {
        Self::load_sized(blob, slot)
    }

    /// Validates an already decoded description (borrowing its arrays).
    ///
    /// The model's [`header`](Self::header) is the one [`write_model`](crate::write_model)
    /// would write for `desc` ([`Header::for_desc`]).
    ///
    /// # Errors
    /// As [`from_bytes`](Self::from_bytes), minus the header checks.
    pub fn from_desc(desc: &ModelDesc<'a>) -> Result<Self, FormatError> {
        let header = Header::for_desc(desc)?;
        let mut slot = None;
        let layers = desc.layers.iter().cloned();
        let body = Body {
            input: &desc.input,
            membranes: desc.membranes,
            deployment: desc.deployment,
        };
        Self::validate_into(&mut slot, header, body, layers)?;
        slot.ok_or(FormatError::NoLayers)
    }
}

impl<'a, const L: usize> Model<'a, L> {
    /// [`Model::from_bytes`] into a descriptor with room for `L` layers (see
    /// [Capacity](Model#capacity)).
    ///
    /// # Errors
    /// As [`Model::from_bytes`], and [`FormatError::LayerCapacity`] for a model with
    /// more than `L` layers.
    pub fn from_bytes_sized(blob: &'a [u8]) -> Result<Self, FormatError> {
        let mut slot = None;
        Self::load_sized(blob, &mut slot)?;
        slot.ok_or(FormatError::NoLayers)
    }

    /// [`Model::load`] into a descriptor with room for `L` layers: on a device,
    /// `static mut SLOT: Option<Model<'static, L>> = None;` sized to the model.
    ///
    /// ```
    /// # let blob = include_bytes!("../tests/golden/model.snn");
    /// use snn_core::Model;
    /// let mut slot: Option<Model<'_, 6>> = None;
    /// let model = Model::load_sized(blob, &mut slot)?;
    /// assert_eq!(model.classes(), 5);
    /// # Ok::<(), snn_core::FormatError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Model::from_bytes_sized`].
    pub fn load_sized<'s>(
        blob: &'a [u8],
        slot: &'s mut Option<Self>,
    ) -> Result<&'s Self, FormatError> {
        *slot = None;
        let (header, payload) = format::split_payload(blob)?;
        let parts = format::decode_parts(payload)?;
        let body = Body {
            input: &parts.input,
            membranes: parts.membranes,
            deployment: parts.deployment,
        };
        Self::validate_into(slot, header, body, parts.layers)?;
        slot.as_ref().ok_or(FormatError::NoLayers)
    }

    /// Validates the input and then each layer as `layers` yields it, building the model
    /// in `slot`; leaves `slot` `None` on an error.
    fn validate_into(
        slot: &mut Option<Self>,
        header: Header,
        body: Body<'_, 'a>,
        layers: impl ExactSizeIterator<Item = LayerDesc<'a>>,
    ) -> Result<(), FormatError> {
        *slot = None;
        let membranes = body.membranes;
        let mut arena = Arena { next: 0, membranes };
        let input = Self::check_input(body.input, &mut arena)?;
        if body.deployment.is_some_and(|d| d.steps == 0) {
            return Err(FormatError::Input(InputProblem::DeploymentSteps));
        }
        if layers.len() == 0 {
            return Err(FormatError::NoLayers);
        }
        if layers.len() > L {
            return Err(FormatError::LayerCapacity {
                layers: layers.len(),
                capacity: L,
            });
        }
        let model = slot.insert(Self {
            layers: heapless::Vec::new(),
            layout: Layout {
                header,
                input,
                state_words: 0,
                membranes,
                classes: 0,
                populations: 0,
                output_scale: 0.0,
                output_mem: 0..0,
                output_leak: Leak::ONE,
                output_synapse: Leak::ZERO,
                output_bounds: 0..0,
                output_weights: (&[], false),
                counts: 0..0,
                deployment: body.deployment,
            },
        });
        match model.plan_layers(layers, &mut arena) {
            Ok(()) => {
                model.layout.state_words = arena.next;
                Ok(())
            }
            Err(e) => {
                *slot = None;
                Err(e)
            }
        }
    }

    /// Checks each layer and pushes its plan onto `self.layers` (empty on entry), then
    /// records the output layer's facts and takes the arena's count words.
    fn plan_layers(
        &mut self,
        layers: impl ExactSizeIterator<Item = LayerDesc<'a>>,
        arena: &mut Arena,
    ) -> Result<(), FormatError> {
        let count = layers.len();
        let mut shape = self.layout.input.shape;
        let mut output = None;
        for (i, layer) in layers.enumerate() {
            let is_last = i + 1 == count;
            if matches!(layer, LayerDesc::Output { .. }) != is_last {
                return Err(FormatError::OutputPlacement { layer: i as u8 });
            }
            let planned = Self::check_layer(shape, &layer, arena).map_err(|e| match e {
                Rejected::Layer(problem) => FormatError::Layer {
                    layer: i as u8,
                    problem,
                },
                Rejected::Format(f) => f,
            })?;
            if i == 0 {
                self.check_analog(&planned, arena)?;
            }
            shape = planned.info.output;
            self.layout.populations += usize::from(planned.info.populations);
            if let (
                Plan::Output {
                    ref mem,
                    weights,
                    leak,
                    synapse,
                    ref bounds,
                    ..
                },
                LayerDesc::Output { scale, .. },
            ) = (&planned.plan, &layer)
            {
                // The first layer reads the signed input encoder.
                output = Some((
                    mem.clone(),
                    [*leak, *synapse],
                    bounds.clone(),
                    (*weights, i == 0),
                    *scale,
                ));
            }
            // At most `L` layers reach here (checked in `validate_into`), the capacity
            // of `self.layers`.
            self.layers.push(planned).map_err(|_| FormatError::Body)?;
        }
        let Some((mem, [leak, synapse], bounds, weights, scale)) = output else {
            return Err(FormatError::NoLayers);
        };
        self.layout.classes = usize::from(shape.channels);
        self.layout.output_scale = scale;
        self.layout.output_mem = mem;
        self.layout.output_leak = leak;
        self.layout.output_synapse = synapse;
        self.layout.output_bounds = bounds;
        self.layout.output_weights = weights;
        self.layout.counts = arena.take(self.layout.populations + 2 * self.layers.len())?;
        Ok(())
    }

    /// For an analog input: the first layer must be a convolution or a dense layer
    /// whose fan-in keeps its `i8 x u8` sums in an `i32`; takes its current region.
    fn check_analog(
        &mut self,
        first: &PlannedLayer<'a>,
        arena: &mut Arena,
    ) -> Result<(), FormatError> {
        if self.layout.input.drive == Drive::Rate {
            return Ok(());
        }
        let bad = |p| Err(FormatError::Input(p));
        let (fan_in, pop) = match &first.plan {
            Plan::Conv { conv, pop } => (conv_fan_in(conv.input, conv.kernel), pop),
            Plan::Dense { pop, .. } => (self.layout.input.shape.len() as u64, pop),
            _ => return bad(InputProblem::AnalogFirstLayer),
        };
        if pop.neurons.synapse != Leak::ZERO {
            return bad(InputProblem::AnalogSynapse);
        }
        if fan_in > MAX_ANALOG_FAN_IN {
            return bad(InputProblem::AnalogFanIn { fan_in });
        }
        let words = match self.layout.membranes {
            Membranes::I16 => first.info.neurons.div_ceil(2),
            Membranes::I32 => first.info.neurons,
        };
        self.layout.input.current = arena.take(words)?;
        Ok(())
    }

    fn check_input(d: &InputDesc<'a>, arena: &mut Arena) -> Result<InputPlan<'a>, FormatError> {
        let shape = Shape {
            channels: d.channels,
            height: d.height,
            width: d.width,
        };
        let bad = |p| Err(FormatError::Input(p));
        let n = match shape.checked_len() {
            Some(0) => return bad(InputProblem::ZeroDimension),
            Some(n) if n <= MAX_NEURONS => n,
            _ => return bad(InputProblem::TooLarge),
        };
        let table = 4 * u32::from(d.channels);
        for t in [d.center, d.gain] {
            if t.len() != table as usize {
                return bad(InputProblem::EncoderLength {
                    expected: table,
                    found: sat_u32(t.len()),
                });
            }
        }
        for (c, center) in le_i32s(d.center).enumerate() {
            if !(0..=PIXEL_UNIT as i32).contains(&center) {
                return bad(InputProblem::CenterRange {
                    channel: c as u16,
                    found: center,
                });
            }
            if d.drive != Drive::Rate && center % 256 != 0 {
                return bad(InputProblem::AnalogCenter {
                    channel: c as u16,
                    found: center,
                });
            }
        }
        if let Drive::Analog { shift } = d.drive {
            if shift > MAX_ANALOG_SHIFT {
                return bad(InputProblem::AnalogShift { found: shift });
            }
        }
        let w = words_for(n);
        Ok(InputPlan {
            shape,
            center: d.center,
            gain: d.gain,
            pixels: arena.take(n.div_ceil(4))?,
            tables: arena.take(2 * usize::from(d.channels))?,
            pos: arena.take(w)?,
            neg: arena.take(w)?,
            drive: d.drive,
            current: 0..0,
        })
    }

    /// Checks one layer fed by `input`, takes its arena regions and records its facts.
    fn check_layer(
        input: Shape,
        layer: &LayerDesc<'a>,
        arena: &mut Arena,
    ) -> Result<PlannedLayer<'a>, Rejected> {
        let base = arena.next;
        let checked = match layer {
            LayerDesc::Conv { conv, neuron } => Self::check_conv_layer(input, conv, neuron, arena),
            LayerDesc::Pool { neuron } => Self::check_pool(input, neuron, arena),
            LayerDesc::Dense {
                outputs,
                weights,
                neuron,
            } => Self::check_dense(input, *outputs, weights, neuron, arena),
            LayerDesc::Residual {
                conv1,
                neuron1,
                conv2,
                shortcut,
                neuron2,
            } => Self::check_residual(input, [conv1, conv2], [neuron1, neuron2], shortcut, arena),
            LayerDesc::Output {
                classes,
                weights,
                leak,
                synapse,
                scale,
            } => Self::check_output(input, *classes, weights, [*leak, *synapse], *scale, arena),
        }?;
        let Checked { plan, output, macs } = checked;
        let (kind, populations, neurons) = match &plan {
            Plan::Conv { pop, .. } => (LayerKind::Conv, 1, pop.n),
            Plan::Pool { pop } => (LayerKind::Pool, 1, pop.n),
            Plan::Dense { pop, .. } => (LayerKind::Dense, 1, pop.n),
            Plan::Residual { pop1, pop2, .. } => (LayerKind::Residual, 2, pop1.n + pop2.n),
            Plan::Output { .. } => (LayerKind::Output, 0, 0),
        };
        Ok(PlannedLayer {
            info: LayerInfo {
                kind,
                input,
                output,
                macs,
                populations,
                neurons,
            },
            base,
            plan,
        })
    }

    /// Convolution + LIF: geometry and weights, fan-in current, thresholds.
    fn check_conv_layer(
        input: Shape,
        conv: &ConvDesc<'a>,
        neuron: &NeuronDesc<'a>,
        arena: &mut Arena,
    ) -> Result<Checked<'a>, Rejected> {
        let conv = check_conv(input, conv)?;
        check_current(fan_in_current(conv_fan_in(input, conv.kernel)))?;
        let neurons = check_neurons(neuron, conv.output.channels, arena.membranes)?;
        let pop = arena.population(neurons, conv.output.len())?;
        Ok(Checked {
            output: conv.output,
            macs: conv_macs(&conv),
            plan: Plan::Conv { conv, pop },
        })
    }

    /// 2x2 average pool + IF: the output must not be empty.
    fn check_pool(
        input: Shape,
        neuron: &NeuronDesc<'a>,
        arena: &mut Arena,
    ) -> Result<Checked<'a>, Rejected> {
        let output = Shape {
            channels: input.channels,
            height: input.height / 2,
            width: input.width / 2,
        };
        let n = check_size(output).map_err(|_| LayerProblem::Geometry)?;
        let neurons = check_neurons(neuron, input.channels, arena.membranes)?;
        let pop = arena.population(neurons, n)?;
        Ok(Checked {
            plan: Plan::Pool { pop },
            output,
            macs: 4 * n as u64,
        })
    }

    /// Fully connected + LIF: `inputs * outputs` weights, fan-in current, thresholds.
    fn check_dense(
        input: Shape,
        outputs: u16,
        weights: &'a [u8],
        neuron: &NeuronDesc<'a>,
        arena: &mut Arena,
    ) -> Result<Checked<'a>, Rejected> {
        let output = Shape {
            channels: outputs,
            height: 1,
            width: 1,
        };
        let n = check_size(output)?;
        let n_in = input.len();
        check_weights(weights, &[n_in, n])?;
        check_current(fan_in_current(n_in as u64))?;
        let neurons = check_neurons(neuron, outputs, arena.membranes)?;
        let pop = arena.population(neurons, n)?;
        Ok(Checked {
            plan: Plan::Dense { weights, pop },
            output,
            macs: weights.len() as u64,
        })
    }

    /// Residual block: both convolutions, the shortcut's shape, channels and gains,
    /// and the bound on the second membrane's current (main path plus shortcut).
    fn check_residual(
        input: Shape,
        [conv1, conv2]: [&ConvDesc<'a>; 2],
        [neuron1, neuron2]: [&NeuronDesc<'a>; 2],
        shortcut: &Shortcut<'a>,
        arena: &mut Arena,
    ) -> Result<Checked<'a>, Rejected> {
        let conv1 = check_conv(input, conv1)?;
        let mid = conv1.output;
        check_current(fan_in_current(conv_fan_in(input, conv1.kernel)))?;
        let n1 = check_neurons(neuron1, mid.channels, arena.membranes)?;
        let conv2 = check_conv(mid, conv2)?;
        let output = conv2.output;
        let n2 = check_neurons(neuron2, output.channels, arena.membranes)?;
        let stride = conv1.stride * conv2.stride;
        let dims = |n: u16| Conv::out_len(usize::from(n), 1, stride, 0);
        if dims(input.height) != Some(usize::from(output.height))
            || dims(input.width) != Some(usize::from(output.width))
        {
            return Err(LayerProblem::ShortcutShape.into());
        }
        let main = fan_in_current(conv_fan_in(mid, conv2.kernel));
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
                (
                    PlannedShortcut::Conv(sc),
                    fan_in_current(u64::from(input.channels)),
                    conv_macs(&sc),
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
                let max = check_identity_gains(gains, output.channels)?;
                (PlannedShortcut::Identity { stride, gains }, max, 0)
            }
        };
        check_current(main.saturating_add(side))?;
        let pop1 = arena.population(n1, mid.len())?;
        let pop2 = arena.population(n2, output.len())?;
        let macs = conv_macs(&conv1)
            .saturating_add(conv_macs(&conv2))
            .saturating_add(side_macs);
        let plan = Plan::Residual {
            conv1,
            pop1,
            conv2,
            shortcut,
            pop2,
        };
        Ok(Checked { plan, output, macs })
    }

    /// Output integrator: class count, `inputs * classes` weights, fan-in current,
    /// leak and synaptic decay, and scale.
    fn check_output(
        input: Shape,
        classes: u16,
        weights: &'a [u8],
        [leak, synapse]: [u16; 2],
        scale: f32,
        arena: &mut Arena,
    ) -> Result<Checked<'a>, Rejected> {
        let n = usize::from(classes);
        if n == 0 {
            return Err(LayerProblem::ZeroDimension.into());
        }
        if n > MAX_CLASSES {
            return Err(LayerProblem::TooManyClasses { found: n as u32 }.into());
        }
        let n_in = input.len();
        check_weights(weights, &[n_in, n])?;
        check_current(fan_in_current(n_in as u64))?;
        let leak = Leak::from_bits(leak).ok_or(LayerProblem::LeakRange { found: leak })?;
        let synapse =
            Leak::from_bits(synapse).ok_or(LayerProblem::SynapseRange { found: synapse })?;
        if !(scale.is_finite() && scale > 0.0) {
            return Err(LayerProblem::ScaleRange.into());
        }
        let output = Shape {
            channels: classes,
            height: 1,
            width: 1,
        };
        let mem = arena.take(n)?;
        let bounds = arena.take(2 * n)?;
        let syn = arena.take(if synapse == Leak::ZERO { 0 } else { n })?;
        Ok(Checked {
            plan: Plan::Output {
                weights,
                leak,
                synapse,
                mem,
                bounds,
                syn,
            },
            output,
            macs: weights.len() as u64,
        })
    }

    /// The blob's header: format version, flags, payload length and CRC-32 (for a
    /// model built with [`from_desc`](Self::from_desc), the header
    /// [`write_model`](crate::write_model) would write).
    ///
    /// ```
    /// # use snn_core::format::{InputDesc, LayerDesc, ModelDesc, FORMAT_VERSION};
    /// # use snn_core::{write_model, Model};
    /// # let w = [1u8; 2];
    /// # let mut layers = heapless::Vec::new();
    /// # layers.push(LayerDesc::Output { classes: 1, weights: &w, leak: 32768, synapse: 0, scale: 1.0 }).unwrap();
    /// # let desc = ModelDesc {
    /// #     input: InputDesc { channels: 1, height: 1, width: 2, center: &[0; 4], gain: &[1; 4],
    /// #         drive: Default::default() },
    /// #     membranes: Default::default(),
    /// #     deployment: None,
    /// #     layers,
    /// # };
    /// let mut blob = vec![0u8; desc.encoded_len_bound()];
    /// let len = write_model(&desc, &mut blob).unwrap();
    /// let model = Model::from_bytes(&blob[..len]).unwrap();
    /// let header = model.header();
    /// assert_eq!(header.version, FORMAT_VERSION);
    /// assert_eq!(header.payload_len as usize, len - 16);
    /// assert_eq!(header.checksum, snn_core::format::crc32(&blob[16..len]));
    /// assert_eq!(Model::from_desc(&desc).unwrap().header(), header);
    /// ```
    #[inline]
    pub fn header(&self) -> Header {
        self.layout.header
    }

    /// 32-bit words of state memory [`classify`](Self::classify) needs.
    #[inline]
    pub fn state_words(&self) -> usize {
        self.layout.state_words
    }

    /// Bytes of state memory (`4 * state_words()`).
    #[inline]
    pub fn state_bytes(&self) -> usize {
        self.layout.state_words * 4
    }

    /// Input shape; images are `u8` pixels in `HWC` order.
    #[inline]
    pub fn input_shape(&self) -> Shape {
        self.layout.input.shape
    }

    /// Number of input pixels (`channels * height * width`).
    #[inline]
    pub fn input_len(&self) -> usize {
        self.layout.input.shape.len()
    }

    /// Width of the spiking populations' membranes.
    #[inline]
    pub fn membranes(&self) -> Membranes {
        self.layout.membranes
    }

    /// What drives the first layer: rate-coded spikes or an analog current.
    #[inline]
    pub fn drive(&self) -> Drive {
        self.layout.input.drive
    }

    /// The time steps and early-exit rule the model is meant to run with, if its file
    /// stores them.
    ///
    /// ```
    /// # let blob = include_bytes!("../tests/golden/model.snn");
    /// let model = snn_core::Model::from_bytes(blob)?;
    /// let steps = model.deployment().map_or(20, |d| d.steps);
    /// # assert!(steps > 0);
    /// # Ok::<(), snn_core::FormatError>(())
    /// ```
    #[inline]
    pub fn deployment(&self) -> Option<Deployment> {
        self.layout.deployment
    }

    /// Number of output classes.
    #[inline]
    pub fn classes(&self) -> usize {
        self.layout.classes
    }

    /// Number of spiking populations (the length of the spike counts).
    #[inline]
    pub fn populations(&self) -> usize {
        self.layout.populations
    }

    /// Float value of one output score unit: `y = score * output_scale / T`.
    #[inline]
    pub fn output_scale(&self) -> f32 {
        self.layout.output_scale
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
enum Rejected {
    Layer(LayerProblem),
    Format(FormatError),
}

impl From<LayerProblem> for Rejected {
    fn from(p: LayerProblem) -> Self {
        Self::Layer(p)
    }
}

impl From<FormatError> for Rejected {
    fn from(e: FormatError) -> Self {
        Self::Format(e)
    }
}

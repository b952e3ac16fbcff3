//! Error types: one enum per failure domain.
//!
//! [`FormatError`] says why a model blob was rejected by
//! [`Model::from_bytes`](crate::Model::from_bytes) or could not be written by
//! [`write_model`](crate::write_model); [`LayerProblem`] names what is wrong inside
//! one layer; [`RunError`] says why an inference could not start or continue. Nothing
//! here allocates; `Display` is written by hand because the crate is `no_std`.

use core::fmt;

/// Why a model blob was rejected (or could not be serialised).
///
/// Every variant names what was *found*, so a user can tell a truncated file from a
/// file of another format, a corrupted transfer or a model this engine cannot run.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FormatError {
    /// The blob is shorter than the fixed header or than the payload length it declares.
    Truncated {
        /// Bytes the header (or header plus declared payload) needs.
        needed: usize,
        /// Bytes present.
        found: usize,
    },
    /// The first four bytes are not `SNNM`.
    BadMagic {
        /// The four bytes found.
        found: [u8; 4],
    },
    /// The format version is not one this engine reads.
    UnsupportedVersion {
        /// The version found in the header.
        found: u16,
    },
    /// Reserved header flags are set.
    UnknownFlags {
        /// The flags found.
        found: u16,
    },
    /// Bytes follow the declared payload.
    TrailingBytes {
        /// How many extra bytes.
        extra: usize,
    },
    /// The CRC-32 of the payload differs from the header's.
    ChecksumMismatch {
        /// Checksum stored in the header.
        expected: u32,
        /// Checksum computed over the payload.
        found: u32,
    },
    /// The postcard body could not be decoded (bad enum tag, length past the end, ...).
    Body,
    /// The postcard body decoded but did not use every payload byte.
    BodyTrailingBytes {
        /// Unused payload bytes.
        extra: usize,
    },
    /// The input description is invalid.
    Input(InputProblem),
    /// The model has no layers.
    NoLayers,
    /// The model has more layers than the [`Model`](crate::Model) it is loaded into
    /// has room for (its capacity `L`; a residual block counts as one layer).
    LayerCapacity {
        /// Layers in the model.
        layers: usize,
        /// Layers the descriptor has room for.
        capacity: usize,
    },
    /// The last layer is not the output integrator, or an output layer is not last.
    OutputPlacement {
        /// Index of the offending layer.
        layer: u8,
    },
    /// A layer is invalid.
    Layer {
        /// Index of the layer in the model.
        layer: u8,
        /// What is wrong with it.
        problem: LayerProblem,
    },
    /// The state needed to run the model exceeds [`MAX_STATE_BYTES`](crate::MAX_STATE_BYTES).
    StateTooLarge {
        /// Bytes needed (saturated at `u32::MAX`).
        bytes: u32,
    },
    /// The output buffer given to [`write_model`](crate::write_model) is too small.
    BufferTooSmall,
}

/// What is wrong with the input description.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InputProblem {
    /// A dimension is zero.
    ZeroDimension,
    /// `channels * height * width` exceeds [`MAX_NEURONS`](crate::MAX_NEURONS) (or
    /// overflows `usize`).
    TooLarge,
    /// The encoder's per-channel tables do not have one entry per channel.
    EncoderLength {
        /// Bytes expected.
        expected: u32,
        /// Bytes found.
        found: u32,
    },
    /// An encoder centre lies outside `0..=65280` (pixel units times 256).
    CenterRange {
        /// Channel index.
        channel: u16,
        /// The centre found.
        found: i32,
    },
    /// An analog input's centre is not a whole pixel value (a multiple of 256).
    AnalogCenter {
        /// Channel index.
        channel: u16,
        /// The centre found.
        found: i32,
    },
    /// An analog input's shift is above 24.
    AnalogShift {
        /// The shift found.
        found: u8,
    },
    /// An analog input drives a first layer that is not a convolution or a dense layer.
    AnalogFirstLayer,
    /// An analog input drives a current-based first layer (a synaptic current), which
    /// the engine does not run.
    AnalogSynapse,
    /// An analog input's first layer sums more than [`MAX_ANALOG_FAN_IN`](crate::model::MAX_ANALOG_FAN_IN) products (`i8 x u8` sums
    /// must fit an `i32`).
    AnalogFanIn {
        /// Products per neuron.
        fan_in: u64,
    },
    /// The stored deployment has zero time steps.
    DeploymentSteps,
}

/// What is wrong with one layer.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LayerProblem {
    /// An output dimension, the channel count or the kernel size is zero.
    ZeroDimension,
    /// The stride is zero.
    ZeroStride,
    /// The kernel (with padding) does not fit the input, or the padding is not smaller
    /// than the kernel.
    Geometry,
    /// The layer has more neurons than [`MAX_NEURONS`](crate::MAX_NEURONS) (or so
    /// many that `channels * height * width` overflows `usize`).
    TooLarge,
    /// A weight array would need more than `u32::MAX` bytes (the dimensions
    /// multiplied together), more than any blob can hold.
    WeightsTooLarge {
        /// Bytes the dimensions ask for (saturated at `u64::MAX`).
        bytes: u64,
    },
    /// A weight array has the wrong length.
    WeightLength {
        /// Bytes expected.
        expected: u32,
        /// Bytes found.
        found: u32,
    },
    /// A per-channel table (thresholds, gains) has the wrong length.
    TableLength {
        /// Bytes expected.
        expected: u32,
        /// Bytes found.
        found: u32,
    },
    /// A threshold lies outside `1..=2^30`.
    ThresholdRange {
        /// Channel index.
        channel: u16,
        /// The threshold found.
        found: i32,
    },
    /// A threshold above `i16::MAX` in a model with 16-bit membranes
    /// ([`Membranes::I16`](crate::format::Membranes::I16)).
    ThresholdAboveI16 {
        /// Channel index.
        channel: u16,
        /// The threshold found.
        found: i32,
    },
    /// The leak multiplier is above 1.0 (`32768` in U1F15).
    LeakRange {
        /// The raw U1F15 bits found.
        found: u16,
    },
    /// The synaptic-current decay is above 1.0 (`32768` in U1F15).
    SynapseRange {
        /// The raw U1F15 bits found.
        found: u16,
    },
    /// An identity-shortcut gain lies outside `-2^29..=2^29`
    /// ([`MAX_SHORTCUT_GAIN`](crate::layer::MAX_SHORTCUT_GAIN)).
    GainRange {
        /// Channel index.
        channel: u16,
        /// The gain found.
        found: i32,
    },
    /// The identity shortcut needs as many input as output channels.
    ChannelMismatch {
        /// Channels entering the block.
        input: u16,
        /// Channels leaving the block.
        output: u16,
    },
    /// The identity shortcut's subsampled input does not match the block's output size.
    ShortcutShape,
    /// The largest input current one step can bring (fan-in times 128) exceeds `2^30`,
    /// so saturation could not be guaranteed.
    FanInTooLarge,
    /// The output layer has more classes than [`MAX_CLASSES`](crate::MAX_CLASSES).
    TooManyClasses {
        /// Classes found.
        found: u32,
    },
    /// The output scale is not a finite positive number.
    ScaleRange,
}

/// Why an inference could not start or continue.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RunError {
    /// The state memory is smaller than [`Model::state_words`](crate::Model::state_words).
    StateTooSmall {
        /// 32-bit words needed.
        needed: usize,
        /// 32-bit words supplied.
        found: usize,
    },
    /// The input has the wrong number of pixels.
    InputLength {
        /// Pixels (bytes) expected: `channels * height * width`.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// A spike bitset given to [`Session::step_with_spikes`](crate::Session::step_with_spikes)
    /// has the wrong number of words.
    SpikeWords {
        /// Words expected: `ceil(inputs / 32)`.
        expected: usize,
        /// Words found.
        found: usize,
    },
    /// `steps` was zero.
    ZeroSteps,
    /// An input neuron is set in both the positive and the negative bitset given to
    /// [`Session::step_with_spikes`](crate::Session::step_with_spikes).
    SpikeOverlap {
        /// The lowest such neuron.
        neuron: usize,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, found } => {
                write!(f, "model blob truncated: {found} bytes, {needed} needed")
            }
            Self::BadMagic { found } => {
                write!(f, "not an SNN model: magic {found:02x?}, expected \"SNNM\"")
            }
            Self::UnsupportedVersion { found } => {
                let v = crate::format::FORMAT_VERSION;
                let hint = if *found < v {
                    "written by an older snn-core: convert it with `snn-train upgrade` or export the model again with this release"
                } else {
                    "written by a newer snn-core"
                };
                write!(
                    f,
                    "model format version {found} is not supported (this engine reads version {v}; {hint})"
                )
            }
            Self::UnknownFlags { found } => write!(f, "unknown header flags {found:#06x}"),
            Self::TrailingBytes { extra } => write!(f, "{extra} bytes follow the payload"),
            Self::ChecksumMismatch { expected, found } => write!(
                f,
                "payload checksum mismatch: header says {expected:#010x}, payload has {found:#010x}"
            ),
            Self::Body => f.write_str("model body is not valid postcard for this format"),
            Self::BodyTrailingBytes { extra } => {
                write!(f, "model body leaves {extra} payload bytes unused")
            }
            Self::Input(p) => write!(f, "input: {p}"),
            Self::NoLayers => f.write_str("model has no layers"),
            Self::LayerCapacity { layers, capacity } => write!(
                f,
                "model has {layers} layers, the descriptor it is loaded into has room for {capacity}"
            ),
            Self::OutputPlacement { layer } => write!(
                f,
                "layer {layer}: the output integrator must be the last layer, and only there"
            ),
            Self::Layer { layer, problem } => write!(f, "layer {layer}: {problem}"),
            Self::StateTooLarge { bytes } => write!(
                f,
                "model needs {bytes} bytes of state, more than the limit of {}",
                crate::MAX_STATE_BYTES
            ),
            Self::BufferTooSmall => f.write_str("output buffer too small for the model"),
        }
    }
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroDimension => f.write_str("a dimension is zero"),
            Self::TooLarge => f.write_str("too many input pixels"),
            Self::EncoderLength { expected, found } => {
                write!(f, "encoder table has {found} bytes, expected {expected}")
            }
            Self::CenterRange { channel, found } => {
                write!(
                    f,
                    "encoder centre {found} of channel {channel} outside 0..=65280"
                )
            }
            Self::AnalogCenter { channel, found } => write!(
                f,
                "analog centre {found} of channel {channel} is not a multiple of 256"
            ),
            Self::AnalogShift { found } => write!(f, "analog shift {found} above 24"),
            Self::AnalogFirstLayer => {
                f.write_str("an analog input needs a convolution or a dense layer first")
            }
            Self::AnalogSynapse => {
                f.write_str("an analog input cannot drive a first layer with a synaptic current")
            }
            Self::AnalogFanIn { fan_in } => write!(
                f,
                "analog first layer sums {fan_in} products per neuron, at most {}",
                crate::model::MAX_ANALOG_FAN_IN
            ),
            Self::DeploymentSteps => f.write_str("stored deployment has zero time steps"),
        }
    }
}

impl fmt::Display for LayerProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroDimension => f.write_str("a dimension is zero"),
            Self::ZeroStride => f.write_str("stride is zero"),
            Self::Geometry => f.write_str("kernel, stride and padding do not fit the input"),
            Self::TooLarge => f.write_str("too many neurons"),
            Self::WeightsTooLarge { bytes } => write!(
                f,
                "weights would need {bytes} bytes, more than a model blob can hold"
            ),
            Self::WeightLength { expected, found } => {
                write!(f, "weights have {found} bytes, expected {expected}")
            }
            Self::TableLength { expected, found } => {
                write!(
                    f,
                    "per-channel table has {found} bytes, expected {expected}"
                )
            }
            Self::ThresholdRange { channel, found } => {
                write!(f, "threshold {found} of channel {channel} outside 1..=2^30")
            }
            Self::ThresholdAboveI16 { channel, found } => write!(
                f,
                "threshold {found} of channel {channel} does not fit 16-bit membranes (at most 32767): \
                 export the model with 32-bit membranes"
            ),
            Self::LeakRange { found } => write!(f, "leak {found}/32768 is above 1.0"),
            Self::SynapseRange { found } => {
                write!(f, "synaptic-current decay {found}/32768 is above 1.0")
            }
            Self::GainRange { channel, found } => {
                write!(
                    f,
                    "shortcut gain {found} of channel {channel} outside ±2^29"
                )
            }
            Self::ChannelMismatch { input, output } => write!(
                f,
                "identity shortcut joins {input} input channels to {output} output channels"
            ),
            Self::ShortcutShape => f.write_str("identity shortcut does not match the output size"),
            Self::FanInTooLarge => f.write_str("fan-in too large: one step could exceed 2^30"),
            Self::TooManyClasses { found } => write!(
                f,
                "{found} classes, at most {} supported",
                crate::MAX_CLASSES
            ),
            Self::ScaleRange => f.write_str("output scale is not finite and positive"),
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::StateTooSmall { needed, found } => {
                write!(
                    f,
                    "state memory has {found} words, the model needs {needed}"
                )
            }
            Self::InputLength { expected, found } => {
                write!(f, "input has {found} pixels, the model expects {expected}")
            }
            Self::SpikeWords { expected, found } => {
                write!(f, "spike bitset has {found} words, expected {expected}")
            }
            Self::ZeroSteps => f.write_str("steps must be at least 1"),
            Self::SpikeOverlap { neuron } => write!(
                f,
                "input neuron {neuron} is in both the positive and the negative spikes"
            ),
        }
    }
}

impl core::error::Error for FormatError {}
impl core::error::Error for RunError {}

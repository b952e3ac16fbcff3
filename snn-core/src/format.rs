//! The model format: a fixed 16-byte header, then a postcard body.
//!
//! This module holds the serialised description ([`ModelDesc`] and the types it
//! nests), the header codec and the checksum. It does not check shapes or ranges:
//! that is [`crate::model`]'s job. Every byte is described in `docs/model-format.md`.
//!
//! Every array in the body is a postcard byte string (`varint length, bytes`) borrowed
//! straight from the blob, so a model that sits in flash costs no RAM: weights are
//! `i8` stored as bytes, per-channel tables are little-endian `i32`/`u32`.

use crc::{Crc, CRC_32_ISO_HDLC};
use serde::{Deserialize, Serialize};

use crate::FormatError;

/// The four bytes every model starts with.
pub const MAGIC: [u8; 4] = *b"SNNM";
/// The format version this engine reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// Length of the fixed header that precedes the postcard body.
pub const HEADER_LEN: usize = 16;
/// Most layers a model may have (a residual block counts as one layer).
pub const MAX_LAYERS: usize = 24;

const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// CRC-32 (ISO-HDLC, the zlib/PNG polynomial) of `bytes`.
///
/// ```
/// assert_eq!(snn_core::format::crc32(b"123456789"), 0xcbf4_3926);
/// ```
#[inline]
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// The whole serialised model: what the input looks like, then the layers in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ModelDesc<'a> {
    /// Input shape and rate encoder.
    #[serde(borrow)]
    pub input: InputDesc<'a>,
    /// Layers, first to last. The last one is [`LayerDesc::Output`].
    #[serde(borrow)]
    pub layers: heapless::Vec<LayerDesc<'a>, MAX_LAYERS>,
}

/// Input shape (`HWC` pixel order) and the rate encoder's per-channel parameters.
///
/// The encoder turns pixel `p` of channel `c` into a spike with probability
/// `|256 p - center[c]| * gain[c] / 2^32` (see [`crate::encode`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InputDesc<'a> {
    /// Channels (1 for MNIST, 3 for CIFAR-10).
    pub channels: u16,
    /// Rows.
    pub height: u16,
    /// Columns.
    pub width: u16,
    /// Per-channel centre, `i32` little-endian, in pixel units times 256 (`0..=65280`).
    /// Pixels below the centre give negative spikes.
    #[serde(borrow)]
    pub center: &'a [u8],
    /// Per-channel gain, `u32` little-endian, U0.32 probability per `1/256` pixel unit.
    #[serde(borrow)]
    pub gain: &'a [u8],
}

/// How a neuron's membrane is reset after it fires.
///
/// Serde names are lowercase (`"hard"`, `"subtract"`, as in training configs); postcard
/// encodes the variant index, so the names do not reach the model format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(rename_all = "lowercase")]
pub enum Reset {
    /// `V = 0` (the paper's default).
    #[default]
    Hard,
    /// `V = leak * (U - threshold)`.
    Subtract,
}

/// Integer neuron parameters of a spiking population.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NeuronDesc<'a> {
    /// Per-output-channel threshold, `i32` little-endian, in `1..=2^30`. The float
    /// threshold divided by the channel's weight scale.
    #[serde(borrow)]
    pub thresholds: &'a [u8],
    /// Leak multiplier in U1F15 (`32768` = 1.0, non-leaky).
    pub leak: u16,
    /// Reset rule.
    pub reset: Reset,
}

/// A convolution's geometry and weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConvDesc<'a> {
    /// Output channels.
    pub out_channels: u16,
    /// Square kernel size.
    pub kernel: u8,
    /// Stride (both axes).
    pub stride: u8,
    /// Zero padding (both axes, both sides).
    pub padding: u8,
    /// `i8` weights in `[in_channel][ky][kx][out_channel]` order.
    #[serde(borrow)]
    pub weights: &'a [u8],
}

/// The shortcut of a residual block, added into the second layer's membrane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Shortcut<'a> {
    /// A 1x1 convolution with the block's stride; `i8` weights `[in][out]`.
    Conv {
        /// `i8` weights `[in_channel][out_channel]`.
        #[serde(borrow)]
        weights: &'a [u8],
    },
    /// The block input subsampled by the block's stride, times a per-channel gain.
    Identity {
        /// Per-channel gain, `i32` little-endian, in `-2^29..=2^29`: what one input
        /// spike adds to the membrane (1.0 divided by the channel's weight scale).
        #[serde(borrow)]
        gains: &'a [u8],
    },
}

/// One layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LayerDesc<'a> {
    /// Convolution feeding LIF neurons.
    Conv {
        /// Geometry and weights.
        #[serde(borrow)]
        conv: ConvDesc<'a>,
        /// Neurons (one threshold per output channel).
        #[serde(borrow)]
        neuron: NeuronDesc<'a>,
    },
    /// 2x2 average pooling (stride 2, floor) feeding integrate-and-fire neurons. Each
    /// input spike adds one unit (a quarter of the float current) to its pool's membrane.
    Pool {
        /// Neurons (one threshold per channel); the paper's 0.75 threshold is `3`.
        #[serde(borrow)]
        neuron: NeuronDesc<'a>,
    },
    /// Fully connected layer feeding LIF neurons.
    Dense {
        /// Output neurons.
        outputs: u16,
        /// `i8` weights `[input][output]`; inputs in `HWC` order.
        #[serde(borrow)]
        weights: &'a [u8],
        /// Neurons (one threshold per output).
        #[serde(borrow)]
        neuron: NeuronDesc<'a>,
    },
    /// Residual basic block: `conv1 -> LIF1 -> conv2 (+ shortcut(input)) -> LIF2`.
    Residual {
        /// First convolution.
        #[serde(borrow)]
        conv1: ConvDesc<'a>,
        /// First LIF population.
        #[serde(borrow)]
        neuron1: NeuronDesc<'a>,
        /// Second convolution; its stride is the block's stride.
        #[serde(borrow)]
        conv2: ConvDesc<'a>,
        /// Shortcut current, in the same units as `conv2`'s.
        #[serde(borrow)]
        shortcut: Shortcut<'a>,
        /// Second LIF population.
        #[serde(borrow)]
        neuron2: NeuronDesc<'a>,
    },
    /// The non-spiking output integrator `M = leak * (M + W o)`; class = argmax M.
    Output {
        /// Classes.
        classes: u16,
        /// `i8` weights `[input][class]`; one scale for all classes.
        #[serde(borrow)]
        weights: &'a [u8],
        /// Leak multiplier in U1F15.
        leak: u16,
        /// Float value of one score unit (the weight scale), for reporting
        /// `y = M * scale / T`; not used by the integer computation.
        scale: f32,
    },
}

/// The fixed header fields of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Format version.
    pub version: u16,
    /// Reserved flags (zero in version 1).
    pub flags: u16,
    /// Payload length in bytes.
    pub payload_len: u32,
    /// CRC-32 of the payload.
    pub checksum: u32,
}

/// Reads the header, checks magic, version, flags, length and checksum, and returns
/// the payload slice. Does not decode the body.
///
/// # Errors
/// [`FormatError::Truncated`], [`FormatError::BadMagic`],
/// [`FormatError::UnsupportedVersion`], [`FormatError::UnknownFlags`],
/// [`FormatError::TrailingBytes`] or [`FormatError::ChecksumMismatch`].
pub fn split_payload(blob: &[u8]) -> Result<(Header, &[u8]), FormatError> {
    let (head, rest) = blob
        .split_at_checked(HEADER_LEN)
        .ok_or(FormatError::Truncated {
            needed: HEADER_LEN,
            found: blob.len(),
        })?;
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&head[0..4]);
    if magic != MAGIC {
        return Err(FormatError::BadMagic { found: magic });
    }
    let u16_at = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let header = Header {
        version: u16_at(4),
        flags: u16_at(6),
        payload_len: u32_at(8),
        checksum: u32_at(12),
    };
    if header.version != FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: header.version,
        });
    }
    if header.flags != 0 {
        return Err(FormatError::UnknownFlags {
            found: header.flags,
        });
    }
    let len = header.payload_len as usize;
    let payload = rest.get(..len).ok_or(FormatError::Truncated {
        needed: HEADER_LEN.saturating_add(len),
        found: blob.len(),
    })?;
    if rest.len() > len {
        return Err(FormatError::TrailingBytes {
            extra: rest.len() - len,
        });
    }
    let found = crc32(payload);
    if found != header.checksum {
        return Err(FormatError::ChecksumMismatch {
            expected: header.checksum,
            found,
        });
    }
    Ok((header, payload))
}

/// Decodes the postcard body, borrowing every array from `payload`.
///
/// # Errors
/// [`FormatError::Body`] or [`FormatError::BodyTrailingBytes`].
pub fn decode_body(payload: &[u8]) -> Result<ModelDesc<'_>, FormatError> {
    let (desc, rest) =
        postcard::take_from_bytes::<ModelDesc<'_>>(payload).map_err(|_| FormatError::Body)?;
    if !rest.is_empty() {
        return Err(FormatError::BodyTrailingBytes { extra: rest.len() });
    }
    Ok(desc)
}

/// Serialises `desc` with its header into `out` and returns the blob's length.
///
/// This does not validate the description; load the result with
/// [`Model::from_bytes`](crate::Model::from_bytes) to do so.
///
/// # Errors
/// [`FormatError::BufferTooSmall`] when `out` cannot hold the blob.
pub fn write_model(desc: &ModelDesc<'_>, out: &mut [u8]) -> Result<usize, FormatError> {
    let (head, body) = out
        .split_at_mut_checked(HEADER_LEN)
        .ok_or(FormatError::BufferTooSmall)?;
    let len = postcard::to_slice(desc, body)
        .map_err(|_| FormatError::BufferTooSmall)?
        .len();
    let checksum = crc32(&body[..len]);
    let payload_len = u32::try_from(len).map_err(|_| FormatError::BufferTooSmall)?;
    head[0..4].copy_from_slice(&MAGIC);
    head[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    head[6..8].copy_from_slice(&0u16.to_le_bytes());
    head[8..12].copy_from_slice(&payload_len.to_le_bytes());
    head[12..16].copy_from_slice(&checksum.to_le_bytes());
    Ok(HEADER_LEN + len)
}

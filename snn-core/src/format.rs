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
///
/// Version 2 added the membrane width ([`Membranes`]) and stores every weight row
/// interleaved for the Cortex-M DSP kernels ([`interleave_rows`]). Version 3 added the
/// input drive ([`Drive`]: rate-coded spikes or an analog current) and the deployment
/// setting ([`Deployment`]). Version 4 added the synaptic current of current-based
/// (CUBA) populations ([`NeuronDesc::synapse`], the output's `synapse`). Older blobs
/// are refused with [`FormatError::UnsupportedVersion`]; `snn-train upgrade` converts
/// them.
pub const FORMAT_VERSION: u16 = 4;
/// Length of the fixed header that precedes the postcard body.
pub const HEADER_LEN: usize = 16;
/// Most layers a model may have (a residual block counts as one layer).
pub const MAX_LAYERS: usize = 24;

static CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

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
    /// Width of the spiking populations' membranes (the output integrator is always
    /// 32-bit).
    pub membranes: Membranes,
    /// The time steps and early-exit rule the model is meant to run with, when the
    /// exporter knows them.
    pub deployment: Option<Deployment>,
    /// Layers, first to last. The last one is [`LayerDesc::Output`].
    #[serde(borrow)]
    pub layers: heapless::Vec<LayerDesc<'a>, MAX_LAYERS>,
}

/// The setting a model is meant to run with: its time steps and early-exit rule.
/// Runners (`cargo xtask qemu`, the firmware, `snn-train analyze`) use it unless told
/// otherwise; the engine itself takes both as arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Deployment {
    /// Time steps `T` (at least 1).
    pub steps: u32,
    /// When an inference may stop before step `T`.
    pub early_exit: crate::EarlyExit,
}

/// What drives the first layer.
///
/// Postcard encodes the variant index: `0` rate, `1` analog (then its `shift`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Drive {
    /// Rate-coded input spikes from the encoder (`center`, `gain`), one draw per pixel
    /// and step.
    #[default]
    Rate,
    /// A constant input current: the first layer (a convolution or a dense layer) gets
    /// `I = (sum W * (p - center / 256) + round) >> shift` at every step, computed once
    /// per inference from the `u8` pixels (see `docs/model-format.md`). No encoder, no
    /// input spikes; `gain` is not used.
    Analog {
        /// Right shift from the `i8 x u8` products to membrane units, `0..=24`.
        shift: u8,
    },
}

/// Width of the spiking populations' membrane state.
///
/// Serde names are `"i16"` and `"i32"` (as in export options); postcard encodes the
/// variant index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[serde(rename_all = "lowercase")]
pub enum Membranes {
    /// 16-bit membranes, two per state word, with saturating accumulation: half the
    /// state memory, and the Cortex-M DSP kernels (`SXTB16`, `QADD16`). Thresholds
    /// must be at most `i16::MAX`.
    #[default]
    I16,
    /// 32-bit membranes clamped to `-2^30..2^30`: for populations whose currents or
    /// thresholds do not fit 16 bits.
    I32,
}

/// Converts weight rows between their logical order and the stored (interleaved)
/// order of format version 2, in place. The conversion is its own inverse.
///
/// A weight array is a sequence of rows of `row` bytes (a row is the weights of one
/// presynaptic neuron, or one kernel tap, to all output channels). In each row, every
/// complete group of four `[w0, w1, w2, w3]` is stored as `[w0, w2, w1, w3]`, so that
/// `SXTB16` of the little-endian word gives the 16-bit pair `(w0, w1)` and `SXTB16`
/// of the word rotated by 8 gives `(w2, w3)`; the last `row % 4` weights of a row are
/// stored in order. A trailing partial row (never in a valid model) is left as is.
///
/// ```
/// use snn_core::format::interleave_rows;
/// let mut w = [0u8, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15];
/// interleave_rows(&mut w, 6);
/// assert_eq!(w, [0, 2, 1, 3, 4, 5, 10, 12, 11, 13, 14, 15]);
/// interleave_rows(&mut w, 6);
/// assert_eq!(w, [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]);
/// ```
pub fn interleave_rows(weights: &mut [u8], row: usize) {
    if row < 4 {
        return;
    }
    for r in weights.chunks_exact_mut(row) {
        for g in r.chunks_exact_mut(4) {
            g.swap(1, 2);
        }
    }
}

/// Where logical weight `j` of a row of `row` weights is stored in that row (see
/// [`interleave_rows`]).
///
/// ```
/// use snn_core::format::stored_index;
/// assert_eq!((0..6).map(|j| stored_index(j, 6)).collect::<Vec<_>>(), [0, 2, 1, 3, 4, 5]);
/// ```
#[inline]
pub const fn stored_index(j: usize, row: usize) -> usize {
    if j >= row - row % 4 {
        return j;
    }
    match j % 4 {
        1 => j + 1,
        2 => j - 1,
        _ => j,
    }
}

/// Most bytes postcard spends on a varint (a `u64` / 64-bit `usize` length).
const VARINT_MAX: usize = 10;
/// Most bytes postcard spends on a `u16` varint.
const VARINT_U16_MAX: usize = 3;
/// Most bytes postcard spends on an enum variant tag (a `u32` varint).
const TAG_MAX: usize = 5;

/// Bytes postcard may spend on a byte array of `len` bytes: its varint length, then the bytes.
#[inline]
fn bytes_bound(len: usize) -> usize {
    len.saturating_add(VARINT_MAX)
}

fn neuron_bound(n: &NeuronDesc<'_>) -> usize {
    // thresholds, leak (u16), reset (enum tag), synapse (u16)
    bytes_bound(n.thresholds.len())
        .saturating_add(2 * VARINT_U16_MAX)
        .saturating_add(TAG_MAX)
}

fn conv_bound(c: &ConvDesc<'_>) -> usize {
    // out_channels (u16), kernel, stride, padding (u8 each), weights
    bytes_bound(c.weights.len()).saturating_add(VARINT_U16_MAX + 3)
}

fn layer_bound(l: &LayerDesc<'_>) -> usize {
    let body = match l {
        LayerDesc::Conv { conv, neuron } => conv_bound(conv).saturating_add(neuron_bound(neuron)),
        LayerDesc::Pool { neuron } => neuron_bound(neuron),
        LayerDesc::Dense {
            weights, neuron, ..
        } => bytes_bound(weights.len())
            .saturating_add(neuron_bound(neuron))
            .saturating_add(VARINT_U16_MAX),
        LayerDesc::Residual {
            conv1,
            neuron1,
            conv2,
            shortcut,
            neuron2,
        } => {
            let side = match shortcut {
                Shortcut::Conv { weights } => weights.len(),
                Shortcut::Identity { gains } => gains.len(),
            };
            conv_bound(conv1)
                .saturating_add(neuron_bound(neuron1))
                .saturating_add(conv_bound(conv2))
                .saturating_add(bytes_bound(side).saturating_add(TAG_MAX))
                .saturating_add(neuron_bound(neuron2))
        }
        // classes (u16), weights, leak (u16), synapse (u16), scale (f32, 4 bytes)
        LayerDesc::Output { weights, .. } => {
            bytes_bound(weights.len()).saturating_add(3 * VARINT_U16_MAX + 4)
        }
    };
    body.saturating_add(TAG_MAX)
}

impl ModelDesc<'_> {
    /// An upper bound on the bytes [`write_model`] writes for this description: a
    /// buffer of this length is always large enough.
    ///
    /// ```text
    /// bound = HEADER_LEN + sum over fields of the most bytes postcard spends on each
    ///         (varint u16 <= 3, enum tag <= 5, array length <= 10, plus the array bytes)
    /// ```
    /// It exceeds the exact length by a few bytes per field (about 60 per layer),
    /// never by a multiple of the weights. Saturates at `usize::MAX`.
    ///
    /// ```
    /// use snn_core::format::{InputDesc, LayerDesc, ModelDesc};
    /// let w = [1u8; 6];
    /// let mut layers = heapless::Vec::new();
    /// layers.push(LayerDesc::Output { classes: 2, weights: &w, leak: 32768, synapse: 0, scale: 1.0 }).unwrap();
    /// let desc = ModelDesc {
    ///     input: InputDesc { channels: 1, height: 1, width: 3, center: &[0; 4], gain: &[1; 4],
    ///         drive: Default::default() },
    ///     membranes: Default::default(),
    ///     deployment: None,
    ///     layers,
    /// };
    /// let mut out = vec![0u8; desc.encoded_len_bound()];
    /// let len = snn_core::write_model(&desc, &mut out).unwrap();
    /// assert!(len <= out.len());
    /// ```
    pub fn encoded_len_bound(&self) -> usize {
        let i = &self.input;
        // + drive (tag, u8), deployment (option byte, u32 varint, tag, u32 varint)
        let input = bytes_bound(i.center.len())
            .saturating_add(bytes_bound(i.gain.len()))
            .saturating_add(3 * VARINT_U16_MAX)
            .saturating_add(TAG_MAX + 1)
            .saturating_add(1 + 5 + TAG_MAX + 5);
        self.layers
            .iter()
            .fold(
                HEADER_LEN.saturating_add(input).saturating_add(VARINT_MAX),
                |acc, l| acc.saturating_add(layer_bound(l)),
            )
            .saturating_add(TAG_MAX)
    }
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
    /// Rate-coded spikes or an analog current.
    pub drive: Drive,
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
    /// Decay of the synaptic current in U1F15 (`0..=32768`). `0`: no synaptic current,
    /// the input drives the membrane directly (the paper's neurons). Otherwise a
    /// current-based (CUBA) neuron: the input adds into a current `S` that drives the
    /// membrane at every step and then decays, `S = synapse * S`
    /// ([`crate::synapse`]).
    pub synapse: u16,
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
        /// Decay of the synaptic current in U1F15, as [`NeuronDesc::synapse`]: `0`
        /// for the paper's integrator, else a current-based leaky integrator (NIR's
        /// `CubaLI`).
        synapse: u16,
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

/// A postcard flavor that writes nothing: it counts the bytes and runs the CRC.
struct Sealer {
    len: usize,
    digest: crc::Digest<'static, u32>,
}

impl postcard::ser_flavors::Flavor for Sealer {
    type Output = (usize, u32);

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.len = self.len.saturating_add(data.len());
        self.digest.update(data);
        Ok(())
    }

    #[inline]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.try_extend(&[data])
    }

    fn finalize(self) -> postcard::Result<(usize, u32)> {
        Ok((self.len, self.digest.finalize()))
    }
}

impl Header {
    /// The header [`write_model`] writes for `desc`: payload length and CRC-32 of its
    /// postcard body, computed without a buffer.
    ///
    /// ```
    /// use snn_core::format::{split_payload, Header, InputDesc, LayerDesc, ModelDesc};
    /// let w = [1u8; 3];
    /// let mut layers = heapless::Vec::new();
    /// layers.push(LayerDesc::Output { classes: 1, weights: &w, leak: 32768, synapse: 0, scale: 1.0 }).unwrap();
    /// let desc = ModelDesc {
    ///     input: InputDesc { channels: 1, height: 1, width: 3, center: &[0; 4], gain: &[1; 4],
    ///         drive: Default::default() },
    ///     membranes: Default::default(),
    ///     deployment: None,
    ///     layers,
    /// };
    /// let mut out = vec![0u8; desc.encoded_len_bound()];
    /// let len = snn_core::write_model(&desc, &mut out).unwrap();
    /// let (header, _) = split_payload(&out[..len]).unwrap();
    /// assert_eq!(Header::for_desc(&desc), Ok(header));
    /// ```
    ///
    /// # Errors
    /// [`FormatError::BufferTooSmall`] when the body would exceed `u32::MAX` bytes
    /// (no blob can hold it).
    pub fn for_desc(desc: &ModelDesc<'_>) -> Result<Self, FormatError> {
        let sealer = Sealer {
            len: 0,
            digest: CRC32.digest(),
        };
        let (len, checksum) = postcard::serialize_with_flavor(desc, sealer)
            .map_err(|_| FormatError::BufferTooSmall)?;
        Ok(Self {
            version: FORMAT_VERSION,
            flags: 0,
            payload_len: u32::try_from(len).map_err(|_| FormatError::BufferTooSmall)?,
            checksum,
        })
    }
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

/// The body's parts decoded one at a time: what [`decode_body`] returns, without
/// holding every [`LayerDesc`] at once.
///
/// A [`ModelDesc`] has room for [`MAX_LAYERS`] layers whatever the model holds
/// (kilobytes); [`Model::load`](crate::Model::load) reads the layers from this one
/// by one instead, so validating a model on a device costs one layer's worth of stack.
#[derive(Debug, Clone)]
pub struct BodyParts<'a> {
    /// Input shape and rate encoder.
    pub input: InputDesc<'a>,
    /// Width of the spiking populations' membranes.
    pub membranes: Membranes,
    /// The deployment setting, if stored.
    pub deployment: Option<Deployment>,
    /// The layers, decoded on demand.
    pub layers: LayerStream<'a>,
}

/// The layers of a body whose decoding [`decode_parts`] has already checked, decoded
/// one per call to [`Iterator::next`].
#[derive(Debug, Clone)]
pub struct LayerStream<'a> {
    bytes: &'a [u8],
    left: usize,
}

impl<'a> Iterator for LayerStream<'a> {
    type Item = LayerDesc<'a>;

    fn next(&mut self) -> Option<LayerDesc<'a>> {
        if self.left == 0 {
            return None;
        }
        // Every layer decoded once already (`decode_parts`): this cannot fail; were it
        // to, the stream ends early and validation reports the missing output layer.
        let (layer, rest) = postcard::take_from_bytes::<LayerDesc<'a>>(self.bytes).ok()?;
        self.bytes = rest;
        self.left -= 1;
        Some(layer)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for LayerStream<'_> {}

/// Decodes the postcard body as [`decode_body`] does and with the same errors, but
/// returns the layers as a [`LayerStream`] that decodes them again one at a time.
///
/// ```
/// # let blob = include_bytes!("../tests/golden/model.snn");
/// use snn_core::format::{decode_body, decode_parts, split_payload};
/// let (_, payload) = split_payload(blob).unwrap();
/// let parts = decode_parts(payload).unwrap();
/// let desc = decode_body(payload).unwrap();
/// assert_eq!(parts.input, desc.input);
/// assert!(parts.layers.eq(desc.layers.iter().cloned()));
/// ```
///
/// # Errors
/// [`FormatError::Body`] or [`FormatError::BodyTrailingBytes`].
pub fn decode_parts(payload: &[u8]) -> Result<BodyParts<'_>, FormatError> {
    let body = |_| FormatError::Body;
    let (input, rest) = postcard::take_from_bytes::<InputDesc<'_>>(payload).map_err(body)?;
    let (membranes, rest) = postcard::take_from_bytes::<Membranes>(rest).map_err(body)?;
    let (deployment, rest) = postcard::take_from_bytes::<Option<Deployment>>(rest).map_err(body)?;
    // A sequence's length is a `usize` varint; more than `MAX_LAYERS` is refused as the
    // `heapless::Vec` of `ModelDesc` refuses it.
    let (count, layers_at) = postcard::take_from_bytes::<usize>(rest).map_err(body)?;
    if count > MAX_LAYERS {
        return Err(FormatError::Body);
    }
    let mut bytes = layers_at;
    for _ in 0..count {
        bytes = postcard::take_from_bytes::<LayerDesc<'_>>(bytes)
            .map_err(body)?
            .1;
    }
    if !bytes.is_empty() {
        return Err(FormatError::BodyTrailingBytes { extra: bytes.len() });
    }
    Ok(BodyParts {
        input,
        membranes,
        deployment,
        layers: LayerStream {
            bytes: layers_at,
            left: count,
        },
    })
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

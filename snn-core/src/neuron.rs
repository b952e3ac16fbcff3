//! Integer LIF / IF neuron parameters and the membrane update kernel.
//!
//! This module holds the per-population parameters (thresholds, leak, reset) in their
//! validated form and the one function that advances a population by one step after
//! its input current has been added. The synaptic currents themselves are computed in
//! [`crate::layer`].

use fixed::types::U1F15;

use crate::format::Reset;
use crate::round::round_f32;

/// Membrane values are clamped to `STATE_MIN..=STATE_LIMIT` (`-2^30 ..= 2^30 - 1`, a
/// signed 31-bit range: one `SSAT` instruction on Cortex-M4) after every update.
///
/// Validation bounds the current one step can add to `2^30`, so `U = V + I` always
/// fits an `i32` and no addition can wrap: state *saturates*, it never overflows.
pub const STATE_LIMIT: i32 = (1 << 30) - 1;
/// Lower end of the membrane range, `-2^30`.
pub const STATE_MIN: i32 = -(1 << 30);

/// Largest threshold a model may use (`2^30`).
pub const MAX_THRESHOLD: i32 = 1 << 30;

/// An integer threshold from its float value (the float threshold divided by the
/// channel's weight scale, or 4 times a pool threshold):
///
/// ```text
/// th = clamp(round(x), 1, 2^30)          round half away from zero; NaN -> 0
/// ```
/// A NaN gives `0`, which validation rejects ([`crate::LayerProblem::ThresholdRange`]).
///
/// ```
/// use snn_core::neuron::{threshold_from_f32, MAX_THRESHOLD};
/// assert_eq!(threshold_from_f32(3.0), 3);
/// assert_eq!(threshold_from_f32(2.5), 3);
/// assert_eq!(threshold_from_f32(0.2), 1);
/// assert_eq!(threshold_from_f32(1e20), MAX_THRESHOLD);
/// ```
#[inline]
pub fn threshold_from_f32(x: f32) -> i32 {
    round_f32(x).clamp(1.0, MAX_THRESHOLD as f32) as i32
}

/// The leak multiplier `lambda` as an unsigned Q1.15 number in `[0, 1]`.
///
/// ```
/// use snn_core::neuron::Leak;
/// let leak = Leak::from_bits(32440).unwrap(); // 0.99
/// assert_eq!(leak.apply(1000), 990);
/// assert_eq!(Leak::ONE.apply(-7), -7);
/// assert!(Leak::from_bits(40000).is_none()); // above 1.0
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leak(U1F15);

#[cfg(feature = "defmt")]
impl defmt::Format for Leak {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Leak({=u16}/32768)", self.to_bits())
    }
}

impl Leak {
    /// `lambda = 1`: a non-leaky integrate-and-fire neuron.
    pub const ONE: Self = Self(U1F15::ONE);

    /// The leak from its raw U1F15 bits, or `None` above 1.0 (`32768`).
    #[inline]
    pub fn from_bits(bits: u16) -> Option<Self> {
        (bits <= 1 << 15).then_some(Self(U1F15::from_bits(bits)))
    }

    /// The leak nearest to the float multiplier `x`:
    ///
    /// ```text
    /// bits = clamp(round(x * 32768), 0, 32768)     round half away from zero; NaN -> 0
    /// ```
    ///
    /// ```
    /// use snn_core::neuron::Leak;
    /// assert_eq!(Leak::from_f32(0.99).to_bits(), 32440);
    /// assert_eq!(Leak::from_f32(1.5), Leak::ONE);
    /// assert_eq!(Leak::from_f32(-1.0).to_bits(), 0);
    /// ```
    #[inline]
    pub fn from_f32(x: f32) -> Self {
        let bits = round_f32(x * 32768.0).clamp(0.0, 32768.0) as u16;
        Self(U1F15::from_bits(bits))
    }

    /// The raw U1F15 bits.
    #[inline]
    pub fn to_bits(self) -> u16 {
        self.0.to_bits()
    }

    /// The leak as a fixed-point number.
    #[inline]
    pub fn value(self) -> U1F15 {
        self.0
    }

    /// `lambda * u`, rounded to nearest with ties towards +infinity:
    ///
    /// ```text
    /// leak(u) = (u * bits + 2^14) >> 15          (64-bit product, arithmetic shift)
    /// ```
    ///
    /// # Units
    /// `u` is a membrane value in the population's integer units; the result is in the
    /// same units and `|leak(u)| <= |u|`, so it never leaves `i32`.
    #[inline]
    pub fn apply(self, u: i32) -> i32 {
        ((i64::from(u) * i64::from(self.0.to_bits()) + (1 << 14)) >> 15) as i32
    }
}

/// One integer LIF update (paper eq. of section 1):
///
/// ```text
/// o = U > th                       strict comparison
/// V = 0                            if o and reset = Hard
/// V = leak(U - th)                 if o and reset = Subtract
/// V = leak(U)                      otherwise
/// V = clamp(V, -2^30, 2^30 - 1)
/// ```
///
/// `u` is the membrane after this step's current was added. Returns `(V, o)`.
///
/// ```
/// use snn_core::{format::Reset, neuron::{update, Leak}};
/// assert_eq!(update(5, 4, Leak::ONE, Reset::Hard), (0, true));
/// assert_eq!(update(5, 4, Leak::ONE, Reset::Subtract), (1, true));
/// assert_eq!(update(4, 4, Leak::ONE, Reset::Hard), (4, false)); // not strictly above
/// ```
#[inline]
pub fn update(u: i32, th: i32, leak: Leak, reset: Reset) -> (i32, bool) {
    if u > th {
        let v = match reset {
            Reset::Hard => 0,
            Reset::Subtract => leak.apply(u - th),
        };
        (v.clamp(STATE_MIN, STATE_LIMIT), true)
    } else {
        (leak.apply(u).clamp(STATE_MIN, STATE_LIMIT), false)
    }
}

/// A validated spiking population's parameters, borrowing the thresholds from the blob.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Neurons<'a> {
    /// Thresholds, `i32` little-endian, one per channel (validated in `1..=2^30`).
    pub(crate) thresholds: &'a [u8],
    /// Leak multiplier.
    pub(crate) leak: Leak,
    /// Reset rule.
    pub(crate) reset: Reset,
}

impl<'a> Neurons<'a> {
    /// Number of channels (one threshold each).
    #[inline]
    pub fn channels(&self) -> usize {
        self.thresholds.len() / 4
    }

    /// Threshold of channel `c`, or `i32::MAX` (never fires) past the end.
    #[inline]
    pub fn threshold(&self, c: usize) -> i32 {
        // `c < len / 4` keeps `4 * c + 4 <= len`: no overflow on any target.
        if c >= self.channels() {
            return i32::MAX;
        }
        self.threshold_of(c)
    }

    /// Threshold of channel `c` for a `c` below [`channels`](Self::channels), as the
    /// update loop has (so `4 * c + 4` cannot overflow); `i32::MAX` if it were not.
    /// Without the bound check of [`threshold`](Self::threshold): on a Cortex-M4 that
    /// check cost 4% of all instructions of an inference.
    #[inline]
    fn threshold_of(&self, c: usize) -> i32 {
        match self.thresholds.get(4 * c..4 * c + 4) {
            Some(&[a, b, c, d]) => i32::from_le_bytes([a, b, c, d]),
            _ => i32::MAX,
        }
    }

    /// Leak multiplier.
    #[inline]
    pub fn leak(&self) -> Leak {
        self.leak
    }

    /// Reset rule.
    #[inline]
    pub fn reset(&self) -> Reset {
        self.reset
    }

    /// Advances a population stored channel-last (`HWC`) by one step.
    ///
    /// Applies [`update`] to every membrane in `mem`, writes the spikes to `bits`
    /// (bit `i` of word `i / 32` for neuron `i`) and returns how many fired.
    ///
    /// # Shapes
    /// `mem.len()` is a multiple of [`channels`](Self::channels); `bits` has
    /// `ceil(mem.len() / 32)` words. Extra words are cleared.
    pub fn step(&self, mem: &mut [i32], bits: &mut [u32]) -> u32 {
        let channels = self.channels().max(1);
        let (leak, reset) = (self.leak, self.reset);
        let mut fired = 0;
        let mut c = 0;
        for (word_out, chunk) in bits.iter_mut().zip(mem.chunks_mut(32)) {
            let mut word = 0u32;
            for (b, m) in chunk.iter_mut().enumerate() {
                let u = *m;
                // A membrane at rest stays at rest (leak(0) = 0, thresholds >= 1):
                // the common case in sparse layers costs a compare.
                if u != 0 {
                    let (v, spike) = update(u, self.threshold_of(c), leak, reset);
                    *m = v;
                    word |= u32::from(spike) << b;
                }
                c += 1;
                if c == channels {
                    c = 0;
                }
            }
            *word_out = word;
            fired += word.count_ones();
        }
        // Words past the population's neurons (none when `bits` is sized right).
        for w in bits.iter_mut().skip(mem.len().div_ceil(32)) {
            *w = 0;
        }
        fired
    }
}

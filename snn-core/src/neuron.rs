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
    /// `lambda = 0`: nothing kept from one step to the next (a synaptic current that
    /// is only this step's input, see [`crate::synapse`]).
    pub const ZERO: Self = Self(U1F15::ZERO);

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

/// [`update`] for a 16-bit membrane: the same rule, in a range where nothing clamps
/// (`|leak(u)| <= |u|`, and `u - th` lies in `1..=32766` when the neuron fires).
///
/// ```
/// use snn_core::{format::Reset, neuron::{update_i16, Leak}};
/// let leak = Leak::from_bits(32440).unwrap();
/// assert_eq!(update_i16(i16::MIN, 100, leak, Reset::Hard), (-32440, false));
/// assert_eq!(update_i16(i16::MAX, 100, leak, Reset::Subtract), (32340, true));
/// ```
#[inline]
pub fn update_i16(u: i16, th: i16, leak: Leak, reset: Reset) -> (i16, bool) {
    let (v, spike) = update(i32::from(u), i32::from(th), leak, reset);
    (v as i16, spike)
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
    /// Decay of the synaptic current (zero: none; see [`crate::synapse`]).
    pub(crate) synapse: Leak,
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

    /// Decay of the synaptic current; zero for a population without one (see
    /// [`crate::synapse`]).
    #[inline]
    pub fn synapse(&self) -> Leak {
        self.synapse
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
        let (leak, reset) = (self.leak, self.reset);
        self.step_with(mem, bits, |u, th| update(u, th, leak, reset))
    }

    /// The loop of [`step`](Self::step) and the portable [`step_i16`](Self::step_i16):
    /// `update(u, threshold)` on every membrane not at rest, in neuron order, the spikes
    /// into `bits`; returns how many fired.
    #[inline(always)]
    fn step_with<T: Copy + Default + PartialEq>(
        &self,
        mem: &mut [T],
        bits: &mut [u32],
        update: impl Fn(T, i32) -> (T, bool),
    ) -> u32 {
        let channels = self.channels().max(1);
        let mut fired = 0;
        let mut c = 0;
        for (word_out, chunk) in bits.iter_mut().zip(mem.chunks_mut(32)) {
            let mut word = 0u32;
            for (b, m) in chunk.iter_mut().enumerate() {
                let u = *m;
                // A membrane at rest stays at rest (leak(0) = 0, thresholds >= 1):
                // the common case in sparse layers costs a compare.
                if u != T::default() {
                    let (v, spike) = update(u, self.threshold_of(c));
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

    /// Words of the packed threshold table of a 16-bit population:
    /// `ceil(channels / 2)`.
    #[inline]
    pub fn pair_words(&self) -> usize {
        self.channels().div_ceil(2)
    }

    /// Writes the packed threshold table of a 16-bit population: word `k` holds the
    /// thresholds of channels `2k` (bits 0..16) and `2k + 1` (bits 16..32), each
    /// clamped to `i16::MAX` (validation keeps them there); a missing last channel is
    /// `i16::MAX`. The engine writes it into the state arena when a session starts.
    pub fn write_pairs(&self, pairs: &mut [u32]) {
        let th = |c: usize| self.threshold(c).min(i32::from(i16::MAX)) as u32;
        for (k, p) in pairs.iter_mut().enumerate() {
            *p = th(2 * k) | (th(2 * k + 1) << 16);
        }
    }

    /// [`step`](Self::step) for 16-bit membranes: [`update_i16`] on every membrane.
    ///
    /// With the `dsp` feature on 32-bit Arm and an even channel count, two neurons per
    /// word: the leak with `SMLABB`/`SMLATB`, the decision with `SSUB16` and `SEL`
    /// against the packed thresholds `pairs` ([`write_pairs`](Self::write_pairs));
    /// otherwise the portable loop. Both give the same membranes and spikes.
    ///
    /// # Shapes
    /// As [`step`](Self::step); `pairs` has [`pair_words`](Self::pair_words) words.
    pub fn step_i16(&self, mem: &mut [i16], pairs: &[u32], bits: &mut [u32]) -> u32 {
        #[cfg(all(feature = "dsp", target_arch = "arm"))]
        if let Some(fired) = self.step_pairs(mem, pairs, bits) {
            return fired;
        }
        let _ = pairs;
        let (leak, reset) = (self.leak, self.reset);
        // Validation keeps 16-bit populations' thresholds at most `i16::MAX`.
        self.step_with(mem, bits, |u, th| {
            update_i16(u, th.min(i32::from(i16::MAX)) as i16, leak, reset)
        })
    }

    /// The DSP form of [`step_i16`](Self::step_i16), or `None` where it does not apply
    /// (an odd channel count, or a table of the wrong length).
    #[cfg(all(feature = "dsp", target_arch = "arm"))]
    fn step_pairs(&self, mem: &mut [i16], pairs: &[u32], bits: &mut [u32]) -> Option<u32> {
        let channels = self.channels();
        if !channels.is_multiple_of(2)
            || pairs.len() != channels / 2
            || !mem.len().is_multiple_of(channels)
        {
            return None;
        }
        let words = bytemuck::try_cast_slice_mut::<i16, u32>(mem).ok()?;
        let bits_needed = words.len().div_ceil(16);
        if bits.len() < bits_needed {
            return None;
        }
        let leak = u32::from(self.leak.to_bits());
        Some(match (leak < 1 << 15, self.reset) {
            (true, Reset::Hard) => step_pairs::<true, false>(words, pairs, leak, bits),
            (true, Reset::Subtract) => step_pairs::<true, true>(words, pairs, leak, bits),
            (false, Reset::Hard) => step_pairs::<false, false>(words, pairs, leak, bits),
            (false, Reset::Subtract) => step_pairs::<false, true>(words, pairs, leak, bits),
        })
    }
}

/// Spreads the 16 bits of `x` to the even bit positions of a word (bit `k` to `2k`).
#[cfg(all(feature = "dsp", target_arch = "arm"))]
#[inline(always)]
fn spread(x: u32) -> u32 {
    let x = (x | (x << 8)) & 0x00FF_00FF;
    let x = (x | (x << 4)) & 0x0F0F_0F0F;
    let x = (x | (x << 2)) & 0x3333_3333;
    (x | (x << 1)) & 0x5555_5555
}

/// Two neurons per word (see [`Neurons::step_i16`]), 16 words (32 neurons) per spike
/// bitset word. Per word: the leak of both lanes (`leak_pair`), the decision and reset
/// (`fire_select`), and one `ORR` that shifts the two spike bits into an accumulator
/// (lane 0's into its low half, lane 1's into its high half), interleaved into neuron
/// order once per bitset word.
#[cfg(all(feature = "dsp", target_arch = "arm"))]
#[inline(never)]
fn step_pairs<const LEAKY: bool, const SUBTRACT: bool>(
    words: &mut [u32],
    pairs: &[u32],
    l: u32,
    bits: &mut [u32],
) -> u32 {
    use crate::dsp::{fire_select, leak_pair, ssub16};
    let half = pairs.len();
    let mut fired = 0;
    // Spike bits of the pairs since the last full bitset word (see `flush`), and how
    // many pairs that is.
    let (mut acc, mut n) = (0u32, 0u32);
    let mut out = bits.iter_mut();
    // Writes the next bitset word from the spike bits of the last `n` pairs.
    let mut flush = |acc: u32, n: u32, out: &mut core::slice::IterMut<'_, u32>| {
        // Pair j of `n` has its lane-0 bit at 16 - n + j and its lane-1 bit at
        // 32 - n + j.
        let acc = acc >> (16 - n);
        let word = if acc == 0 {
            0
        } else {
            spread(acc & 0xFFFF) | (spread(acc >> 16) << 1)
        };
        if let Some(o) = out.next() {
            *o = word;
        }
        fired += word.count_ones();
    };
    // Hard reset: the assembly walks the whole population (`dsp::hard_walk`), in
    // runs of at most 16 pairs inside a pixel. Spikes are rare: a run that fired
    // leaves a record, whose bits are spread to neuron order here and ORed into the
    // (cleared) bitset at the run's first neuron `2q`.
    if !SUBTRACT {
        bits.fill(0);
        crate::dsp::hard_pairs::<LEAKY>(words, pairs, l, |acc, q, run| {
            // Pair j of the run: lane 0 at bit 16 - run + j, lane 1 at 32 - run + j.
            let acc = acc >> (16 - run);
            let two = u64::from(spread(acc & 0xFFFF) | (spread(acc >> 16) << 1)) << (2 * (q % 16));
            fired += two.count_ones();
            if let Some(b) = bits.get_mut(q / 16) {
                *b |= two as u32;
            }
            if let Some(b) = bits.get_mut(q / 16 + 1) {
                *b |= (two >> 32) as u32;
            }
        });
        return fired;
    }
    // Subtract reset: the same in Rust. One pixel at a time.
    for pixel in words.chunks_exact_mut(half.max(1)).filter(|_| SUBTRACT) {
        for (m, &th) in pixel.iter_mut().zip(pairs) {
            let u = *m;
            acc >>= 1;
            // Both at rest: they stay there (leak(0) = 0, thresholds >= 1).
            if u != 0 {
                let rest = if LEAKY { leak_pair(u, l) } else { u };
                let reset = if SUBTRACT {
                    let d = ssub16(u, th);
                    if LEAKY {
                        leak_pair(d, l)
                    } else {
                        d
                    }
                } else {
                    0
                };
                let (v, f) = fire_select(u, th, rest, reset);
                *m = v;
                acc |= f;
            }
            n += 1;
            if n == 16 {
                flush(acc, 16, &mut out);
                (acc, n) = (0, 0);
            }
        }
    }
    if n > 0 {
        flush(acc, n, &mut out);
    }
    for w in out {
        *w = 0;
    }
    fired
}

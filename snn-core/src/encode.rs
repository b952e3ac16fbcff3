//! The rate ("Poisson") input encoder and the PRNG that drives it.
//!
//! Holds the specified generator ([`Xoshiro128PlusPlus`] seeded through
//! [`SplitMix64`]), the per-pixel spike thresholds derived from `u8` pixels, and one
//! encoding step. Integer only: the same seed gives the same spikes on every target.
//! The layers the spikes feed are in [`crate::layer`].

use crate::round::round_f64;

/// The pixel unit of the encoder tables: a `u8` pixel `p` is `256 p` in these units,
/// so full scale (`p = 255`) is `255 * 256 = 65280`. Centres lie in `0..=PIXEL_UNIT`,
/// and a gain is a U0.32 spike probability per unit, so the spike probability of a
/// pixel is `|256 p - center| * gain / 2^32`.
pub const PIXEL_UNIT: u32 = 255 * 256;

/// `2^32`, the U0.32 probability one.
const PROBABILITY_ONE: f64 = 4_294_967_296.0;

/// The encoder gain that makes the spike probability `c * p / 255` for an unsigned
/// input (`center = 0`; MNIST uses `c = 0.5`):
///
/// ```text
/// gain = round(c * 2^32 / 65280)           f64, round half away from zero, then
///                                          saturated to 0..=u32::MAX (NaN -> 0)
/// ```
///
/// ```
/// use snn_core::encode::{pixel_threshold, unsigned_gain};
/// assert_eq!(unsigned_gain(0.5), 32897);
/// let (thr, _) = pixel_threshold(255, 0, unsigned_gain(1.0));
/// assert!(thr > u32::MAX - 65280); // a white pixel always spikes
/// ```
#[inline]
pub fn unsigned_gain(c: f64) -> u32 {
    round_f64(c * PROBABILITY_ONE / f64::from(PIXEL_UNIT)) as u32
}

/// The encoder centre and gain of one channel normalised as
/// `x = (p / 255 - mean) / std`, spiking with probability `|x|` and the sign of `x`
/// (CIFAR-10, SVHN):
///
/// ```text
/// center = round(mean * 65280)                      saturated to i32 (NaN -> 0)
/// gain   = min(round(2^32 / (std * 65280)), 2^32 - 1)   saturated to u32 (NaN -> 2^32 - 1)
/// ```
/// Both in `f64`, rounding half away from zero. A centre outside `0..=65280` (a mean
/// outside `[0, 1]`) is rejected when the model is loaded.
///
/// ```
/// use snn_core::encode::normalised_channel;
/// let (center, gain) = normalised_channel(0.5, 0.25);
/// assert_eq!(center, 32640);
/// assert_eq!(gain, 263172); // 2^32 / 16320 = 263172.02, rounded
/// assert_eq!(normalised_channel(0.0, 0.0).1, u32::MAX);
/// ```
#[inline]
pub fn normalised_channel(mean: f64, std: f64) -> (i32, u32) {
    let unit = f64::from(PIXEL_UNIT);
    let center = round_f64(mean * unit) as i32;
    let gain = round_f64(PROBABILITY_ONE / (std * unit)).min(f64::from(u32::MAX)) as u32;
    (center, gain)
}

/// SplitMix64, used only to expand a `u64` seed into xoshiro state.
///
/// ```text
/// state += 0x9e3779b97f4a7c15
/// z = state;  z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9;  z = (z ^ z >> 27) * 0x94d049bb133111eb
/// return z ^ z >> 31                                   (all wrapping u64)
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    #[inline]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next output.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// xoshiro128++ (Blackman & Vigna), 32-bit outputs.
///
/// Seeding: two SplitMix64 outputs `a, b` give the state
/// `[a as u32, a >> 32, b as u32, b >> 32]`; this is what `rand_xoshiro`'s
/// `Xoshiro128PlusPlus::seed_from_u64` does, so host tools can reproduce the stream.
///
/// ```
/// use snn_core::encode::Xoshiro128PlusPlus;
/// let mut a = Xoshiro128PlusPlus::seed_from_u64(7);
/// let mut b = Xoshiro128PlusPlus::seed_from_u64(7);
/// assert_eq!(a.next_u32(), b.next_u32());
/// ```
#[derive(Debug, Clone)]
pub struct Xoshiro128PlusPlus {
    s: [u32; 4],
}

impl Xoshiro128PlusPlus {
    /// The generator for `seed` (see the type's documentation).
    pub fn seed_from_u64(seed: u64) -> Self {
        let mut sm = SplitMix64::new(seed);
        let (a, b) = (sm.next_u64(), sm.next_u64());
        let s = [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32];
        // An all-zero state is a fixed point; SplitMix64 cannot produce two zero outputs
        // in a row, but keep the guard so the generator is total.
        if s == [0; 4] {
            return Self { s: [1, 0, 0, 0] };
        }
        Self { s }
    }

    /// The next 32-bit output.
    ///
    /// ```text
    /// r = rotl(s0 + s3, 7) + s0
    /// t = s1 << 9;  s2 ^= s0;  s3 ^= s1;  s1 ^= s2;  s0 ^= s3;  s2 ^= t;  s3 = rotl(s3, 11)
    /// ```
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        let s = &mut self.s;
        let r = s[0].wrapping_add(s[3]).rotate_left(7).wrapping_add(s[0]);
        let t = s[1] << 9;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(11);
        r
    }
}

/// Spike threshold of one pixel: the spike probability in U0.32.
///
/// ```text
/// d   = |256 * pixel - center|                   (center in 0..=65280)
/// thr = min(d * gain, 2^32 - 1)                  (64-bit product)
/// ```
/// A spike fires at a step when the next PRNG output `r` satisfies `r < thr`, with
/// sign `-1` when `256 * pixel < center`. For MNIST (`x = p / 255`, `c = 0.5`):
/// `center = 0`, `gain = round(0.5 * 2^32 / 65280) = 32897`.
///
/// ```
/// use snn_core::encode::pixel_threshold;
/// assert_eq!(pixel_threshold(0, 0, 32897), (0, false));
/// let (thr, neg) = pixel_threshold(255, 0, 32897);
/// assert!(!neg && (thr as f64 / 4294967296.0 - 0.5).abs() < 1e-4);
/// ```
#[inline]
pub fn pixel_threshold(pixel: u8, center: i32, gain: u32) -> (u32, bool) {
    // `256 * pixel` is at most 65280 and a valid centre lies in 0..=65280, so `v` fits
    // an i32 for them; any i32 centre is computed in 64 bits all the same.
    let v = i64::from(pixel) * 256 - i64::from(center);
    let d = v.unsigned_abs();
    let thr = d.saturating_mul(u64::from(gain)).min(u64::from(u32::MAX));
    (thr as u32, v < 0)
}

/// Draws one step of input spikes.
///
/// For every pixel `i` with `thr[i] > 0`, in increasing `i`: draw `r = rng.next_u32()`
/// and, if `r < thr[i]`, set bit `i` in `neg` when bit `i` of `sign` is set, else in
/// `pos`. Pixels with `thr[i] == 0` consume no draw, so a black image costs nothing.
///
/// # Shapes
/// `thr`: one word per pixel; `sign`, `pos`, `neg`: `ceil(thr.len() / 32)` words.
pub fn encode_step(
    thr: &[u32],
    sign: &[u32],
    rng: &mut Xoshiro128PlusPlus,
    pos: &mut [u32],
    neg: &mut [u32],
) {
    pos.fill(0);
    neg.fill(0);
    for (w, chunk) in thr.chunks(32).enumerate() {
        let negs = sign.get(w).copied().unwrap_or(0);
        let (mut p, mut n) = (0u32, 0u32);
        for (b, &t) in chunk.iter().enumerate() {
            if t != 0 && rng.next_u32() < t {
                if negs & (1 << b) != 0 {
                    n |= 1 << b;
                } else {
                    p |= 1 << b;
                }
            }
        }
        if let Some(x) = pos.get_mut(w) {
            *x = p;
        }
        if let Some(x) = neg.get_mut(w) {
            *x = n;
        }
    }
}

/// [`encode_step`] reading the pixels themselves instead of a per-pixel threshold table
/// (what the engine does, to keep one byte of state per pixel instead of four): pixel
/// `i` of channel `c = i % tables.len()` has threshold and sign
/// [`pixel_threshold`]`(pixels[i], tables[c][0] as i32, tables[c][1])`, and the draws
/// follow in the same order, so both forms give the same spikes.
///
/// # Shapes
/// `tables`: one `[center, gain]` per channel; `pos`, `neg`: `ceil(pixels.len() / 32)`
/// words.
///
/// ```
/// use snn_core::encode::{encode_pixels_step, encode_step, pixel_threshold, Xoshiro128PlusPlus};
/// let pixels = [0u8, 40, 255, 128, 7];
/// let tables = [[0u32, 32897], [30000, 65793]];
/// let (mut thr, mut sign) = (vec![0u32; 5], vec![0u32; 1]);
/// for (i, &p) in pixels.iter().enumerate() {
///     let [c, g] = tables[i % 2];
///     let (t, negative) = pixel_threshold(p, c as i32, g);
///     thr[i] = t;
///     sign[0] |= u32::from(negative) << i;
/// }
/// let (mut a, mut b) = (Xoshiro128PlusPlus::seed_from_u64(9), Xoshiro128PlusPlus::seed_from_u64(9));
/// let (mut p1, mut n1, mut p2, mut n2) = ([0u32], [0u32], [0u32], [0u32]);
/// for _ in 0..50 {
///     encode_step(&thr, &sign, &mut a, &mut p1, &mut n1);
///     encode_pixels_step(&pixels, &tables, &mut b, &mut p2, &mut n2);
///     assert_eq!((p1, n1), (p2, n2));
/// }
/// ```
pub fn encode_pixels_step(
    pixels: &[u8],
    tables: &[[u32; 2]],
    rng: &mut Xoshiro128PlusPlus,
    pos: &mut [u32],
    neg: &mut [u32],
) {
    pos.fill(0);
    neg.fill(0);
    match tables {
        // One channel (MNIST): the table is a constant of the loop.
        &[one] => encode_pixels_with(pixels, rng, pos, neg, || one),
        _ => {
            let mut c = 0;
            encode_pixels_with(pixels, rng, pos, neg, || {
                let t = tables.get(c).copied().unwrap_or([0, 0]);
                c += 1;
                if c >= tables.len() {
                    c = 0;
                }
                t
            })
        }
    }
}

/// The loop of [`encode_pixels_step`]; `table()` gives the next pixel's
/// `[center, gain]`. `pos` and `neg` are cleared.
#[inline(always)]
fn encode_pixels_with(
    pixels: &[u8],
    rng: &mut Xoshiro128PlusPlus,
    pos: &mut [u32],
    neg: &mut [u32],
    mut table: impl FnMut() -> [u32; 2],
) {
    for (w, chunk) in pixels.chunks(32).enumerate() {
        let (mut p, mut n) = (0u32, 0u32);
        for (b, &px) in chunk.iter().enumerate() {
            let [center, gain] = table();
            // A black pixel of an unsigned channel: threshold 0, no draw.
            if px == 0 && center == 0 {
                continue;
            }
            let (t, negative) = pixel_threshold(px, center as i32, gain);
            if t != 0 && rng.next_u32() < t {
                if negative {
                    n |= 1 << b;
                } else {
                    p |= 1 << b;
                }
            }
        }
        if p | n != 0 {
            if let Some(x) = pos.get_mut(w) {
                *x = p;
            }
            if let Some(x) = neg.get_mut(w) {
                *x = n;
            }
        }
    }
}

/// Counts the set bits of a spike bitset.
#[inline]
pub fn count_spikes(bits: &[u32]) -> u32 {
    bits.iter().map(|w| w.count_ones()).sum()
}

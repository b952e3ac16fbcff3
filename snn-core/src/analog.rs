//! The analog input drive ([`Drive::Analog`](crate::format::Drive)): the first layer's
//! constant input current, computed once per inference from the `u8` pixels.
//!
//! ```text
//! v[j]   = p[j] - center[c(j)] / 256                      -255..=255
//! C[n]   = sum_j W[j, n] * v[j]                           exact in i32 (fan-in bound)
//! I[n]   = clamp((C[n] + 2^(shift-1)) >> shift, width)    shift 0: I = C
//! ```
//! with `W` the first layer's weights (a convolution's taps with its geometry, or a
//! dense layer's rows) and `width` the membrane range (`-32768..=32767` for 16-bit
//! membranes, `-2^30..=2^30 - 1` for 32-bit ones). At every step the first layer's
//! membranes receive `V = sat(V + I)` (the membrane's own add) before their neurons
//! update. `I` is stored at the membrane width (the clamp makes that exact), so an
//! analog model costs one membrane's worth of state more. The sums are gathered per
//! output neuron, 16 channels at a time, over the values `v != 0` only, so the work
//! follows the input's ink: each multiply-accumulate counts as one synaptic event of
//! the first layer. On cores with the DSP extension a row is four products per
//! `SXTB16` pair and one `SMLAxB` each.

use crate::format::Membranes;
use crate::layer::Conv;
use crate::neuron::{STATE_LIMIT, STATE_MIN};

/// `acc[j] += v * w[j]` over a stored (interleaved) weight row, in logical order,
/// wrapping (validation bounds the sums so they never wrap).
#[inline]
pub fn mac_row_portable(acc: &mut [i32], w: &[u8], v: i32) {
    let n = acc.len().min(w.len());
    let (acc, w) = (&mut acc[..n], &w[..n]);
    let (ac, ar) = acc.as_chunks_mut::<4>();
    let (wc, wr) = w.as_chunks::<4>();
    for (a, w) in ac.iter_mut().zip(wc) {
        for (k, &l) in [0usize, 2, 1, 3].iter().enumerate() {
            a[l] = a[l].wrapping_add(v.wrapping_mul(i32::from(w[k] as i8)));
        }
    }
    for (a, &w) in ar.iter_mut().zip(wr) {
        *a = a.wrapping_add(v.wrapping_mul(i32::from(w as i8)));
    }
}

#[inline]
fn mac_row(acc: &mut [i32], w: &[u8], v: i32) {
    #[cfg(all(feature = "dsp", target_arch = "arm"))]
    crate::dsp::mac_row(acc, w, v);
    #[cfg(not(all(feature = "dsp", target_arch = "arm")))]
    mac_row_portable(acc, w, v);
}

/// The first layer of an analog model: what its current is summed through.
#[derive(Debug, Clone, Copy)]
pub(crate) enum First<'a> {
    Conv(&'a Conv<'a>),
    /// Dense weights, `[input][output]` rows of `outputs` bytes.
    Dense(&'a [u8]),
}

/// Output channels summed at once: a multiple of four, so that a slice of a stored row
/// starting at a multiple of [`CHUNK`] is itself a stored row.
const CHUNK: usize = 16;

/// `(c + 2^(shift-1)) >> shift` (`c` for `shift = 0`) as if in 64 bits, in `i32`:
/// with `q = c >> (shift - 1)` it is `floor((q + 1) / 2)` (write
/// `c = q 2^(shift-1) + r`, `0 <= r < 2^(shift-1)`), which cannot overflow.
#[inline]
fn round_shift(c: i32, shift: u8) -> i32 {
    match shift {
        0 => c,
        s => {
            let q = c >> (s - 1).min(31);
            (q >> 1) + (q & 1)
        }
    }
}

/// Nonzero taps of one output window gathered before they are applied (a batch of
/// them: a window with more applies them in batches).
const TAPS: usize = 32;

/// Adds every tap `(row, v)` of `taps` into `acc`: `v` times the stored weight row at
/// `row` (as [`mac_row`] does), four channels at a time held in registers across
/// the taps.
#[inline]
fn apply(acc: &mut [i32], weights: &[u8], taps: &[(usize, i32)]) {
    let (groups, rest) = acc.as_chunks_mut::<4>();
    for (g, a4) in groups.iter_mut().enumerate() {
        let mut a = *a4;
        for &(row, v) in taps {
            if let Some(w) = weights.get(row + 4 * g..row + 4 * g + 4) {
                mac_row(&mut a[..], w, v);
            }
        }
        *a4 = a;
    }
    let first = 4 * groups.len();
    for &(row, v) in taps {
        if let Some(w) = weights.get(row + first..row + first + rest.len()) {
            mac_row_portable(rest, w, v);
        }
    }
}

/// The pixel value of `p` around its channel's centre (`center` in pixel units times
/// 256, a multiple of 256 in a valid analog model).
#[inline]
fn value(p: u8, center: i32) -> i32 {
    i32::from(p) - (center >> 8)
}

/// Writes `I[n]` (module documentation) for every first-layer neuron into `out` (the
/// membrane width's values, packed into words: `n` 16-bit values or `n` words) and
/// returns the multiply-accumulates performed. `center` gives each channel's centre.
pub(crate) fn current(
    first: First<'_>,
    pixels: &[u8],
    channels: usize,
    center: impl Fn(usize) -> i32,
    shift: u8,
    width: Membranes,
    out: &mut [u32],
) -> u64 {
    let scale = |c: i32, lo: i32, hi: i32| round_shift(c, shift).clamp(lo, hi);
    match width {
        Membranes::I16 => {
            let out: &mut [i16] = bytemuck::cast_slice_mut(out);
            let (lo, hi) = (i32::from(i16::MIN), i32::from(i16::MAX));
            sums(first, pixels, channels, &center, |n, c| {
                if let Some(o) = out.get_mut(n) {
                    *o = scale(c, lo, hi) as i16;
                }
            })
        }
        Membranes::I32 => {
            let out: &mut [i32] = bytemuck::cast_slice_mut(out);
            sums(first, pixels, channels, &center, |n, c| {
                if let Some(o) = out.get_mut(n) {
                    *o = scale(c, STATE_MIN, STATE_LIMIT);
                }
            })
        }
    }
}

/// Calls `store(n, C[n])` with the exact sum of every first-layer neuron, gathered
/// [`CHUNK`] output channels at a time, and returns the products computed (one per
/// nonzero value and weight it reaches: the event count of a scatter).
fn sums(
    first: First<'_>,
    pixels: &[u8],
    channels: usize,
    center: &impl Fn(usize) -> i32,
    mut store: impl FnMut(usize, i32),
) -> u64 {
    let mut acc = [0i32; CHUNK];
    let mut macs = 0u64;
    match first {
        First::Conv(conv) => {
            let (ic, ih, iw) = (
                usize::from(conv.input.channels),
                usize::from(conv.input.height),
                usize::from(conv.input.width),
            );
            let oc = usize::from(conv.output.channels);
            let (oh, ow) = (
                usize::from(conv.output.height),
                usize::from(conv.output.width),
            );
            let (k, s, p) = (conv.kernel, conv.stride, conv.padding);
            // The taps of output (oy, ox) that land inside the image: input row
            // iy = oy * s + ky - p lies in 0..ih exactly for ky in ky_lo..ky_hi.
            let window = |o: usize, n: usize| {
                let o0 = o * s;
                (p.saturating_sub(o0), k.min((n + p).saturating_sub(o0)))
            };
            let mut taps = [(0usize, 0i32); TAPS];
            for oy in 0..oh {
                let (ky_lo, ky_hi) = window(oy, ih);
                for ox in 0..ow {
                    let (kx_lo, kx_hi) = window(ox, iw);
                    let pos = oy * ow + ox;
                    for c0 in (0..oc).step_by(CHUNK) {
                        let len = CHUNK.min(oc - c0);
                        let acc = &mut acc[..len];
                        acc.fill(0);
                        let mut n = 0;
                        for ky in ky_lo..ky_hi {
                            let iy = oy * s + ky - p;
                            let x0 = ox * s + kx_lo - p;
                            let line = (iy * iw + x0) * ic..(iy * iw + x0 + kx_hi - kx_lo) * ic;
                            let line = pixels.get(line).unwrap_or_default();
                            for (t, &px) in line.iter().enumerate() {
                                let (kx, c) = (kx_lo + t / ic, t % ic);
                                let v = value(px, center(c));
                                let row = ((c * k + ky) * k + kx) * oc + c0;
                                if v == 0 || conv.weights.get(row..row + len).is_none() {
                                    continue;
                                }
                                taps[n] = (row, v);
                                n += 1;
                                macs += len as u64;
                                if n == TAPS {
                                    apply(acc, conv.weights, &taps);
                                    n = 0;
                                }
                            }
                        }
                        apply(acc, conv.weights, &taps[..n]);
                        for (o, &a) in acc.iter().enumerate() {
                            store(pos * oc + c0 + o, a);
                        }
                    }
                }
            }
        }
        First::Dense(weights) => {
            let n_in = pixels.len();
            let n = weights.len().checked_div(n_in).unwrap_or(0);
            let channels = channels.max(1);
            for c0 in (0..n).step_by(CHUNK) {
                let len = CHUNK.min(n - c0);
                let acc = &mut acc[..len];
                acc.fill(0);
                for (j, &px) in pixels.iter().enumerate() {
                    let v = value(px, center(j % channels));
                    let row = j * n + c0;
                    if let (true, Some(w)) = (v != 0, weights.get(row..row + len)) {
                        mac_row(acc, w, v);
                        macs += len as u64;
                    }
                }
                for (o, &a) in acc.iter().enumerate() {
                    store(c0 + o, a);
                }
            }
        }
    }
    macs
}

/// One step's drive: `mem[n] = sat(mem[n] + current[n])`, on the membrane and current
/// words of the model's width: two 16-bit lanes per word (saturating; one `QADD16` on
/// the DSP cores), or one `i32` each (exact: both lie in `-2^30..2^30`). A 16-bit
/// region's unused last lane has a zero current and stays as it is.
#[inline]
pub(crate) fn drive(width: Membranes, mem: &mut [u32], current: &[u32]) {
    match width {
        Membranes::I16 => {
            for (m, &c) in mem.iter_mut().zip(current) {
                *m = add_pairs(*m, c);
            }
        }
        Membranes::I32 => {
            for (m, &c) in mem.iter_mut().zip(current) {
                *m = (*m as i32).wrapping_add(c as i32) as u32;
            }
        }
    }
}

/// Lane-wise saturating 16-bit addition of two packed pairs.
#[inline(always)]
fn add_pairs(a: u32, b: u32) -> u32 {
    #[cfg(all(feature = "dsp", target_arch = "arm"))]
    {
        crate::dsp::qadd16(a, b)
    }
    #[cfg(not(all(feature = "dsp", target_arch = "arm")))]
    {
        use crate::membrane::Membrane as _;
        let lane = |x: u32, y: u32| {
            let mut v = x as u16 as i16;
            v.add(i32::from(y as u16 as i16));
            v as u16 as u32
        };
        lane(a, b) | lane(a >> 16, b >> 16) << 16
    }
}

#[cfg(test)]
mod tests {
    use super::round_shift;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_shift_is_the_64_bit_rounding(c in any::<i32>(), shift in 0u8..=24) {
            let wide = ((i64::from(c) + ((1i64 << shift) >> 1)) >> shift) as i32;
            prop_assert_eq!(round_shift(c, shift), wide);
        }
    }

    #[test]
    fn round_shift_at_the_ends_of_i32() {
        for s in 0..=24u8 {
            for c in [i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX - 1, i32::MAX] {
                let wide = ((i64::from(c) + ((1i64 << s) >> 1)) >> s) as i32;
                assert_eq!(round_shift(c, s), wide, "c = {c}, shift = {s}");
            }
        }
    }
}

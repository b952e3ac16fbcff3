//! Event-driven synaptic kernels: conv, 2x2 pool, dense and identity shortcut.
//!
//! Each kernel walks the *set bits* of the presynaptic spike bitset and scatters the
//! matching weights into the postsynaptic membranes, so a silent input costs only the
//! scan of its (zero) bitset words and no synaptic work at all. Every kernel returns
//! the number of synaptic events (one accumulate each) it performed. Neuron updates
//! live in [`crate::neuron`]; the arena layout and the step order in [`crate::engine`].
//!
//! All tensors are channel-last (`HWC`): neuron `(y, x, c)` has index
//! `(y * width + x) * channels + c`. Every kernel is generic over the membrane type
//! ([`Membrane`]: saturating `i16`, or `i32`, where model validation bounds one step's
//! current to `2^30` so that its wrapping adds never actually wrap). Weight rows are
//! stored interleaved ([`crate::format::interleave_rows`]).

use crate::membrane::Membrane;
use crate::round::round_f32;

/// Largest magnitude of an `i8` weight: weights lie in `-127..=127` (`-128` is never
/// written, so a weight and its negation have the same range).
pub const WEIGHT_LIMIT: i8 = 127;

/// Smallest weight scale [`weight_scale`] returns, so that an all-zero channel still
/// has a finite, positive scale.
pub const MIN_WEIGHT_SCALE: f32 = 1e-12;

/// Largest magnitude of an identity-shortcut gain (`2^29`): one input spike may add at
/// most half of the `2^30` step-current bound.
pub const MAX_SHORTCUT_GAIN: i32 = 1 << 29;

/// The weight scale of a channel whose largest float weight magnitude is `max_abs`:
/// the float value of one `i8` step.
///
/// ```text
/// scale = max(max_abs / 127, 1e-12)
/// ```
///
/// ```
/// use snn_core::layer::weight_scale;
/// assert_eq!(weight_scale(12.7), 0.1);
/// assert_eq!(weight_scale(0.0), 1e-12);
/// ```
#[inline]
pub fn weight_scale(max_abs: f32) -> f32 {
    (max_abs / f32::from(WEIGHT_LIMIT)).max(MIN_WEIGHT_SCALE)
}

/// Quantises one float weight to `i8` with the channel's `scale` (from
/// [`weight_scale`]):
///
/// ```text
/// w = clamp(round(v / scale), -127, 127)     round half away from zero; NaN -> 0
/// ```
///
/// ```
/// use snn_core::layer::{weight_from_f32, weight_scale};
/// let s = weight_scale(2.0);
/// assert_eq!(weight_from_f32(2.0, s), 127);
/// assert_eq!(weight_from_f32(-1.0, s), -64); // -63.5 rounds away from zero
/// assert_eq!(weight_from_f32(5.0, s), 127);  // clamped
/// ```
#[inline]
pub fn weight_from_f32(v: f32, scale: f32) -> i8 {
    let limit = f32::from(WEIGHT_LIMIT);
    round_f32(v / scale).clamp(-limit, limit) as i8
}

/// An identity-shortcut gain from its float value (`1 / scale` of the block's second
/// convolution): what one input spike adds to the membrane.
///
/// ```text
/// gain = clamp(round(x), -2^29, 2^29)        round half away from zero; NaN -> 0
/// ```
///
/// ```
/// use snn_core::layer::{shortcut_gain_from_f32, MAX_SHORTCUT_GAIN};
/// assert_eq!(shortcut_gain_from_f32(1.0 / 0.0125), 80);
/// assert_eq!(shortcut_gain_from_f32(1e12), MAX_SHORTCUT_GAIN);
/// ```
#[inline]
pub fn shortcut_gain_from_f32(x: f32) -> i32 {
    let limit = MAX_SHORTCUT_GAIN as f32;
    round_f32(x).clamp(-limit, limit) as i32
}

/// Shape of a channel-last tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    /// Channels.
    pub channels: u16,
    /// Rows.
    pub height: u16,
    /// Columns.
    pub width: u16,
}

impl Shape {
    /// `channels * height * width`, saturating at `usize::MAX` (on a 32-bit target
    /// the product of three `u16` can exceed `usize`). Exact for every shape of a
    /// validated model, which has at most [`MAX_NEURONS`](crate::MAX_NEURONS).
    ///
    /// ```
    /// use snn_core::layer::Shape;
    /// assert_eq!(Shape { channels: 3, height: 32, width: 32 }.len(), 3072);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// `channels * height * width`, or `None` when it does not fit `usize`.
    ///
    /// ```
    /// use snn_core::layer::Shape;
    /// let big = Shape { channels: 1025, height: 2048, width: 2048 }; // 2^32 + 2^22
    /// assert_eq!(big.checked_len(), usize::try_from(1025u64 << 22).ok());
    /// ```
    #[inline]
    pub fn checked_len(&self) -> Option<usize> {
        usize::from(self.channels)
            .checked_mul(usize::from(self.height))?
            .checked_mul(usize::from(self.width))
    }

    /// True when any dimension is zero.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.channels == 0 || self.height == 0 || self.width == 0
    }

    /// Splits a neuron index into `(y, x, c)`.
    ///
    /// ```
    /// use snn_core::layer::Shape;
    /// let s = Shape { channels: 3, height: 2, width: 4 };
    /// assert_eq!(s.coords((1 * 4 + 2) * 3 + 1), (1, 2, 1));
    /// ```
    #[inline]
    pub fn coords(&self, i: usize) -> (usize, usize, usize) {
        let c = i % usize::from(self.channels);
        let pix = i / usize::from(self.channels);
        (
            pix / usize::from(self.width),
            pix % usize::from(self.width),
            c,
        )
    }
}

/// Number of `u32` words of a bitset holding `n` spikes.
#[inline]
pub const fn words_for(n: usize) -> usize {
    n.div_ceil(32)
}

/// Calls `f(i)` for every set bit `i` of `bits`, in increasing order.
#[inline]
pub fn for_each_spike(bits: &[u32], mut f: impl FnMut(usize)) {
    for (w, &word) in bits.iter().enumerate() {
        // A multiple of 32 (saturated at `usize::MAX` for a bitset too long to index,
        // possible only on a 16- or 32-bit target), so `base | b` is `base + b`.
        let base = w.saturating_mul(32);
        let mut word = word;
        while word != 0 {
            let b = word.trailing_zeros() as usize;
            f(base | b);
            word &= word - 1;
        }
    }
}

/// A validated convolution: geometry plus borrowed weights.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Conv<'a> {
    pub(crate) input: Shape,
    pub(crate) output: Shape,
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) padding: usize,
    /// `i8` as bytes, `[ic][ky][kx][oc]`.
    pub(crate) weights: &'a [u8],
}

impl Conv<'_> {
    /// Output size along one axis: `(n + 2p - k) / s + 1`, or `None` when the kernel
    /// does not fit.
    pub fn out_len(n: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
        let span = n
            .checked_add(padding.checked_mul(2)?)?
            .checked_sub(kernel)?;
        Some(span / stride.max(1) + 1)
    }

    /// Scatters the spikes of `bits` (input neurons, `HWC`) into `mem` (output, `HWC`).
    ///
    /// ```text
    /// for each input spike (iy, ix, ic) with sign s, each (ky, kx) with
    ///     oy = (iy + p - ky) / stride,  ox = (ix + p - kx) / stride   (exact, in range):
    ///   mem[oy, ox, :] += s * W[ic, ky, kx, :]
    /// ```
    /// which equals the cross-correlation `U[o] += sum W[ic,ky,kx,o] x[oy*s-p+ky, ...]`.
    ///
    /// # Shapes
    /// `bits`: `ceil(input.len() / 32)` words; `mem`: `output.len()`.
    ///
    /// Returns the number of synaptic events (weight adds).
    pub fn scatter<M: Membrane>(&self, bits: &[u32], negative: bool, mem: &mut [M]) -> u64 {
        let oc = usize::from(self.output.channels);
        let (oh, ow) = (
            usize::from(self.output.height),
            usize::from(self.output.width),
        );
        let n_in = self.input.len();
        let mut events = 0u64;
        if self.stride == 1 {
            return self.scatter_stride_one(bits, negative, mem);
        }
        for_each_spike(bits, |i| {
            if i >= n_in {
                return;
            }
            let (iy, ix, ic) = self.input.coords(i);
            self.for_each_row((iy, ix, ic), (oh, ow), |w0, m0| {
                if let (Some(w), Some(m)) =
                    (self.weights.get(w0..w0 + oc), mem.get_mut(m0..m0 + oc))
                {
                    M::add_row(m, w, negative);
                    events += oc as u64;
                }
            });
        });
        events
    }

    /// [`scatter`](Self::scatter) for stride 1 (every LeNet convolution), one kernel row
    /// `ky` at a time: the taps `kx` that reach the output read consecutive weight rows
    /// and write consecutive membrane rows in reverse (output `ox = ix + p - kx`), so
    /// one bounds check per kernel row covers them all, and the row adds run back to
    /// back. Same rows, same order as [`for_each_row`](Self::for_each_row).
    fn scatter_stride_one<M: Membrane>(&self, bits: &[u32], negative: bool, mem: &mut [M]) -> u64 {
        let oc = usize::from(self.output.channels);
        let (oh, ow) = (
            usize::from(self.output.height),
            usize::from(self.output.width),
        );
        let (k, p) = (self.kernel, self.padding);
        let n_in = self.input.len();
        let mut events = 0u64;
        for_each_spike(bits, |i| {
            if i >= n_in {
                return;
            }
            let (iy, ix, ic) = self.input.coords(i);
            let (ny, nx) = (iy + p, ix + p);
            // Output column nx - kx lies in 0..ow exactly for kx in kx0..kx1.
            let (kx0, kx1) = ((nx + 1).saturating_sub(ow), k.min(nx + 1));
            if kx0 >= kx1 {
                return;
            }
            for ky in (ny + 1).saturating_sub(oh)..k.min(ny + 1) {
                let (w_row, m_row) = ((ic * k + ky) * k, (ny - ky) * ow);
                let w = self.weights.get((w_row + kx0) * oc..(w_row + kx1) * oc);
                let m = mem.get_mut((m_row + nx + 1 - kx1) * oc..(m_row + nx + 1 - kx0) * oc);
                if let (Some(w), Some(m)) = (w, m) {
                    M::add_rows_reversed(m, w, kx1 - kx0, oc, negative);
                    events += ((kx1 - kx0) * oc) as u64;
                }
            }
        });
        events
    }

    /// Calls `f(w0, m0)` with the start of the weight row `W[ic, ky, kx, :]` and of
    /// the membrane row `mem[oy, ox, :]` of every `(ky, kx)` that input `(iy, ix, ic)`
    /// reaches, in increasing `(ky, kx)` order. Stride 1 (every LeNet convolution)
    /// takes a path without divisions over the same rows: on the host, the general
    /// path's divisions by the stride cost more than the additions they guard.
    #[inline]
    fn for_each_row(
        &self,
        (iy, ix, ic): (usize, usize, usize),
        (oh, ow): (usize, usize),
        mut f: impl FnMut(usize, usize),
    ) {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        let oc = usize::from(self.output.channels);
        if s == 1 {
            // Output row oy = iy + p - ky lies in 0..oh exactly for ky in this range.
            let (ny, nx) = (iy + p, ix + p);
            let kx_range = (nx + 1).saturating_sub(ow)..k.min(nx + 1);
            for ky in (ny + 1).saturating_sub(oh)..k.min(ny + 1) {
                let (w_row, m_row) = ((ic * k + ky) * k, (ny - ky) * ow);
                for kx in kx_range.clone() {
                    f((w_row + kx) * oc, (m_row + nx - kx) * oc);
                }
            }
            return;
        }
        self.for_each_row_strided((iy, ix, ic), (oh, ow), f);
    }

    /// [`for_each_row`](Self::for_each_row) for stride `s > 1`: the taps that reach an
    /// output are those with `(iy + p - ky) % s == 0`, so `ky` starts at
    /// `(iy + p) % s` and steps by `s` while the output row `oy = (iy + p - ky) / s`
    /// steps down by one (the same for `kx`): two divisions per axis and spike instead
    /// of two per tap, and no visit to the `1 - 1/s^2` of the taps that reach nothing.
    /// Same rows, same order as [`for_each_row_general`](Self::for_each_row_general).
    #[inline]
    fn for_each_row_strided(
        &self,
        (iy, ix, ic): (usize, usize, usize),
        (oh, ow): (usize, usize),
        mut f: impl FnMut(usize, usize),
    ) {
        let (k, s, p) = (self.kernel, self.stride.max(1), self.padding);
        let oc = usize::from(self.output.channels);
        let (ny, nx) = (iy + p, ix + p);
        let (ky0, kx0) = (ny % s, nx % s);
        // Taps beyond `ny` (or `nx`) would need a negative input offset.
        let (ky1, kx1) = (k.min(ny + 1), k.min(nx + 1));
        let (oy0, ox0) = (ny / s, nx / s);
        let mut oy = oy0;
        for ky in (ky0..ky1).step_by(s) {
            if oy < oh {
                let w_row = (ic * k + ky) * k;
                let mut ox = ox0;
                for kx in (kx0..kx1).step_by(s) {
                    if ox < ow {
                        f((w_row + kx) * oc, (oy * ow + ox) * oc);
                    }
                    ox = ox.wrapping_sub(1);
                }
            }
            oy = oy.wrapping_sub(1);
        }
    }

    /// [`for_each_row`](Self::for_each_row) for any stride, one tap at a time (what its
    /// stride-1 and strided paths are tested against).
    #[cfg(test)]
    fn for_each_row_general(
        &self,
        (iy, ix, ic): (usize, usize, usize),
        (oh, ow): (usize, usize),
        mut f: impl FnMut(usize, usize),
    ) {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        let oc = usize::from(self.output.channels);
        for ky in 0..k {
            let Some(ny) = (iy + p).checked_sub(ky) else {
                break;
            };
            if ny % s != 0 || ny / s >= oh {
                continue;
            }
            let oy = ny / s;
            for kx in 0..k {
                let Some(nx) = (ix + p).checked_sub(kx) else {
                    break;
                };
                if nx % s != 0 || nx / s >= ow {
                    continue;
                }
                let ox = nx / s;
                f(((ic * k + ky) * k + kx) * oc, (oy * ow + ox) * oc);
            }
        }
    }
}

/// Scatters spikes through 2x2 average pooling (stride 2, floor): each input spike adds
/// `±1` to the membrane of its pool, in units of a quarter of the float current.
///
/// ```text
/// mem[iy / 2, ix / 2, c] += s      when iy / 2 < out.height and ix / 2 < out.width
/// ```
///
/// # Shapes
/// `bits`: `ceil(input.len() / 32)`; `mem`: `output.len()` with
/// `output = (input.height / 2, input.width / 2, input.channels)`.
pub fn pool_scatter<M: Membrane>(
    input: Shape,
    output: Shape,
    bits: &[u32],
    negative: bool,
    mem: &mut [M],
) -> u64 {
    let n_in = input.len();
    let c_n = usize::from(output.channels);
    let ow = usize::from(output.width);
    let mut events = 0;
    let delta = if negative { -1 } else { 1 };
    for_each_spike(bits, |i| {
        if i >= n_in {
            return;
        }
        let (iy, ix, c) = input.coords(i);
        let (oy, ox) = (iy / 2, ix / 2);
        if oy < usize::from(output.height) && ox < ow {
            if let Some(m) = mem.get_mut((oy * ow + ox) * c_n + c) {
                m.add(delta);
                events += 1;
            }
        }
    });
    events
}

/// Scatters spikes through a fully connected layer.
///
/// ```text
/// for each input spike j with sign s:  mem[:] += s * W[j, :]
/// ```
///
/// # Shapes
/// `weights`: `inputs * mem.len()` bytes (`i8`, `[input][output]`).
pub fn dense_scatter<M: Membrane>(
    weights: &[u8],
    bits: &[u32],
    negative: bool,
    mem: &mut [M],
) -> u64 {
    let n = mem.len();
    let mut events = 0;
    for_each_spike(bits, |j| {
        let start = j.saturating_mul(n);
        if let Some(w) = weights.get(start..start.saturating_add(n)) {
            M::add_row(mem, w, negative);
            events += n as u64;
        }
    });
    events
}

/// Scatters spikes through an identity shortcut subsampled by `stride`.
///
/// ```text
/// mem[iy / s, ix / s, c] += sign * gain[c]     when iy % s == 0 and ix % s == 0
/// ```
///
/// # Shapes
/// `gains`: `4 * channels` bytes (`i32` little-endian); input and output have the
/// same channels.
pub fn identity_scatter<M: Membrane>(
    input: Shape,
    output: Shape,
    stride: usize,
    gains: &[u8],
    bits: &[u32],
    negative: bool,
    mem: &mut [M],
) -> u64 {
    let n_in = input.len();
    let c_n = usize::from(output.channels);
    let (oh, ow) = (usize::from(output.height), usize::from(output.width));
    let s = stride.max(1);
    let mut events = 0;
    for_each_spike(bits, |i| {
        if i >= n_in {
            return;
        }
        let (iy, ix, c) = input.coords(i);
        if iy % s != 0 || ix % s != 0 || iy / s >= oh || ix / s >= ow {
            return;
        }
        let (Some(g), Some(m)) = (
            gains.get(4 * c..4 * c + 4), // c < channels <= u16::MAX
            mem.get_mut((iy / s * ow + ix / s) * c_n + c),
        ) else {
            return;
        };
        let g = i32::from_le_bytes([g[0], g[1], g[2], g[3]]);
        m.add(if negative { g.wrapping_neg() } else { g });
        events += 1;
    });
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stride-1 and strided row walks visit the same rows, in the same order, as
    /// the general one, for every input position of small geometries (strides 1 to 4,
    /// padding up to the kernel).
    #[test]
    fn fast_row_walks_equal_the_general_rows() {
        let mut checked = 0;
        for stride in 1..=4usize {
            for kernel in 1..=6usize {
                for padding in 0..kernel {
                    for (h, w) in [(1u16, 1u16), (5, 7), (9, 4), (12, 11)] {
                        let input = Shape {
                            channels: 2,
                            height: h,
                            width: w,
                        };
                        let (Some(oh), Some(ow)) = (
                            Conv::out_len(usize::from(h), kernel, stride, padding),
                            Conv::out_len(usize::from(w), kernel, stride, padding),
                        ) else {
                            continue;
                        };
                        let output = Shape {
                            channels: 3,
                            height: oh as u16,
                            width: ow as u16,
                        };
                        let conv = Conv {
                            input,
                            output,
                            kernel,
                            stride,
                            padding,
                            weights: &[],
                        };
                        for i in 0..input.len() {
                            let at = input.coords(i);
                            let (mut fast, mut slow) = (Vec::new(), Vec::new());
                            conv.for_each_row(at, (oh, ow), |a, b| fast.push((a, b)));
                            conv.for_each_row_general(at, (oh, ow), |a, b| slow.push((a, b)));
                            assert_eq!(
                                fast, slow,
                                "s {stride} k {kernel} p {padding} {h}x{w} at {at:?}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 5000, "{checked}");
    }
}

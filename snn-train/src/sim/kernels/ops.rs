//! Event-driven float kernels of the connections: forward scatter and the fused
//! backward (weight gradient plus gradient to the presynaptic spikes).
//!
//! An *event* is `(j, v)`: presynaptic neuron `j` with value `v` (a spike `±1` times
//! its dropout scale in the code form and the forward pass; a spike count in the
//! aggregate form). Each kernel touches only the synapses of the events, so its cost
//! is `events x fan-out`, whatever the layer size.
//!
//! Each kernel is written once over the row primitives of [`crate::sim::kernels::rows`] and run
//! through [`crate::sim::kernels::simd::run`], the one SIMD seam, which compiles it for the level in
//! use (same bits at every level).

use crate::model::net::{dims, ConvGeo, Op, Shape};
use crate::sim::kernels::rows::Rows;
use crate::sim::kernels::simd::Kernel;

/// A presynaptic event: neuron index and value.
pub type Event = (u32, f32);

/// A connection's operation with its source and destination shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The operation.
    pub op: Op,
    /// Presynaptic shape.
    pub src: Shape,
    /// Postsynaptic shape.
    pub dst: Shape,
}

/// Decodes a neuron index into `(y, x, channel)` like [`Shape::coords`], without a
/// division per spike: Lemire, Kaser & Kurz's exact multiply-shift ("Faster remainder by
/// direct computation", 2019), `n / d = (n * (floor((2^64 - 1) / d) + 1)) >> 64` for
/// every 32-bit `n` and `d >= 2`.
#[derive(Debug, Clone, Copy)]
struct Coords {
    channels: u32,
    width: u32,
    by_channels: u64,
    by_width: u64,
}

impl Coords {
    fn new(s: Shape) -> Self {
        let magic = |d: u32| {
            if d < 2 {
                0
            } else {
                u64::MAX / u64::from(d) + 1
            }
        };
        let (c, w) = (u32::from(s.channels), u32::from(s.width));
        Self {
            channels: c,
            width: w,
            by_channels: magic(c),
            by_width: magic(w),
        }
    }

    /// `n / d`, with `m` the magic number of `d` (0 for `d = 1`).
    #[inline(always)]
    fn div(n: u32, m: u64) -> u32 {
        if m == 0 {
            n
        } else {
            ((u128::from(n) * u128::from(m)) >> 64) as u32
        }
    }

    #[inline(always)]
    fn of(self, j: u32) -> (usize, usize, usize) {
        let pix = Self::div(j, self.by_channels);
        let y = Self::div(pix, self.by_width);
        (
            y as usize,
            (pix - y * self.width) as usize,
            (j - pix * self.channels) as usize,
        )
    }
}

/// Calls `f(w_row, dst_row)` with the start offsets of each `(weights, membranes)` row
/// of length `oc` that spike `(iy, ix, ic)` reaches through a convolution, in
/// increasing `(ky, kx)` order (the order fixes the summation order of the backward
/// dot products). Stride 1 takes a division-free path over the same rows.
#[inline(always)]
fn conv_rows(
    g: ConvGeo,
    (iy, ix, ic): (usize, usize, usize),
    dst: Shape,
    mut f: impl FnMut(usize, usize),
) {
    let (oc, dh, dw) = dims(dst);
    if g.s == 1 {
        // Output row oy = iy + p - ky lies in 0..dh exactly for ky in this range.
        let (ny, nx) = (iy + g.p, ix + g.p);
        let ky_range = (ny + 1).saturating_sub(dh)..g.k.min(ny + 1);
        let kx_range = (nx + 1).saturating_sub(dw)..g.k.min(nx + 1);
        for ky in ky_range {
            let (w_row, m_row) = ((ic * g.k + ky) * g.k, (ny - ky) * dw);
            for kx in kx_range.clone() {
                f((w_row + kx) * oc, (m_row + nx - kx) * oc);
            }
        }
        return;
    }
    conv_rows_general(g, (iy, ix, ic), dst, f);
}

/// [`conv_rows`] for any stride (the reference its stride-1 path is tested against).
#[inline(always)]
fn conv_rows_general(
    g: ConvGeo,
    (iy, ix, ic): (usize, usize, usize),
    dst: Shape,
    mut f: impl FnMut(usize, usize),
) {
    let (oc, dh, dw) = dims(dst);
    for ky in 0..g.k {
        let Some(ny) = (iy + g.p).checked_sub(ky) else {
            break;
        };
        if ny % g.s != 0 || ny / g.s >= dh {
            continue;
        }
        let oy = ny / g.s;
        for kx in 0..g.k {
            let Some(nx) = (ix + g.p).checked_sub(kx) else {
                break;
            };
            if nx % g.s != 0 || nx / g.s >= dw {
                continue;
            }
            let ox = nx / g.s;
            f(((ic * g.k + ky) * g.k + kx) * oc, (oy * dw + ox) * oc);
        }
    }
}

/// Destination of a spike through 2x2 pooling or a subsampled identity.
#[inline(always)]
fn single_dst(op: Op, (iy, ix, ic): (usize, usize, usize), dst: Shape) -> Option<usize> {
    let s = match op {
        Op::Pool => 2,
        Op::Identity { stride } => {
            if iy % stride != 0 || ix % stride != 0 {
                return None;
            }
            stride
        }
        _ => return None,
    };
    let (oy, ox) = (iy / s, ix / s);
    let (dc, dh, dw) = dims(dst);
    (oy < dh && ox < dw).then(|| (oy * dw + ox) * dc + ic)
}

fn fixed_weight(op: Op) -> f32 {
    if op == Op::Pool {
        0.25
    } else {
        1.0
    }
}

/// Forward: `mem[i] += sum_events v * W[j, i]` (`W` is 1/4 for pooling, 1 for the
/// identity).
///
/// # Shapes
/// `w`: the connection's weights (empty for pool / identity); `mem`: `dst.len()`.
pub fn scatter(link: Link, w: &[f32], events: &[Event], mem: &mut [f32]) {
    crate::sim::kernels::simd::run(Scatter {
        link,
        w,
        events,
        mem,
    })
}

/// [`scatter`] as a kernel of [`crate::sim::kernels::simd::run`].
struct Scatter<'a> {
    link: Link,
    w: &'a [f32],
    events: &'a [Event],
    mem: &'a mut [f32],
}

impl Kernel for Scatter<'_> {
    type Output = ();
    #[inline(always)]
    fn run<R: Rows>(self, r: R) {
        scatter_body(r, self.link, self.w, self.events, self.mem)
    }
}

#[inline(always)]
fn scatter_body<R: Rows>(r: R, link: Link, w: &[f32], events: &[Event], mem: &mut [f32]) {
    let Link { op, src, dst } = link;
    match op {
        Op::Conv(g) => {
            let (oc, coords) = (usize::from(dst.channels), Coords::new(src));
            for &(j, v) in events {
                conv_rows(
                    g,
                    coords.of(j),
                    dst,
                    #[inline(always)]
                    |wo, mo| {
                        r.axpy(&mut mem[mo..mo + oc], v, &w[wo..wo + oc]);
                    },
                );
            }
        }
        Op::Dense => {
            let n = dst.len();
            for &(j, v) in events {
                let j = j as usize;
                r.axpy(mem, v, &w[j * n..(j + 1) * n]);
            }
        }
        Op::Pool | Op::Identity { .. } => {
            let (k, coords) = (fixed_weight(op), Coords::new(src));
            for &(j, v) in events {
                if let Some(i) = single_dst(op, coords.of(j), dst) {
                    mem[i] += k * v;
                }
            }
        }
    }
}

/// Backward through one connection for one set of events:
///
/// ```text
/// dW[j, i] += v * D[i]               for every synapse j -> i of an event (j, v)
/// g[j]     += sum_i W[j, i] * D[i]   (gradient w.r.t. the raw spike o_j)
/// ```
/// `D` is `dL/dU` of the destination population. `g` is `None` when the source needs
/// no gradient (the input).
///
/// # Shapes
/// `w`, `dw`: the connection's weights; `d`: `dst.len()`; `g`: `src.len()`.
pub fn backward(
    link: Link,
    w: &[f32],
    events: &[Event],
    d: &[f32],
    dw: &mut [f32],
    g: Option<&mut [f32]>,
) {
    crate::sim::kernels::simd::run(Backward {
        link,
        w,
        events,
        d,
        dw,
        g,
    })
}

/// [`backward`] as a kernel of [`crate::sim::kernels::simd::run`].
struct Backward<'a> {
    link: Link,
    w: &'a [f32],
    events: &'a [Event],
    d: &'a [f32],
    dw: &'a mut [f32],
    g: Option<&'a mut [f32]>,
}

impl Kernel for Backward<'_> {
    type Output = ();
    #[inline(always)]
    fn run<R: Rows>(self, r: R) {
        backward_body(r, self.link, self.w, self.events, self.d, self.dw, self.g)
    }
}

#[inline(always)]
fn backward_body<R: Rows>(
    r: R,
    link: Link,
    w: &[f32],
    events: &[Event],
    d: &[f32],
    dw: &mut [f32],
    mut g: Option<&mut [f32]>,
) {
    let Link { op, src, dst } = link;
    match op {
        Op::Conv(geo) => {
            let (oc, coords) = (usize::from(dst.channels), Coords::new(src));
            for &(j, v) in events {
                let mut acc = 0.0;
                conv_rows(
                    geo,
                    coords.of(j),
                    dst,
                    #[inline(always)]
                    |wo, mo| {
                        let drow = &d[mo..mo + oc];
                        r.axpy(&mut dw[wo..wo + oc], v, drow);
                        if g.is_some() {
                            acc += r.dot(&w[wo..wo + oc], drow);
                        }
                    },
                );
                if let Some(g) = g.as_deref_mut() {
                    g[j as usize] += acc;
                }
            }
        }
        Op::Dense => {
            let n = dst.len();
            for &(j, v) in events {
                let j = j as usize;
                r.axpy(&mut dw[j * n..(j + 1) * n], v, d);
                if let Some(g) = g.as_deref_mut() {
                    g[j] += r.dot(&w[j * n..(j + 1) * n], d);
                }
            }
        }
        Op::Pool | Op::Identity { .. } => {
            let (k, coords) = (fixed_weight(op), Coords::new(src));
            if let Some(g) = g {
                for &(j, _) in events {
                    if let Some(i) = single_dst(op, coords.of(j), dst) {
                        g[j as usize] += k * d[i];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The multiply-shift decoder equals `Shape::coords` on shapes with 1, a power of
    /// two and odd channel counts and widths, up to the largest index.
    #[test]
    fn coords_equal_division() {
        for (channels, height, width) in [
            (1u16, 28u16, 28u16),
            (20, 24, 24),
            (3, 7, 5),
            (64, 3, 1),
            (1, 1, 1),
            (1000, 60, 65535),
        ] {
            let s = Shape {
                channels,
                height,
                width,
            };
            let c = Coords::new(s);
            let n = s.len() as u32;
            let step = (n / 50_000).max(1);
            for j in (0..n).step_by(step as usize).chain([n - 1]) {
                assert_eq!(c.of(j), s.coords(j as usize), "{s:?} {j}");
            }
        }
        for d in [2u32, 3, 7, 20, 50, 641, 65535] {
            let m = u64::MAX / u64::from(d) + 1;
            for n in [0u32, 1, d - 1, d, d + 1, 12345, u32::MAX - 1, u32::MAX] {
                assert_eq!(Coords::div(n, m), n / d, "{n} / {d}");
            }
        }
    }

    /// The stride-1 path visits the same rows, in the same order, as the general one,
    /// for every spike position of every small geometry.
    #[test]
    fn stride_one_rows_equal_the_general_rows() {
        let mut checked = 0;
        for k in 1..=7usize {
            for p in 0..=3usize {
                for (h, w) in [(1usize, 1usize), (5, 7), (9, 4)] {
                    let g = ConvGeo { k, s: 1, p };
                    let (Some(oh), Some(ow)) =
                        ((h + 2 * p).checked_sub(k), (w + 2 * p).checked_sub(k))
                    else {
                        continue;
                    };
                    let dst = Shape {
                        channels: 3,
                        height: (oh + 1) as u16,
                        width: (ow + 1) as u16,
                    };
                    for iy in 0..h {
                        for ix in 0..w {
                            let (mut fast, mut slow) = (Vec::new(), Vec::new());
                            conv_rows(g, (iy, ix, 2), dst, |a, b| fast.push((a, b)));
                            conv_rows_general(g, (iy, ix, 2), dst, |a, b| slow.push((a, b)));
                            assert_eq!(fast, slow, "k {k} p {p} {h}x{w} at ({iy}, {ix})");
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 1000, "{checked}");
    }
}

//! Event-driven float kernels of the connections: forward scatter and the fused
//! backward (weight gradient plus gradient to the presynaptic spikes).
//!
//! An *event* is `(j, v)`: presynaptic neuron `j` with value `v` (a spike `±1` times
//! its dropout scale in the code form and the forward pass; a spike count in the
//! aggregate form). Each kernel touches only the synapses of the events, so its cost
//! is `events x fan-out`, whatever the layer size.

use crate::net::{dims, ConvGeo, Op, Shape};

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

/// `y[..] += a * x[..]`, in blocks of 8 (one AVX register, two SSE registers), then
/// the tail. Rows here are short (the output channels of a layer: 20 or 50 in LeNet);
/// a plain loop lets the compiler unroll the vector body to 32 floats under AVX2, and
/// such rows then run almost entirely in the scalar epilogue. Each element is
/// `y + a * x` whatever the blocking, so the bits do not change.
#[inline(always)]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    let n = y.len().min(x.len());
    let (y, x) = (&mut y[..n], &x[..n]);
    let mut yc = y.chunks_exact_mut(8);
    let mut xc = x.chunks_exact(8);
    for (y8, x8) in (&mut yc).zip(&mut xc) {
        for k in 0..8 {
            y8[k] += a * x8[k];
        }
    }
    for (y, x) in yc.into_remainder().iter_mut().zip(xc.remainder()) {
        *y += a * *x;
    }
}

/// `sum x[i] * y[i]`, in 8 independent lanes (vectorisable, fixed order).
#[inline(always)]
fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for k in 0..8 {
            acc[k] += a[k] * b[k];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (a, b) in xr.iter().zip(yr) {
        s += a * b;
    }
    s
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
    // Not through `simd::dispatch`: the rows are short (a layer's output channels),
    // and under AVX2 they ran about 50% more instructions than with SSE2 (callgrind,
    // LeNet), mostly in loop prologues and tails.
    scatter_body(link, w, events, mem)
}

#[inline(always)]
fn scatter_body(link: Link, w: &[f32], events: &[Event], mem: &mut [f32]) {
    let Link { op, src, dst } = link;
    match op {
        Op::Conv(g) => {
            let oc = usize::from(dst.channels);
            for &(j, v) in events {
                conv_rows(
                    g,
                    src.coords(j as usize),
                    dst,
                    #[inline(always)]
                    |wo, mo| {
                        axpy(&mut mem[mo..mo + oc], v, &w[wo..wo + oc]);
                    },
                );
            }
        }
        Op::Dense => {
            let n = dst.len();
            for &(j, v) in events {
                let j = j as usize;
                axpy(mem, v, &w[j * n..(j + 1) * n]);
            }
        }
        Op::Pool | Op::Identity { .. } => {
            let k = fixed_weight(op);
            for &(j, v) in events {
                if let Some(i) = single_dst(op, src.coords(j as usize), dst) {
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
    // Baseline code, like [`scatter`].
    backward_body(link, w, events, d, dw, g)
}

#[inline(always)]
fn backward_body(
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
            let oc = usize::from(dst.channels);
            for &(j, v) in events {
                let mut acc = 0.0;
                conv_rows(
                    geo,
                    src.coords(j as usize),
                    dst,
                    #[inline(always)]
                    |wo, mo| {
                        let drow = &d[mo..mo + oc];
                        axpy(&mut dw[wo..wo + oc], v, drow);
                        if g.is_some() {
                            acc += dot(&w[wo..wo + oc], drow);
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
                axpy(&mut dw[j * n..(j + 1) * n], v, d);
                if let Some(g) = g.as_deref_mut() {
                    g[j] += dot(&w[j * n..(j + 1) * n], d);
                }
            }
        }
        Op::Pool | Op::Identity { .. } => {
            let k = fixed_weight(op);
            if let Some(g) = g {
                for &(j, _) in events {
                    if let Some(i) = single_dst(op, src.coords(j as usize), dst) {
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

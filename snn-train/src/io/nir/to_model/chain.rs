//! The synaptic nodes between two populations (`Conv2d`, `Affine`, `Linear`,
//! `Flatten`, `AvgPool2d`/`SumPool2d`, `Scale`): followed from one population to the
//! next and folded into one layer's float weights in our layout.

use super::neurons::per_channel;
use super::{refusal, Pop, Walker};
use crate::io::nir::graph::{Array, Kind, Padding};
use crate::io::nir::NirError;

/// A synaptic node on the way from one population to the next.
#[derive(Clone, Copy)]
pub(super) enum Op<'g> {
    Weights(&'g str),
    Pool(&'g str),
    Flatten(&'g str),
    Scale(&'g str),
}

/// One layer's synapses, in our layout, before the neuron's gain.
pub(super) enum Synapses<'g> {
    /// A convolution: weights `[in][ky][kx][out]`.
    Conv {
        weights: Vec<f64>,
        out: Vec<usize>,
        geometry: (usize, usize, usize),
        node: &'g str,
    },
    /// A dense map: weights `[in (ours)][out]`.
    Dense {
        weights: Vec<f64>,
        out: Vec<usize>,
        node: &'g str,
    },
    /// A pooling alone (its neurons follow): the current one input spike brings, per
    /// channel.
    Pool {
        unit: Vec<f64>,
        kernel: usize,
        stride: usize,
        padding: usize,
        out: Vec<usize>,
        node: &'g str,
    },
}
/// A pooling met before the weights: its node, kind, window and the shape it pools.
#[derive(Clone)]
struct PoolOp<'g> {
    name: &'g str,
    average: bool,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    before: Vec<usize>,
}

pub(super) fn conv_out(n: usize, k: usize, s: usize, p: usize) -> Option<usize> {
    (n + 2 * p).checked_sub(k).map(|d| d / s + 1)
}
impl<'g> Walker<'g> {
    /// Follows synaptic nodes from `start` to the next neuron (or the `Output`).
    pub(super) fn follow(&self, start: &'g str) -> Result<(Vec<Op<'g>>, &'g str), NirError> {
        let mut ops = Vec::new();
        let mut cur = start;
        loop {
            let op = match &self.node(cur).kind {
                Kind::If { .. }
                | Kind::Lif { .. }
                | Kind::Li { .. }
                | Kind::I { .. }
                | Kind::CubaLif { .. }
                | Kind::CubaLi { .. } => return Ok((ops, cur)),
                Kind::Output { .. } => return Ok((ops, cur)),
                Kind::Input { .. } => return Err(self.err(cur, "an edge leads into the input")),
                Kind::Affine { .. } | Kind::Linear { .. } | Kind::Conv2d { .. } => Op::Weights(cur),
                Kind::Pool2d { .. } => Op::Pool(cur),
                Kind::Flatten { .. } => Op::Flatten(cur),
                Kind::Scale { .. } => Op::Scale(cur),
                Kind::Other { kind } => return Err(self.err(cur, refusal(kind))),
            };
            ops.push(op);
            let preds = self.g.predecessors(cur);
            if preds.len() != 1 {
                return Err(self.err(
                    cur,
                    format!(
                        "{} incoming edges; sums are supported only into the second \
                         population of a residual block",
                        preds.len()
                    ),
                ));
            }
            let succ = self.g.successors(cur);
            match succ.as_slice() {
                [next] => {
                    cur = self
                        .g
                        .nodes
                        .get_key_value(*next)
                        .map(|(k, _)| k.as_str())
                        .unwrap_or(next)
                }
                _ => {
                    return Err(
                        self.err(cur, format!("{} outgoing edges, expected one", succ.len()))
                    )
                }
            }
        }
    }

    /// The synapses of `ops` applied to `src`.
    pub(super) fn synapses(
        &self,
        src: &Pop,
        ops: &[Op<'g>],
        dst: &str,
    ) -> Result<Synapses<'g>, NirError> {
        let mut g = Gathered {
            shape: src.shape.clone(),
            pre: None,
            pool: None,
            weights: None,
            post: None,
        };
        for &op in ops {
            match op {
                Op::Flatten(name) => self.flatten(&mut g, name)?,
                Op::Scale(name) => self.scale(&mut g, name)?,
                Op::Pool(name) => self.pool(&mut g, name)?,
                Op::Weights(name) => {
                    if g.weights.is_some() {
                        return Err(self.err(name, "two weight layers without neurons in between"));
                    }
                    g.weights = Some(name);
                }
            }
        }
        let Some(wname) = g.weights else {
            return self.pool_alone(g, dst);
        };
        let mut syn = match &self.node(wname).kind {
            Kind::Conv2d { .. } => self.conv(wname, &g)?,
            Kind::Affine { .. } | Kind::Linear { .. } => self.dense(src, wname, &g)?,
            _ => unreachable!(),
        };
        if let Some((name, factors)) = g.post {
            self.scale_after(&mut syn, name, factors)?;
        }
        Ok(syn)
    }

    /// A `Flatten`: only a full one, before the weights.
    fn flatten(&self, g: &mut Gathered<'g>, name: &'g str) -> Result<(), NirError> {
        if g.weights.is_some() {
            return Err(self.err(name, "a Flatten after weights and before neurons"));
        }
        if let Kind::Flatten {
            start_dim, end_dim, ..
        } = self.node(name).kind
        {
            let rank = g.shape.len() as i64;
            let norm = |d: i64| if d < 0 { d + rank } else { d };
            if !(norm(start_dim) <= 0 && norm(end_dim) >= rank - 1) {
                return Err(self.err(
                    name,
                    format!(
                        "flattens dimensions {start_dim}..{end_dim} of {:?}; only a \
                         full flatten (start_dim 0, end_dim -1) is supported",
                        g.shape
                    ),
                ));
            }
        }
        g.shape = vec![g.shape.iter().product()];
        Ok(())
    }

    /// A `Scale`: before the weights, a factor per element of the signal (products of
    /// several); after them, kept for [`scale_after`](Self::scale_after).
    fn scale(&self, g: &mut Gathered<'g>, name: &'g str) -> Result<(), NirError> {
        let Kind::Scale { scale } = &self.node(name).kind else {
            unreachable!()
        };
        if g.weights.is_some() {
            // After the weights: checked against their output below.
            if g.post.is_some() {
                return Err(self.err(name, "two Scale nodes after the weights"));
            }
            g.post = Some((name, scale.data.clone()));
            return Ok(());
        }
        let n: usize = g.shape.iter().product();
        let v = if scale.len() == 1 {
            vec![scale.data[0]; n]
        } else if scale.len() == n {
            scale.data.clone()
        } else {
            return Err(self.err(
                name,
                format!(
                    "{} factors for a signal of shape {:?}",
                    scale.len(),
                    g.shape
                ),
            ));
        };
        match &mut g.pre {
            Some(p) => p.iter_mut().zip(&v).for_each(|(a, b)| *a *= b),
            None => g.pre = Some(v),
        }
        Ok(())
    }

    /// An `AvgPool2d` / `SumPool2d`: one, square, before the weights and any Scale.
    fn pool(&self, g: &mut Gathered<'g>, name: &'g str) -> Result<(), NirError> {
        let Kind::Pool2d {
            average,
            kernel,
            stride,
            padding,
        } = self.node(name).kind
        else {
            unreachable!()
        };
        if g.weights.is_some() || g.pool.is_some() {
            return Err(self.err(
                name,
                "pooling after weights (or a second pooling) without neurons in between",
            ));
        }
        if g.pre.is_some() {
            return Err(self.err(name, "a Scale before a pooling; put it after"));
        }
        let [c, h, w] = g.shape[..] else {
            return Err(self.err(name, format!("pooling of a signal of shape {:?}", g.shape)));
        };
        if kernel[0] != kernel[1] || stride[0] != stride[1] || padding[0] != padding[1] {
            return Err(self.err(name, "a non-square pooling window"));
        }
        let (k, s, p) = (kernel[0], stride[0], padding[0]);
        let (Some(ho), Some(wo)) = (conv_out(h, k, s.max(1), p), conv_out(w, k, s.max(1), p))
        else {
            return Err(self.err(name, "the pooling window is larger than its input"));
        };
        if k == 0 || s == 0 {
            return Err(self.err(name, "a zero kernel or stride"));
        }
        g.pool = Some(PoolOp {
            name,
            average,
            kernel,
            stride,
            padding,
            before: g.shape.clone(),
        });
        g.shape = vec![c, ho, wo];
        Ok(())
    }

    /// Pooling straight into neurons (no weights): our pooling layer.
    fn pool_alone(&self, g: Gathered<'g>, dst: &str) -> Result<Synapses<'g>, NirError> {
        let Some(PoolOp {
            name,
            average,
            kernel,
            stride,
            padding,
            ..
        }) = g.pool
        else {
            return Err(self.err(dst, "a population fed by another without weights"));
        };
        let (shape, pre) = (g.shape, g.pre);
        let c = shape[0];
        let unit_of = |i: usize| {
            let f = if average {
                1.0 / (kernel[0] * kernel[1]) as f64
            } else {
                1.0
            };
            // A Scale after the pooling scales each channel (uniformly, checked below).
            f * pre.as_ref().map_or(1.0, |p| p[i * (p.len() / c)])
        };
        if let Some(p) = &pre {
            let per = p.len() / c;
            if p.chunks(per).any(|ch| ch.iter().any(|&x| x != ch[0])) {
                return Err(self.err(
                    dst,
                    "a Scale that varies within a channel before pooling neurons",
                ));
            }
        }
        Ok(Synapses::Pool {
            unit: (0..c).map(unit_of).collect(),
            kernel: kernel[0],
            stride: stride[0],
            padding: padding[0],
            out: shape,
            node: name,
        })
    }

    /// A `Conv2d` (no pooling before it) in our layout `[in][ky][kx][out]`, with the
    /// Scale before it (one factor per input channel) folded in.
    fn conv(&self, wname: &'g str, g: &Gathered<'g>) -> Result<Synapses<'g>, NirError> {
        let Kind::Conv2d {
            input_shape,
            weight,
            stride,
            padding,
            dilation,
            groups,
            bias,
        } = &self.node(wname).kind
        else {
            unreachable!()
        };
        let [c, h, w] = g.shape[..] else {
            return Err(self.err(
                wname,
                format!("a convolution of a signal of shape {:?}", g.shape),
            ));
        };
        let [co, ci, kh, kw] = weight.shape[..] else {
            return Err(self.err(
                wname,
                format!("weight of shape {:?}, expected 4-D", weight.shape),
            ));
        };
        if bias.data.iter().any(|&b| b != 0.0) {
            return Err(self.err(
                wname,
                "a non-zero bias (a constant current) cannot be folded: our neurons have no bias",
            ));
        }
        if *groups != 1 || *dilation != [1, 1] {
            return Err(self.err(wname, "grouped or dilated convolutions are not supported"));
        }
        if kh != kw || stride[0] != stride[1] {
            return Err(self.err(wname, "a non-square kernel or stride"));
        }
        if ci != c {
            return Err(self.err(wname, format!("{ci} input channels, the signal has {c}")));
        }
        if let Some(s) = input_shape {
            if *s != [h, w] {
                return Err(self.err(wname, format!("input_shape {s:?}, the signal is {h}x{w}")));
            }
        }
        let (k, s) = (kh, stride[0]);
        let p = match padding {
            Padding::Explicit([a, b]) if a == b => *a,
            Padding::Explicit(_) => return Err(self.err(wname, "asymmetric padding")),
            Padding::Valid => 0,
            Padding::Same if s == 1 && k % 2 == 1 => k / 2,
            Padding::Same => {
                return Err(self.err(wname, "\"same\" padding with an even kernel or a stride"))
            }
        };
        let (Some(ho), Some(wo)) = (conv_out(h, k, s.max(1), p), conv_out(w, k, s.max(1), p))
        else {
            return Err(self.err(wname, "the kernel is larger than its padded input"));
        };
        if s == 0 || k == 0 {
            return Err(self.err(wname, "a zero kernel or stride"));
        }
        if let Some(pre) = &g.pre {
            let per = pre.len() / c;
            if pre.chunks(per).any(|ch| ch.iter().any(|&x| x != ch[0])) {
                return Err(self.err(
                    wname,
                    "a Scale that varies within a channel before a convolution",
                ));
            }
        }
        let mut ours = vec![0.0; ci * k * k * co];
        for o in 0..co {
            for i in 0..ci {
                let f = g.pre.as_ref().map_or(1.0, |p| p[i * (p.len() / c)]);
                for ky in 0..k {
                    for kx in 0..k {
                        ours[((i * k + ky) * k + kx) * co + o] =
                            weight.data[((o * ci + i) * k + ky) * k + kx] * f;
                    }
                }
            }
        }
        let conv = Synapses::Conv {
            weights: ours,
            out: vec![co, ho, wo],
            geometry: (k, s, p),
            node: wname,
        };
        match &g.pool {
            Some(pool) => self.fold_pool(conv, pool),
            None => Ok(conv),
        }
    }

    /// A pooling straight into a convolution, folded into it exactly: a `k x k`
    /// convolution (stride `s`, padding `p`) of a map pooled `kp x kp` (stride `sp`,
    /// padding `pp`) is a `K x K` convolution of the unpooled map with `K = sp (k - 1) +
    /// kp`, stride `sp s` and padding `sp p + pp`, each pooled tap spread over its
    /// window (`/ kp^2` for an average). Exact where the folded convolution never reads
    /// a real input where the pooled map's padding was: always without convolution
    /// padding; with it, only for non-overlapping windows (`kp <= sp`), no pooling
    /// padding and no rows or columns the pooling dropped. Refused otherwise, the
    /// nodes named.
    fn fold_pool(&self, conv: Synapses<'g>, pool: &PoolOp<'g>) -> Result<Synapses<'g>, NirError> {
        let Synapses::Conv {
            weights,
            out,
            geometry: (k, s, p),
            node,
        } = conv
        else {
            unreachable!()
        };
        let (kp, sp, pp) = (pool.kernel[0], pool.stride[0], pool.padding[0]);
        let [ci, h, w] = pool.before[..] else {
            unreachable!()
        };
        let co = out[0];
        let dropped = |n: usize| conv_out(n, kp, sp, pp).is_some_and(|m| sp * m != n);
        if p > 0 && (kp > sp || pp > 0 || dropped(h) || dropped(w)) {
            return Err(self.err(
                node,
                format!(
                    "pooling {} into this padded convolution folds exactly only for \
                     non-overlapping windows without padding on a map they tile; put \
                     neurons after the pooling",
                    pool.name
                ),
            ));
        }
        let (kk, ss, pad) = (sp * (k - 1) + kp, sp * s, sp * p + pp);
        let fits =
            conv_out(h, kk, ss, pad) == Some(out[1]) && conv_out(w, kk, ss, pad) == Some(out[2]);
        if !fits {
            return Err(self.err(
                node,
                format!(
                    "pooling {} folded into this convolution changes its output size",
                    pool.name
                ),
            ));
        }
        let f = if pool.average {
            1.0 / (kp * kp) as f64
        } else {
            1.0
        };
        let mut folded = vec![0.0; ci * kk * kk * co];
        for i in 0..ci {
            for ky in 0..k {
                for kx in 0..k {
                    for a in 0..kp {
                        for b in 0..kp {
                            let (y, x) = (sp * ky + a, sp * kx + b);
                            for o in 0..co {
                                folded[((i * kk + y) * kk + x) * co + o] +=
                                    f * weights[((i * k + ky) * k + kx) * co + o];
                            }
                        }
                    }
                }
            }
        }
        Ok(Synapses::Conv {
            weights: folded,
            out,
            geometry: (kk, ss, pad),
            node,
        })
    }

    /// An `Affine` (zero bias) or `Linear` as dense rows in our input order, with the
    /// Scale before it and a pooling before it (each source neuron feeds every window
    /// that holds it) folded in.
    fn dense(&self, src: &Pop, wname: &'g str, g: &Gathered<'g>) -> Result<Synapses<'g>, NirError> {
        let (Kind::Affine { weight, .. } | Kind::Linear { weight }) = &self.node(wname).kind else {
            unreachable!()
        };
        let node = self.node(wname);
        if let Kind::Affine { bias, .. } = &node.kind {
            if bias.data.iter().any(|&b| b != 0.0) {
                return Err(self.err(wname, "a non-zero bias (a constant current) cannot be folded: our neurons have no bias"));
            }
        }
        let [out, inp] = weight.shape[..] else {
            return Err(self.err(
                wname,
                format!("weight of shape {:?}, expected (out, in)", weight.shape),
            ));
        };
        let n: usize = g.shape.iter().product();
        if inp != n {
            return Err(self.err(wname, format!("{inp} inputs, the signal has {n} values")));
        }
        // Column j of W reads element j of the (pooled) signal in NIR order.
        let scaled =
            |o: usize, j: usize| weight.data[o * inp + j] * g.pre.as_ref().map_or(1.0, |p| p[j]);
        let mut ours = vec![0.0; src.len() * out];
        match &g.pool {
            None => {
                for j in 0..inp {
                    let row = src.our_index(j);
                    for o in 0..out {
                        ours[row * out + o] = scaled(o, j);
                    }
                }
            }
            Some(PoolOp {
                average,
                kernel,
                stride,
                padding,
                before,
                ..
            }) => {
                // Fold the pooling: each source neuron feeds every window that
                // holds it.
                let [c, h, w] = before[..] else {
                    unreachable!()
                };
                let (k, s, p) = (kernel[0], stride[0], padding[0]);
                let pooled = [
                    c,
                    conv_out(h, k, s, p).unwrap_or(0),
                    conv_out(w, k, s, p).unwrap_or(0),
                ];
                let f = if *average { 1.0 / (k * k) as f64 } else { 1.0 };
                for ch in 0..c {
                    for py in 0..pooled[1] {
                        for px in 0..pooled[2] {
                            let j = (ch * pooled[1] + py) * pooled[2] + px;
                            for ky in 0..k {
                                for kx in 0..k {
                                    let (y, x) = (
                                        (py * s + ky).checked_sub(p),
                                        (px * s + kx).checked_sub(p),
                                    );
                                    let (Some(y), Some(x)) = (y, x) else { continue };
                                    if y >= h || x >= w {
                                        continue;
                                    }
                                    let row = src.our_index((ch * h + y) * w + x);
                                    for o in 0..out {
                                        ours[row * out + o] += scaled(o, j) * f;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(Synapses::Dense {
            weights: ours,
            out: vec![out],
            node: wname,
        })
    }

    /// A `Scale` after the weights: one factor per output channel, folded into them.
    fn scale_after(
        &self,
        syn: &mut Synapses<'g>,
        name: &'g str,
        factors: Vec<f64>,
    ) -> Result<(), NirError> {
        let (weights, out) = match syn {
            Synapses::Conv { weights, out, .. } | Synapses::Dense { weights, out, .. } => {
                (weights, out)
            }
            Synapses::Pool { .. } => unreachable!(),
        };
        let pop = Pop {
            name: String::new(),
            shape: out.clone(),
        };
        let per = per_channel(
            self.g,
            name,
            "scale",
            &Array::new(&[factors.len()], factors),
            &pop,
        )?;
        let co = per.len();
        for (i, w) in weights.iter_mut().enumerate() {
            *w *= per[i % co];
        }
        Ok(())
    }
}

/// What the synaptic nodes between two populations hold, gathered in order: the
/// signal's shape at the weights, the Scale factors before them (per element), the
/// pooling before them, the weight node, and the Scale after them.
struct Gathered<'g> {
    shape: Vec<usize>,
    pre: Option<Vec<f64>>,
    pool: Option<PoolOp<'g>>,
    weights: Option<&'g str>,
    post: Option<(&'g str, Vec<f64>)>,
}

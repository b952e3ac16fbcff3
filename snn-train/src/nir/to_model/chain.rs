//! The synaptic nodes between two populations (`Conv2d`, `Affine`, `Linear`,
//! `Flatten`, `AvgPool2d`/`SumPool2d`, `Scale`): followed from one population to the
//! next and folded into one layer's float weights in our layout.

use super::neurons::per_channel;
use super::{refusal, Pop, Walker};
use crate::nir::graph::{Array, Kind, Padding};
use crate::nir::NirError;

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
                Kind::If { .. } | Kind::Lif { .. } | Kind::Li { .. } | Kind::I { .. } => {
                    return Ok((ops, cur))
                }
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
        let mut shape = src.shape.clone();
        // Factor per element of the signal entering the weights (Scale before them).
        let mut pre: Option<Vec<f64>> = None;
        let mut pool: Option<PoolOp<'g>> = None;
        let mut weights: Option<&'g str> = None;
        let mut post: Option<(&'g str, Vec<f64>)> = None;
        for &op in ops {
            match op {
                Op::Flatten(name) => {
                    if weights.is_some() {
                        return Err(self.err(name, "a Flatten after weights and before neurons"));
                    }
                    if let Kind::Flatten {
                        start_dim, end_dim, ..
                    } = self.node(name).kind
                    {
                        let rank = shape.len() as i64;
                        let norm = |d: i64| if d < 0 { d + rank } else { d };
                        if !(norm(start_dim) <= 0 && norm(end_dim) >= rank - 1) {
                            return Err(self.err(
                                name,
                                format!(
                                    "flattens dimensions {start_dim}..{end_dim} of {shape:?}; only a \
                                     full flatten (start_dim 0, end_dim -1) is supported"
                                ),
                            ));
                        }
                    }
                    shape = vec![shape.iter().product()];
                }
                Op::Scale(name) => {
                    let Kind::Scale { scale } = &self.node(name).kind else {
                        unreachable!()
                    };
                    if weights.is_some() {
                        // After the weights: checked against their output below.
                        if post.is_some() {
                            return Err(self.err(name, "two Scale nodes after the weights"));
                        }
                        post = Some((name, scale.data.clone()));
                        continue;
                    }
                    let n: usize = shape.iter().product();
                    let v = if scale.len() == 1 {
                        vec![scale.data[0]; n]
                    } else if scale.len() == n {
                        scale.data.clone()
                    } else {
                        return Err(self.err(
                            name,
                            format!("{} factors for a signal of shape {shape:?}", scale.len()),
                        ));
                    };
                    match &mut pre {
                        Some(p) => p.iter_mut().zip(&v).for_each(|(a, b)| *a *= b),
                        None => pre = Some(v),
                    }
                }
                Op::Pool(name) => {
                    let Kind::Pool2d {
                        average,
                        kernel,
                        stride,
                        padding,
                    } = self.node(name).kind
                    else {
                        unreachable!()
                    };
                    if weights.is_some() || pool.is_some() {
                        return Err(self.err(
                            name,
                            "pooling after weights (or a second pooling) without neurons in between",
                        ));
                    }
                    if pre.is_some() {
                        return Err(self.err(name, "a Scale before a pooling; put it after"));
                    }
                    let [c, h, w] = shape[..] else {
                        return Err(
                            self.err(name, format!("pooling of a signal of shape {shape:?}"))
                        );
                    };
                    if kernel[0] != kernel[1] || stride[0] != stride[1] || padding[0] != padding[1]
                    {
                        return Err(self.err(name, "a non-square pooling window"));
                    }
                    let (k, s, p) = (kernel[0], stride[0], padding[0]);
                    let (Some(ho), Some(wo)) =
                        (conv_out(h, k, s.max(1), p), conv_out(w, k, s.max(1), p))
                    else {
                        return Err(self.err(name, "the pooling window is larger than its input"));
                    };
                    if k == 0 || s == 0 {
                        return Err(self.err(name, "a zero kernel or stride"));
                    }
                    pool = Some(PoolOp {
                        name,
                        average,
                        kernel,
                        stride,
                        padding,
                        before: shape.clone(),
                    });
                    shape = vec![c, ho, wo];
                }
                Op::Weights(name) => {
                    if weights.is_some() {
                        return Err(self.err(name, "two weight layers without neurons in between"));
                    }
                    weights = Some(name);
                }
            }
        }
        let Some(wname) = weights else {
            // Pooling straight into neurons.
            let Some(PoolOp {
                name,
                average,
                kernel,
                stride,
                padding,
                ..
            }) = pool
            else {
                return Err(self.err(dst, "a population fed by another without weights"));
            };
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
            return Ok(Synapses::Pool {
                unit: (0..c).map(unit_of).collect(),
                kernel: kernel[0],
                stride: stride[0],
                padding: padding[0],
                out: shape,
                node: name,
            });
        };
        let node = self.node(wname);
        let mut syn = match &node.kind {
            Kind::Conv2d {
                input_shape,
                weight,
                stride,
                padding,
                dilation,
                groups,
                bias,
            } => {
                if pool.is_some() {
                    return Err(self.err(
                        wname,
                        "pooling into a convolution without neurons in between is not supported \
                         (add IF neurons after the pooling: our pooling layer has them)",
                    ));
                }
                let [c, h, w] = shape[..] else {
                    return Err(self.err(
                        wname,
                        format!("a convolution of a signal of shape {shape:?}"),
                    ));
                };
                let [co, ci, kh, kw] = weight.shape[..] else {
                    return Err(self.err(
                        wname,
                        format!("weight of shape {:?}, expected 4-D", weight.shape),
                    ));
                };
                if bias.data.iter().any(|&b| b != 0.0) {
                    return Err(self.err(wname, "a non-zero bias (a constant current) cannot be folded: our neurons have no bias"));
                }
                if *groups != 1 || *dilation != [1, 1] {
                    return Err(
                        self.err(wname, "grouped or dilated convolutions are not supported")
                    );
                }
                if kh != kw || stride[0] != stride[1] {
                    return Err(self.err(wname, "a non-square kernel or stride"));
                }
                if ci != c {
                    return Err(self.err(wname, format!("{ci} input channels, the signal has {c}")));
                }
                if let Some(s) = input_shape {
                    if *s != [h, w] {
                        return Err(
                            self.err(wname, format!("input_shape {s:?}, the signal is {h}x{w}"))
                        );
                    }
                }
                let (k, s) = (kh, stride[0]);
                let p = match padding {
                    Padding::Explicit([a, b]) if a == b => *a,
                    Padding::Explicit(_) => return Err(self.err(wname, "asymmetric padding")),
                    Padding::Valid => 0,
                    Padding::Same if s == 1 && k % 2 == 1 => k / 2,
                    Padding::Same => {
                        return Err(
                            self.err(wname, "\"same\" padding with an even kernel or a stride")
                        )
                    }
                };
                let (Some(ho), Some(wo)) =
                    (conv_out(h, k, s.max(1), p), conv_out(w, k, s.max(1), p))
                else {
                    return Err(self.err(wname, "the kernel is larger than its padded input"));
                };
                if s == 0 || k == 0 {
                    return Err(self.err(wname, "a zero kernel or stride"));
                }
                if let Some(pre) = &pre {
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
                        let f = pre.as_ref().map_or(1.0, |p| p[i * (p.len() / c)]);
                        for ky in 0..k {
                            for kx in 0..k {
                                ours[((i * k + ky) * k + kx) * co + o] =
                                    weight.data[((o * ci + i) * k + ky) * k + kx] * f;
                            }
                        }
                    }
                }
                Synapses::Conv {
                    weights: ours,
                    out: vec![co, ho, wo],
                    geometry: (k, s, p),
                    node: wname,
                }
            }
            Kind::Affine { weight, .. } | Kind::Linear { weight } => {
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
                let n: usize = shape.iter().product();
                if inp != n {
                    return Err(self.err(wname, format!("{inp} inputs, the signal has {n} values")));
                }
                // Column j of W reads element j of the (pooled) signal in NIR order.
                let scaled = |o: usize, j: usize| {
                    weight.data[o * inp + j] * pre.as_ref().map_or(1.0, |p| p[j])
                };
                let mut ours = vec![0.0; src.len() * out];
                match &pool {
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
                Synapses::Dense {
                    weights: ours,
                    out: vec![out],
                    node: wname,
                }
            }
            _ => unreachable!(),
        };
        if let Some((name, factors)) = post {
            let (weights, out) = match &mut syn {
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
        }
        Ok(syn)
    }
}

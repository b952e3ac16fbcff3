//! NIR graph -> `snn-core` model: the graph is walked from its `Input` as a chain of
//! populations; each stretch of synaptic nodes between two populations becomes one of
//! our layers, with the neuron's time constant, resistance and threshold folded into
//! the layer's leak, weights and thresholds, then quantised by the same contract as
//! our own export (`crate::io::export`). See `docs/nir.md` for the discretisation.

use snn_core::format::Reset;
use snn_core::layer::{shortcut_gain_from_f32, Shape};

use crate::io::quant::quantize;
use snn_core::neuron::{threshold_from_f32, Leak};

mod chain;
mod neurons;

use chain::{Op, Synapses};
use neurons::NeuronParams;

use super::graph::{Graph, Kind, Node};
use super::{NirError, DEFAULT_DT};
use crate::data::Encoding;
use crate::io::export::{assemble, le_i32, Dynamics, QLayer};

/// How to read a NIR graph that does not say everything our engine needs.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Time step in seconds. `None`: the graph's `dt` metadata when present, else
    /// [`DEFAULT_DT`] (snnTorch's assumption).
    pub dt: Option<f64>,
    /// Reset of every spiking population. `None`: the node's `snn_reset` metadata
    /// (written by our exporter) when present, else `Hard` (NIR's `v_reset`).
    pub reset: Option<Reset>,
    /// Input encoder. `None`: the `Input` node's `snn_center` / `snn_gain` metadata
    /// when present, else MNIST's (`P(spike) = 0.5 * pixel / 255`) on every channel.
    pub encoding: Option<Encoding>,
}

/// What an import decided, for the user to check.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The model blob (validated by `snn-core`).
    pub blob: Vec<u8>,
    /// The time step used, in seconds.
    pub dt: f64,
    /// Where it came from (`--dt`, `graph metadata`, `default`).
    pub dt_source: &'static str,
    /// One line per layer: the NIR nodes it came from and how they were mapped.
    pub layers: Vec<String>,
}

fn bad(node: &str, g: &Graph, reason: impl Into<String>) -> NirError {
    NirError::Unsupported {
        node: node.to_string(),
        kind: g
            .nodes
            .get(node)
            .map_or_else(|| "?".into(), |n| n.kind.name().to_string()),
        reason: reason.into(),
    }
}

/// Why a node kind we do not run is refused.
fn refusal(kind: &str) -> String {
    match kind {
        "Delay" => "synaptic delays are not supported".into(),
        "Threshold" => "a stateless threshold is not supported (use IF or LIF)".into(),
        "Conv1d" => "1-D convolutions are not supported".into(),
        "NIRGraph" => "nested graphs are not supported (flatten the graph first)".into(),
        k => format!("node kind `{k}` is not supported"),
    }
}

/// The population a layer reads or writes: its NIR name and shape, `(C, H, W)` or
/// `(N,)`.
#[derive(Debug, Clone)]
struct Pop {
    name: String,
    shape: Vec<usize>,
}

impl Pop {
    fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Channels: `C` of `(C, H, W)`, else every neuron is its own channel.
    fn channels(&self) -> usize {
        if self.shape.len() == 3 {
            self.shape[0]
        } else {
            self.len()
        }
    }

    /// Our (`HWC`) index of NIR's (`CHW`) flat index `i`.
    fn our_index(&self, i: usize) -> usize {
        match self.shape.as_slice() {
            [c, h, w] => {
                let (ch, rest) = (i / (h * w), i % (h * w));
                rest * c + ch
            }
            _ => i,
        }
    }
}

struct Walker<'g> {
    g: &'g Graph,
    dt: f64,
    reset: Option<Reset>,
    layers: Vec<(QLayer, Dynamics)>,
    notes: Vec<String>,
}

impl<'g> Walker<'g> {
    pub(super) fn node(&self, name: &str) -> &'g Node {
        &self.g.nodes[name]
    }

    pub(super) fn err(&self, node: &str, reason: impl Into<String>) -> NirError {
        bad(node, self.g, reason)
    }
}

/// Scales shared by `tensors` (our layouts, `co` output channels last): one per
/// channel, or one for all when `single`. Our exporter's `snn_scale` is used when
/// every weight is a whole number of it (so a round trip keeps every bit).
fn scales_for(
    tensors: &[&[f32]],
    co: usize,
    single: bool,
    sidecar: Option<&[f64]>,
) -> (Vec<f32>, bool) {
    let n = if single { 1 } else { co };
    if let Some(sc) = sidecar.filter(|s| s.len() == n) {
        let sc: Vec<f32> = sc.iter().map(|&v| v as f32).collect();
        let fits = sc.iter().all(|s| s.is_finite() && *s > 0.0)
            && tensors.iter().all(|t| {
                t.iter().enumerate().all(|(i, &w)| {
                    let q = w / sc[(i % co) % n];
                    q.round().abs() <= 127.0 && (q - q.round()).abs() <= 1e-3
                })
            });
        if fits {
            return (sc, true);
        }
    }
    (crate::io::quant::scales(tensors, co, n), false)
}

/// `w * gain[out channel]` in `f32`.
fn effective(w: &[f64], gain: &[f64]) -> Vec<f32> {
    let co = gain.len();
    w.iter()
        .enumerate()
        .map(|(i, &v)| (v * gain[i % co]) as f32)
        .collect()
}

fn reset_name(r: Reset) -> &'static str {
    match r {
        Reset::Hard => "hard",
        Reset::Subtract => "subtract",
    }
}

impl<'g> Walker<'g> {
    /// Integer thresholds: the sidecar's when the scales came from it, else
    /// `round(v_th / s)`.
    fn thresholds(&self, neuron: &str, p: &NeuronParams, scales: &[f32], sidecar: bool) -> Vec<u8> {
        if sidecar {
            if let Some(t) = self.node(neuron).meta_array("snn_threshold") {
                if t.len() == scales.len()
                    && t.iter()
                        .all(|&v| v >= 1.0 && v <= f64::from(1u32 << 30) && v.fract() == 0.0)
                {
                    return le_i32(t.iter().map(|&v| v as i32));
                }
            }
        }
        le_i32(
            p.threshold
                .iter()
                .zip(scales)
                .map(|(&t, &s)| threshold_from_f32(t as f32 / s)),
        )
    }

    fn note(&mut self, nodes: &str, what: String, p: &NeuronParams) {
        let decay = |name: &str, lam: f64, bits: u16| {
            format!(
                ", {name} {lam:.6} -> {bits}/32768 (error {:.1e})",
                (f64::from(bits) / 32768.0 - lam).abs()
            )
        };
        let mut line = format!("{nodes}: {what}");
        if p.lam < 1.0 {
            line += &decay("leak", p.lam, p.leak_bits);
        }
        if let Some(a) = p.syn_lam {
            line += &decay("synaptic decay", a, p.synapse_bits);
        }
        self.notes.push(line);
    }

    /// A spiking layer from `syn` into neuron `dst`.
    fn spiking_layer(&mut self, syn: Synapses<'_>, dst: &str, out: &Pop) -> Result<(), NirError> {
        let p = self.neuron(dst, out)?;
        let sidecar_of = |node: &str| self.node(node).meta_array("snn_scale");
        match syn {
            Synapses::Conv {
                weights,
                geometry: (k, s, pad),
                node,
                ..
            } => {
                let co = out.channels();
                let w = effective(&weights, &p.gain);
                let (scales, used) = scales_for(&[&w], co, false, sidecar_of(node));
                let layer = QLayer::Conv {
                    channels: fit_u16(self, dst, co)?,
                    geometry: (
                        fit_u8(self, node, k)?,
                        fit_u8(self, node, s)?,
                        fit_u8(self, node, pad)?,
                    ),
                    weights: quantize(&w, &scales, co),
                    thresholds: self.thresholds(dst, &p, &scales, used),
                };
                self.layers.push((layer, p.dynamics()));
                self.note(
                    &format!("{node} -> {dst}"),
                    format!(
                        "conv {k}x{k} stride {s} padding {pad}, {co} channels, {} reset",
                        reset_name(p.reset)
                    ),
                    &p,
                );
            }
            Synapses::Dense { weights, node, .. } => {
                let co = out.len();
                let w = effective(&weights, &p.gain);
                let (scales, used) = scales_for(&[&w], co, false, sidecar_of(node));
                let layer = QLayer::Dense {
                    units: fit_u16(self, dst, co)?,
                    weights: quantize(&w, &scales, co),
                    thresholds: self.thresholds(dst, &p, &scales, used),
                };
                self.layers.push((layer, p.dynamics()));
                self.note(
                    &format!("{node} -> {dst}"),
                    format!("dense, {co} neurons, {} reset", reset_name(p.reset)),
                    &p,
                );
            }
            Synapses::Pool {
                unit,
                kernel,
                stride,
                padding,
                node,
                ..
            } => {
                // Our pooling neurons: 2x2 windows, stride 2, each input spike one unit,
                // no leak, hard reset, thresholds a whole number of spikes.
                let units: Vec<f64> = p
                    .threshold
                    .iter()
                    .zip(&unit)
                    .zip(&p.gain)
                    .map(|((t, u), g)| t / (u * g))
                    .collect();
                let exact = (kernel, stride, padding) == (2, 2, 0)
                    && p.plain_if()
                    && units.iter().all(|&t| {
                        t >= 1.0 && t < f64::from(1u32 << 30) && (t - t.round()).abs() <= 1e-9 * t
                    });
                if exact {
                    self.layers.push((
                        QLayer::Pool {
                            thresholds: le_i32(units.iter().map(|&t| t.round() as i32)),
                        },
                        Dynamics {
                            leak: Leak::ONE.to_bits(),
                            reset: Reset::Hard,
                            synapse: 0,
                        },
                    ));
                    self.note(
                        &format!("{node} -> {dst}"),
                        "pooling neurons (exact)".into(),
                        &p,
                    );
                } else {
                    // A convolution whose kernel copies each channel's window.
                    let co = out.channels();
                    let mut w = vec![0.0; co * kernel * kernel * co];
                    for c in 0..co {
                        for k in 0..kernel * kernel {
                            w[(c * kernel * kernel + k) * co + c] = unit[c];
                        }
                    }
                    let w = effective(&w, &p.gain);
                    let (scales, _) = scales_for(&[&w], co, false, None);
                    let layer = QLayer::Conv {
                        channels: fit_u16(self, dst, co)?,
                        geometry: (
                            fit_u8(self, node, kernel)?,
                            fit_u8(self, node, stride)?,
                            fit_u8(self, node, padding)?,
                        ),
                        weights: quantize(&w, &scales, co),
                        thresholds: self.thresholds(dst, &p, &scales, false),
                    };
                    self.layers.push((layer, p.dynamics()));
                    self.note(
                        &format!("{node} -> {dst}"),
                        format!("pooling folded into a {kernel}x{kernel} stride-{stride} convolution (thresholds rounded to the weight unit)"),
                        &p,
                    );
                }
            }
        }
        Ok(())
    }

    /// The output integrator from `syn` into LI/I node `dst`.
    fn output_layer(&mut self, syn: Synapses<'_>, dst: &str, out: &Pop) -> Result<(), NirError> {
        let p = self.neuron(dst, out)?;
        let Synapses::Dense { weights, node, .. } = syn else {
            return Err(self.err(
                dst,
                "the output integrator must be fed by Affine or Linear weights",
            ));
        };
        let co = out.len();
        let w = effective(&weights, &p.gain);
        let (scales, _) = scales_for(&[&w], co, true, self.node(node).meta_array("snn_scale"));
        let layer = QLayer::Output {
            classes: fit_u16(self, dst, co)?,
            weights: quantize(&w, &scales, co),
            scale: scales[0],
        };
        self.layers.push((
            layer,
            Dynamics {
                reset: Reset::Hard,
                ..p.dynamics()
            },
        ));
        self.note(
            &format!("{node} -> {dst}"),
            format!("output integrator, {co} classes"),
            &p,
        );
        Ok(())
    }

    /// A spike-count output after spiking population `pop` (NIR: a spiking node
    /// straight into the `Output`): identity weights, no leak, so each score is the
    /// class neuron's spike count.
    fn counting_output(&mut self, pop: &Pop) -> Result<(), NirError> {
        let n = pop.len();
        let mut w = vec![0u8; n * n];
        for i in 0..n {
            w[i * n + i] = 1;
        }
        self.layers.push((
            QLayer::Output {
                classes: fit_u16(self, &pop.name, n)?,
                weights: w,
                scale: 1.0,
            },
            Dynamics {
                leak: Leak::ONE.to_bits(),
                reset: Reset::Hard,
                synapse: 0,
            },
        ));
        self.notes
            .push(format!("{} -> output: scores are spike counts", pop.name));
        Ok(())
    }

    /// A residual block from `src`: `branches` are the two paths out of it.
    fn residual(&mut self, src: &Pop, branches: [&str; 2]) -> Result<Pop, NirError> {
        let a = self.follow(branches[0])?;
        let b = self.follow(branches[1])?;
        // The main path reaches a population fed once; the shortcut reaches the block's
        // second population (fed twice).
        let fed_twice = |n: &str| self.g.predecessors(n).len() == 2;
        let (main, short) = match (fed_twice(a.1), fed_twice(b.1)) {
            (false, true) => (a, b),
            (true, false) => (b, a),
            _ => return Err(self.err(&src.name, "two outgoing paths that are not a residual block (conv -> neurons -> conv -> neurons, plus a shortcut into the second neurons)")),
        };
        let n1 = main.1;
        let n2 = short.1;
        let syn1 = self.synapses(src, &main.0, n1)?;
        let Synapses::Conv { out: out1, .. } = &syn1 else {
            return Err(self.err(n1, "a residual block's first layer must be a convolution"));
        };
        let pop1 = Pop {
            name: n1.to_string(),
            shape: out1.clone(),
        };
        let next = self.g.successors(n1);
        let [next] = next.as_slice() else {
            return Err(self.err(
                n1,
                "a residual block's first population must feed only its second convolution",
            ));
        };
        let (ops2, end) = self.follow(next)?;
        if end != n2 {
            return Err(self.err(
                n1,
                format!("the block's second path ends at `{end}`, the shortcut at `{n2}`"),
            ));
        }
        let syn2 = self.synapses(&pop1, &ops2, n2)?;
        let Synapses::Conv {
            weights: w2,
            out: out2,
            geometry: g2,
            node: conv2,
        } = syn2
        else {
            return Err(self.err(n2, "a residual block's second layer must be a convolution"));
        };
        let pop2 = Pop {
            name: n2.to_string(),
            shape: out2.clone(),
        };
        let p1 = self.neuron(n1, &pop1)?;
        let p2 = self.neuron(n2, &pop2)?;
        if !p1.spiking || !p2.spiking {
            return Err(self.err(n2, "a residual block's populations must spike (IF or LIF)"));
        }
        let Synapses::Conv {
            weights: w1,
            geometry: g1,
            node: conv1,
            ..
        } = syn1
        else {
            unreachable!()
        };
        let co = pop2.channels();
        // The shortcut: nothing (identity), or a 1x1 convolution with the block's stride.
        let stride = g1.1 * g2.1;
        let (sc_weights, identity_gain, sc_node) = self.shortcut_path(src, &short.0, n2, stride)?;
        let e1 = effective(&w1, &p1.gain);
        let (s1, used1) = scales_for(
            &[&e1],
            pop1.channels(),
            false,
            self.node(conv1).meta_array("snn_scale"),
        );
        let e2 = effective(&w2, &p2.gain);
        let sidecar2 = self.node(conv2).meta_array("snn_scale");
        let (shortcut, conv_shortcut, s2, used2) = match (&sc_weights, identity_gain) {
            (Some(ws), false) => {
                let es = effective(ws, &p2.gain);
                let (s2, used) = scales_for(&[&e2, &es], co, false, sidecar2);
                (quantize(&es, &s2, co), true, s2, used)
            }
            (ws, _) => {
                if src.channels() != co || (ws.is_none() && stride != 1) {
                    return Err(self.err(n2, "an identity shortcut needs as many channels in as out (and stride 1 without a 1x1 convolution)"));
                }
                let (s2, used) = scales_for(&[&e2], co, false, sidecar2);
                let gains =
                    self.identity_gains(ws.as_deref(), &p2.gain, &s2, sc_node.unwrap_or(n2))?;
                (gains, false, s2, used)
            }
        };
        let layer = QLayer::Residual {
            channels: fit_u16(self, n2, co)?,
            geometry1: self.geometry(conv1, g1)?,
            w1: quantize(&e1, &s1, pop1.channels()),
            th1: self.thresholds(n1, &p1, &s1, used1),
            geometry2: self.geometry(conv2, g2)?,
            w2: quantize(&e2, &s2, co),
            shortcut,
            conv_shortcut,
            th2: self.thresholds(n2, &p2, &s2, used2),
        };
        if p1.dynamics() != p2.dynamics() {
            return Err(self.err(
                n2,
                "a residual block's two populations must share leak, reset and synaptic decay",
            ));
        }
        self.layers.push((layer, p2.dynamics()));
        let kind = match conv_shortcut {
            true => "1x1 convolution",
            false => "identity",
        };
        let path = format!("{conv1} -> {n1} -> {conv2} -> {n2}");
        self.note(&path, format!("residual block, {kind} shortcut"), &p2);
        Ok(pop2)
    }

    /// A residual block's shortcut path `ops` from `src` to `n2`: empty (the identity),
    /// or a 1x1 convolution with the block's `stride`; its weights, whether it is marked
    /// `snn_shortcut = identity` (or empty), and its node.
    #[allow(clippy::type_complexity)]
    fn shortcut_path(
        &self,
        src: &Pop,
        ops: &[Op<'g>],
        n2: &str,
        stride: usize,
    ) -> Result<(Option<Vec<f64>>, bool, Option<&'g str>), NirError> {
        if ops.is_empty() {
            return Ok((None, true, None));
        }
        match self.synapses(src, ops, n2)? {
            Synapses::Conv { weights, geometry: (1, s, 0), node, .. } if s == stride => {
                let identity = self.node(node).meta_text("snn_shortcut") == Some("identity");
                Ok((Some(weights), identity, Some(node)))
            }
            _ => Err(self.err(n2, format!("the shortcut must be empty or a 1x1 convolution with stride {stride}, padding 0"))),
        }
    }

    /// The identity shortcut's gains (`i32`, little-endian): the current one spike
    /// brings per channel (the 1x1 convolution's diagonal, or 1, times the neurons'
    /// gain) in units of the second convolution's scales `s2`. A convolution marked
    /// identity must be diagonal.
    fn identity_gains(
        &self,
        ws: Option<&[f64]>,
        gain: &[f64],
        s2: &[f32],
        node: &str,
    ) -> Result<Vec<u8>, NirError> {
        let co = gain.len();
        if let Some(w) = ws {
            if w.iter()
                .enumerate()
                .any(|(i, &v)| i / co != i % co && v != 0.0)
            {
                return Err(self.err(
                    node,
                    "an `snn_shortcut = identity` convolution with off-diagonal weights",
                ));
            }
        }
        let unit = (0..co).map(|c| ws.map_or(1.0, |w| w[c * co + c]) * gain[c]);
        Ok(le_i32(
            unit.zip(s2)
                .map(|(u, &s)| shortcut_gain_from_f32(u as f32 / s)),
        ))
    }

    /// A convolution's `(kernel, stride, padding)` as the format's bytes.
    fn geometry(&self, node: &str, g: (usize, usize, usize)) -> Result<(u8, u8, u8), NirError> {
        Ok((
            fit_u8(self, node, g.0)?,
            fit_u8(self, node, g.1)?,
            fit_u8(self, node, g.2)?,
        ))
    }
}

fn fit_u16(w: &Walker<'_>, node: &str, v: usize) -> Result<u16, NirError> {
    u16::try_from(v).map_err(|_| w.err(node, format!("{v} is too large for the model format")))
}

fn fit_u8(w: &Walker<'_>, node: &str, v: usize) -> Result<u8, NirError> {
    u8::try_from(v).map_err(|_| w.err(node, format!("{v} is too large for the model format")))
}

/// Checks the graph's shape: edges between existing nodes, one `Input`, one `Output`,
/// no cycle, no node kind we do not run.
fn check_graph(g: &Graph) -> Result<(String, String), NirError> {
    for (a, b) in &g.edges {
        for n in [a, b] {
            if !g.nodes.contains_key(n) {
                return Err(NirError::Graph(format!(
                    "edge {a} -> {b}: there is no node `{n}`"
                )));
            }
        }
    }
    for (name, n) in &g.nodes {
        if let Kind::Other { kind } = &n.kind {
            return Err(bad(name, g, refusal(kind)));
        }
    }
    let of = |want: &str| -> Result<String, NirError> {
        let found: Vec<&String> = g
            .nodes
            .iter()
            .filter(|(_, n)| n.kind.name() == want)
            .map(|(k, _)| k)
            .collect();
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(NirError::Graph(format!(
                "{} `{want}` nodes; a network we can run has exactly one",
                found.len()
            ))),
        }
    };
    let (input, output) = (of("Input")?, of("Output")?);
    // Kahn's algorithm: what remains is on a cycle.
    let mut indeg: std::collections::BTreeMap<&str, usize> =
        g.nodes.keys().map(|k| (k.as_str(), 0)).collect();
    for (_, b) in &g.edges {
        *indeg.get_mut(b.as_str()).expect("checked above") += 1;
    }
    let mut ready: Vec<&str> = indeg
        .iter()
        .filter(|(_, &d)| d == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut seen = 0;
    while let Some(n) = ready.pop() {
        seen += 1;
        for s in g.successors(n) {
            let d = indeg.get_mut(s).expect("checked above");
            *d -= 1;
            if *d == 0 {
                ready.push(s);
            }
        }
    }
    if seen < g.nodes.len() {
        // Every node left has a predecessor left: walking predecessors must repeat a
        // node, and the repeated one is on a cycle.
        let left = |n: &str| indeg.get(n).is_some_and(|&d| d > 0);
        let mut cur = indeg
            .iter()
            .find(|(_, &d)| d > 0)
            .map(|(k, _)| *k)
            .unwrap_or("?");
        let mut visited = std::collections::BTreeSet::new();
        while visited.insert(cur) {
            match g.predecessors(cur).into_iter().find(|p| left(p)) {
                Some(p) => cur = p,
                None => break,
            }
        }
        return Err(bad(
            cur,
            g,
            "it is on a cycle: recurrent connections are not supported",
        ));
    }
    Ok((input, output))
}

/// The deployment setting our exporter writes as `snn_deployment` metadata
/// (`[steps, rule: 0 never | 1 exact | 2 margin, margin per step]`); `None` for
/// anything else.
fn deployment(v: &[f64]) -> Option<snn_core::format::Deployment> {
    let whole =
        |x: f64| (x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x)).then_some(x as u32);
    let [steps, rule, per_step] = v else {
        return None;
    };
    let early_exit = match whole(*rule)? {
        0 => snn_core::EarlyExit::Never,
        1 => snn_core::EarlyExit::Exact,
        2 => snn_core::EarlyExit::Margin {
            per_step: whole(*per_step)?,
        },
        _ => return None,
    };
    Some(snn_core::format::Deployment {
        steps: whole(*steps).filter(|&s| s > 0)?,
        early_exit,
    })
}

/// The time step: `--dt`, else the graph's `dt` metadata, else snnTorch's default.
fn time_step(graph: &Graph, opts: &ImportOptions) -> Result<(f64, &'static str), NirError> {
    let (dt, dt_source) = match (opts.dt, graph.metadata.get("dt")) {
        (Some(dt), _) => (dt, "--dt"),
        (None, Some(super::graph::Meta::Array(a))) if a.len() == 1 => (a.data[0], "graph metadata"),
        _ => (DEFAULT_DT, "default (snnTorch's 1e-4 s)"),
    };
    if !(dt.is_finite() && dt > 0.0) {
        return Err(NirError::Graph(format!(
            "dt = {dt} is not a positive time step"
        )));
    }
    Ok((dt, dt_source))
}

/// The input node's shape (as NIR gives it and as ours) and the input encoding:
/// `--encoding`, else our exporter's metadata, else MNIST's.
fn input_of(
    graph: &Graph,
    input: &str,
    opts: &ImportOptions,
) -> Result<(Vec<usize>, Shape, Encoding), NirError> {
    let in_node = &graph.nodes[input];
    let Kind::Input { shape } = &in_node.kind else {
        unreachable!()
    };
    let (shape, ours) = match shape.as_slice() {
        [c, h, w] => (vec![*c, *h, *w], (*c, *h, *w)),
        [h, w] => (vec![1, *h, *w], (1, *h, *w)),
        [n] => (vec![*n], (1, 1, *n)),
        s => {
            return Err(bad(
                input,
                graph,
                format!("input shape {s:?}: expected (C, H, W), (H, W) or (N,)"),
            ))
        }
    };
    let dim = |v: usize| u16::try_from(v).map_err(|_| bad(input, graph, "input too large"));
    let input_shape = Shape {
        channels: dim(ours.0)?,
        height: dim(ours.1)?,
        width: dim(ours.2)?,
    };
    let enc = match &opts.encoding {
        Some(e) => e.clone(),
        None => match (
            in_node.meta_array("snn_center"),
            in_node.meta_array("snn_gain"),
        ) {
            (Some(c), Some(g)) => Encoding {
                center: c.iter().map(|&v| v as i32).collect(),
                gain: g.iter().map(|&v| v as u32).collect(),
                analog: false,
            },
            _ => Encoding::unsigned(0.5),
        },
    };
    let enc = if enc.center.len() == 1 && ours.0 > 1 {
        Encoding {
            center: vec![enc.center[0]; ours.0],
            gain: vec![enc.gain[0]; ours.0],
            analog: enc.analog,
        }
    } else {
        enc
    };
    Ok((shape, input_shape, enc))
}

/// Translates `graph` to an `snn-core` model.
///
/// # Errors
/// [`NirError::Unsupported`] naming the first node we cannot run exactly (and why),
/// [`NirError::Graph`] for a malformed graph, [`NirError::Export`] when the result
/// does not fit the model format.
pub fn to_model(graph: &Graph, opts: &ImportOptions) -> Result<Imported, NirError> {
    let (input, output) = check_graph(graph)?;
    let (dt, dt_source) = time_step(graph, opts)?;
    let in_node = &graph.nodes[&input];
    let (shape, input_shape, enc) = input_of(graph, &input, opts)?;
    let mut w = Walker {
        g: graph,
        dt,
        reset: opts.reset,
        layers: Vec::new(),
        notes: Vec::new(),
    };
    let mut pop = Pop {
        name: input.clone(),
        shape,
    };
    loop {
        let succ = graph.successors(&pop.name);
        if succ.as_slice() == [output.as_str()] && pop.name != input {
            w.counting_output(&pop)?;
            break;
        }
        match succ.as_slice() {
            [] => {
                return Err(bad(
                    &pop.name,
                    graph,
                    "it leads nowhere: the Output is not reached",
                ))
            }
            [next] => {
                let (ops, end) = w.follow(next)?;
                if end == output {
                    return Err(bad(end, graph, "it is fed by synapses, not neurons: add an LI (leaky integrator) before the Output, or end with spiking neurons"));
                }
                if graph.predecessors(end).len() != 1 {
                    return Err(bad(
                        end,
                        graph,
                        "several incoming paths outside a residual block",
                    ));
                }
                let syn = w.synapses(&pop, &ops, end)?;
                let out_shape = match &syn {
                    Synapses::Conv { out, .. }
                    | Synapses::Dense { out, .. }
                    | Synapses::Pool { out, .. } => out.clone(),
                };
                let out = Pop {
                    name: end.to_string(),
                    shape: out_shape,
                };
                let after = graph.successors(end);
                if matches!(
                    graph.nodes[end].kind,
                    Kind::Li { .. } | Kind::I { .. } | Kind::CubaLi { .. }
                ) {
                    if after.as_slice() != [output.as_str()] {
                        return Err(bad(
                            end,
                            graph,
                            "a leaky integrator (no spikes) must feed the Output and nothing else",
                        ));
                    }
                    w.output_layer(syn, end, &out)?;
                    break;
                }
                w.spiking_layer(syn, end, &out)?;
                pop = out;
            }
            [a, b] => {
                let (a, b) = (*a, *b);
                pop = w.residual(&pop, [a, b])?;
            }
            many => {
                return Err(bad(
                    &pop.name,
                    graph,
                    format!("{} outgoing edges", many.len()),
                ))
            }
        }
    }
    let opts = crate::io::export::ExportOptions {
        membranes: None,
        deployment: in_node.meta_array("snn_deployment").and_then(deployment),
    };
    let blob = assemble(
        &w.layers,
        input_shape,
        &enc,
        snn_core::format::Drive::Rate,
        opts,
    )?;
    Ok(Imported {
        blob,
        dt,
        dt_source,
        layers: w.notes,
    })
}

//! `snn-core` model -> NIR graph. Every layer becomes NIR's synapse and neuron nodes
//! with float parameters whose dynamics at the graph's `dt` are the model's (see
//! `docs/nir.md`); the model's quantisation (weight units, integer thresholds, leak
//! bits, reset, synaptic decay, input encoder) is kept in `snn_*` metadata entries,
//! which our importer reads back so that a round trip gives the same model bytes.
//! Two things our format holds have no such NIR form and come back as the same
//! network quantised anew: pooling neurons with a synaptic current (written as
//! `AvgPool2d -> CubaLIF`, read back as a folded convolution) and a residual block
//! whose two populations differ in leak, reset or synaptic decay (refused on import).

use snn_core::format::{self, LayerDesc, NeuronDesc, Reset, Shortcut};
use snn_core::neuron::Leak;

use super::graph::{Array, Graph, Kind, Meta, Metadata, Node, Padding};
use super::NirError;

fn i32s(b: &[u8]) -> Vec<i32> {
    b.chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn meta_numbers(v: impl IntoIterator<Item = f64>) -> Meta {
    let data: Vec<f64> = v.into_iter().collect();
    Meta::Array(Array::new(&[data.len()], data))
}

/// Weight rows of `row` bytes in logical order (the format stores them interleaved:
/// `snn_core::format::interleave_rows`).
fn logical(stored: &[u8], row: usize) -> Vec<u8> {
    let mut w = stored.to_vec();
    format::interleave_rows(&mut w, row);
    w
}

/// Per-channel values broadcast to a population of `shape` (`CHW`).
fn broadcast(shape: &[usize], per_channel: &[f64]) -> Array {
    let c = per_channel.len().max(1);
    let n: usize = shape.iter().product();
    let per = n / c;
    Array::new(shape, (0..n).map(|i| per_channel[i / per.max(1)]).collect())
}

struct Writer {
    g: Graph,
    dt: f64,
}

/// The time constant `tau` whose forward-Euler decay `1 - dt / tau` at `dt` is the
/// U1F15 factor `bits`; `dt 2^20` for a factor of 1.0 (no decay), which rounds back
/// to 32768.
fn tau_of(dt: f64, bits: u16) -> f64 {
    let lam = f64::from(bits) / 32768.0;
    if lam >= 1.0 {
        dt * f64::from(1u32 << 20)
    } else {
        dt / (1.0 - lam)
    }
}

impl Writer {
    fn add(&mut self, name: String, kind: Kind, metadata: Metadata, from: &str) -> String {
        self.g.nodes.insert(name.clone(), Node { kind, metadata });
        self.g.edges.push((from.to_string(), name.clone()));
        name
    }

    /// A spiking population: IF without leak, else LIF, and CubaLIF with a synaptic
    /// current; `R` (and `w_in`) chosen so that one unit of input current adds one unit
    /// of membrane (`dt R / tau = 1`, `dt w_in / tau_syn = 1`).
    fn neurons(
        &mut self,
        name: String,
        shape: &[usize],
        n: &NeuronDesc<'_>,
        v_th: &[f64],
        from: &str,
    ) -> String {
        let dt = self.dt;
        let th = broadcast(shape, v_th);
        let zeros = Array::full(shape, 0.0);
        let kind = if n.synapse != 0 {
            let (tau_syn, tau_mem) = (tau_of(dt, n.synapse), tau_of(dt, n.leak));
            Kind::CubaLif {
                tau_syn: Array::full(shape, tau_syn),
                tau_mem: Array::full(shape, tau_mem),
                r: Array::full(shape, tau_mem / dt),
                v_leak: zeros.clone(),
                v_threshold: th,
                v_reset: zeros,
                w_in: Array::full(shape, tau_syn / dt),
            }
        } else if n.leak >= Leak::ONE.to_bits() {
            Kind::If {
                r: Array::full(shape, 1.0 / dt),
                v_threshold: th,
                v_reset: zeros,
            }
        } else {
            let tau = dt / (1.0 - f64::from(n.leak) / 32768.0);
            Kind::Lif {
                tau: Array::full(shape, tau),
                r: Array::full(shape, tau / dt),
                v_leak: zeros.clone(),
                v_threshold: th,
                v_reset: zeros,
            }
        };
        let mut m = Metadata::new();
        m.insert(
            "snn_threshold".into(),
            meta_numbers(i32s(n.thresholds).into_iter().map(f64::from)),
        );
        m.insert("snn_leak".into(), meta_numbers([f64::from(n.leak)]));
        if n.synapse != 0 {
            m.insert("snn_synapse".into(), meta_numbers([f64::from(n.synapse)]));
        }
        let reset = match n.reset {
            Reset::Hard => "hard",
            Reset::Subtract => "subtract",
        };
        m.insert("snn_reset".into(), Meta::Text(reset.into()));
        self.add(name, kind, m, from)
    }

    /// A NIR convolution from our `[in][ky][kx][out]` weights times `unit[out]`.
    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        name: String,
        c: &format::ConvDesc<'_>,
        ci: usize,
        hw: [usize; 2],
        unit: &[f64],
        from: &str,
        extra: Metadata,
    ) -> String {
        let (co, k) = (usize::from(c.out_channels), usize::from(c.kernel));
        let mut w = vec![0.0; co * ci * k * k];
        for (idx, &q) in logical(c.weights, co).iter().enumerate() {
            let o = idx % co;
            let rest = idx / co;
            let (i, ky, kx) = (rest / (k * k), (rest / k) % k, rest % k);
            w[((o * ci + i) * k + ky) * k + kx] = f64::from(q as i8) * unit[o];
        }
        let mut m = extra;
        m.insert("snn_scale".into(), meta_numbers(unit.iter().copied()));
        let kind = Kind::Conv2d {
            input_shape: Some(hw),
            weight: Array::new(&[co, ci, k, k], w),
            stride: [usize::from(c.stride); 2],
            padding: Padding::Explicit([usize::from(c.padding); 2]),
            dilation: [1, 1],
            groups: 1,
            bias: Array::full(&[co], 0.0),
        };
        self.add(name, kind, m, from)
    }

    /// Flattens `from` when it is a `(C, H, W)` population; returns the node to read.
    fn flatten(&mut self, li: usize, shape: &[usize], from: &str) -> String {
        if shape.len() == 3 {
            let kind = Kind::Flatten {
                input_type: Some(shape.to_vec()),
                start_dim: 0,
                end_dim: -1,
            };
            self.add(format!("l{li}_flatten"), kind, Metadata::new(), from)
        } else {
            from.to_string()
        }
    }

    /// A NIR `Linear` from our `[in][out]` weights times `unit[out]` (one unit for all
    /// when `unit` has one value), reading a population of `shape`.
    fn linear(
        &mut self,
        name: String,
        weights: &[u8],
        out: usize,
        shape: &[usize],
        unit: &[f64],
        from: &str,
    ) -> String {
        let n: usize = shape.iter().product();
        let weights = logical(weights, out);
        let mut w = vec![0.0; out * n];
        for j in 0..n {
            // NIR's flat (CHW) index j is our (HWC) row `row`.
            let row = match shape {
                [c, h, wd] => (j % (h * wd)) * c + j / (h * wd),
                _ => j,
            };
            for o in 0..out {
                let q = weights[row * out + o] as i8;
                w[o * n + j] = f64::from(q) * unit[o % unit.len()];
            }
        }
        let mut m = Metadata::new();
        m.insert("snn_scale".into(), meta_numbers(unit.iter().copied()));
        self.add(
            name,
            Kind::Linear {
                weight: Array::new(&[out, n], w),
            },
            m,
            from,
        )
    }
}

/// Our (`1 / threshold`) unit of each channel: the float network's, where `V_th = 1`.
fn units(n: &NeuronDesc<'_>) -> Vec<f64> {
    i32s(n.thresholds)
        .into_iter()
        .map(|t| 1.0 / f64::from(t.max(1)))
        .collect()
}

/// The `Input` node's metadata: our encoder's tables and the deployment setting, so
/// that importing the graph gives the model back.
fn input_metadata(desc: &format::ModelDesc<'_>) -> Metadata {
    let inp = &desc.input;
    let mut m = Metadata::new();
    m.insert(
        "snn_center".into(),
        meta_numbers(i32s(inp.center).into_iter().map(f64::from)),
    );
    m.insert(
        "snn_gain".into(),
        meta_numbers(
            inp.gain
                .chunks_exact(4)
                .map(|c| f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
        ),
    );
    if let Some(d) = desc.deployment {
        // [steps, rule (0 never, 1 exact, 2 margin), margin per step]
        let (rule, per_step) = match d.early_exit {
            snn_core::EarlyExit::Never => (0.0, 0.0),
            snn_core::EarlyExit::Exact => (1.0, 0.0),
            snn_core::EarlyExit::Margin { per_step } => (2.0, f64::from(per_step)),
        };
        m.insert(
            "snn_deployment".into(),
            meta_numbers([f64::from(d.steps), rule, per_step]),
        );
    }
    m
}

/// A residual block: both convolutions and populations, the shortcut (a 1x1
/// convolution, or the identity as a diagonal one) into the second population.
/// Returns the second population's node and shape.
fn residual(
    w: &mut Writer,
    li: usize,
    layer: &LayerDesc<'_>,
    shape: &[usize],
    prev: &str,
) -> (String, Vec<usize>) {
    let LayerDesc::Residual {
        conv1,
        neuron1,
        conv2,
        shortcut,
        neuron2,
    } = layer
    else {
        unreachable!("called for residual blocks only")
    };
    let (u1, u2) = (units(neuron1), units(neuron2));
    let geo = |c: &format::ConvDesc<'_>, n: usize| {
        (n + 2 * usize::from(c.padding) - usize::from(c.kernel)) / usize::from(c.stride) + 1
    };
    let mid = vec![
        usize::from(conv1.out_channels),
        geo(conv1, shape[1]),
        geo(conv1, shape[2]),
    ];
    let end = vec![
        usize::from(conv2.out_channels),
        geo(conv2, mid[1]),
        geo(conv2, mid[2]),
    ];
    let c1 = w.conv(
        format!("l{li}_conv1"),
        conv1,
        shape[0],
        [shape[1], shape[2]],
        &u1,
        prev,
        Metadata::new(),
    );
    let n1 = w.neurons(
        format!("l{li}_lif1"),
        &mid,
        neuron1,
        &vec![1.0; u1.len()],
        &c1,
    );
    let c2 = w.conv(
        format!("l{li}_conv2"),
        conv2,
        mid[0],
        [mid[1], mid[2]],
        &u2,
        &n1,
        Metadata::new(),
    );
    // The shortcut: a 1x1 convolution with the block's stride (an identity
    // one holds its gains on the diagonal).
    let stride = conv1.stride * conv2.stride;
    let (ci, co) = (shape[0], end[0]);
    let (q, extra): (Vec<i64>, Metadata) = match shortcut {
        Shortcut::Conv { weights } => (
            logical(weights, co)
                .iter()
                .map(|&b| i64::from(b as i8))
                .collect(),
            Metadata::new(),
        ),
        Shortcut::Identity { gains } => {
            let g = i32s(gains);
            let mut q = vec![0i64; ci * co];
            for c in 0..co.min(ci) {
                q[c * co + c] = i64::from(g[c]);
            }
            let mut m = Metadata::new();
            m.insert("snn_shortcut".into(), Meta::Text("identity".into()));
            (q, m)
        }
    };
    let mut wt = vec![0.0; co * ci];
    for i in 0..ci {
        for o in 0..co {
            wt[o * ci + i] = q[i * co + o] as f64 * u2[o];
        }
    }
    let kind = Kind::Conv2d {
        input_shape: Some([shape[1], shape[2]]),
        weight: Array::new(&[co, ci, 1, 1], wt),
        stride: [usize::from(stride); 2],
        padding: Padding::Explicit([0, 0]),
        dilation: [1, 1],
        groups: 1,
        bias: Array::full(&[co], 0.0),
    };
    let sc = w.add(format!("l{li}_shortcut"), kind, extra, prev);
    let n2 = w.neurons(
        format!("l{li}_lif2"),
        &end,
        neuron2,
        &vec![1.0; u2.len()],
        &c2,
    );
    w.g.edges.push((sc, n2.clone()));
    (n2, end)
}

/// The output layer: flatten, the dense weights, and the non-spiking LI (or I, or
/// CubaLI) node.
fn output(w: &mut Writer, li: usize, layer: &LayerDesc<'_>, shape: &[usize], prev: &str) {
    let LayerDesc::Output {
        classes,
        weights,
        leak,
        synapse,
        scale,
    } = layer
    else {
        unreachable!("called for the output layer only")
    };
    let dt = w.dt;
    let out = usize::from(*classes);
    let from = w.flatten(li, shape, prev);
    let fc = w.linear(
        format!("l{li}_fc"),
        weights,
        out,
        shape,
        &[f64::from(*scale)],
        &from,
    );
    let (kind, name) = if *synapse != 0 {
        let (tau_syn, tau_mem) = (tau_of(dt, *synapse), tau_of(dt, *leak));
        (
            Kind::CubaLi {
                tau_syn: Array::full(&[out], tau_syn),
                tau_mem: Array::full(&[out], tau_mem),
                r: Array::full(&[out], tau_mem / dt),
                v_leak: Array::full(&[out], 0.0),
                w_in: Array::full(&[out], tau_syn / dt),
            },
            format!("l{li}_cubali"),
        )
    } else if *leak >= Leak::ONE.to_bits() {
        (
            Kind::I {
                r: Array::full(&[out], 1.0 / dt),
            },
            format!("l{li}_i"),
        )
    } else {
        let tau = dt / (1.0 - f64::from(*leak) / 32768.0);
        (
            Kind::Li {
                tau: Array::full(&[out], tau),
                r: Array::full(&[out], tau / dt),
                v_leak: Array::full(&[out], 0.0),
            },
            format!("l{li}_li"),
        )
    };
    let mut m = Metadata::new();
    m.insert("snn_leak".into(), meta_numbers([f64::from(*leak)]));
    if *synapse != 0 {
        m.insert("snn_synapse".into(), meta_numbers([f64::from(*synapse)]));
    }
    let li_node = w.add(name, kind, m, &fc);
    w.add(
        "output".into(),
        Kind::Output { shape: vec![out] },
        Metadata::new(),
        &li_node,
    );
}

/// Translates model `blob` to a NIR graph at time step `dt` seconds.
///
/// # Errors
/// [`NirError::Model`] when `snn-core` rejects the blob.
pub fn from_model(blob: &[u8], dt: f64) -> Result<Graph, NirError> {
    if !(dt.is_finite() && dt > 0.0) {
        return Err(NirError::Graph(format!(
            "dt = {dt} is not a positive time step"
        )));
    }
    snn_core::Model::from_bytes(blob).map_err(NirError::Model)?;
    let (_, payload) = format::split_payload(blob).map_err(NirError::Model)?;
    let desc = format::decode_body(payload).map_err(NirError::Model)?;
    if desc.input.drive != format::Drive::Rate {
        return Err(NirError::Unsupported {
            node: "input".into(),
            kind: "Input".into(),
            reason: "an analog-input model: NIR graphs here carry rate-coded input only \
                     (the input encoding is issue \"NIR round 2\")"
                .into(),
        });
    }
    let mut w = Writer {
        g: Graph::default(),
        dt,
    };
    let inp = &desc.input;
    let mut shape = vec![
        usize::from(inp.channels),
        usize::from(inp.height),
        usize::from(inp.width),
    ];
    let m = input_metadata(&desc);
    w.g.nodes.insert(
        "input".into(),
        Node {
            kind: Kind::Input {
                shape: shape.clone(),
            },
            metadata: m,
        },
    );
    let mut prev = "input".to_string();
    for (li, layer) in desc.layers.iter().enumerate() {
        match layer {
            LayerDesc::Conv { conv, neuron } => {
                let u = units(neuron);
                let (k, s, p) = (
                    usize::from(conv.kernel),
                    usize::from(conv.stride),
                    usize::from(conv.padding),
                );
                let out = |n: usize| (n + 2 * p - k) / s + 1;
                let next = vec![usize::from(conv.out_channels), out(shape[1]), out(shape[2])];
                let c = w.conv(
                    format!("l{li}_conv"),
                    conv,
                    shape[0],
                    [shape[1], shape[2]],
                    &u,
                    &prev,
                    Metadata::new(),
                );
                prev = w.neurons(format!("l{li}_lif"), &next, neuron, &vec![1.0; u.len()], &c);
                shape = next;
            }
            LayerDesc::Pool { neuron } => {
                let next = vec![shape[0], shape[1] / 2, shape[2] / 2];
                let kind = Kind::Pool2d {
                    average: true,
                    kernel: [2, 2],
                    stride: [2, 2],
                    padding: [0, 0],
                };
                let pool = w.add(format!("l{li}_pool"), kind, Metadata::new(), &prev);
                // Each input spike brings a quarter: thresholds are a quarter of ours.
                let th: Vec<f64> = i32s(neuron.thresholds)
                    .into_iter()
                    .map(|t| f64::from(t) / 4.0)
                    .collect();
                prev = w.neurons(format!("l{li}_if"), &next, neuron, &th, &pool);
                shape = next;
            }
            LayerDesc::Dense {
                outputs,
                weights,
                neuron,
            } => {
                let u = units(neuron);
                let out = usize::from(*outputs);
                let from = w.flatten(li, &shape, &prev);
                let fc = w.linear(format!("l{li}_fc"), weights, out, &shape, &u, &from);
                prev = w.neurons(format!("l{li}_lif"), &[out], neuron, &vec![1.0; out], &fc);
                shape = vec![out];
            }
            LayerDesc::Residual { .. } => {
                (prev, shape) = residual(&mut w, li, layer, &shape, &prev);
            }
            LayerDesc::Output { .. } => output(&mut w, li, layer, &shape, &prev),
        }
    }
    w.g.metadata.insert("dt".into(), meta_numbers([dt]));
    w.g.metadata.insert(
        "discretisation".into(),
        Meta::Text(
            "forward Euler at dt: v[t] = v[t-1] + dt/tau (v_leak - v[t-1]) + dt R/tau I[t] \
             (IF, I: v[t-1] + dt R I[t]); a spike when v[t] > v_threshold, then v = v_reset \
             (snn_reset = subtract: v -= v_threshold); input at step t acts at step t; the \
             output is the LI/I state after the last step"
                .into(),
        ),
    );
    w.g.metadata.insert(
        "source".into(),
        Meta::Text("snn-core model format 1".into()),
    );
    Ok(w.g)
}

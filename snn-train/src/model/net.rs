//! Float spiking networks: the population graph built from a layer list
//! ([`crate::model::spec`]), and its parameters.
//!
//! A network is a chain of *populations* (the input, spiking layers, the output
//! integrator) joined by *connections* (conv, dense, 2x2 pool, identity). A residual
//! block is two populations whose second one receives two connections (conv2 and the
//! shortcut). The simulator and both backward forms walk this one graph, so every
//! architecture takes the same code path. Tensors are channel-last (`HWC`); conv
//! weights are `[in][ky][kx][out]` and dense weights `[in][out]`, the layout of the
//! `snn-core` format.

use ndarray::ArrayD;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

pub use snn_core::layer::Shape;
use snn_core::{format::Reset, MAX_LAYERS};

use crate::error::{LayerIndex, NetworkError};
use crate::model::spec::{LayerSpec, ShortcutKind};

/// What kind of neurons a population holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PopKind {
    /// The rate-encoded input (signed spikes, no state).
    Input,
    /// Leaky integrate-and-fire neurons with threshold `V_th` (the network's leak).
    Lif,
    /// Non-leaky integrate-and-fire pooling neurons (threshold `pool_threshold`).
    Pool,
    /// The non-spiking output integrator.
    Output,
}

/// A population of neurons.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pop {
    /// Shape (`HWC`).
    pub shape: Shape,
    /// Neuron kind.
    pub kind: PopKind,
    /// Dropout probability on this population's output (hidden LIF layers only).
    pub dropout: f32,
}

/// Convolution geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvGeo {
    /// Kernel size.
    pub k: usize,
    /// Stride.
    pub s: usize,
    /// Padding.
    pub p: usize,
}

/// What a connection computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Convolution (weights `[in][ky][kx][out]`).
    Conv(ConvGeo),
    /// Fully connected (weights `[in][out]`).
    Dense,
    /// 2x2 average pooling: each spike adds 1/4 to its pool's membrane.
    Pool,
    /// Identity subsampled by `stride`: each spike adds 1.
    Identity {
        /// Subsampling stride.
        stride: usize,
    },
}

/// A connection from population `src` into population `dst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conn {
    /// Presynaptic population.
    pub src: usize,
    /// Postsynaptic population.
    pub dst: usize,
    /// The operation.
    pub op: Op,
    /// Index of its weight tensor, if it has one.
    pub param: Option<usize>,
}

/// Neuron constants shared by the whole network (`method.md` §1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Neuron {
    /// Leak `lambda` of LIF and output neurons (0.99).
    pub leak: f32,
    /// LIF threshold `V_th` (1.0).
    pub threshold: f32,
    /// Pooling IF threshold (0.75).
    pub pool_threshold: f32,
    /// Reset rule of LIF neurons.
    pub reset: Reset,
}

/// A network: populations and connections, built from a layer list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// The layer list it was built from.
    pub layers: Vec<LayerSpec>,
    /// Populations; `pops[0]` is the input, the last is the output.
    pub pops: Vec<Pop>,
    /// Connections, ordered by destination population.
    pub conns: Vec<Conn>,
    /// Shapes of the weight tensors.
    pub param_shapes: Vec<Vec<usize>>,
    /// Neuron constants.
    pub neuron: Neuron,
    /// For each layer, the populations it created (for export).
    pub layer_pops: Vec<Vec<usize>>,
    /// For each layer, its weight tensors (for export).
    pub layer_params: Vec<Vec<usize>>,
}

/// Weight tensors, indexed like [`Network::param_shapes`].
pub type Params = Vec<ArrayD<f32>>;

fn conv_out(n: usize, g: ConvGeo) -> Option<usize> {
    (n + 2 * g.p).checked_sub(g.k).map(|v| v / g.s + 1)
}

/// `value` as a `u16` dimension of the model format, or [`NetworkError::TooLarge`].
fn dim(layer: LayerIndex, what: &'static str, value: usize) -> Result<u16, NetworkError> {
    u16::try_from(value).map_err(|_| NetworkError::TooLarge {
        layer,
        what,
        value,
        max: usize::from(u16::MAX),
    })
}

/// A `channels x height x width` shape in the format's `u16` range.
///
/// # Errors
/// [`NetworkError::TooLarge`] (for `layer`) when a dimension exceeds `u16::MAX`.
pub fn shape(
    layer: LayerIndex,
    channels: usize,
    height: usize,
    width: usize,
) -> Result<Shape, NetworkError> {
    Ok(Shape {
        channels: dim(layer, "channels", channels)?,
        height: dim(layer, "height", height)?,
        width: dim(layer, "width", width)?,
    })
}

/// `(channels, height, width)` of `s` as `usize`.
#[inline]
pub fn dims(s: Shape) -> (usize, usize, usize) {
    (
        usize::from(s.channels),
        usize::from(s.height),
        usize::from(s.width),
    )
}

impl Network {
    /// Builds the graph for `layers` on inputs of shape `input` with `classes` outputs.
    ///
    /// # Errors
    /// [`NetworkError`] when a layer does not fit its input (kernel larger than the
    /// padded input, pooling a 1-pixel map, identity shortcut across a channel change),
    /// when the output layer is missing or misplaced, for zero sizes, and for sizes or
    /// layer counts beyond what the model format stores.
    pub fn build(
        layers: &[LayerSpec],
        input: Shape,
        classes: usize,
        neuron: Neuron,
        dropout: f32,
    ) -> Result<Self, NetworkError> {
        if !matches!(layers.last(), Some(LayerSpec::Output)) {
            return Err(NetworkError::MissingOutput);
        }
        if layers.len() > MAX_LAYERS {
            return Err(NetworkError::TooManyLayers {
                layers: layers.len(),
                max: MAX_LAYERS,
            });
        }
        let mut net = Self {
            layers: layers.to_vec(),
            pops: vec![Pop {
                shape: input,
                kind: PopKind::Input,
                dropout: 0.0,
            }],
            conns: Vec::new(),
            param_shapes: Vec::new(),
            neuron,
            layer_pops: Vec::new(),
            layer_params: Vec::new(),
        };
        let mut cur = 0usize;
        for (li, layer) in layers.iter().enumerate() {
            let (first_pop, first_param) = (net.pops.len(), net.param_shapes.len());
            cur = net.layer(li, layer, cur, classes, dropout, layers.len())?;
            net.layer_pops.push((first_pop..net.pops.len()).collect());
            net.layer_params
                .push((first_param..net.param_shapes.len()).collect());
        }
        net.conns.sort_by_key(|c| c.dst);
        Ok(net)
    }

    /// Adds layer `li` on top of population `cur`; returns its last population.
    fn layer(
        &mut self,
        li: usize,
        layer: &LayerSpec,
        cur: usize,
        classes: usize,
        dropout: f32,
        n_layers: usize,
    ) -> Result<usize, NetworkError> {
        let src = self.pops[cur].shape;
        let (sc, sh, sw) = dims(src);
        let at = LayerIndex::Layer(li);
        Ok(match *layer {
            LayerSpec::Conv {
                channels,
                kernel,
                stride,
                padding,
            } => {
                let g = ConvGeo {
                    k: kernel,
                    s: stride,
                    p: padding.unwrap_or(kernel / 2),
                };
                self.conv(cur, channels, g, PopKind::Lif, dropout, li)?
            }
            LayerSpec::Pool => {
                if sh < 2 || sw < 2 {
                    return Err(NetworkError::CannotPool {
                        layer: li,
                        height: sh,
                        width: sw,
                    });
                }
                let out = shape(at, sc, sh / 2, sw / 2)?;
                let dst = self.pop(out, PopKind::Pool, 0.0);
                self.conns.push(Conn {
                    src: cur,
                    dst,
                    op: Op::Pool,
                    param: None,
                });
                dst
            }
            LayerSpec::Dense { units } => {
                if units == 0 {
                    return Err(NetworkError::Zero {
                        layer: li,
                        what: "units",
                    });
                }
                self.dense(cur, units, PopKind::Lif, dropout, at)?
            }
            LayerSpec::Residual {
                channels,
                stride,
                shortcut,
            } => {
                let g1 = ConvGeo { k: 3, s: 1, p: 1 };
                let a = self.conv(cur, channels, g1, PopKind::Lif, dropout, li)?;
                let g2 = ConvGeo {
                    k: 3,
                    s: stride,
                    p: 1,
                };
                let b = self.conv(a, channels, g2, PopKind::Lif, dropout, li)?;
                let sg = ConvGeo {
                    k: 1,
                    s: stride,
                    p: 0,
                };
                let op = match shortcut {
                    ShortcutKind::Conv => Op::Conv(sg),
                    ShortcutKind::Identity if sc != channels => {
                        return Err(NetworkError::IdentityChannels {
                            layer: li,
                            from: sc,
                            to: channels,
                        })
                    }
                    ShortcutKind::Identity => Op::Identity { stride },
                };
                let param = matches!(op, Op::Conv(_)).then(|| self.param(vec![sc, 1, 1, channels]));
                self.conns.push(Conn {
                    src: cur,
                    dst: b,
                    op,
                    param,
                });
                let (_, oh, ow) = dims(self.pops[b].shape);
                if conv_out(sh, sg) != Some(oh) || conv_out(sw, sg) != Some(ow) {
                    return Err(NetworkError::ShortcutMismatch { layer: li });
                }
                b
            }
            LayerSpec::Output => {
                if li + 1 != n_layers {
                    return Err(NetworkError::OutputNotLast { layer: li });
                }
                self.dense(cur, classes, PopKind::Output, 0.0, at)?
            }
        })
    }

    fn pop(&mut self, shape: Shape, kind: PopKind, dropout: f32) -> usize {
        self.pops.push(Pop {
            shape,
            kind,
            dropout,
        });
        self.pops.len() - 1
    }

    fn param(&mut self, shape: Vec<usize>) -> usize {
        self.param_shapes.push(shape);
        self.param_shapes.len() - 1
    }

    fn conv(
        &mut self,
        src: usize,
        channels: usize,
        g: ConvGeo,
        kind: PopKind,
        dropout: f32,
        li: usize,
    ) -> Result<usize, NetworkError> {
        let (sc, sh, sw) = dims(self.pops[src].shape);
        let zero = |what| NetworkError::Zero { layer: li, what };
        if channels == 0 {
            return Err(zero("channels"));
        }
        if g.k == 0 {
            return Err(zero("kernel"));
        }
        if g.s == 0 {
            return Err(zero("stride"));
        }
        let at = LayerIndex::Layer(li);
        for (what, v) in [("kernel", g.k), ("stride", g.s), ("padding", g.p)] {
            if v > usize::from(u8::MAX) {
                return Err(NetworkError::TooLarge {
                    layer: at,
                    what,
                    value: v,
                    max: usize::from(u8::MAX),
                });
            }
        }
        let (Some(h), Some(w)) = (conv_out(sh, g), conv_out(sw, g)) else {
            return Err(NetworkError::KernelTooLarge {
                layer: li,
                kernel: g.k,
                height: sh,
                width: sw,
                padding: g.p,
            });
        };
        let out = shape(at, channels, h, w)?;
        let param = self.param(vec![sc, g.k, g.k, channels]);
        let dst = self.pop(out, kind, dropout);
        self.conns.push(Conn {
            src,
            dst,
            op: Op::Conv(g),
            param: Some(param),
        });
        Ok(dst)
    }

    fn dense(
        &mut self,
        src: usize,
        units: usize,
        kind: PopKind,
        dropout: f32,
        at: LayerIndex,
    ) -> Result<usize, NetworkError> {
        let n_in = self.pops[src].shape.len();
        let what = if kind == PopKind::Output {
            "classes"
        } else {
            "units"
        };
        let out = Shape {
            channels: dim(at, what, units)?,
            height: 1,
            width: 1,
        };
        let param = self.param(vec![n_in, units]);
        let dst = self.pop(out, kind, dropout);
        self.conns.push(Conn {
            src,
            dst,
            op: Op::Dense,
            param: Some(param),
        });
        Ok(dst)
    }
    /// Fan-in of a weight tensor (all dimensions but the last).
    pub fn fan_in(&self, param: usize) -> usize {
        let s = &self.param_shapes[param];
        s[..s.len() - 1].iter().product()
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.pops.last().map_or(0, |p| p.shape.len())
    }

    /// Fresh weights: `N(0, sqrt(gain / fan_in))` (the paper's init: gain 2 for LeNet
    /// and VGG, 1 for ResNet), drawn from `seed`.
    pub fn init(&self, gain: f32, seed: u64) -> Params {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        self.param_shapes
            .iter()
            .enumerate()
            .map(|(i, shape)| {
                let std = (gain / self.fan_in(i) as f32).sqrt();
                let normal = Normal::new(0.0f32, std).expect("finite std");
                ArrayD::from_shape_fn(shape.clone(), |_| normal.sample(&mut rng))
            })
            .collect()
    }

    /// A name for each population, as the telemetry and the guard print them:
    /// `input`, then `conv1`, `pool1`, `conv2`, ... (`fc1`, ... for populations fed by a
    /// dense layer), and `output`.
    pub fn pop_names(&self) -> Vec<String> {
        let (mut conv, mut fc, mut pool) = (0, 0, 0);
        let next = |n: &mut usize, what: &str| {
            *n += 1;
            format!("{what}{n}")
        };
        self.pops
            .iter()
            .enumerate()
            .map(|(p, pop)| match pop.kind {
                PopKind::Input => "input".to_string(),
                PopKind::Output => "output".to_string(),
                PopKind::Pool => next(&mut pool, "pool"),
                PopKind::Lif => {
                    if self.conns.iter().any(|c| c.dst == p && c.op == Op::Dense) {
                        next(&mut fc, "fc")
                    } else {
                        next(&mut conv, "conv")
                    }
                }
            })
            .collect()
    }

    /// Zero tensors of the parameters' shapes.
    pub fn zeros(&self) -> Params {
        self.param_shapes
            .iter()
            .map(|s| ArrayD::zeros(s.clone()))
            .collect()
    }

    /// Total number of weights.
    pub fn num_params(&self) -> usize {
        self.param_shapes
            .iter()
            .map(|s| s.iter().product::<usize>())
            .sum()
    }
}

//! Float spiking networks: the layer list (presets or TOML), the population graph it
//! builds, and the parameters.
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

use crate::ConfigError;

/// One layer of a network description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LayerSpec {
    /// `k x k` convolution feeding LIF neurons; padding defaults to `k / 2` ("same").
    Conv {
        /// Output channels.
        channels: usize,
        /// Kernel size.
        kernel: usize,
        /// Stride (default 1).
        #[serde(default = "one")]
        stride: usize,
        /// Zero padding (default `kernel / 2`).
        #[serde(default)]
        padding: Option<usize>,
    },
    /// 2x2 average pooling feeding integrate-and-fire neurons.
    Pool,
    /// Fully connected layer feeding LIF neurons.
    Dense {
        /// Output neurons.
        units: usize,
    },
    /// Residual basic block: two 3x3 conv LIF layers; the shortcut current is added
    /// into the second layer's membrane.
    Residual {
        /// Channels of both convolutions.
        channels: usize,
        /// Stride of the second convolution and of the shortcut (default 1).
        #[serde(default = "one")]
        stride: usize,
        /// Shortcut kind (default: 1x1 conv).
        #[serde(default)]
        shortcut: ShortcutKind,
    },
    /// The non-spiking output integrator (a fully connected layer, one unit per class).
    Output,
}

fn one() -> usize {
    1
}

/// Kind of a residual block's shortcut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShortcutKind {
    /// 1x1 convolution with the block's stride.
    #[default]
    Conv,
    /// The input subsampled by the block's stride (needs equal channels).
    Identity,
}

/// The built-in architectures of `method.md` §7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// MNIST LeNet: 20C5-AP-50C5-AP-FC200-FC10.
    Lenet,
    /// SVHN VGG7: 64C3-64C3-AP-128C3-128C3-AP-256C3-AP-FC1024-FC10.
    Vgg7,
    /// CIFAR-10 VGG9.
    Vgg9,
    /// SVHN ResNet7: 64C3-AP, 2 blocks, FC1024-FC10.
    Resnet7,
    /// CIFAR-10 ResNet9: 64C3-AP, 3 blocks, FC1024-FC10.
    Resnet9,
    /// CIFAR-10 ResNet11: 64C3-AP, 4 blocks, FC1024-FC10.
    Resnet11,
}

impl Preset {
    /// The preset's layer list.
    pub fn layers(self) -> Vec<LayerSpec> {
        let c = |channels, kernel| LayerSpec::Conv {
            channels,
            kernel,
            stride: 1,
            padding: None,
        };
        let r = |channels, stride, shortcut| LayerSpec::Residual {
            channels,
            stride,
            shortcut,
        };
        use LayerSpec::{Dense, Output, Pool};
        use ShortcutKind::{Conv, Identity};
        match self {
            Self::Lenet => vec![c(20, 5), Pool, c(50, 5), Pool, Dense { units: 200 }, Output],
            Self::Vgg7 => vec![
                c(64, 3),
                c(64, 3),
                Pool,
                c(128, 3),
                c(128, 3),
                Pool,
                c(256, 3),
                Pool,
                Dense { units: 1024 },
                Output,
            ],
            Self::Vgg9 => vec![
                c(64, 3),
                c(64, 3),
                Pool,
                c(128, 3),
                c(128, 3),
                Pool,
                c(256, 3),
                c(256, 3),
                c(256, 3),
                Pool,
                Dense { units: 1024 },
                Output,
            ],
            Self::Resnet7 => vec![
                c(64, 3),
                Pool,
                r(128, 1, Conv),
                r(256, 2, Conv),
                Dense { units: 1024 },
                Output,
            ],
            Self::Resnet9 => vec![
                c(64, 3),
                Pool,
                r(128, 1, Conv),
                r(256, 2, Conv),
                r(512, 2, Conv),
                Dense { units: 1024 },
                Output,
            ],
            Self::Resnet11 => vec![
                c(64, 3),
                Pool,
                r(128, 1, Conv),
                r(256, 2, Conv),
                r(512, 1, Conv),
                r(512, 2, Identity),
                Dense { units: 1024 },
                Output,
            ],
        }
    }
}

/// A `channels x height x width` tensor shape (stored `HWC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Channels.
    pub c: usize,
    /// Rows.
    pub h: usize,
    /// Columns.
    pub w: usize,
}

impl Shape {
    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(y, x, c)` of neuron `i`.
    #[inline]
    pub fn coords(&self, i: usize) -> (usize, usize, usize) {
        let c = i % self.c;
        let p = i / self.c;
        (p / self.w, p % self.w, c)
    }
}

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
    pub reset: snn_core::format::Reset,
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

impl Network {
    /// Builds the graph for `layers` on inputs of shape `input` with `classes` outputs.
    ///
    /// # Errors
    /// [`ConfigError::Network`] when a layer does not fit its input (kernel larger than
    /// the padded input, pooling a 1-pixel map, identity shortcut across a channel
    /// change, no or misplaced output layer, zero sizes).
    pub fn build(
        layers: &[LayerSpec],
        input: Shape,
        classes: usize,
        neuron: Neuron,
        dropout: f32,
    ) -> Result<Self, ConfigError> {
        let bad = |m: String| Err(ConfigError::Network(m));
        if !matches!(layers.last(), Some(LayerSpec::Output)) {
            return bad("the last layer must be `output`".into());
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
            let src = net.pops[cur].shape;
            let (first_pop, first_param) = (net.pops.len(), net.param_shapes.len());
            match *layer {
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
                    cur = net.conv(cur, channels, g, PopKind::Lif, dropout, li)?;
                }
                LayerSpec::Pool => {
                    if src.h < 2 || src.w < 2 {
                        return bad(format!("layer {li}: cannot pool a {}x{} map", src.h, src.w));
                    }
                    let shape = Shape {
                        c: src.c,
                        h: src.h / 2,
                        w: src.w / 2,
                    };
                    let prev = cur;
                    cur = net.pop(shape, PopKind::Pool, 0.0);
                    net.conns.push(Conn {
                        src: prev,
                        dst: cur,
                        op: Op::Pool,
                        param: None,
                    });
                }
                LayerSpec::Dense { units } => {
                    if units == 0 {
                        return bad(format!("layer {li}: zero units"));
                    }
                    cur = net.dense(cur, units, PopKind::Lif, dropout);
                }
                LayerSpec::Residual {
                    channels,
                    stride,
                    shortcut,
                } => {
                    let block_in = cur;
                    let g1 = ConvGeo { k: 3, s: 1, p: 1 };
                    let a = net.conv(block_in, channels, g1, PopKind::Lif, dropout, li)?;
                    let g2 = ConvGeo {
                        k: 3,
                        s: stride,
                        p: 1,
                    };
                    let b = net.conv(a, channels, g2, PopKind::Lif, dropout, li)?;
                    let sc = ConvGeo {
                        k: 1,
                        s: stride,
                        p: 0,
                    };
                    match shortcut {
                        ShortcutKind::Conv => {
                            let param = net.param(vec![src.c, 1, 1, channels]);
                            net.conns.push(Conn {
                                src: block_in,
                                dst: b,
                                op: Op::Conv(sc),
                                param: Some(param),
                            });
                        }
                        ShortcutKind::Identity => {
                            if src.c != channels {
                                return bad(format!(
                                    "layer {li}: identity shortcut from {} to {channels} channels",
                                    src.c
                                ));
                            }
                            net.conns.push(Conn {
                                src: block_in,
                                dst: b,
                                op: Op::Identity { stride },
                                param: None,
                            });
                        }
                    }
                    let out = net.pops[b].shape;
                    if conv_out(src.h, sc) != Some(out.h) || conv_out(src.w, sc) != Some(out.w) {
                        return bad(format!("layer {li}: shortcut and conv2 sizes differ"));
                    }
                    cur = b;
                }
                LayerSpec::Output => {
                    if li + 1 != layers.len() {
                        return bad(format!("layer {li}: `output` must be the last layer"));
                    }
                    cur = net.dense(cur, classes, PopKind::Output, 0.0);
                }
            }
            net.layer_pops.push((first_pop..net.pops.len()).collect());
            net.layer_params
                .push((first_param..net.param_shapes.len()).collect());
        }
        net.conns.sort_by_key(|c| c.dst);
        Ok(net)
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
    ) -> Result<usize, ConfigError> {
        let s = self.pops[src].shape;
        if channels == 0 || g.k == 0 || g.s == 0 {
            return Err(ConfigError::Network(format!(
                "layer {li}: zero channels, kernel or stride"
            )));
        }
        let (Some(h), Some(w)) = (conv_out(s.h, g), conv_out(s.w, g)) else {
            return Err(ConfigError::Network(format!(
                "layer {li}: a {k}x{k} kernel does not fit a {}x{} input with padding {}",
                s.h,
                s.w,
                g.p,
                k = g.k
            )));
        };
        let param = self.param(vec![s.c, g.k, g.k, channels]);
        let dst = self.pop(Shape { c: channels, h, w }, kind, dropout);
        self.conns.push(Conn {
            src,
            dst,
            op: Op::Conv(g),
            param: Some(param),
        });
        Ok(dst)
    }

    fn dense(&mut self, src: usize, units: usize, kind: PopKind, dropout: f32) -> usize {
        let n_in = self.pops[src].shape.len();
        let param = self.param(vec![n_in, units]);
        let dst = self.pop(
            Shape {
                c: units,
                h: 1,
                w: 1,
            },
            kind,
            dropout,
        );
        self.conns.push(Conn {
            src,
            dst,
            op: Op::Dense,
            param: Some(param),
        });
        dst
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

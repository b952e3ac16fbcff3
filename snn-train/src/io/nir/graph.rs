//! NIR graphs in memory: the node kinds of NIR 1.0, their parameters as dense arrays,
//! the edges and the metadata, independent of how they are stored.

use std::collections::BTreeMap;

/// A parameter array of a node: row-major (C order) values with their shape, as NIR
/// stores them (a scalar has an empty shape).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub data: Vec<f64>,
}

impl Array {
    /// A scalar.
    pub fn scalar(v: f64) -> Self {
        Self {
            shape: Vec::new(),
            data: vec![v],
        }
    }

    /// An array of `shape` filled with `v`.
    pub fn full(shape: &[usize], v: f64) -> Self {
        Self {
            shape: shape.to_vec(),
            data: vec![v; shape.iter().product()],
        }
    }

    /// An array of `shape` holding `data` (the caller keeps the lengths consistent).
    pub fn new(shape: &[usize], data: Vec<f64>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self {
            shape: shape.to_vec(),
            data,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when it holds no value.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The values as non-negative integers (strides, kernel sizes), or `None` when one
    /// is negative, fractional or too large.
    pub fn to_usizes(&self) -> Option<Vec<usize>> {
        self.data
            .iter()
            .map(|&v| (v >= 0.0 && v.fract() == 0.0 && v <= 1e9).then_some(v as usize))
            .collect()
    }
}

/// A metadata value: numbers or text.
#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    /// Numbers (integers are stored as `f64` too).
    Array(Array),
    /// Text.
    Text(String),
}

/// Metadata of a node or of the graph, by key.
pub type Metadata = BTreeMap<String, Meta>;

/// Padding of a NIR `Conv2d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Explicit rows and columns of zeros on each side.
    Explicit([usize; 2]),
    /// `"same"`: output as large as the input (stride 1).
    Same,
    /// `"valid"`: no padding.
    Valid,
}

/// The kind of a node and its parameters (NIR's names and units).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Kind {
    /// Graph input of `shape` (no batch dimension).
    Input {
        /// Dimensions: `(C, H, W)` or `(N,)`.
        shape: Vec<usize>,
    },
    /// Graph output of `shape`.
    Output {
        /// Dimensions.
        shape: Vec<usize>,
    },
    /// `W x + b`, `W` of shape `(out, in)`.
    Affine {
        /// Weights.
        weight: Array,
        /// Bias.
        bias: Array,
    },
    /// `W x`.
    Linear {
        /// Weights `(out, in)`.
        weight: Array,
    },
    /// 2-D cross-correlation, weight `(C_out, C_in, kH, kW)`.
    Conv2d {
        /// Spatial input size `(H, W)`, when the file gives it.
        input_shape: Option<[usize; 2]>,
        /// Weights.
        weight: Array,
        /// Strides `(y, x)`.
        stride: [usize; 2],
        /// Padding.
        padding: Padding,
        /// Dilation `(y, x)`.
        dilation: [usize; 2],
        /// Groups.
        groups: usize,
        /// Bias per output channel.
        bias: Array,
    },
    /// Flattens dimensions `start_dim..=end_dim` (negative counts from the end).
    Flatten {
        /// Shape of the input, when the file gives it.
        input_type: Option<Vec<usize>>,
        /// First flattened dimension.
        start_dim: i64,
        /// Last flattened dimension.
        end_dim: i64,
    },
    /// Sum (`average: false`) or average pooling.
    Pool2d {
        /// `AvgPool2d` (divides by the window size) rather than `SumPool2d`.
        average: bool,
        /// Window `(kH, kW)`.
        kernel: [usize; 2],
        /// Strides.
        stride: [usize; 2],
        /// Padding.
        padding: [usize; 2],
    },
    /// Integrate-and-fire: `dv/dt = R I`.
    If {
        /// Resistance `R`.
        r: Array,
        /// Threshold.
        v_threshold: Array,
        /// Reset potential.
        v_reset: Array,
    },
    /// Leaky integrate-and-fire: `tau dv/dt = (v_leak - v) + R I`.
    Lif {
        /// Time constant (seconds).
        tau: Array,
        /// Resistance.
        r: Array,
        /// Leak potential.
        v_leak: Array,
        /// Threshold.
        v_threshold: Array,
        /// Reset potential.
        v_reset: Array,
    },
    /// Leaky integrator (no spikes).
    Li {
        /// Time constant.
        tau: Array,
        /// Resistance.
        r: Array,
        /// Leak potential.
        v_leak: Array,
    },
    /// Current-based leaky integrate-and-fire: `tau_syn dI/dt = -I + w_in S`,
    /// `tau_mem dv/dt = (v_leak - v) + R I`.
    CubaLif {
        /// Synaptic time constant (seconds).
        tau_syn: Array,
        /// Membrane time constant (seconds).
        tau_mem: Array,
        /// Resistance.
        r: Array,
        /// Leak potential.
        v_leak: Array,
        /// Threshold.
        v_threshold: Array,
        /// Reset potential.
        v_reset: Array,
        /// Input current weight (element-wise).
        w_in: Array,
    },
    /// Current-based leaky integrator (no spikes): `CubaLif` without threshold.
    CubaLi {
        /// Synaptic time constant (seconds).
        tau_syn: Array,
        /// Membrane time constant (seconds).
        tau_mem: Array,
        /// Resistance.
        r: Array,
        /// Leak potential.
        v_leak: Array,
        /// Input current weight (element-wise).
        w_in: Array,
    },
    /// Integrator: `dv/dt = R I`.
    I {
        /// Resistance.
        r: Array,
    },
    /// Element-wise scaling.
    Scale {
        /// Factors.
        scale: Array,
    },
    /// Any other NIR node kind (`Delay`, `Threshold`, `Conv1d`, a nested
    /// `NIRGraph`, ...), kept by name so that the importer can refuse it by name.
    Other {
        /// The NIR type name.
        kind: String,
    },
}

impl Kind {
    /// The NIR type name.
    pub fn name(&self) -> &str {
        match self {
            Self::Input { .. } => "Input",
            Self::Output { .. } => "Output",
            Self::Affine { .. } => "Affine",
            Self::Linear { .. } => "Linear",
            Self::Conv2d { .. } => "Conv2d",
            Self::Flatten { .. } => "Flatten",
            Self::Pool2d { average: true, .. } => "AvgPool2d",
            Self::Pool2d { average: false, .. } => "SumPool2d",
            Self::If { .. } => "IF",
            Self::Lif { .. } => "LIF",
            Self::Li { .. } => "LI",
            Self::CubaLif { .. } => "CubaLIF",
            Self::CubaLi { .. } => "CubaLI",
            Self::I { .. } => "I",
            Self::Scale { .. } => "Scale",
            Self::Other { kind } => kind,
        }
    }
}

/// A node: its kind and its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Kind and parameters.
    pub kind: Kind,
    /// Metadata (our exporter keeps its quantisation here, see `docs/nir.md`).
    pub metadata: Metadata,
}

impl Node {
    /// A node without metadata.
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            metadata: Metadata::new(),
        }
    }

    /// A number of the metadata (the first value of an array entry).
    pub fn meta_number(&self, key: &str) -> Option<f64> {
        match self.metadata.get(key)? {
            Meta::Array(a) => a.data.first().copied(),
            Meta::Text(_) => None,
        }
    }

    /// An array of the metadata.
    pub fn meta_array(&self, key: &str) -> Option<&[f64]> {
        match self.metadata.get(key)? {
            Meta::Array(a) => Some(&a.data),
            Meta::Text(_) => None,
        }
    }

    /// A text of the metadata.
    pub fn meta_text(&self, key: &str) -> Option<&str> {
        match self.metadata.get(key)? {
            Meta::Text(t) => Some(t),
            Meta::Array(_) => None,
        }
    }
}

/// A NIR graph: named nodes and directed edges `(from, to)`. A node with several
/// incoming edges receives the sum of their signals.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Edges.
    pub edges: Vec<(String, String)>,
    /// Graph metadata.
    pub metadata: Metadata,
}

impl Graph {
    /// Names of the nodes with an edge into `name`, in edge order.
    pub fn predecessors(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(_, b)| b == name)
            .map(|(a, _)| a.as_str())
            .collect()
    }

    /// Names of the nodes `name` has an edge to, in edge order.
    pub fn successors(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(a, _)| a == name)
            .map(|(_, b)| b.as_str())
            .collect()
    }
}

//! The serde description of a network: the layer list a TOML config or a preset
//! gives, before any shape is known. [`crate::model::net`] builds the population graph
//! from it; this module holds no graph and no parameters.

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

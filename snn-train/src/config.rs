//! The training configuration: every knob of a run, with the paper's defaults where it
//! has one, loaded from TOML and saved into the run directory before training starts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::DatasetKind;
use crate::grad::{GradForm, Loss};
use crate::net::{LayerSpec, Neuron, Preset};
use crate::ConfigError;

/// How a LIF neuron resets after a spike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ResetKind {
    /// `V = 0` (the paper).
    #[default]
    Hard,
    /// `V = U - V_th`.
    Subtract,
}

/// Everything that defines a training run. Unknown keys in a TOML file are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Dataset (default: the bundled MNIST subset).
    pub dataset: DatasetKind,
    /// Where the dataset's files are (else `--data-dir`, else `SNN_DATA_DIR`).
    pub data_dir: Option<PathBuf>,
    /// Built-in architecture, used when `layers` is empty (default `lenet`).
    pub arch: Preset,
    /// An explicit layer list; overrides `arch` when not empty.
    pub layers: Vec<LayerSpec>,
    /// Time steps per sample in training (paper: 100).
    pub timesteps: usize,
    /// Time steps when evaluating (default: `timesteps`).
    pub eval_timesteps: Option<usize>,
    /// Epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Initial learning rate.
    pub lr: f32,
    /// Epochs at which the learning rate is multiplied by `lr_gamma`.
    pub lr_milestones: Vec<usize>,
    /// Learning-rate decay factor.
    pub lr_gamma: f32,
    /// L2 weight decay.
    pub weight_decay: f32,
    /// SGD momentum (0: none, as in the released code).
    pub momentum: f32,
    /// Loss.
    pub loss: Loss,
    /// Backward form.
    pub grad: GradForm,
    /// Dropout on hidden LIF outputs.
    pub dropout: f32,
    /// Leak `lambda` (0.99).
    pub leak: f32,
    /// LIF threshold (1.0).
    pub threshold: f32,
    /// Pooling IF threshold (0.75).
    pub pool_threshold: f32,
    /// LIF reset rule.
    pub reset: ResetKind,
    /// Weight init: `N(0, sqrt(init_gain / fan_in))` (2 for LeNet / VGG, 1 for ResNet).
    pub init_gain: f32,
    /// Seed of everything random (init, shuffling, spikes, dropout, augmentation).
    pub seed: u64,
    /// Worker threads (0: one per core). Results do not depend on it.
    pub threads: usize,
    /// Use only the first N training images.
    pub train_limit: Option<usize>,
    /// Use only the first N test images.
    pub test_limit: Option<usize>,
    /// Random crop with padding 4 (default: per dataset).
    pub augment_crop: Option<bool>,
    /// Random horizontal flip (default: per dataset).
    pub augment_flip: Option<bool>,
}

impl Default for TrainConfig {
    /// The default run: LeNet on the bundled MNIST subset, sized for a 2-core machine.
    fn default() -> Self {
        Self {
            dataset: DatasetKind::MnistSubset,
            data_dir: None,
            arch: Preset::Lenet,
            layers: Vec::new(),
            timesteps: 20,
            eval_timesteps: None,
            epochs: 6,
            batch_size: 32,
            lr: 0.025,
            lr_milestones: vec![4],
            lr_gamma: 0.2,
            weight_decay: 5e-4,
            momentum: 0.0,
            loss: Loss::Sse,
            grad: GradForm::Code,
            dropout: 0.0,
            leak: 0.99,
            threshold: 1.0,
            pool_threshold: 0.75,
            reset: ResetKind::Hard,
            init_gain: 2.0,
            seed: 1,
            threads: 0,
            train_limit: None,
            test_limit: None,
            augment_crop: None,
            augment_flip: None,
        }
    }
}

impl TrainConfig {
    /// Reads a TOML file; missing keys take their defaults.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] naming the file, or [`ConfigError::Invalid`].
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let cfg: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The TOML text of this configuration.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a config always serialises")
    }

    /// Checks ranges and consistency.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.timesteps == 0 || self.eval_timesteps == Some(0) {
            return bad("timesteps must be at least 1");
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr must be positive");
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout must be in [0, 1)");
        }
        if !(self.leak > 0.0 && self.leak <= 1.0) {
            return bad("leak must be in (0, 1]");
        }
        if !(self.threshold > 0.0 && self.pool_threshold > 0.0) {
            return bad("thresholds must be positive");
        }
        if !(self.weight_decay >= 0.0 && self.momentum >= 0.0 && self.momentum < 1.0) {
            return bad("weight_decay must be >= 0 and momentum in [0, 1)");
        }
        if !(self.init_gain > 0.0 && self.lr_gamma > 0.0) {
            return bad("init_gain and lr_gamma must be positive");
        }
        Ok(())
    }

    /// The layer list: `layers` if given, else the preset's.
    pub fn layer_list(&self) -> Vec<LayerSpec> {
        if self.layers.is_empty() {
            self.arch.layers()
        } else {
            self.layers.clone()
        }
    }

    /// Neuron constants.
    pub fn neuron(&self) -> Neuron {
        Neuron {
            leak: self.leak,
            threshold: self.threshold,
            pool_threshold: self.pool_threshold,
            reset: match self.reset {
                ResetKind::Hard => snn_core::format::Reset::Hard,
                ResetKind::Subtract => snn_core::format::Reset::Subtract,
            },
        }
    }

    /// Time steps used for evaluation.
    pub fn eval_steps(&self) -> usize {
        self.eval_timesteps.unwrap_or(self.timesteps)
    }

    /// The dataset.
    pub fn dataset(&self) -> DatasetKind {
        self.dataset
    }

    /// Where the dataset's files are, when the configuration says.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }
}

//! The training configuration: every knob of a run, with the paper's defaults where it
//! has one, in four sections (data, network, optimiser, run), each with its own
//! validation. Loaded from TOML and saved into the run directory before training.
//!
//! ```toml
//! [data]
//! dataset = "mnist-subset"
//!
//! [network]
//! arch = "lenet"
//!
//! [optim]
//! epochs = 6
//! lr = 0.4
//!
//! [run]
//! timesteps = 20
//! seed = 1
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use snn_core::format::Reset;

use crate::data::events::{Binning, EventAugment, EventOptions};
use crate::data::{DatasetKind, Encoding, EncodingSpec};
use crate::error::ConfigError;
use crate::model::net::Neuron;
use crate::model::spec::{LayerSpec, Preset};
use crate::sim::grad::{GradForm, Loss};

/// The longest simulation window a config may ask for.
pub const MAX_TIMESTEPS: usize = 100_000;

/// Everything that defines a training run. Unknown keys in a TOML file are errors.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// The dataset and its augmentation.
    pub data: DataConfig,
    /// The architecture and its neurons.
    pub network: NetworkConfig,
    /// The loss, the backward form, SGD and its schedule.
    pub optim: OptimConfig,
    /// Simulation window, seed and threads.
    pub run: RunConfig,
}

/// Which data a run trains on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Dataset (default: the bundled MNIST subset).
    pub dataset: DatasetKind,
    /// Where the dataset's files are (else `--data-dir`, else `SNN_DATA_DIR`).
    pub dir: Option<PathBuf>,
    /// Use only the first N training images.
    pub train_limit: Option<usize>,
    /// Use only the first N test images.
    pub test_limit: Option<usize>,
    /// Random crop (random shift) with padding `crop_padding` (default: per dataset).
    pub augment_crop: Option<bool>,
    /// Padding of the random crop in pixels: shifts of up to this many pixels each
    /// way (default 4; 1 to 16).
    pub crop_padding: Option<usize>,
    /// Random horizontal flip (default: per dataset).
    pub augment_flip: Option<bool>,
    /// Invert every pixel (`255 - x`) of the train and test images (default false).
    pub invert: bool,
    /// Drive the first layer with the pixels as a constant current at every step
    /// instead of rate-coded spikes (default false): far fewer time steps for the
    /// same accuracy. The first layer must be a convolution or a dense layer.
    pub analog: bool,
    /// The input encoding (`paper`, the default; `rate:G`; `analog`, as `analog =
    /// true`), stored in the exported model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<EncodingSpec>,
    /// Event datasets (`nmnist`, `dvs-gesture`): preprocessing, binning into time
    /// steps and augmentation (`[data.events]`).
    #[serde(skip_serializing_if = "EventConfig::is_default")]
    pub events: EventConfig,
}

/// How an event dataset's recordings become time steps (`[data.events]`), see
/// `snn_train::data::events`.
///
/// ```toml
/// [data]
/// dataset = "dvs-gesture"
///
/// [data.events]
/// binning = "time-bins"   # or "event-bins", or { window = 5000 } (microseconds)
/// downsample = 4          # 128 x 128 -> 32 x 32
/// denoise_us = 10000      # tonic's Denoise(filter_time = 10000); 0: off
/// jitter = 2              # random shifts of up to 2 pixels (training only)
/// drop = 0.1              # drop 10% of the events (training only)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventConfig {
    /// How a sample's events are cut into the run's time steps (default `time-bins`:
    /// `T` windows of equal duration).
    pub binning: Binning,
    /// Spatial down-sampling factor (default: 4 for DVS128 Gesture, else 1).
    pub downsample: Option<u16>,
    /// `tonic`'s `Denoise` filter time in microseconds (default 0: off).
    pub denoise_us: u32,
    /// Largest random shift in pixels each way, training only (default 0).
    pub jitter: u16,
    /// Probability of dropping each event, training only (default 0).
    pub drop: f32,
}

impl EventConfig {
    /// True when nothing is set (then it is not written into `config.toml`).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The architecture and its neuron constants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Built-in architecture, used when `layers` is empty (default `lenet`).
    pub arch: Preset,
    /// An explicit layer list; overrides `arch` when not empty.
    pub layers: Vec<LayerSpec>,
    /// Leak `lambda` (0.99).
    pub leak: f32,
    /// LIF threshold (1.0).
    pub threshold: f32,
    /// Pooling IF threshold (0.75).
    pub pool_threshold: f32,
    /// LIF reset rule (`hard`, the paper's, or `subtract`).
    pub reset: Reset,
    /// Dropout on hidden LIF outputs.
    pub dropout: f32,
    /// Weight init: `N(0, sqrt(init_gain / fan_in))` (2 for LeNet / VGG, 1 for ResNet).
    pub init_gain: f32,
    /// After the random init, rescale layers whose firing rate is out of band
    /// (`calibrated`, the default; see [`crate::train::calibrate`]) or keep it (`random`).
    pub init: Init,
}

/// The guard's default patience (`run.guard_samples`): training samples in a row,
/// counted by whole batches, whose output received no spike.
///
/// Early in training a layer can fall silent for a few batches and recover: the
/// weights then change only by weight decay, but other samples (other images, other
/// encoder spikes) can make it fire again. The MNIST recipe did so within its first 20
/// batches (3 silent batches in a row). 2,048 samples in a row that all miss the output
/// mean a sample reaches it with a chance below about 1 in 2,000 at fixed weights: dead.
pub const GUARD_SAMPLES: usize = 2048;

/// How the initial weights are chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// The random init, then each LIF layer rescaled into
    /// [`crate::train::calibrate::RATE_BAND`] on one batch of training data.
    #[default]
    Calibrated,
    /// The random init only (the paper's).
    Random,
}

/// The default normalised step of [`OptimConfig::normalized_step`].
pub const NORMALIZED_STEP: f32 = 0.05;

/// How the weights learn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    /// Epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Initial learning rate, on the *mean* gradient of a batch: the loss is the
    /// paper's squared error summed over the batch, and a step moves the weights by
    /// `lr / batch_size` times the summed gradient (see [`crate::train::optim::Sgd`]). So `lr`
    /// keeps its meaning when the batch size or the momentum changes. (PyTorch's `lr`
    /// on the summed loss is `lr / batch_size`.)
    pub lr: f32,
    /// Epochs at which the learning rate is multiplied by `lr_gamma`.
    pub lr_milestones: Vec<usize>,
    /// Learning-rate decay factor.
    pub lr_gamma: f32,
    /// L2 weight decay, added to the mean gradient (PyTorch's on the summed loss is
    /// `weight_decay * batch_size`).
    pub weight_decay: f32,
    /// SGD momentum, dampened (`v = mu v + (1 - mu) g`; 0: none, as in the released
    /// code).
    pub momentum: f32,
    /// The normalised step: each weight tensor moves by `lr * normalized_step` times
    /// its own norm per step, in the direction of its gradient (see
    /// [`crate::train::optim::Sgd::step`]); 0: plain SGD, the paper's. Default 0.05: it keeps
    /// dense inputs from blowing the first steps up (the inverted-images cell of the
    /// robustness matrix).
    pub normalized_step: f32,
    /// Loss.
    pub loss: Loss,
    /// Backward form.
    pub grad: GradForm,
    /// Activity regularisation: weights `a_p` of a loss term `sum_p a_p * r_p` on the
    /// mean firing rate `r_p` (spikes per neuron and step) of each hidden spiking
    /// population, so training trades activity (synaptic events, instructions on a
    /// device) for accuracy knowingly. Empty: none; one value: every hidden
    /// population; else one per hidden population, in order (a residual block has two).
    pub activity: Vec<f32>,
    /// Beyond the paper: a LIF neuron that fired at every step of the window passes
    /// no gradient (its rate is at its ceiling; see [`crate::sim::grad::Rules`]).
    /// Default false, the paper's rule.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub clip_saturated: bool,
    /// Quantisation-aware fine-tuning: the last `qat_epochs` epochs run the forward and
    /// backward passes on the weights as the device stores them (`i8` with the
    /// export's scales, [`crate::train::qat::fake_quantized`]) and apply the gradient to the
    /// float weights (straight-through for the rounding); their test accuracy is that
    /// of the quantised weights. 0: none.
    pub qat_epochs: usize,
    /// The optimiser: `sgd` (the default, the paper's) or `adam` (see
    /// [`crate::train::optim::Adam`]; `lr` is then Adam's step size, and `momentum`
    /// and `normalized_step` must be 0: `betas` sets its moments).
    #[serde(skip_serializing_if = "Optimizer::is_sgd")]
    pub optimizer: Optimizer,
    /// Adam's `(beta1, beta2)` (default `[0.9, 0.999]`).
    #[serde(skip_serializing_if = "default_betas")]
    pub betas: [f32; 2],
    /// Knowledge distillation from a trained model (`[optim.distill]`, see
    /// [`crate::train::distill`]); none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distill: Option<DistillConfig>,
}

/// Which rule applies the gradient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// SGD with decay, dampened momentum and the optional normalised step.
    #[default]
    Sgd,
    /// Adam with L2 decay.
    Adam,
}

impl Optimizer {
    fn is_sgd(&self) -> bool {
        *self == Self::Sgd
    }
}

/// Adam's default `(beta1, beta2)`.
pub const BETAS: [f32; 2] = [0.9, 0.999];

fn default_betas(b: &[f32; 2]) -> bool {
    *b == BETAS
}

/// A teacher for knowledge distillation: each training image's target mixes its label
/// with the teacher's outputs (see [`crate::train::distill`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillConfig {
    /// The teacher: an exported model (`.snn`) for the same images and classes, e.g.
    /// `models/lenet-mnist.snn` (relative paths are taken from the working directory).
    pub teacher: std::path::PathBuf,
    /// The teacher's weight `a` in the target, in `[0, 1]` (default 0.5).
    #[serde(default = "half")]
    pub weight: f32,
}

fn half() -> f32 {
    0.5
}

/// The simulation window and the run's execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Time steps per sample in training (paper: 100).
    pub timesteps: usize,
    /// Time steps when evaluating (default: `timesteps`).
    pub eval_timesteps: Option<usize>,
    /// Seed of everything random (init, shuffling, spikes, dropout, augmentation).
    pub seed: u64,
    /// Worker threads (0: one per core). Results do not depend on it.
    pub threads: usize,
    /// Stop a run whose output falls silent or whose loss or weights stop being finite
    /// (the `guard` module; default on).
    pub guard: bool,
    /// Training samples in a row with a silent output that stop the run (default
    /// [`GUARD_SAMPLES`]; at least 1).
    pub guard_samples: usize,
    /// The early-exit rule stored in exported models with the evaluation window:
    /// `never` (default), `exact` or `margin:N` (see `snn_core::EarlyExit`).
    pub early_exit: Option<String>,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dataset: DatasetKind::MnistSubset,
            dir: None,
            train_limit: None,
            test_limit: None,
            augment_crop: None,
            crop_padding: None,
            augment_flip: None,
            invert: false,
            analog: false,
            encoding: None,
            events: EventConfig::default(),
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            arch: Preset::Lenet,
            layers: Vec::new(),
            leak: 0.99,
            threshold: 1.0,
            pool_threshold: 0.75,
            reset: Reset::Hard,
            dropout: 0.0,
            init_gain: 2.0,
            init: Init::Calibrated,
        }
    }
}

impl Default for OptimConfig {
    /// The default run: sized for a 2-core machine on the bundled subset.
    fn default() -> Self {
        Self {
            epochs: 6,
            batch_size: 32,
            lr: 0.4,
            lr_milestones: vec![4],
            lr_gamma: 0.2,
            weight_decay: 1.5625e-5,
            momentum: 0.0,
            normalized_step: NORMALIZED_STEP,
            loss: Loss::Sse,
            grad: GradForm::Code,
            activity: Vec::new(),
            clip_saturated: false,
            qat_epochs: 0,
            optimizer: Optimizer::Sgd,
            betas: BETAS,
            distill: None,
        }
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            timesteps: 20,
            eval_timesteps: None,
            seed: 1,
            threads: 0,
            guard: true,
            guard_samples: GUARD_SAMPLES,
            early_exit: None,
        }
    }
}

/// `Err(OutOfRange)` for `key` unless `ok`.
fn check(
    ok: bool,
    key: &'static str,
    found: impl std::fmt::Display,
    expected: &'static str,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            key,
            found: found.to_string(),
            expected,
        })
    }
}

/// A finite, strictly positive number.
fn positive(x: f32) -> bool {
    x.is_finite() && x > 0.0
}

impl DataConfig {
    /// Checks the limits and that `dir` can be written into `config.toml`.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] or [`ConfigError::NotUtf8`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(n) = self.train_limit {
            check(n > 0, "data.train_limit", n, "at least 1")?;
        }
        if let Some(n) = self.test_limit {
            check(n > 0, "data.test_limit", n, "at least 1")?;
        }
        if let Some(n) = self.crop_padding {
            check((1..=16).contains(&n), "data.crop_padding", n, "1 to 16")?;
        }
        self.validate_events()?;
        if let (Some(e), true) = (self.encoding, self.analog) {
            if e != EncodingSpec::Analog {
                return Err(ConfigError::OutOfRange {
                    key: "data.encoding",
                    found: format!("{e} with data.analog = true"),
                    expected: "analog (or leave data.analog unset)",
                });
            }
        }
        self.encoding()?;
        if let Some(dir) = &self.dir {
            if dir.to_str().is_none() {
                return Err(ConfigError::NotUtf8 {
                    key: "data.dir",
                    path: dir.clone(),
                });
            }
        }
        Ok(())
    }

    /// The `[data.events]` ranges, and no image-only option on an event dataset (or
    /// event options on an image dataset).
    fn validate_events(&self) -> Result<(), ConfigError> {
        let e = &self.events;
        if let Some(d) = e.downsample {
            check(
                (1..=16).contains(&d),
                "data.events.downsample",
                d,
                "1 to 16",
            )?;
        }
        check(e.jitter <= 16, "data.events.jitter", e.jitter, "0 to 16")?;
        check(
            (0.0..1.0).contains(&e.drop),
            "data.events.drop",
            e.drop,
            "a number in [0, 1)",
        )?;
        if let Binning::Window(us) = e.binning {
            check(
                us > 0,
                "data.events.binning",
                us,
                "a window of at least 1 us",
            )?;
        }
        let events = self.dataset.is_events();
        let image_only = [
            ("data.analog", self.analog),
            ("data.invert", self.invert),
            ("data.augment_crop", self.augment_crop == Some(true)),
            ("data.augment_flip", self.augment_flip == Some(true)),
        ];
        if events {
            if let Some((key, _)) = image_only.iter().find(|(_, set)| *set) {
                return Err(ConfigError::OutOfRange {
                    key,
                    found: format!("true (dataset {})", self.dataset.name()),
                    expected: "false for event datasets (their input is spikes; [data.events] holds their augmentation)",
                });
            }
        } else if !e.is_default() {
            return Err(ConfigError::OutOfRange {
                key: "data.events",
                found: format!("a setting (dataset {})", self.dataset.name()),
                expected: "unset for image datasets (it applies to nmnist and dvs-gesture)",
            });
        }
        Ok(())
    }

    /// The encoding the run uses: `encoding`, else `analog` or the paper's.
    pub fn encoding_spec(&self) -> EncodingSpec {
        match (self.encoding, self.analog) {
            (Some(e), _) => e,
            (None, true) => EncodingSpec::Analog,
            (None, false) => EncodingSpec::Paper,
        }
    }

    /// The run's input encoding in `snn-core`'s integer form.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] for an encoding the dataset cannot take.
    pub fn encoding(&self) -> Result<Encoding, ConfigError> {
        self.dataset
            .encoding_with(self.encoding_spec())
            .map_err(|found| ConfigError::OutOfRange {
                key: "data.encoding",
                found,
                expected: "paper for event datasets",
            })
    }

    /// The event dataset's load-time preprocessing and binning: the config's choices
    /// over the dataset's defaults.
    pub fn event_options(&self) -> EventOptions {
        let d = self.dataset.event_options();
        EventOptions {
            binning: self.events.binning,
            downsample: self.events.downsample.unwrap_or(d.downsample),
            denoise_us: self.events.denoise_us,
        }
    }

    /// The event augmentation of training.
    pub fn event_augment(&self) -> EventAugment {
        EventAugment {
            jitter: self.events.jitter,
            drop: self.events.drop,
        }
    }

    /// Random-crop padding (0: no crop) and random flip: the config's choice, else
    /// the dataset's default.
    pub fn augmentation(&self) -> (usize, bool) {
        let (crop, flip) = self.dataset.augmentation();
        let pad = if self.augment_crop.unwrap_or(crop) {
            self.crop_padding.unwrap_or(4)
        } else {
            0
        };
        (pad, self.augment_flip.unwrap_or(flip))
    }
}

impl NetworkConfig {
    /// Checks the neuron constants, dropout and init gain (the layer list is checked
    /// when the network is built, against the data's shape).
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] naming the value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(
            self.leak > 0.0 && self.leak <= 1.0,
            "network.leak",
            self.leak,
            "a number in (0, 1]",
        )?;
        check(
            positive(self.threshold),
            "network.threshold",
            self.threshold,
            "a finite number > 0",
        )?;
        check(
            positive(self.pool_threshold),
            "network.pool_threshold",
            self.pool_threshold,
            "a finite number > 0",
        )?;
        check(
            (0.0..1.0).contains(&self.dropout),
            "network.dropout",
            self.dropout,
            "a number in [0, 1)",
        )?;
        check(
            positive(self.init_gain),
            "network.init_gain",
            self.init_gain,
            "a finite number > 0",
        )
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
            reset: self.reset,
        }
    }

    /// `lenet`, or `a 7-layer network` for an explicit list.
    pub fn describe(&self) -> String {
        if self.layers.is_empty() {
            format!("{:?}", self.arch).to_lowercase()
        } else {
            format!("a {}-layer network", self.layers.len())
        }
    }
}

impl OptimConfig {
    /// Checks sizes, rates and factors.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] naming the value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for &a in &self.activity {
            check(
                a.is_finite() && a >= 0.0,
                "optim.activity",
                a,
                "finite weights >= 0",
            )?;
        }
        check(self.epochs > 0, "optim.epochs", self.epochs, "at least 1")?;
        check(
            self.qat_epochs <= self.epochs,
            "optim.qat_epochs",
            self.qat_epochs,
            "at most optim.epochs",
        )?;
        check(
            self.batch_size > 0,
            "optim.batch_size",
            self.batch_size,
            "at least 1",
        )?;
        check(
            positive(self.lr),
            "optim.lr",
            self.lr,
            "a finite number > 0",
        )?;
        check(
            positive(self.lr_gamma),
            "optim.lr_gamma",
            self.lr_gamma,
            "a finite number > 0",
        )?;
        check(
            self.weight_decay.is_finite() && self.weight_decay >= 0.0,
            "optim.weight_decay",
            self.weight_decay,
            "a finite number >= 0",
        )?;
        check(
            (0.0..1.0).contains(&self.momentum),
            "optim.momentum",
            self.momentum,
            "a number in [0, 1)",
        )?;
        for b in self.betas {
            check(
                (0.0..1.0).contains(&b),
                "optim.betas",
                b,
                "two numbers in [0, 1)",
            )?;
        }
        if self.optimizer == Optimizer::Adam {
            check(
                self.momentum == 0.0,
                "optim.momentum",
                self.momentum,
                "0 with optimizer adam (optim.betas sets its moments)",
            )?;
            check(
                self.normalized_step == 0.0,
                "optim.normalized_step",
                self.normalized_step,
                "0 with optimizer adam",
            )?;
        }
        if let Some(d) = &self.distill {
            check(
                (0.0..=1.0).contains(&d.weight),
                "optim.distill.weight",
                d.weight,
                "a number in [0, 1]",
            )?;
        }
        check(
            (0.0..=1.0).contains(&self.normalized_step),
            "optim.normalized_step",
            self.normalized_step,
            "a number in [0, 1] (0: plain SGD)",
        )
    }

    /// A fresh optimiser of this configuration for weights shaped like `params`.
    pub fn optimizer_for(&self, params: &crate::model::net::Params) -> crate::train::optim::Sgd {
        let sgd = crate::train::optim::Sgd::new(self.weight_decay, self.momentum, params);
        match self.optimizer {
            Optimizer::Sgd => sgd.with_normalized_step(self.normalized()),
            Optimizer::Adam => sgd.with_adam(self.betas[0], self.betas[1], params),
        }
    }

    /// The optimiser's normalised step (`None`: plain SGD).
    pub fn normalized(&self) -> Option<f32> {
        (self.normalized_step > 0.0).then_some(self.normalized_step)
    }

    /// Learning rate of epoch `epoch` (0-based) under the step schedule.
    pub fn lr_at(&self, epoch: usize) -> f32 {
        crate::train::optim::lr_at(self.lr, &self.lr_milestones, self.lr_gamma, epoch)
    }
}

impl RunConfig {
    /// Checks the windows.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] naming the value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let ok = |t: usize| (1..=MAX_TIMESTEPS).contains(&t);
        check(
            ok(self.timesteps),
            "run.timesteps",
            self.timesteps,
            "1 to 100000",
        )?;
        if let Some(t) = self.eval_timesteps {
            check(ok(t), "run.eval_timesteps", t, "1 to 100000")?;
        }
        if let Some(rule) = &self.early_exit {
            let ok = rule.parse::<snn_core::EarlyExit>().is_ok();
            check(ok, "run.early_exit", rule, "never, exact or margin:N")?;
        }
        check(
            self.guard_samples > 0,
            "run.guard_samples",
            self.guard_samples,
            "at least 1",
        )?;
        Ok(())
    }

    /// Time steps used for evaluation.
    pub fn eval_steps(&self) -> usize {
        self.eval_timesteps.unwrap_or(self.timesteps)
    }

    /// The deployment an export stores: the evaluation window and the early-exit rule
    /// (`never` when unset or, in an unvalidated config, unreadable).
    pub fn deployment(&self) -> snn_core::format::Deployment {
        snn_core::format::Deployment {
            steps: u32::try_from(self.eval_steps()).unwrap_or(u32::MAX),
            early_exit: self
                .early_exit
                .as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or_default(),
        }
    }
}

impl TrainConfig {
    /// Reads a TOML file; missing keys take their defaults.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] naming the file, or a validation error.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let parse = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| parse(e.to_string()))?;
        let cfg: Self = toml::from_str(&text).map_err(|e| {
            // One line: where, then what (toml's own text adds a multi-line snippet).
            let line = e.span().map(|s| {
                text.as_bytes()[..s.start.min(text.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1
            });
            let what = e.message().trim().replace('\n', " ");
            parse(match line {
                Some(l) => format!("line {l}: {what}"),
                None => what,
            })
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The TOML text of this configuration.
    ///
    /// # Errors
    /// [`ConfigError::NotUtf8`] when a path cannot be written as TOML.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        self.data.validate()?;
        toml::to_string_pretty(self).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("config.toml"),
            message: e.to_string(),
        })
    }

    /// Checks every section.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.data.validate()?;
        self.network.validate()?;
        self.optim.validate()?;
        self.run.validate()
    }

    /// The dataset.
    pub fn dataset(&self) -> DatasetKind {
        self.data.dataset
    }

    /// Where the dataset's files are, if the config says.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data.dir.as_deref()
    }

    /// Time steps used for evaluation.
    pub fn eval_steps(&self) -> usize {
        self.run.eval_steps()
    }
}

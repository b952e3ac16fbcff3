//! The trainer's leaf error types, one per failure domain: data files, configuration,
//! network description. They depend on no other module of the crate; the error of a
//! whole run, which wraps them, is `TrainError` (module `train::error`).

use std::path::PathBuf;

/// A dataset file is missing, truncated, corrupt or does not match its partner.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said (in the message, not as `source()`, so the error prints as
        /// one line).
        error: std::io::Error,
    },
    /// The file's content is not what its format requires.
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words (what was found and what was expected).
        problem: String,
    },
    /// The training and test splits of one dataset disagree (image size, channels or
    /// classes), so a network built for one cannot run on the other.
    #[error("{train} and {test} do not match: {problem}")]
    Mismatch {
        /// The training split's file (or directory, for multi-file splits).
        train: PathBuf,
        /// The test split's file (or directory).
        test: PathBuf,
        /// What differs, with both values.
        problem: String,
    },
    /// A split holds no images (the file's image count is zero).
    #[error("{path}: no images in the {split} split")]
    Empty {
        /// The split's file (or directory, for multi-file splits).
        path: PathBuf,
        /// `train` or `test`.
        split: &'static str,
    },
    /// A path that the run records as text (in `config.toml` and checkpoints) is not
    /// valid UTF-8.
    #[error(
        "path {path} is not valid UTF-8; run directories store paths as text, so use a UTF-8 path"
    )]
    NonUtf8Path {
        /// The path found (shown with replacement characters).
        path: PathBuf,
    },
    /// The command needs images and the dataset holds event recordings.
    #[error("dataset {name}: {what} needs an image dataset; event datasets train and are scored by `snn-train train`")]
    NeedsImages {
        /// The dataset's name.
        name: String,
        /// What needed images.
        what: &'static str,
    },
    /// No files for the dataset were found where they were looked for.
    #[error("dataset {name}: {hint}")]
    NotFound {
        /// The dataset's name.
        name: String,
        /// Where we looked and how to get the files.
        hint: String,
    },
}

impl DataError {
    pub(crate) fn format(path: &std::path::Path, problem: impl Into<String>) -> Self {
        Self::Format {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }
}

#[cfg(feature = "train")]
/// A training configuration is invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML could not be read or parsed, or has unknown fields.
    #[error("config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The reader's or parser's message.
        message: String,
    },
    /// A value is outside its range (or not a finite number).
    #[error("config: `{key}` = {found} is out of range: expected {expected}")]
    OutOfRange {
        /// The key, with its section (`optim.lr`).
        key: &'static str,
        /// The value found.
        found: String,
        /// The accepted range, in words.
        expected: &'static str,
    },
    /// A path setting cannot be stored in the run's `config.toml`.
    #[error("config: `{key}` = {path:?} is not valid UTF-8")]
    NotUtf8 {
        /// The key.
        key: &'static str,
        /// The path found.
        path: PathBuf,
    },
    /// The layer list does not describe a network the trainer and the format can run.
    #[error(transparent)]
    Network(#[from] NetworkError),
}

#[cfg(feature = "train")]
/// A layer list does not fit its input, or a layer is impossible.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum NetworkError {
    /// The list does not end with the output integrator.
    #[error("network: the last layer must be `output`")]
    MissingOutput,
    /// An `output` layer was found before the end.
    #[error("network: layer {layer}: `output` must be the last layer")]
    OutputNotLast {
        /// Index of the layer (0-based).
        layer: usize,
    },
    /// A size that must be positive is zero.
    #[error("network: layer {layer}: {what} is zero")]
    Zero {
        /// Index of the layer.
        layer: usize,
        /// Which size (`channels`, `kernel`, `stride`, `units`).
        what: &'static str,
    },
    /// A size is larger than the model format can store.
    #[error("network: {layer}: {what} = {value} is larger than the maximum {max}")]
    TooLarge {
        /// Index of the layer (`None`: the input).
        layer: LayerIndex,
        /// Which size.
        what: &'static str,
        /// The size found.
        value: usize,
        /// The largest the format stores.
        max: usize,
    },
    /// More layers than the model format allows.
    #[error("network: {layers} layers, the model format allows at most {max}")]
    TooManyLayers {
        /// Layers found.
        layers: usize,
        /// The limit.
        max: usize,
    },
    /// A convolution kernel does not fit its padded input.
    #[error("network: layer {layer}: a {kernel}x{kernel} kernel does not fit a {height}x{width} input with padding {padding}")]
    KernelTooLarge {
        /// Index of the layer.
        layer: usize,
        /// Kernel size.
        kernel: usize,
        /// Input rows.
        height: usize,
        /// Input columns.
        width: usize,
        /// Padding.
        padding: usize,
    },
    /// 2x2 pooling of a map with fewer than 2 rows or columns.
    #[error("network: layer {layer}: cannot pool a {height}x{width} map")]
    CannotPool {
        /// Index of the layer.
        layer: usize,
        /// Input rows.
        height: usize,
        /// Input columns.
        width: usize,
    },
    /// An identity shortcut across a change of channel count.
    #[error("network: layer {layer}: identity shortcut from {from} to {to} channels")]
    IdentityChannels {
        /// Index of the layer.
        layer: usize,
        /// Channels entering the block.
        from: usize,
        /// Channels of the block.
        to: usize,
    },
    /// The shortcut's output map differs from the second convolution's.
    #[error("network: layer {layer}: shortcut and conv2 sizes differ")]
    ShortcutMismatch {
        /// Index of the layer.
        layer: usize,
    },
    /// `snn-core` would reject the exported network (a limit found only in the format,
    /// such as the state size, the class count or a fan-in).
    #[error("network: cannot be exported: {0}")]
    NotExportable(snn_core::FormatError),
}

#[cfg(feature = "train")]
/// Where in a network a size was found: a layer, or the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerIndex {
    /// The input images.
    Input,
    /// Layer `i` (0-based).
    Layer(usize),
}

#[cfg(feature = "train")]
impl std::fmt::Display for LayerIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Input => f.write_str("input"),
            Self::Layer(i) => write!(f, "layer {i}"),
        }
    }
}

//! Error types of the trainer, one per failure domain: data files and configuration.

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

/// A training configuration or network description is invalid.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TOML could not be parsed or has unknown fields.
    #[error("config {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A value is out of range or inconsistent with another.
    #[error("config: {0}")]
    Invalid(String),
    /// The network does not fit the data (shapes), or a layer is impossible.
    #[error("network: {0}")]
    Network(String),
}

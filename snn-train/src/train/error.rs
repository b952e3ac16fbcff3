//! The error of a whole run (training, evaluation or export of a run directory): it
//! wraps the leaf errors of data, configuration, checkpoints and export, so it sits
//! above all of them in the module graph.

use std::path::PathBuf;

use crate::error::{ConfigError, DataError, NetworkError};

/// Why a training run (or an evaluation or export of one) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// Data files.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Configuration or network.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Checkpoints.
    #[error(transparent)]
    Checkpoint(#[from] crate::train::checkpoint::CheckpointError),
    /// Export.
    #[error(transparent)]
    Export(#[from] crate::io::export::ExportError),
    /// Run-directory I/O.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said (in the message, not a `source()`, so the error is one line).
        error: std::io::Error,
    },
    /// The guard stopped a run that fell silent or diverged.
    #[error(transparent)]
    Guard(Box<crate::train::guard::GuardError>),
    /// The distillation teacher cannot be used.
    #[error(transparent)]
    Teacher(#[from] crate::train::distill::TeacherError),
    /// Thread pool.
    #[error("thread pool: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

impl From<crate::train::guard::GuardError> for TrainError {
    fn from(e: crate::train::guard::GuardError) -> Self {
        Self::Guard(Box::new(e))
    }
}

impl From<NetworkError> for TrainError {
    fn from(e: NetworkError) -> Self {
        Self::Config(ConfigError::Network(e))
    }
}

impl TrainError {
    /// A closure that wraps an I/O error on `path`.
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |error| Self::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

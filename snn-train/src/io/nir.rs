//! NIR (the Neuromorphic Intermediate Representation, <https://neuroir.org>) import
//! and export, behind the `nir` feature.
//!
//! * [`read`] / [`write()`]: NIR files (HDF5, as the `nir` Python package writes them),
//!   through the pure-Rust `hdf5-pure` crate.
//! * [`to_model`]: a NIR graph to an `snn-core` model, quantised and validated like
//!   our own export.
//! * [`from_model`]: an `snn-core` model to a NIR graph.
//!
//! `docs/nir.md` states the discretisation (forward Euler at `dt`), which node kinds
//! map exactly, and which are refused.
//!
//! ```
//! use snn_train::io::nir::{self, ImportOptions};
//!
//! let blob = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../models/lenet-mnist-subset.snn"))?;
//! let graph = nir::from_model(&blob, nir::DEFAULT_DT)?;
//! let back = nir::to_model(&graph, &ImportOptions::default())?;
//! assert_eq!(back.blob, blob);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

mod file;
mod from_model;
pub mod graph;
mod to_model;

pub use from_model::from_model;
pub use graph::Graph;
pub use to_model::{to_model, ImportOptions, Imported};

use crate::io::export::ExportError;

/// The time step assumed when neither the caller nor the file gives one: snnTorch's
/// exporter writes its graphs for 1e-4 s.
pub const DEFAULT_DT: f64 = 1e-4;

/// Why a NIR file could not be read, written or translated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NirError {
    /// File system error.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The file is not a NIR graph we can parse.
    #[error("{path}: not a readable NIR file: {problem}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the HDF5 object.
        problem: String,
    },
    /// A node we cannot run exactly.
    #[error("node `{node}` ({kind}): {reason}")]
    Unsupported {
        /// The node's name.
        node: String,
        /// Its NIR kind.
        kind: String,
        /// Why.
        reason: String,
    },
    /// The graph as a whole is malformed.
    #[error("NIR graph: {0}")]
    Graph(String),
    /// The translated model does not fit the format.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The model blob to export is invalid.
    #[error("not a valid model: {0}")]
    Model(snn_core::FormatError),
}

/// Reads a NIR file.
///
/// # Errors
/// [`NirError::Io`] or [`NirError::File`].
pub fn read(path: &Path) -> Result<Graph, NirError> {
    let bytes = std::fs::read(path).map_err(|error| NirError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    file::graph_from_bytes(bytes).map_err(|problem| NirError::File {
        path: path.to_path_buf(),
        problem,
    })
}

/// Writes `graph` as a NIR file, atomically.
///
/// # Errors
/// [`NirError::Io`], or [`NirError::File`] when HDF5 encoding fails.
pub fn write(graph: &Graph, path: &Path) -> Result<(), NirError> {
    let bytes = file::graph_to_bytes(graph).map_err(|problem| NirError::File {
        path: path.to_path_buf(),
        problem,
    })?;
    crate::exec::files::write_atomic(path, &bytes).map_err(|error| NirError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// Parses NIR file bytes (for fuzzing and in-memory use).
///
/// # Errors
/// A sentence naming the HDF5 object that is wrong.
pub fn graph_from_bytes(bytes: Vec<u8>) -> Result<Graph, String> {
    file::graph_from_bytes(bytes)
}

/// Serialises `graph` as NIR file bytes.
///
/// # Errors
/// A sentence when HDF5 encoding fails.
pub fn graph_to_bytes(graph: &Graph) -> Result<Vec<u8>, String> {
    file::graph_to_bytes(graph)
}

/// The model file of `source`: a model file, or a run directory's `model.snn`.
fn model_path(source: &Path) -> PathBuf {
    if source.is_dir() {
        source.join("model.snn")
    } else {
        source.to_path_buf()
    }
}

/// Exports `source` (a model file or a run directory) to NIR file `out` at time step
/// `dt`; returns the number of nodes and edges written.
///
/// # Errors
/// [`NirError`].
pub fn export_file(source: &Path, out: &Path, dt: f64) -> Result<(usize, usize), NirError> {
    let path = model_path(source);
    let blob = std::fs::read(&path).map_err(|error| NirError::Io { path, error })?;
    let graph = from_model(&blob, dt)?;
    write(&graph, out)?;
    Ok((graph.nodes.len(), graph.edges.len()))
}

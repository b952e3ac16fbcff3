//! The `import-nir` command: a NIR file in, a model file out, and the imported model
//! scored with `snn-core` on a test set (`export-nir` is `snn_train::io::nir::export_file`).

use std::path::PathBuf;

use snn_core::format::Deployment;
use snn_core::EarlyExit;
use snn_core::Model;

use snn_train::data::{self, DatasetKind};
use snn_train::exec::files::write_atomic;
use snn_train::io::nir::{read, to_model, ImportOptions, Imported, NirError};
use snn_train::io::upgrade::upgrade;
use snn_train::measure::analysis;

/// What `import-nir` does.
#[derive(Debug, Clone)]
pub struct ImportCommand {
    /// The NIR file.
    pub input: PathBuf,
    /// The model file to write.
    pub out: PathBuf,
    /// Translation options.
    pub options: ImportOptions,
    /// Dataset to score the model on (`None`: the bundled MNIST subset when the input
    /// is 1x28x28, else no score).
    pub dataset: Option<DatasetKind>,
    /// Directory of the dataset's files.
    pub data_dir: Option<PathBuf>,
    /// Time steps stored in the model as its deployment setting (`None`: none stored)
    /// and scored (`None`: 20).
    pub timesteps: Option<u32>,
    /// Test images scored (0: no score).
    pub images: usize,
}

impl ImportCommand {
    /// The time steps of the score: the stored ones, else 20.
    pub fn scored_steps(&self) -> u32 {
        self.timesteps.unwrap_or(20)
    }
}

/// What `import-nir` found.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    /// The translation.
    pub imported: Imported,
    /// Fixed-point accuracy (percent) and the number of test images, when scored.
    pub score: Option<(f64, usize, DatasetKind)>,
}

/// Reads, translates, writes (atomically) and scores.
///
/// # Errors
/// [`NirError`] for the file and the graph; a scoring failure (missing dataset) is an
/// error too, since the user asked for it (`--images 0` skips it).
pub fn import_file(cmd: &ImportCommand) -> anyhow::Result<ImportSummary> {
    let graph = read(&cmd.input)?;
    let mut imported = to_model(&graph, &cmd.options)?;
    if let Some(steps) = cmd.timesteps {
        let deployment = Deployment {
            steps,
            early_exit: EarlyExit::Never,
        };
        imported.blob = upgrade(&imported.blob, None, Some(deployment))
            .map_err(|e| anyhow::anyhow!("--timesteps {steps}: {e}"))?;
    }
    if let Some(parent) = cmd.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|error| NirError::Io {
            path: parent.to_path_buf(),
            error,
        })?;
    }
    write_atomic(&cmd.out, &imported.blob).map_err(|error| NirError::Io {
        path: cmd.out.clone(),
        error,
    })?;
    let blob = imported.blob.clone();
    let model = Model::from_bytes(&blob).map_err(NirError::Model)?;
    let s = model.input_shape();
    let kind = match cmd.dataset {
        Some(k) => Some(k),
        None if (s.channels, s.height, s.width) == (1, 28, 28) => Some(DatasetKind::MnistSubset),
        None => None,
    };
    let score = match kind {
        Some(kind) if cmd.images > 0 => {
            kind.require_images("scoring an imported NIR model")?;
            let dir = data::data_dir(kind, cmd.data_dir.as_deref())?;
            let (_, mut test) = data::load(kind, &dir)?;
            test.truncate(cmd.images);
            let acc = analysis::accuracy_vs_steps(&model, &test, &[cmd.scored_steps()])?;
            Some((acc[0].1, test.len(), kind))
        }
        _ => None,
    };
    Ok(ImportSummary { imported, score })
}

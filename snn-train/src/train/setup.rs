//! From a configuration to the things a run works on: the loaded data, the network
//! built for the data's shape (checked against the model format before any training),
//! and the input encoding; and the same for an existing run directory.

use std::path::{Path, PathBuf};

use crate::data::{self, Dataset, Encoding};
use crate::error::{LayerIndex, NetworkError};
use crate::model::net::{self, Network};
use crate::train::checkpoint::Checkpoint;
use crate::train::config::TrainConfig;
use crate::train::error::TrainError;

/// Loaded data, network and encoding of a configuration.
#[derive(Debug)]
pub struct Setup {
    /// Training split (after `train_limit`).
    pub train: Dataset,
    /// Test split (after `test_limit`).
    pub test: Dataset,
    /// The network.
    pub net: Network,
    /// Input encoding.
    pub enc: Encoding,
}

/// Loads the data and builds the network of `cfg`. The network is exported once with
/// zero weights, so anything the model format cannot store (sizes, layer counts, state
/// memory, fan-in) is an error now rather than after the last epoch.
///
/// # Errors
/// Configuration, data or network errors.
pub fn setup(cfg: &TrainConfig) -> Result<Setup, TrainError> {
    cfg.validate()?;
    let dir = data::data_dir(cfg.data.dataset, cfg.data.dir.as_deref())?;
    let (mut train, mut test) = data::load_with(cfg.data.dataset, &dir, &cfg.data.event_options())?;
    if let Some(n) = cfg.data.train_limit {
        train.truncate(n);
    }
    if let Some(n) = cfg.data.test_limit {
        test.truncate(n);
    }
    if cfg.data.invert {
        train.invert();
        test.invert();
    }
    let input = net::shape(LayerIndex::Input, train.channels, train.height, train.width)?;
    let net = Network::build(
        &cfg.network.layer_list(),
        input,
        train.classes,
        cfg.network.neuron(),
        cfg.network.dropout,
    )?;
    let enc = cfg.data.encoding()?;
    check_exportable(&net, &enc)?;
    Ok(Setup {
        train,
        test,
        net,
        enc,
    })
}

/// Exports `net` with zero weights and lets `snn-core` validate it.
///
/// # Errors
/// [`NetworkError::NotExportable`] with `snn-core`'s reason.
pub fn check_exportable(net: &Network, enc: &Encoding) -> Result<(), NetworkError> {
    match crate::io::export::export(net, &net.zeros(), enc) {
        Ok(_) => Ok(()),
        Err(crate::io::export::ExportError::TooManyLayers { layers, max }) => {
            Err(NetworkError::TooManyLayers { layers, max })
        }
        Err(crate::io::export::ExportError::Format(e)) => Err(NetworkError::NotExportable(e)),
        Err(crate::io::export::ExportError::Run(_)) => Ok(()),
    }
}

/// Which checkpoint of a run directory to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Which {
    /// `checkpoint_best` (the best test accuracy).
    #[default]
    Best,
    /// `checkpoint_latest`.
    Latest,
}

impl Which {
    /// The checkpoint's file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Best => "checkpoint_best",
            Self::Latest => "checkpoint_latest",
        }
    }
}

/// Loads checkpoint `which` of run directory `run` and sets up its data (from
/// `data_dir` when given, else from where the run's config says).
///
/// # Errors
/// Checkpoint, configuration or data errors.
pub fn load_run(
    run: &Path,
    which: Which,
    data_dir: Option<PathBuf>,
) -> Result<(Checkpoint, Setup), TrainError> {
    let ck = Checkpoint::load(&run.join(which.file_name()))?;
    let mut cfg = ck.config.clone();
    if data_dir.is_some() {
        cfg.data.dir = data_dir;
    }
    let setup = setup(&cfg)?;
    Ok((ck, setup))
}

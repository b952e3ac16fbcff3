//! Training: the configuration ([`config`]), what a run is built from ([`setup`]), one
//! step ([`step`]) and its update ([`optim`]), the initial calibration ([`calibrate`]),
//! the divergence guard ([`guard`]), checkpoints ([`checkpoint`]), what the user sees
//! ([`report`]), evaluation ([`eval`]), quantisation-aware fine-tuning ([`qat`]), and
//! the epoch loop that ties them together (re-exported here: [`run`], [`run_in`]).
//! Builds on [`crate::sim`], [`crate::io`] and [`crate::exec`].

pub mod calibrate;
pub mod checkpoint;
pub mod config;
pub mod distill;
pub mod error;
pub mod eval;
pub mod guard;
pub mod optim;
pub mod qat;
pub mod report;
pub mod setup;
pub mod step;

mod epochs;

pub use epochs::{
    default_run_dir, export_checkpoint, run, run_in, save_plan, ResumeOverrides, RunOptions,
    RunSummary, SavePlan,
};

//! The whole `cargo xtask` command line, declared in one place (clap derive).

use clap::{Args, Parser, Subcommand};

/// Tasks for the SNN toolkit: training, export, device runs, CI.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
pub struct Xtask {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run every check CI runs (format, lints, tests, embedded builds) and report all
    /// failures together.
    Ci(CiArgs),
}

#[derive(Debug, Args)]
pub struct CiArgs {
    /// Skip the slow steps that need extra tooling (the thumb-target builds).
    #[arg(long)]
    pub quick: bool,
}

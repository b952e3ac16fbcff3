//! `cargo xtask train | eval | export | import-nir | export-nir`: build the trainer in
//! release mode and run it.
//!
//! The trainer is a separate binary (`snn-train`) built with `--release`, because
//! xtask itself is built unoptimised (architecture.md, "Things that bite"). Arguments
//! are passed through unchanged. `cargo xtask train --mpi N` builds it with its `mpi`
//! feature and starts N ranks with `mpirun` on this machine; the NIR commands build it
//! with its `nir` feature.

use anyhow::{bail, Result};

use crate::{cargo, project_root, run};

/// Builds `snn-train` in release mode; returns the binary's path.
pub fn build_trainer() -> Result<std::path::PathBuf> {
    build_trainer_with(&[])
}

/// [`build_trainer`] with extra cargo arguments (such as `--features mpi`).
fn build_trainer_with(extra: &[&str]) -> Result<std::path::PathBuf> {
    run(cargo()
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "snn-train",
            "--bin",
            "snn-train",
        ])
        .args(extra))?;
    Ok(project_root().join("target/release/snn-train"))
}

/// Builds `snn-train` (release) and runs `snn-train <sub> <args...>` at the root.
pub fn run_trainer(sub: &str, args: &[String]) -> Result<()> {
    let exe = build_trainer()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.current_dir(project_root()).arg(sub).args(args);
    run(&mut cmd)
}

/// Builds `snn-train` with its `nir` feature (release) and runs `snn-train <sub>
/// <args...>` at the root.
pub fn run_trainer_nir(sub: &str, args: &[String]) -> Result<()> {
    let exe = build_trainer_with(&["--features", "nir"])?;
    let mut cmd = std::process::Command::new(exe);
    cmd.current_dir(project_root()).arg(sub).args(args);
    run(&mut cmd)
}

/// Builds `snn-train` with MPI and runs `mpirun -n <n> snn-train train <args...>` on
/// this machine: ranks unbound, each with its share of the cores unless `args` say
/// `--threads`; `--allow-run-as-root` when run as root (containers, CI).
pub fn run_trainer_mpi(n: u32, args: &[String]) -> Result<()> {
    if which("mpirun").is_none() {
        bail!(
            "mpirun not found: install an MPI (Debian: apt install openmpi-bin libopenmpi-dev \
             libclang-dev), see docs/mpi.md"
        );
    }
    let exe = build_trainer_with(&["--features", "mpi"])?;
    let mut cmd = std::process::Command::new("mpirun");
    cmd.current_dir(project_root());
    if is_root() {
        cmd.arg("--allow-run-as-root");
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    cmd.args(["--oversubscribe", "--bind-to", "none", "-n", &n.to_string()])
        .arg(exe)
        .arg("train")
        .args(args);
    if !args
        .iter()
        .any(|a| a == "--threads" || a.starts_with("--threads="))
    {
        let per_rank = (cores / n as usize).max(1);
        cmd.args(["--threads", &per_rank.to_string()]);
    }
    run(&mut cmd)
}

/// The path of `program` on `PATH`, if any.
fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// True when this process runs as root (Open MPI refuses that without a flag).
fn is_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

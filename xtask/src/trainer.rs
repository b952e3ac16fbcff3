//! `cargo xtask train | eval | export`: build the trainer in release mode and run it.
//!
//! The trainer is a separate binary (`snn-train`) built with `--release`, because
//! xtask itself is built unoptimised (architecture.md, "Things that bite"). Arguments
//! are passed through unchanged.

use anyhow::Result;

use crate::{cargo, project_root, run};

/// Builds `snn-train` in release mode; returns the binary's path.
pub fn build_trainer() -> Result<std::path::PathBuf> {
    run(cargo().args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "snn-train",
        "--bin",
        "snn-train",
    ]))?;
    Ok(project_root().join("target/release/snn-train"))
}

/// Builds `snn-train` (release) and runs `snn-train <sub> <args...>` at the root.
pub fn run_trainer(sub: &str, args: &[String]) -> Result<()> {
    let exe = build_trainer()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.current_dir(project_root()).arg(sub).args(args);
    run(&mut cmd)
}

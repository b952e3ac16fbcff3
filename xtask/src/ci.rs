//! `cargo xtask ci`: every check CI runs, in one place.
//!
//! Runs each step even when an earlier one failed, then reports all failures together
//! and exits non-zero if there was any. It assumes the toolchain pieces `.ci/run`
//! installs (thumb targets, rustfmt, clippy); it installs nothing itself.

use std::process::Command;

use anyhow::{bail, Result};

use crate::{cargo, flags::CiArgs, project_root};

/// The thumb targets `snn-core` must build for: Cortex-M4F and Cortex-M0+.
const THUMB_TARGETS: [&str; 2] = ["thumbv7em-none-eabihf", "thumbv6m-none-eabi"];

pub fn run_steps(steps: Vec<(&str, Command)>) -> Result<()> {
    let mut failed = Vec::new();
    for (name, mut cmd) in steps {
        eprintln!("\n== {name}");
        if let Err(e) = crate::run(&mut cmd) {
            eprintln!("!! {name}: {e:#}");
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        bail!("{} CI step(s) failed: {}", failed.len(), failed.join(", "));
    }
    eprintln!("\nall CI steps passed");
    Ok(())
}

fn cargo_with(args: &[&str]) -> Command {
    let mut c = cargo();
    c.args(args);
    c
}

pub fn run(args: &CiArgs) -> Result<()> {
    let xtask_manifest = project_root().join("xtask/Cargo.toml");
    let xtask_manifest = xtask_manifest.to_str().expect("utf-8 path");
    let mut steps = vec![
        ("fmt", cargo_with(&["fmt", "--all", "--check"])),
        (
            "fmt xtask",
            cargo_with(&["fmt", "--manifest-path", xtask_manifest, "--check"]),
        ),
        (
            "clippy",
            cargo_with(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        (
            "clippy xtask",
            cargo_with(&[
                "clippy",
                "--manifest-path",
                xtask_manifest,
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        ("test", cargo_with(&["test", "--workspace"])),
        (
            "test xtask (tidy)",
            cargo_with(&["test", "--manifest-path", xtask_manifest]),
        ),
    ];
    if !args.quick {
        for target in THUMB_TARGETS {
            steps.push((
                "snn-core for thumb",
                cargo_with(&[
                    "build",
                    "-p",
                    "snn-core",
                    "--release",
                    "--target",
                    target,
                    "--features",
                    "defmt",
                ]),
            ));
            steps.push((
                "snn-core for thumb (no defmt)",
                cargo_with(&["build", "-p", "snn-core", "--release", "--target", target]),
            ));
        }
    }
    run_steps(steps)
}

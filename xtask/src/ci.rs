//! `cargo xtask ci`: every check CI runs, in one place.
//!
//! Runs each step even when an earlier one failed, then reports all failures together
//! and exits non-zero if there was any. It assumes the pieces `.ci/run` installs
//! (thumb targets, rustfmt, clippy, qemu-system-arm); it installs nothing itself.

use std::process::Command;

use anyhow::{bail, Result};

use crate::flags::{BenchArgs, CiArgs, QemuArgs, SizeArgs};
use crate::{cargo, project_root};

/// The thumb targets `snn-core` must build for: Cortex-M4F and Cortex-M0+.
const THUMB_TARGETS: [&str; 2] = ["thumbv7em-none-eabihf", "thumbv6m-none-eabi"];

/// One CI step: a command, or a task run in this process.
enum Step {
    Cmd(Command),
    Task(Box<dyn FnOnce() -> Result<()>>),
}

fn run_steps(steps: Vec<(&str, Step)>) -> Result<()> {
    let mut failed = Vec::new();
    for (name, step) in steps {
        eprintln!("\n== {name}");
        let r = match step {
            Step::Cmd(mut cmd) => crate::run(&mut cmd),
            Step::Task(f) => f(),
        };
        if let Err(e) = r {
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

fn cargo_with(args: &[&str]) -> Step {
    let mut c = cargo();
    c.args(args);
    Step::Cmd(c)
}

/// cargo run from inside `firmware/`, so its `.cargo/config.toml` applies (P1).
fn firmware_cargo(args: &[&str]) -> Step {
    let mut c = cargo();
    c.current_dir(project_root().join("firmware"))
        .args(args)
        .env("DEFMT_LOG", "info");
    Step::Cmd(c)
}

pub fn run(args: &CiArgs) -> Result<()> {
    let root = project_root();
    let manifest = |p: &str| {
        root.join(p)
            .join("Cargo.toml")
            .to_string_lossy()
            .into_owned()
    };
    let (xtask, fw) = (manifest("xtask"), manifest("firmware"));
    let mut steps = vec![
        ("fmt", cargo_with(&["fmt", "--all", "--check"])),
        (
            "fmt xtask",
            cargo_with(&["fmt", "--manifest-path", &xtask, "--check"]),
        ),
        (
            "fmt firmware",
            cargo_with(&["fmt", "--manifest-path", &fw, "--check"]),
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
                &xtask,
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        ("test", cargo_with(&["test", "--workspace"])),
        (
            "test xtask (tidy)",
            cargo_with(&["test", "--manifest-path", &xtask]),
        ),
    ];
    if !args.quick {
        for target in THUMB_TARGETS {
            steps.push((
                "snn-core for thumb (defmt)",
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
                "snn-core for thumb",
                cargo_with(&["build", "-p", "snn-core", "--release", "--target", target]),
            ));
        }
        steps.push((
            "snn-embedded for Cortex-M4F",
            cargo_with(&[
                "build",
                "-p",
                "snn-embedded",
                "--release",
                "--target",
                "thumbv7em-none-eabihf",
                "--features",
                "cortex-m,defmt",
            ]),
        ));
        steps.push((
            "clippy firmware (qemu)",
            firmware_cargo(&["clippy", "--release", "--", "-D", "warnings"]),
        ));
        steps.push((
            "clippy firmware (board)",
            firmware_cargo(&[
                "clippy",
                "--release",
                "--no-default-features",
                "--features",
                "board",
                "--",
                "-D",
                "warnings",
            ]),
        ));
        steps.push((
            "QEMU: default LeNet model, 20 MNIST test images",
            Step::Task(Box::new(|| crate::qemu::run(&QemuArgs::default_lenet()))),
        ));
        steps.push((
            "QEMU: golden model (every layer kind, signed input)",
            Step::Task(Box::new(move || crate::qemu::run(&QemuArgs::golden()))),
        ));
        steps.push((
            "board firmware size (STM32F4 budget)",
            Step::Task(Box::new(|| crate::size::run(&SizeArgs { model: None }))),
        ));
        steps.push((
            "benchmarks, reduced (cargo xtask bench --quick)",
            Step::Task(Box::new(|| {
                crate::bench::run_bench(&BenchArgs { quick: true })
            })),
        ));
        steps.push((
            "analysis and plots, reduced (cargo xtask analyze)",
            Step::Task(Box::new(|| {
                let args: Vec<String> = [
                    "--model",
                    "models/lenet-mnist-subset.snn",
                    "--images",
                    "50",
                    "--curve",
                    "5,10,20",
                    "--out",
                    "target/analysis",
                ]
                .map(String::from)
                .to_vec();
                crate::trainer::run_trainer("analyze", &args)
            })),
        ));
    }
    run_steps(steps)
}

//! `cargo xtask ci`: every check CI runs, in one place.
//!
//! Runs each step even when an earlier one failed, then reports all failures together
//! and exits non-zero if there was any. It assumes the pieces `.ci/run` installs
//! (thumb and i686 targets, gcc-multilib, rustfmt, clippy, qemu-system-arm, the
//! pinned nightly and cargo-fuzz); it installs nothing itself.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::cores::Core;
use crate::flags::{BenchArgs, CiArgs, QemuArgs, SizeArgs};
use crate::{cargo, project_root};

/// The thumb targets `snn-core` must build for: Cortex-M4F/M7, Cortex-M0/M0+ and
/// Cortex-M33.
const THUMB_TARGETS: [&str; 3] = [
    "thumbv7em-none-eabihf",
    "thumbv6m-none-eabi",
    "thumbv8m.main-none-eabihf",
];

/// A 32-bit host target: `snn-core`'s hostile-input tests run there too, where `usize`
/// has the width of the Cortex-M targets (needs Debian's `gcc-multilib` to link).
const TARGET_32BIT: &str = "i686-unknown-linux-gnu";

/// The nightly toolchain cargo-fuzz runs on; `.ci/run` installs the same one.
const FUZZ_TOOLCHAIN: &str = "nightly-2026-10-15";

/// How long CI fuzzes `Model::from_bytes`, in seconds.
const FUZZ_SECONDS: u32 = 60;

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

/// `snn-train`'s `mpi` feature: clippy, then its tests (`mpirun -n 2, 3, 4` against
/// one process, resume with another rank count, a killed rank). Where no MPI is
/// installed it says so and passes, except under CI (`CI` set), where `.ci/run`
/// installs Open MPI and its absence is a failure.
fn mpi() -> Result<()> {
    let found = |p: &str| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !found("mpirun") || !found("mpicc") {
        if std::env::var_os("CI").is_some() {
            bail!("mpirun or mpicc not found; .ci/run installs openmpi-bin and libopenmpi-dev");
        }
        eprintln!(
            "skipped: no MPI here (Debian: apt install openmpi-bin libopenmpi-dev libclang-dev)"
        );
        return Ok(());
    }
    feature_clippy("mpi")?;
    feature_test("mpi")
}

/// Clippy over every target of `snn-train` with its feature `feature`.
fn feature_clippy(feature: &str) -> Result<()> {
    crate::run(
        cargo()
            .args([
                "clippy",
                "--all-targets",
                "-p",
                "snn-train",
                "--features",
                feature,
            ])
            .args(["--", "-D", "warnings"]),
    )
}

/// `snn-train`'s integration test named like `feature`, with that feature, in release.
fn feature_test(feature: &str) -> Result<()> {
    feature_tests(feature, &[feature])
}

/// `snn-train`'s integration tests `tests`, with `feature`, in release.
fn feature_tests(feature: &str, tests: &[&str]) -> Result<()> {
    let mut cmd = cargo();
    cmd.args([
        "test",
        "--release",
        "-p",
        "snn-train",
        "--features",
        feature,
    ]);
    for t in tests {
        cmd.args(["--test", t]);
    }
    crate::run(cmd.args(["--", "--nocapture"]))
}

/// `snn-train`'s `nir` feature: clippy, its doc example, then its tests: round trips of
/// every preset, refusals, hostile files, and the cross-checks against the `nir`
/// Python package in `target/nir-venv` (`.ci/run` creates it; elsewhere those print
/// why they are skipped, except under CI, where they fail), and the producer checks:
/// snnTorch's and Norse's own exports against their own simulations (written by
/// `.ci/run` into `target/producers`, or skipped with its reason in `SNN_PRODUCERS`)
/// and the committed snnTorch MNIST networks against snnTorch's accuracy.
fn nir() -> Result<()> {
    feature_clippy("nir")?;
    crate::run(
        cargo()
            .args(["test", "--doc", "-p", "snn-train", "--features", "nir"])
            .arg("nir"),
    )?;
    feature_tests("nir", &["nir", "producers"])
}

/// The total executions in libFuzzer's closing line `Done 123456 runs in 61 second(s)`.
fn fuzz_runs(line: &str) -> Option<u64> {
    line.trim()
        .strip_prefix("Done ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Fuzzes `from_bytes` for [`FUZZ_SECONDS`] from the committed seeds (crafted blobs,
/// the golden model, the default model), echoing libFuzzer's output and reporting
/// the executions. Fails on a crash (libFuzzer's non-zero exit).
fn fuzz() -> Result<()> {
    let dir = project_root().join("snn-core/fuzz");
    std::fs::create_dir_all(dir.join("corpus/from_bytes"))?;
    let max_time = format!("-max_total_time={FUZZ_SECONDS}");
    let mut cmd = Command::new("rustup");
    cmd.current_dir(&dir)
        .args(["run", FUZZ_TOOLCHAIN, "cargo", "fuzz", "run", "from_bytes"])
        // The first directory collects new inputs (git ignores it); the rest are seeds.
        .args([
            "corpus/from_bytes",
            "seeds",
            "../tests/golden",
            "../../models",
        ])
        .args(["--", &max_time])
        .env_remove("RUSTUP_TOOLCHAIN")
        .stderr(Stdio::piped());
    eprintln!("$ {}", crate::display(&cmd));
    let mut child = cmd.spawn().context("could not start cargo fuzz")?;
    let mut runs = None;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line?;
            eprintln!("{line}");
            runs = fuzz_runs(&line).or(runs);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("fuzzing found a crash or failed to run ({status}); see snn-core/fuzz/artifacts");
    }
    let runs = runs.context("libFuzzer did not report its executions")?;
    eprintln!("fuzz from_bytes: {runs} executions in {FUZZ_SECONDS} s, no crash");
    Ok(())
}

/// Runs every CI step (with `--quick`: the formatting, lints and host tests only), each
/// named for what it checks; every step runs even when an earlier one failed, and the
/// failures are reported together at the end.
pub fn run(args: &CiArgs) -> Result<()> {
    let mut steps = checks();
    if !args.quick {
        steps.extend(thumb_steps());
        steps.extend(firmware_steps());
        steps.extend(device_steps());
        steps.extend(feature_steps());
    }
    run_steps(steps)
}

/// Formatting, lints and the host tests.
fn checks() -> Vec<(&'static str, Step)> {
    let root = project_root();
    let manifest = |p: &str| {
        root.join(p)
            .join("Cargo.toml")
            .to_string_lossy()
            .into_owned()
    };
    let (xtask, fw) = (manifest("xtask"), manifest("firmware"));
    vec![
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
    ]
}

/// The `snn-core` and `snn-embedded` builds and lints for the Cortex-M targets, the
/// 32-bit blob tests and the fuzz run.
fn thumb_steps() -> Vec<(&'static str, Step)> {
    let mut steps = Vec::new();
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
    for target in ["thumbv7em-none-eabihf", "thumbv8m.main-none-eabihf"] {
        steps.push((
            "clippy snn-core for thumb (dsp: the inline-assembly kernels)",
            cargo_with(&[
                "clippy",
                "-p",
                "snn-core",
                "--release",
                "--target",
                target,
                "--features",
                "dsp",
                "--",
                "-D",
                "warnings",
            ]),
        ));
    }
    steps.push((
        "snn-core on i686 (32-bit usize): corrupted and crafted blobs",
        cargo_with(&[
            "test",
            "-p",
            "snn-core",
            "--target",
            TARGET_32BIT,
            "--test",
            "format_errors",
            "--test",
            "overflow",
            "--",
            "--nocapture",
        ]),
    ));
    steps.push(("fuzz from_bytes (60 s, seeded)", Step::Task(Box::new(fuzz))));
    steps
}

/// The firmware lints for every QEMU machine and the boards.
fn firmware_steps() -> Vec<(&'static str, Step)> {
    let mut steps = Vec::new();
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
        firmware_cargo(&[
            "clippy",
            "--release",
            "--features",
            "dsp",
            "--",
            "-D",
            "warnings",
        ]),
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
    for (name, features, target) in [
        (
            "clippy firmware (m33)",
            "qemu,dsp",
            "thumbv8m.main-none-eabihf",
        ),
        ("clippy firmware (m0)", "qemu", "thumbv6m-none-eabi"),
        (
            "clippy firmware (netduino)",
            "netduino",
            "thumbv7em-none-eabihf",
        ),
    ] {
        steps.push((
            name,
            firmware_cargo(&[
                "clippy",
                "--release",
                "--target",
                target,
                "--no-default-features",
                "--features",
                features,
                "--",
                "-D",
                "warnings",
            ]),
        ));
    }
    steps
}

/// Every QEMU run (bit-exact or fail) and the board firmware sizes.
fn device_steps() -> Vec<(&'static str, Step)> {
    let mut steps = Vec::new();
    for (name, core, args) in qemu_runs() {
        steps.push((
            name,
            Step::Task(Box::new(move || crate::qemu::run(&on(core, args())))),
        ));
    }
    steps.push((
        "board firmware size (STM32F4 budget)",
        Step::Task(Box::new(|| {
            crate::size::run(&SizeArgs {
                model: None,
                netduino: false,
            })
        })),
    ));
    steps.push((
        "netduino firmware size (STM32F405: 1 MiB flash, 192 KiB RAM)",
        Step::Task(Box::new(|| {
            crate::size::run(&SizeArgs {
                model: None,
                netduino: true,
            })
        })),
    ));
    steps
}

/// The `mpi` and `nir` features, and the reduced robustness matrix, benchmarks and
/// analysis.
fn feature_steps() -> Vec<(&'static str, Step)> {
    let mut steps = Vec::new();
    steps.push((
        "MPI: clippy and data-parallel training with 1-4 ranks (feature mpi)",
        Step::Task(Box::new(mpi)),
    ));
    steps.push((
        "NIR: clippy, round trips, cross-checks against the nir package and the producers (feature nir)",
        Step::Task(Box::new(nir)),
    ));
    steps.push((
        "robustness matrix, reduced (cargo xtask robustness)",
        Step::Task(Box::new(|| {
            crate::robustness::run(&crate::flags::RobustnessArgs { full: false })
        })),
    ));
    steps.push((
        "benchmarks, reduced (cargo xtask bench --quick)",
        Step::Task(Box::new(|| {
            crate::bench::run_bench(&BenchArgs {
                quick: true,
                margin: 128,
            })
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
    steps
}

/// A QEMU CI step: its name, the core, and the run's arguments.
/// Every QEMU run of CI, in order: each fails on any class, score or spike-count
/// mismatch. The M7 runs the M4F's ELF (same target and map), so right after the M4F
/// runs it costs no build.
fn qemu_runs() -> [QemuStep; 16] {
    let lenet = QemuArgs::default_lenet;
    let exact = || QemuArgs {
        early_exit: Some(snn_core::EarlyExit::Exact),
        ..QemuArgs::default_lenet()
    };
    [
        ("QEMU: default LeNet model, 20 MNIST test images", Core::M4, lenet),
        (
            "QEMU: default LeNet model with exact early exit (host and device stop at the same step)",
            Core::M4,
            exact,
        ),
        (
            "QEMU m7 (Cortex-M7, mps2-an500): default LeNet model, 20 MNIST test images",
            Core::M7,
            lenet,
        ),
        (
            "QEMU: golden model (every layer kind, signed input)",
            Core::M4,
            QemuArgs::golden,
        ),
        (
            "QEMU m7 (Cortex-M7, mps2-an500): golden model",
            Core::M7,
            QemuArgs::golden,
        ),
        (
            "QEMU m33 (Cortex-M33, mps2-an505, Secure): default LeNet model, 20 MNIST test images",
            Core::M33,
            lenet,
        ),
        (
            "QEMU m33 (Cortex-M33, mps2-an505, Secure): golden model",
            Core::M33,
            QemuArgs::golden,
        ),
        (
            "QEMU m0 (Cortex-M0, microbit, no DSP): golden model",
            Core::M0,
            QemuArgs::golden,
        ),
        (
            "QEMU: analog-input golden model (DSP multiply-accumulates), profiled per function",
            Core::M4,
            || QemuArgs {
                profile: true,
                ..QemuArgs::analog_golden()
            },
        ),
        (
            "QEMU m0 (Cortex-M0, no DSP): analog-input golden model",
            Core::M0,
            QemuArgs::analog_golden,
        ),
        (
            "QEMU: current-based golden model (a synaptic current in every population and the output)",
            Core::M4,
            QemuArgs::cuba_golden,
        ),
        (
            "QEMU m0 (Cortex-M0, no DSP): current-based golden model",
            Core::M0,
            QemuArgs::cuba_golden,
        ),
        (
            "QEMU: saturating case (16-bit saturation in every DSP kernel path, signed input)",
            Core::M4,
            QemuArgs::saturating,
        ),
        (
            "QEMU m33 (Cortex-M33): saturating case",
            Core::M33,
            QemuArgs::saturating,
        ),
        (
            "QEMU: event-input model, 20 N-MNIST-format recordings streamed through semihosting",
            Core::M4,
            QemuArgs::events_sample,
        ),
        (
            "QEMU netduino (STM32F405, netduinoplus2, HAL + USART): default LeNet model, 20 MNIST test images",
            Core::Netduino,
            lenet,
        ),
    ]
}

type QemuStep = (&'static str, Core, fn() -> QemuArgs);

/// `args` on `core`.
fn on(core: Core, args: QemuArgs) -> QemuArgs {
    QemuArgs { core, ..args }
}

#[cfg(test)]
mod tests {
    use super::fuzz_runs;

    #[test]
    fn reads_libfuzzers_closing_line() {
        assert_eq!(
            fuzz_runs("Done 1234567 runs in 61 second(s)"),
            Some(1_234_567)
        );
        assert_eq!(fuzz_runs("#1024\tpulse  cov: 12 ft: 13"), None);
        assert_eq!(fuzz_runs("Done soon"), None);
    }
}

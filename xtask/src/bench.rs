//! `cargo xtask bench`: the whole measurement suite in one table and one JSON file.
//!
//! Runs `snn-train bench` (release build) for training throughput and host inference,
//! then the firmware in QEMU on every core (M4F, M7, M33, M0, STM32F405) for
//! instructions per inference and per synaptic event, and writes
//! `target/bench/results.json` (`qemu`: the M4F run, `cores`: every core). `--quick` is the reduced form CI runs.
//!
//! The deep presets' training throughput (VGG9 and ResNet11 on Fashion-MNIST, from
//! their calibrated initialisation; VGG9 alone with `--quick`) comes next to LeNet's in
//! `results.json` (`deep`), when Fashion-MNIST is found: `SNN_FASHION_MNIST_DIR`, else
//! `../shared/data/fashion-mnist` beside the checkout; without it they are skipped
//! with the reason printed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::cores::Core;
use snn_core::EarlyExit;

use crate::flags::{BenchArgs, QemuArgs};
use crate::qemu::Report;
use crate::{project_root, run};

pub fn run_bench(args: &BenchArgs) -> Result<()> {
    let root = project_root();
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let exe = crate::trainer::build_trainer()?;
    let host = dir.join("host.json");
    let (steps, batches, images) = if args.quick {
        ("20", "1", "40")
    } else {
        ("20,100", "4", "200")
    };
    println!("== training and host inference (snn-train bench)");
    run(Command::new(&exe)
        .current_dir(&root)
        .args([
            "bench",
            "--timesteps",
            steps,
            "--batches",
            batches,
            "--images",
            images,
            "--out",
        ])
        .arg(&host))?;
    let deep = deep_presets(&exe, &root, args.quick)?;

    println!("\n== QEMU, one run per core");
    let mut reports = Vec::new();
    let rules = [
        EarlyExit::Never,
        EarlyExit::Exact,
        EarlyExit::Margin {
            per_step: args.margin,
        },
    ];
    for core in Core::ALL {
        let spec = core.spec();
        for rule in rules {
            if rule != EarlyExit::Never && args.quick && core != Core::M4 {
                continue;
            }
            println!(
                "\n-- {} ({}, QEMU {}), early exit {rule}",
                spec.name, spec.cpu, spec.machine
            );
            let qemu = QemuArgs {
                core,
                samples: if args.quick { 5 } else { 20 },
                early_exit: Some(rule),
                ..QemuArgs::default_lenet()
            };
            reports.push(crate::qemu::run_report(&qemu)?);
        }
    }

    let host: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&host).with_context(|| format!("reading {}", host.display()))?,
    )?;
    let m4 = &reports[0];
    let doc = serde_json::json!({
        "host": host,
        "deep": deep,
        "qemu": core_json(m4),
        "cores": reports.iter().map(core_json).collect::<Vec<_>>(),
    });
    let out = dir.join("results.json");
    std::fs::write(&out, serde_json::to_string_pretty(&doc)?)?;
    print_table(&reports, &root);
    println!(
        "\nQEMU m4: {} instructions per inference, {:.2} per synaptic event ({} events, T = {})",
        m4.instructions_per_inference, m4.instructions_per_event, m4.events_per_inference, m4.steps
    );
    println!("results: {}", out.display());
    Ok(())
}

/// Fashion-MNIST for the deep presets: `SNN_FASHION_MNIST_DIR`, else
/// `../shared/data/fashion-mnist` beside the checkout, if it is a folder.
fn fashion_mnist(root: &Path) -> Option<PathBuf> {
    match std::env::var_os("SNN_FASHION_MNIST_DIR") {
        Some(d) => Some(root.join(d)),
        None => Some(root.join("../shared/data/fashion-mnist")).filter(|d| d.is_dir()),
    }
}

/// Training throughput of the deep presets (`snn-train bench --arch`, 2 timed batches of
/// 16 as in the baseline of `docs/performance.md`; 1 with `--quick`),
/// each preset's JSON as written by the trainer, or `null` with the data missing.
fn deep_presets(exe: &Path, root: &Path, quick: bool) -> Result<serde_json::Value> {
    let Some(data) = fashion_mnist(root) else {
        println!(
            "\n== deep presets skipped: Fashion-MNIST not found (set SNN_FASHION_MNIST_DIR, \
             or put it at ../shared/data/fashion-mnist beside the checkout)"
        );
        return Ok(serde_json::Value::Null);
    };
    let (presets, steps, batches): (&[&str], _, _) = if quick {
        (&["vgg9"], "20", "1")
    } else {
        (&["vgg9", "resnet11"], "20,100", "2")
    };
    let mut out = serde_json::Map::new();
    for preset in presets {
        println!("\n== deep preset {preset} on Fashion-MNIST (snn-train bench --arch {preset})");
        let json = root.join(format!("target/bench/deep-{preset}.json"));
        run(Command::new(exe)
            .current_dir(root)
            .args(["bench", "--dataset", "fashion-mnist", "--data-dir"])
            .arg(&data)
            .args(["--arch", preset, "--timesteps", steps, "--batches", batches])
            .args(["--batch-size", "16", "--images", "20", "--out"])
            .arg(&json))?;
        let value: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&json).with_context(|| format!("reading {}", json.display()))?,
        )?;
        out.insert((*preset).to_string(), value);
    }
    Ok(serde_json::Value::Object(out))
}

/// One core's run as the JSON object of `results.json`.
fn core_json(r: &Report) -> serde_json::Value {
    let spec = r.core.spec();
    serde_json::json!({
        "core": spec.name,
        "cpu": spec.cpu,
        "machine": spec.machine,
        "target": spec.target,
        "dsp_feature": spec.dsp,
        "model": r.model,
        "inputs": r.inputs,
        "timesteps": r.steps,
        "early_exit": r.early_exit.to_string(),
        "mean_steps": r.mean_steps,
        "instructions_per_inference": r.instructions_per_inference,
        "instructions_per_event": r.instructions_per_event,
        "events_per_inference": r.events_per_inference,
        "instructions_per_tick": r.instructions_per_tick,
        "flash_bytes": r.flash,
        "ram_bytes": r.ram,
        "stack_peak_bytes": r.stack_peak,
        "stack_region_bytes": r.stack_size,
        "note": format!(
            "QEMU {}, -icount shift=0, SysTick-derived ({} instructions per tick, calibrated), firmware release profile with fat LTO",
            spec.machine,
            spec.quantum()
        ),
    })
}

/// The runs as a table, one line per core and early-exit rule.
fn print_table(reports: &[Report], root: &std::path::Path) {
    println!(
        "\n{:<9} {:<14} {:<26} {:<32} {:>3} {:<11} {:>6} {:>13} {:>9} {:>10} {:>8} {:>8} {:>8}",
        "core",
        "QEMU machine",
        "target",
        "model",
        "T",
        "early exit",
        "steps",
        "instr./inf.",
        "instr./ev",
        "events",
        "flash",
        "RAM",
        "stack"
    );
    for r in reports {
        let spec = r.core.spec();
        let path = std::path::Path::new(&r.model);
        let model = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        println!(
            "{:<9} {:<14} {:<26} {:<32} {:>3} {:<11} {:>6.2} {:>13} {:>9.2} {:>10} {:>8} {:>8} {:>8}",
            spec.name,
            spec.machine,
            spec.target,
            model,
            r.steps,
            r.early_exit.to_string(),
            r.mean_steps,
            r.instructions_per_inference,
            r.instructions_per_event,
            r.events_per_inference,
            r.flash,
            r.ram,
            r.stack_peak
        );
    }
}

//! `cargo xtask bench`: the whole measurement suite in one table and one JSON file.
//!
//! Runs `snn-train bench` (release build) for training throughput and host inference,
//! then the firmware in QEMU for instructions per inference and per synaptic event,
//! and writes `target/bench/results.json`. `--quick` is the reduced form CI runs.

use std::process::Command;

use anyhow::{Context, Result};

use crate::flags::{BenchArgs, QemuArgs};
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
    run(Command::new(exe)
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

    println!("\n== QEMU (Cortex-M4F, mps2-an386)");
    let qemu = QemuArgs {
        samples: if args.quick { 5 } else { 20 },
        ..QemuArgs::default_lenet()
    };
    let report = crate::qemu::run_report(&qemu)?;

    let host: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&host).with_context(|| format!("reading {}", host.display()))?,
    )?;
    let doc = serde_json::json!({
        "host": host,
        "qemu": {
            "model": report.model,
            "inputs": report.inputs,
            "timesteps": report.steps,
            "instructions_per_inference": report.instructions_per_inference,
            "instructions_per_event": report.instructions_per_event,
            "events_per_inference": report.events_per_inference,
            "note": "QEMU mps2-an386, -icount shift=0, SysTick-derived (40 instructions per tick, ±40), firmware release profile with fat LTO",
        },
    });
    let out = dir.join("results.json");
    std::fs::write(&out, serde_json::to_string_pretty(&doc)?)?;
    println!(
        "\nQEMU: {} instructions per inference, {:.2} per synaptic event ({} events, T = {})",
        report.instructions_per_inference,
        report.instructions_per_event,
        report.events_per_inference,
        report.steps
    );
    println!("results: {}", out.display());
    Ok(())
}

//! `cargo xtask flash --chip CHIP`: build the board firmware and run it with probe-rs
//! (flash, then stream the defmt log over RTT until the firmware stops).

use std::process::Command;

use anyhow::{bail, Result};

use crate::firmware::{self, Embed, Target};
use crate::flags::FlashArgs;
use crate::project_root;

pub fn run(args: &FlashArgs) -> Result<()> {
    if Command::new("probe-rs").arg("--version").output().is_err() {
        bail!(
            "probe-rs not found. Install it with `cargo install probe-rs-tools --locked` \
             (about 8 minutes, no system libraries needed), connect the board's ST-LINK, and retry"
        );
    }
    let v = &args.vectors;
    let model = v
        .model
        .clone()
        .unwrap_or_else(|| project_root().join("models/lenet-mnist-subset.snn"));
    let blob = std::fs::read(&model)?;
    let m = snn_core::Model::from_bytes(&blob)
        .map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let out = project_root().join("target/qemu");
    std::fs::create_dir_all(&out)?;
    let (inputs, _) = crate::qemu::inputs(v, &m, &out)?;
    let (steps, exit) = v.setting(&m);
    let embed = Embed {
        model,
        inputs,
        spikes: None,
        steps,
        seed: v.seed,
        exit,
    };
    let elf = firmware::build(Target::Board, &embed)?;
    let status = Command::new("probe-rs")
        .args(["run", "--chip", &args.chip])
        .arg(&elf)
        .status()?;
    if !status.success() {
        bail!(
            "probe-rs run failed ({status}): is the board connected and is --chip {} right?",
            args.chip
        );
    }
    Ok(())
}

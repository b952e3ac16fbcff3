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
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| project_root().join("models/lenet-mnist-subset.snn"));
    let qemu_args = crate::flags::QemuArgs {
        model: Some(model.clone()),
        inputs: args.inputs.clone(),
        samples: args.samples,
        steps: args.steps,
        seed: 1000,
        timeout: 0,
    };
    let blob = std::fs::read(&model)?;
    let m = snn_core::Model::from_bytes(&blob)
        .map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let out = project_root().join("target/qemu");
    std::fs::create_dir_all(&out)?;
    let (inputs, _) = crate::qemu::inputs(&qemu_args, &m, &out)?;
    let elf = firmware::build(
        Target::Board,
        &Embed {
            model,
            inputs,
            steps: args.steps,
            seed: 1000,
        },
    )?;
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

//! `cargo xtask size [--netduino]`: flash and RAM of the board firmware (or of the
//! netduinoplus2 STM32F405 build) by section, against the STM32F4-class budget (1 MiB
//! flash, 192 KiB RAM); fails when over.

use anyhow::{bail, Result};

use crate::cores::Core;
use crate::firmware::{self, Embed, Target};
use crate::flags::SizeArgs;
use crate::project_root;

const FLASH_BUDGET: u64 = 1024 * 1024;
const RAM_BUDGET: u64 = 192 * 1024;

pub fn run(args: &SizeArgs) -> Result<()> {
    let model = args
        .model
        .clone()
        .unwrap_or_else(|| project_root().join("models/lenet-mnist-subset.snn"));
    let inputs = project_root().join("target/qemu/size-inputs.bin");
    std::fs::create_dir_all(inputs.parent().expect("has a parent"))?;
    let blob = std::fs::read(&model)?;
    let m = snn_core::Model::from_bytes(&blob)
        .map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    // One blank input: the size check is about the model, not the test vectors.
    std::fs::write(&inputs, vec![0u8; m.input_len()])?;
    let embed = Embed {
        model: model.clone(),
        inputs,
        spikes: None,
        steps: 1,
        seed: 0,
        exit: snn_core::EarlyExit::Never,
    };
    let (target, name) = if args.netduino {
        (
            Target::Qemu(Core::Netduino),
            "netduinoplus2 (STM32F405) firmware",
        )
    } else {
        (Target::Board, "board (NUCLEO-F429ZI) firmware")
    };
    println!("{name}");
    let elf = match firmware::build(target, &embed) {
        Ok(e) => e,
        Err(e) => bail!("the board firmware does not link (over budget?): {e:#}"),
    };
    let (mut flash, mut ram) = (0u64, 0u64);
    println!(
        "{:<16} {:>10} {:>6} {:>6}",
        "section", "bytes", "flash", "ram"
    );
    for (name, size, f, r) in firmware::sections(&elf)? {
        println!(
            "{name:<16} {size:>10} {:>6} {:>6}",
            if f { "x" } else { "" },
            if r { "x" } else { "" }
        );
        flash += if f { size } else { 0 };
        ram += if r { size } else { 0 };
    }
    println!(
        "\nmodel {} ({} bytes, {} bytes of state)",
        model.display(),
        blob.len(),
        m.state_bytes()
    );
    println!(
        "flash {flash} / {FLASH_BUDGET} bytes ({:.1}%)",
        100.0 * flash as f64 / FLASH_BUDGET as f64
    );
    println!(
        "RAM   {ram} / {RAM_BUDGET} bytes ({:.1}%), stack gets the remaining {} bytes",
        100.0 * ram as f64 / RAM_BUDGET as f64,
        RAM_BUDGET.saturating_sub(ram)
    );
    if flash > FLASH_BUDGET || ram > RAM_BUDGET {
        bail!("over the STM32F4-class budget");
    }
    Ok(())
}

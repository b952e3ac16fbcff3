//! `cargo xtask pareto`: accuracy against instructions per inference on the
//! Cortex-M4F for the committed models at their settings, beside the int8 CMSIS-NN
//! networks. Each setting runs in QEMU (instructions per inference over 20 MNIST test
//! images, RAM = statics + stack peak, bit-exact with the host or the run fails); then
//! `snn-train pareto` scores each on the test set and writes the table and the plot.

use anyhow::Result;
use snn_core::EarlyExit;

use crate::cores::Core;
use crate::flags::{ParetoArgs, QemuArgs};
use crate::project_root;

/// The settings of the view: model file, time steps, early-exit rule.
const SETTINGS: [(&str, u32, EarlyExit); 9] = [
    (
        "models/mnist-mcu.snn",
        12,
        EarlyExit::Margin { per_step: 64 },
    ),
    (
        "models/mnist-mcu.snn",
        12,
        EarlyExit::Margin { per_step: 32 },
    ),
    ("models/mnist-mcu.snn", 12, EarlyExit::Never),
    ("models/mnist-mcu.snn", 6, EarlyExit::Never),
    ("models/mnist-mcu.snn", 4, EarlyExit::Never),
    ("models/lenet-mnist-subset.snn", 20, EarlyExit::Never),
    (
        "models/lenet-mnist-subset.snn",
        20,
        EarlyExit::Margin { per_step: 128 },
    ),
    ("models/lenet-mnist.snn", 20, EarlyExit::Never),
    (
        "models/lenet-mnist.snn",
        20,
        EarlyExit::Margin { per_step: 32 },
    ),
];

pub fn run(args: &ParetoArgs) -> Result<()> {
    let root = project_root();
    let out = root.join("target/pareto");
    std::fs::create_dir_all(&out)?;
    let mut device = Vec::new();
    for (model, steps, rule) in SETTINGS {
        println!("== {model}, T = {steps}, early exit {rule}");
        let r = crate::qemu::run_report(&QemuArgs {
            core: Core::M4,
            model: Some(root.join(model)),
            steps: Some(steps),
            early_exit: Some(rule),
            ..QemuArgs::default_lenet()
        })?;
        device.push(serde_json::json!({
            "model": root.join(model),
            "steps": steps,
            "early_exit": rule.to_string(),
            "instructions": r.instructions_per_inference,
            "ram": r.ram as u64 + r.stack_peak,
        }));
    }
    let path = out.join("device.json");
    std::fs::write(&path, serde_json::to_string_pretty(&device)?)?;
    let mut pass = vec![
        "--device".to_string(),
        path.display().to_string(),
        "--images".into(),
        args.images.to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    if let Some(dir) = &args.data_dir {
        pass.extend(["--data-dir".into(), dir.display().to_string()]);
    }
    crate::trainer::run_trainer("pareto", &pass)
}

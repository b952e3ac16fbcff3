//! The Pareto view of the device trade-off: accuracy against instructions per
//! inference on a Cortex-M4F, for a set of models and settings, beside the int8
//! CMSIS-NN networks a user would otherwise deploy.
//!
//! `cargo xtask pareto` measures each setting in QEMU (instructions per inference,
//! RAM) and writes them as [`DevicePoint`]s; `snn-train pareto` adds the fixed-point
//! accuracy of each on the test set, prints the table, and writes `pareto.md`,
//! `pareto.json` and `pareto.png`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use snn_core::{EarlyExit, Model};

use crate::data::Dataset;

/// One setting measured on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevicePoint {
    /// The model file.
    pub model: PathBuf,
    /// Time steps `T`.
    pub steps: u32,
    /// Early-exit rule (`never`, `exact`, `margin:N`).
    pub early_exit: String,
    /// Mean instructions per inference on the Cortex-M4F (QEMU, `-icount shift=0`).
    pub instructions: u64,
    /// Bytes of RAM: statics plus the stack peak.
    pub ram: u64,
}

/// One point of the view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoPoint {
    /// What the point is (model and setting).
    pub label: String,
    /// Test accuracy (percent).
    pub accuracy: f64,
    /// Test images the accuracy is measured on.
    pub images: usize,
    /// Mean time steps run (`T` without early exit; 0 for a non-spiking network).
    pub mean_steps: f64,
    /// Instructions per inference on the Cortex-M4F.
    pub instructions: u64,
    /// RAM in bytes (statics + stack peak).
    pub ram: u64,
    /// Whether the point is an SNN of this toolkit (else a reference network).
    pub ours: bool,
}

/// The int8 CNNs built on CMSIS-NN's s8 kernels, post-training quantised the TFLite
/// way, measured on the same Cortex-M4F in QEMU on the 10,000 MNIST test images (the
/// figures of the issue "On the microcontroller, round 3"): label, accuracy,
/// instructions per inference, RAM bytes.
pub const INT8: [(&str, f64, u64, u64); 2] = [
    (
        "int8 CMSIS-NN small CNN (conv 1-8, conv 8-16, fc 784-64-10)",
        99.27,
        3_140_000,
        10_800,
    ),
    ("int8 CMSIS-NN LeNet (20/50/200)", 99.47, 12_380_000, 22_600),
];

/// Adds the fixed-point accuracy on `test` to each device point (evaluation seeds),
/// and the int8 reference points.
///
/// # Errors
/// An unreadable or invalid model, a bad early-exit rule, or a model that cannot run
/// the test images.
pub fn points(device: &[DevicePoint], test: &Dataset) -> anyhow::Result<Vec<ParetoPoint>> {
    let mut out = Vec::new();
    for d in device {
        let blob =
            std::fs::read(&d.model).map_err(|e| anyhow::anyhow!("{}: {e}", d.model.display()))?;
        let model =
            Model::from_bytes(&blob).map_err(|e| anyhow::anyhow!("{}: {e}", d.model.display()))?;
        let rule: EarlyExit = d
            .early_exit
            .parse()
            .map_err(|e| anyhow::anyhow!("{}: {e}", d.early_exit))?;
        let (accuracy, mean_steps) =
            crate::measure::early_exit::measure(&model, test, d.steps, rule)?;
        let name = d.model.file_name().map_or_else(
            || d.model.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        out.push(ParetoPoint {
            label: format!("{name}, T = {}, early exit {}", d.steps, d.early_exit),
            accuracy,
            images: test.len(),
            mean_steps,
            instructions: d.instructions,
            ram: d.ram,
            ours: true,
        });
    }
    for (label, accuracy, instructions, ram) in INT8 {
        out.push(ParetoPoint {
            label: label.into(),
            accuracy,
            images: 10_000,
            mean_steps: 0.0,
            instructions,
            ram,
            ours: false,
        });
    }
    Ok(out)
}

/// The points as a Markdown table, fewest instructions first, with the points no
/// other beats on both accuracy and instructions marked.
pub fn table(points: &[ParetoPoint]) -> String {
    let mut sorted: Vec<&ParetoPoint> = points.iter().collect();
    sorted.sort_by_key(|p| p.instructions);
    let mut s = String::from(
        "| network and setting | accuracy | images | mean steps | instructions / inference (M4F) | RAM (statics + stack) | Pareto |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for p in &sorted {
        let front = !points.iter().any(|q| {
            q.accuracy >= p.accuracy
                && q.instructions <= p.instructions
                && (q.accuracy > p.accuracy || q.instructions < p.instructions)
        });
        s.push_str(&format!(
            "| {} | {:.2}% | {} | {} | {:.2} M | {:.1} KB | {} |\n",
            p.label,
            p.accuracy,
            p.images,
            if p.ours {
                format!("{:.2}", p.mean_steps)
            } else {
                "-".into()
            },
            p.instructions as f64 / 1e6,
            p.ram as f64 / 1000.0,
            if front { "yes" } else { "" }
        ));
    }
    s
}

/// Accuracy against millions of instructions per inference: one series per model of
/// ours (its settings, by instructions) and one for the int8 networks.
///
/// # Errors
/// A plotting error.
pub fn plot(points: &[ParetoPoint], path: &Path) -> Result<(), crate::measure::plots::PlotError> {
    let group = |p: &ParetoPoint| match p.ours {
        true => p.label.split(',').next().unwrap_or_default().to_string(),
        false => "int8 CNNs (CMSIS-NN)".to_string(),
    };
    let mut names: Vec<String> = Vec::new();
    for p in points {
        if !names.contains(&group(p)) {
            names.push(group(p));
        }
    }
    let series: Vec<(&str, Vec<(f64, f64)>)> = names
        .iter()
        .map(|name| {
            let mut v: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| group(p) == *name)
                .map(|p| (p.instructions as f64 / 1e6, p.accuracy))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            (name.as_str(), v)
        })
        .collect();
    crate::measure::plots::lines(
        "MNIST on a Cortex-M4F: accuracy against instructions per inference",
        "million instructions per inference (QEMU, -icount shift=0)",
        "test accuracy (%)",
        &series,
        path,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(accuracy: f64, instructions: u64) -> ParetoPoint {
        ParetoPoint {
            label: format!("{accuracy}/{instructions}"),
            accuracy,
            images: 1,
            mean_steps: 1.0,
            instructions,
            ram: 1,
            ours: true,
        }
    }

    #[test]
    fn the_table_marks_the_front_and_sorts_by_instructions() {
        let t = table(&[point(99.0, 5), point(98.0, 6), point(99.5, 9)]);
        let rows: Vec<&str> = t.lines().skip(2).collect();
        assert!(rows[0].starts_with("| 99/5 ") && rows[0].ends_with("| yes |"));
        assert!(
            rows[1].starts_with("| 98/6 ") && rows[1].ends_with("|  |"),
            "{t}"
        );
        assert!(rows[2].starts_with("| 99.5/9 ") && rows[2].ends_with("| yes |"));
    }
}

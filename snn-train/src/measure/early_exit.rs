//! Measuring early exit ([`snn_core::EarlyExit`]) on a dataset, and calibrating the
//! margin rule.
//!
//! The exact rule needs no calibration: its class is always the full window's, and
//! only the steps it saves are measured. The margin rule stops once the leader is
//! `per_step` score units per remaining step ahead; [`calibrate`] picks the smallest
//! `per_step` of a doubling sweep whose class agrees with the full window on at least
//! [`CALIBRATION_AGREEMENT`] of the calibration images (training images, never the
//! test set), and the test set then measures what that costs in accuracy.

use serde::Serialize;
use snn_core::{EarlyExit, Model, RunError};

use crate::data::Dataset;
use crate::exec::par;
use crate::exec::seed::eval_seed;

/// Share of calibration images on which the calibrated margin rule must give the
/// full window's class.
pub const CALIBRATION_AGREEMENT: f64 = 0.999;

/// The margins tried by [`calibrate`] and plotted by `analyze`: 1, 2, 4, ... 4096
/// score units per remaining step.
pub fn margin_sweep() -> Vec<u32> {
    (0..13).map(|k| 1 << k).collect()
}

/// One rule measured on a dataset.
#[derive(Debug, Clone, Serialize)]
pub struct ExitPoint {
    /// `never`, `exact` or `margin`.
    pub rule: String,
    /// The margin rule's score units per remaining step.
    pub per_step: Option<u32>,
    /// Accuracy (percent).
    pub accuracy: f64,
    /// Mean time steps run per image.
    pub mean_steps: f64,
    /// Share (percent) of images whose class equals the full window's.
    pub agreement: f64,
}

/// Name of a rule in reports.
pub fn rule_name(rule: EarlyExit) -> &'static str {
    match rule {
        EarlyExit::Never => "never",
        EarlyExit::Exact => "exact",
        EarlyExit::Margin { .. } => "margin",
    }
}

/// Classes and steps of every image of `data` under `rule` (evaluation seeds).
fn run(
    model: &Model<'_>,
    data: &Dataset,
    steps: u32,
    rule: EarlyExit,
) -> Result<Vec<(u16, u32)>, RunError> {
    let idx: Vec<usize> = (0..data.len()).collect();
    let chunks = par::map_chunks(&idx, 8, |_, chunk| {
        let mut state = vec![0u32; model.state_words()];
        chunk
            .iter()
            .map(|&i| {
                model
                    .classify_until(&mut state, data.image(i), eval_seed(i), steps, rule)
                    .map(|r| (r.class, r.steps))
            })
            .collect::<Result<Vec<_>, RunError>>()
    });
    let mut out = Vec::with_capacity(data.len());
    for c in chunks {
        out.extend(c?);
    }
    Ok(out)
}

/// Measures `rule` against the full window's classes `full`.
fn point(
    model: &Model<'_>,
    data: &Dataset,
    steps: u32,
    rule: EarlyExit,
    full: &[(u16, u32)],
) -> Result<ExitPoint, RunError> {
    let got = run(model, data, steps, rule)?;
    let n = got.len().max(1) as f64;
    let correct = got
        .iter()
        .zip(&data.labels)
        .filter(|((c, _), &l)| usize::from(*c) == usize::from(l))
        .count();
    let same = got.iter().zip(full).filter(|(a, b)| a.0 == b.0).count();
    Ok(ExitPoint {
        rule: rule_name(rule).into(),
        per_step: match rule {
            EarlyExit::Margin { per_step } => Some(per_step),
            _ => None,
        },
        accuracy: 100.0 * correct as f64 / n,
        mean_steps: got.iter().map(|r| f64::from(r.1)).sum::<f64>() / n,
        agreement: 100.0 * same as f64 / n,
    })
}

/// Early exit measured on a test set.
#[derive(Debug, Clone, Serialize)]
pub struct EarlyExitReport {
    /// Time steps of the full window.
    pub steps: u32,
    /// The full window.
    pub never: ExitPoint,
    /// The exact rule.
    pub exact: ExitPoint,
    /// The margin rule for each value of [`margin_sweep`].
    pub margins: Vec<ExitPoint>,
    /// The calibrated margin ([`calibrate`]) and its measurement, when calibration
    /// images were given and one value of the sweep qualified.
    pub calibrated: Option<ExitPoint>,
}

/// The smallest margin of [`margin_sweep`] whose class agrees with the full window on
/// at least [`CALIBRATION_AGREEMENT`] of `calibration`, if any.
///
/// # Errors
/// A [`RunError`] when the model cannot run the images.
pub fn calibrate(
    model: &Model<'_>,
    calibration: &Dataset,
    steps: u32,
) -> Result<Option<u32>, RunError> {
    let full = run(model, calibration, steps, EarlyExit::Never)?;
    for per_step in margin_sweep() {
        let p = point(
            model,
            calibration,
            steps,
            EarlyExit::Margin { per_step },
            &full,
        )?;
        if p.agreement >= 100.0 * CALIBRATION_AGREEMENT {
            return Ok(Some(per_step));
        }
    }
    Ok(None)
}

/// Measures the full window, the exact rule and the margin sweep on `test`, and the
/// margin calibrated on `calibration` (when given).
///
/// # Errors
/// A [`RunError`] when the model cannot run the images.
pub fn report(
    model: &Model<'_>,
    test: &Dataset,
    calibration: Option<&Dataset>,
    steps: u32,
) -> Result<EarlyExitReport, RunError> {
    let full = run(model, test, steps, EarlyExit::Never)?;
    let never = point(model, test, steps, EarlyExit::Never, &full)?;
    let exact = point(model, test, steps, EarlyExit::Exact, &full)?;
    let margins = margin_sweep()
        .into_iter()
        .map(|per_step| point(model, test, steps, EarlyExit::Margin { per_step }, &full))
        .collect::<Result<Vec<_>, _>>()?;
    let calibrated = match calibration {
        Some(c) => calibrate(model, c, steps)?.and_then(|per_step| {
            margins
                .iter()
                .find(|p| p.per_step == Some(per_step))
                .cloned()
        }),
        None => None,
    };
    Ok(EarlyExitReport {
        steps,
        never,
        exact,
        margins,
        calibrated,
    })
}

/// The model at its stored deployment setting ([`Model::deployment`]) on `data`:
/// accuracy and mean steps under its early-exit rule (agreement against its own full
/// window). `None` when the model stores no deployment.
///
/// # Errors
/// A [`RunError`] when the model cannot run the images.
pub fn deployed(model: &Model<'_>, data: &Dataset) -> Result<Option<Deployed>, RunError> {
    let Some(d) = model.deployment() else {
        return Ok(None);
    };
    let full = run(model, data, d.steps, EarlyExit::Never)?;
    let p = point(model, data, d.steps, d.early_exit, &full)?;
    Ok(Some(Deployed {
        images: data.len(),
        steps: d.steps,
        early_exit: d.early_exit.to_string(),
        accuracy: p.accuracy,
        mean_steps: p.mean_steps,
    }))
}

/// Accuracy (percent) and mean steps of `model` on `data` at `steps` under `rule`
/// (evaluation seeds, all cores).
///
/// # Errors
/// A [`RunError`] when the model cannot run the images.
pub fn measure(
    model: &Model<'_>,
    data: &Dataset,
    steps: u32,
    rule: EarlyExit,
) -> Result<(f64, f64), RunError> {
    let got = run(model, data, steps, rule)?;
    let n = got.len().max(1) as f64;
    let correct = got
        .iter()
        .zip(&data.labels)
        .filter(|((c, _), &l)| usize::from(*c) == usize::from(l))
        .count();
    let mean_steps = got.iter().map(|r| f64::from(r.1)).sum::<f64>() / n;
    Ok((100.0 * correct as f64 / n, mean_steps))
}

/// A model measured at its stored deployment setting.
#[derive(Debug, Clone, Serialize)]
pub struct Deployed {
    /// Images measured.
    pub images: usize,
    /// Time steps `T`.
    pub steps: u32,
    /// The early-exit rule (`never`, `exact`, `margin:N`).
    pub early_exit: String,
    /// Accuracy (percent).
    pub accuracy: f64,
    /// Mean time steps run per image.
    pub mean_steps: f64,
}

impl std::fmt::Display for Deployed {
    /// The one line scripts read:
    /// `deployed: accuracy 99.31% on 10000 images, T = 8, early exit margin:32, mean steps 5.12`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "deployed: accuracy {:.2}% on {} images, T = {}, early exit {}, mean steps {:.2}",
            self.accuracy, self.images, self.steps, self.early_exit, self.mean_steps
        )
    }
}

/// Prints the report as a table.
pub fn print(e: &EarlyExitReport) {
    println!(
        "early exit (window T = {}): rule, accuracy, mean steps, same class as the full window",
        e.steps
    );
    let row = |name: String, p: &ExitPoint| {
        println!(
            "  {name:<22} {:>7.2}% {:>8.2} {:>8.2}%",
            p.accuracy, p.mean_steps, p.agreement
        );
    };
    row("full window".into(), &e.never);
    row("exact".into(), &e.exact);
    for p in &e.margins {
        row(format!("margin {}/step", p.per_step.unwrap_or(0)), p);
    }
    match &e.calibrated {
        Some(p) => row(
            format!("calibrated {}/step", p.per_step.unwrap_or(0)),
            p,
        ),
        None => println!("  calibrated margin: none of the sweep kept the class on 99.9% of the calibration images"),
    }
}

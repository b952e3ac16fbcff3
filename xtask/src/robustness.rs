//! `cargo xtask robustness`: the default recipe (`models/config.toml`) must learn
//! under the variations a user is likely to try, with no guard trip.
//!
//! Each cell changes one thing in the default recipe: the images inverted (dense
//! input), momentum 0.9, batch 16 or 128, T = 10 or T = 50. Each runs the release
//! trainer and must exit successfully (the guard did not stop it) with a float test
//! accuracy of at least the threshold. One more cell shows the guard: the inverted
//! images with plain SGD (the paper's step, `normalized_step = 0`) go silent, and the
//! guard must stop that run with an error naming the epoch, the batch and the silent
//! population. `--full` runs the whole
//! recipe (6 epochs on the 10,000 bundled images, 2,000 test images, threshold 90%);
//! the default is the reduced form CI runs (4,000 images, 2 epochs, 500 test images,
//! threshold 80%). The table goes to stderr and to `target/robustness/summary.md`.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::flags::RobustnessArgs;
use crate::project_root;

/// One variation of the default recipe: `(section, key, value)` settings, and what
/// must happen.
struct Cell {
    name: &'static str,
    set: &'static [(&'static str, &'static str, Value)],
    expect: Expect,
}

/// What a cell must show.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// Training finishes and reaches the threshold.
    Learns,
    /// The guard stops the run with an error naming the epoch, batch and population.
    GuardStops,
}

#[derive(Clone, Copy)]
enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
}

const CELLS: [Cell; 8] = [
    Cell {
        name: "default",
        set: &[],
        expect: Expect::Learns,
    },
    Cell {
        name: "inverted images (255 - x)",
        set: &[("data", "invert", Value::Bool(true))],
        expect: Expect::Learns,
    },
    Cell {
        name: "inverted images, plain SGD (normalized_step = 0)",
        set: &[
            ("data", "invert", Value::Bool(true)),
            ("optim", "normalized_step", Value::Float(0.0)),
        ],
        expect: Expect::GuardStops,
    },
    Cell {
        name: "momentum 0.9",
        set: &[("optim", "momentum", Value::Float(0.9))],
        expect: Expect::Learns,
    },
    Cell {
        name: "batch 16",
        set: &[("optim", "batch_size", Value::Int(16))],
        expect: Expect::Learns,
    },
    Cell {
        name: "batch 128",
        set: &[("optim", "batch_size", Value::Int(128))],
        expect: Expect::Learns,
    },
    Cell {
        name: "T = 10",
        set: &[("run", "timesteps", Value::Int(10))],
        expect: Expect::Learns,
    },
    Cell {
        name: "T = 50",
        set: &[("run", "timesteps", Value::Int(50))],
        expect: Expect::Learns,
    },
];

/// Sizes of one form of the matrix.
struct Form {
    train_limit: Option<i64>,
    test_limit: Option<i64>,
    epochs: Option<i64>,
    threshold: f64,
}

const FULL: Form = Form {
    train_limit: None,
    test_limit: None,
    epochs: None,
    threshold: 90.0,
};

const REDUCED: Form = Form {
    train_limit: Some(4000),
    test_limit: Some(500),
    epochs: Some(2),
    threshold: 80.0,
};

/// Sets `table[section][key] = value`, creating the section when needed.
fn set(table: &mut toml::Table, section: &str, key: &str, value: toml::Value) {
    let sec = table
        .entry(section)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(t) = sec {
        t.insert(key.to_string(), value);
    }
}

/// The outcome of one cell.
struct Outcome {
    accuracy: Option<f64>,
    error: Option<String>,
    seconds: f64,
}

fn run_cell(exe: &Path, config: &Path, out: &Path) -> Result<Outcome> {
    let t0 = std::time::Instant::now();
    let o = Command::new(exe)
        .current_dir(project_root())
        .args(["train", "--quiet", "--config"])
        .arg(config)
        .arg("--out")
        .arg(out)
        .output()
        .with_context(|| format!("could not run {}", exe.display()))?;
    let seconds = t0.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        let last = stderr
            .lines()
            .find(|l| l.starts_with("Error:"))
            .or(stderr.lines().last())
            .unwrap_or("no message")
            .to_string();
        return Ok(Outcome {
            accuracy: None,
            error: Some(last),
            seconds,
        });
    }
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl"))?;
    let best = metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["best_acc"].as_f64())
        .next_back()
        .context("metrics.jsonl has no epoch")?;
    Ok(Outcome {
        accuracy: Some(best),
        error: None,
        seconds,
    })
}

pub fn run(args: &RobustnessArgs) -> Result<()> {
    let form = if args.full { FULL } else { REDUCED };
    let root = project_root();
    let base_text = std::fs::read_to_string(root.join("models/config.toml"))
        .context("reading models/config.toml")?;
    let base: toml::Table = base_text.parse().context("parsing models/config.toml")?;
    let exe = crate::trainer::build_trainer()?;
    let dir = root.join("target/robustness");
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (i, cell) in CELLS.iter().enumerate() {
        let mut cfg = base.clone();
        for (sec, key, v) in [
            ("data", "train_limit", form.train_limit),
            ("data", "test_limit", form.test_limit),
            ("optim", "epochs", form.epochs),
        ] {
            if let Some(v) = v {
                set(&mut cfg, sec, key, toml::Value::Integer(v));
            }
        }
        for &(sec, key, v) in cell.set {
            let v = match v {
                Value::Bool(b) => toml::Value::Boolean(b),
                Value::Int(n) => toml::Value::Integer(n),
                Value::Float(x) => toml::Value::Float(x),
            };
            set(&mut cfg, sec, key, v);
        }
        let config = dir.join(format!("cell{i}.toml"));
        std::fs::write(&config, toml::to_string(&cfg)?)?;
        let out = dir.join(format!("cell{i}"));
        if out.exists() {
            std::fs::remove_dir_all(&out)?;
        }
        eprintln!("robustness: {} ...", cell.name);
        let o = run_cell(&exe, &config, &out)?;
        let (ok, verdict) = match (cell.expect, o.accuracy, &o.error) {
            (Expect::Learns, Some(a), _) if a >= form.threshold => (true, "learns".to_string()),
            (Expect::Learns, Some(a), _) => {
                (false, format!("below {:.0}% ({a:.2}%)", form.threshold))
            }
            (Expect::GuardStops, None, Some(e))
                if e.contains("training stopped at epoch") && e.contains("population") =>
            {
                (true, format!("goes silent; the guard stops it: {e}"))
            }
            (Expect::GuardStops, Some(a), _) => (
                false,
                format!("learned ({a:.2}%), but this cell exists to show the guard stopping a silent run"),
            ),
            (_, _, e) => (false, format!("failed: {}", e.as_deref().unwrap_or("?"))),
        };
        if !ok {
            failed.push(cell.name);
        }
        let acc = o.accuracy.map_or("-".to_string(), |a| format!("{a:.2}%"));
        eprintln!("  {acc}  {verdict}  ({:.0} s)", o.seconds);
        rows.push(format!(
            "| {} | {acc} | {verdict} | {:.0} s |",
            cell.name, o.seconds
        ));
    }
    let sizes = match form.epochs {
        Some(e) => format!(
            "reduced: {} training images, {e} epochs, {} test images",
            form.train_limit.unwrap_or(0),
            form.test_limit.unwrap_or(0)
        ),
        None => "full default recipe".to_string(),
    };
    let table = format!(
        "Default recipe (models/config.toml), one change per row; {sizes}; threshold {:.0}%.\n\n| variation | best float test accuracy | verdict | wall time |\n|---|---|---|---|\n{}\n",
        form.threshold,
        rows.join("\n")
    );
    std::fs::write(dir.join("summary.md"), &table)?;
    eprintln!("\n{table}");
    if !failed.is_empty() {
        bail!(
            "the default recipe did not behave as expected in {} cell(s): {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

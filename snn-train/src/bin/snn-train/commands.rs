//! What each `snn-train` command does with its flags: it resolves them into the
//! library's options, calls the library and prints the result.

use std::path::Path;

use anyhow::{bail, Result};
#[cfg(feature = "nir")]
use snn_train::data::{DatasetKind, EncodingSpec};
use snn_train::exec::dist::Group;
use snn_train::sim::Window;
use snn_train::train::config::TrainConfig;
use snn_train::train::setup::{load_run, Which};
use snn_train::train::{self, RunOptions};

use crate::args::*;
use crate::group::{path_bytes, path_from_bytes, RUN_DIR};

#[cfg(feature = "nir")]
pub(crate) fn import_nir_cmd(a: ImportNirArgs) -> Result<()> {
    use snn_core::format::Reset;
    use snn_train::io::nir::ImportOptions;
    let cmd = crate::nir::ImportCommand {
        input: a.file,
        out: a.out,
        options: ImportOptions {
            dt: a.dt,
            reset: a.reset.map(|r| match r {
                ResetArg::Hard => Reset::Hard,
                ResetArg::Subtract => Reset::Subtract,
            }),
            encoding: match (a.encoding, a.dataset) {
                (Some(EncodingSpec::Analog), _) => {
                    bail!("--encoding analog: NIR graphs carry spikes; choose paper or rate:G")
                }
                // Without a dataset: one channel's encoder, given to every channel.
                (Some(spec), kind) => Some(
                    kind.unwrap_or(DatasetKind::Mnist)
                        .encoding_with(spec)
                        .map_err(anyhow::Error::msg)?,
                ),
                (None, kind) => kind.map(DatasetKind::encoding),
            },
        },
        dataset: a.dataset,
        data_dir: a.data_dir,
        timesteps: a.timesteps,
        images: a.images,
    };
    let s = crate::nir::import_file(&cmd)?;
    println!("dt = {} s ({})", s.imported.dt, s.imported.dt_source);
    for line in &s.imported.layers {
        println!("  {line}");
    }
    println!(
        "wrote {} ({} bytes)",
        cmd.out.display(),
        s.imported.blob.len()
    );
    if let Some((acc, n, kind)) = s.score {
        println!(
            "fixed-point accuracy {acc:.2}% on {n} {} test images at T = {}",
            kind.name(),
            cmd.scored_steps()
        );
    }
    Ok(())
}

#[cfg(feature = "nir")]
pub(crate) fn export_nir_cmd(a: ExportNirArgs) -> Result<()> {
    let (nodes, edges) = snn_train::io::nir::export_file(&a.source, &a.out, a.dt)?;
    println!(
        "wrote {} ({nodes} nodes, {edges} edges, dt = {} s)",
        a.out.display(),
        a.dt
    );
    Ok(())
}

pub(crate) fn train_cmd(a: TrainArgs, group: &dyn Group) -> Result<()> {
    let root = group.is_root();
    let opts = RunOptions {
        progress: !a.quiet && root,
        resume: a.resume.is_some(),
        overrides: train::ResumeOverrides {
            lr: a.lr,
            epochs: a.epochs,
            threads: a.threads,
            activity: a.activity.clone(),
            qat_epochs: a.qat_epochs,
        },
        stop_after: None,
    };
    if let Some(dir) = &a.resume {
        let _ = RUN_DIR.set(dir.clone());
        let s = train::run_in(group, &TrainConfig::default(), dir, &opts)?;
        return if root { report(&s, dir) } else { Ok(()) };
    }
    let mut cfg = match &a.config {
        Some(p) => TrainConfig::from_file(p)?,
        None => TrainConfig::default(),
    };
    let (data, run) = (&mut cfg.data, &mut cfg.run);
    overwrite(&mut data.dataset, a.dataset);
    overwrite(&mut cfg.network.arch, a.arch);
    overwrite(&mut cfg.optim.epochs, a.epochs);
    overwrite(&mut cfg.optim.lr, a.lr);
    overwrite(&mut cfg.optim.activity, a.activity);
    overwrite(&mut cfg.optim.qat_epochs, a.qat_epochs);
    overwrite(&mut cfg.optim.grad, a.grad);
    overwrite(&mut run.timesteps, a.timesteps);
    overwrite(&mut run.threads, a.threads);
    overwrite(&mut run.seed, a.seed);
    if a.data_dir.is_some() {
        data.dir = a.data_dir;
    }
    if a.train_limit.is_some() {
        data.train_limit = a.train_limit;
    }
    if a.test_limit.is_some() {
        data.test_limit = a.test_limit;
    }
    cfg.validate()?;
    // Rank 0 names the run directory (the default holds the time) and tells the others.
    let mut name = match root {
        true => path_bytes(a.out.unwrap_or_else(|| train::default_run_dir(&cfg))),
        false => Vec::new(),
    };
    group.broadcast_bytes(0, &mut name);
    let dir = path_from_bytes(name);
    let _ = RUN_DIR.set(dir.clone());
    if root && dir.join("checkpoint_latest").exists() {
        bail!(
            "{} already holds a run; continue it with --resume {} or choose another --out",
            dir.display(),
            dir.display()
        );
    }
    let s = train::run_in(group, &cfg, &dir, &opts)?;
    if root {
        report(&s, &dir)?;
    }
    Ok(())
}

/// `*slot = v` when a flag gave `v`.
pub(crate) fn overwrite<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

pub(crate) fn report(s: &train::RunSummary, dir: &Path) -> Result<()> {
    eprintln!("run directory: {}", dir.display());
    if let (Some(a), Some(m)) = (&s.export, &s.model) {
        println!(
            "model {}  float {:.2}%  fixed-point {:.2}%  agreement {:.2}%",
            m.display(),
            a.float_accuracy,
            a.fixed_accuracy,
            a.agreement
        );
    }
    Ok(())
}

pub(crate) fn which(latest: bool) -> Which {
    if latest {
        Which::Latest
    } else {
        Which::Best
    }
}

pub(crate) fn eval_cmd(a: EvalArgs) -> Result<()> {
    if a.timesteps == Some(0) {
        bail!("--timesteps must be at least 1");
    }
    let (ck, setup) = load_run(&a.run, which(a.latest), a.data_dir)?;
    let enc = match a.encoding {
        Some(spec) => ck
            .config
            .data
            .dataset
            .encoding_with(spec)
            .map_err(anyhow::Error::msg)?,
        None => setup.enc.clone(),
    };
    let win = Window {
        net: &ck.net,
        enc: &enc,
        steps: a.timesteps.unwrap_or(ck.config.eval_steps()),
        record: false,
    };
    let acc = snn_train::exec::par::with_threads(ck.config.run.threads, || {
        snn_train::train::eval::evaluate(&win, &ck.params, &setup.test)
    })?;
    println!(
        "float test accuracy {acc:.2}% on {} images at T = {} (epoch {})",
        setup.test.len(),
        win.steps,
        ck.epochs_done
    );
    Ok(())
}

pub(crate) fn export_cmd(a: ExportArgs) -> Result<()> {
    let (ck, setup) = load_run(&a.run, which(a.latest), a.data_dir)?;
    let out = a.out.unwrap_or_else(|| a.run.join("model.snn"));
    let agreement = snn_train::exec::par::with_threads(ck.config.run.threads, || {
        train::export_checkpoint(&ck, &setup.test, &setup.enc, &out, a.membranes.choice())
    })??;
    println!(
        "model {}  float {:.2}%  fixed-point {:.2}%  agreement {:.2}%",
        out.display(),
        agreement.float_accuracy,
        agreement.fixed_accuracy,
        agreement.agreement
    );
    Ok(())
}

pub(crate) fn upgrade_cmd(a: UpgradeArgs) -> Result<()> {
    let old = std::fs::read(&a.model).map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    let deployment = a.steps.map(|steps| snn_core::format::Deployment {
        steps,
        early_exit: a.early_exit.unwrap_or_default(),
    });
    let from = snn_train::io::upgrade::version(&old).unwrap_or(0);
    let new = snn_train::io::upgrade::upgrade(&old, a.membranes.choice(), deployment)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    snn_train::exec::files::write_atomic(&a.out, &new)?;
    let m = snn_core::Model::from_bytes(&new)?;
    println!(
        "{} (format {from}) -> {} (format {}, {:?} membranes, {} bytes of state)",
        a.model.display(),
        a.out.display(),
        snn_core::format::FORMAT_VERSION,
        m.membranes(),
        m.state_bytes()
    );
    Ok(())
}

pub(crate) fn pareto_cmd(a: ParetoArgs) -> Result<()> {
    use snn_train::measure::pareto;
    let text = std::fs::read_to_string(&a.device)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.device.display()))?;
    let device: Vec<pareto::DevicePoint> =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", a.device.display()))?;
    a.dataset.require_images("snn-train pareto")?;
    let dir = snn_train::data::data_dir(a.dataset, a.data_dir.as_deref())?;
    let (_, mut test) = snn_train::data::load(a.dataset, &dir)?;
    test.truncate(a.images);
    let points = pareto::points(&device, &test)?;
    let table = pareto::table(&points);
    println!("{table}");
    std::fs::create_dir_all(&a.out)?;
    let write =
        |name: &str, bytes: &[u8]| snn_train::exec::files::write_atomic(&a.out.join(name), bytes);
    write("pareto.md", table.as_bytes())?;
    write(
        "pareto.json",
        serde_json::to_string_pretty(&points)?.as_bytes(),
    )?;
    pareto::plot(&points, &a.out.join("pareto.png"))?;
    eprintln!(
        "wrote pareto.md, pareto.json, pareto.png in {}",
        a.out.display()
    );
    Ok(())
}

pub(crate) fn analyze_cmd(a: AnalyzeArgs) -> Result<()> {
    use snn_train::measure::analysis;
    let out = analysis::run(&analysis::AnalyzeOptions {
        run: a.run,
        model: a.model,
        dataset: a.dataset,
        data_dir: a.data_dir,
        images: a.images,
        timesteps: a.timesteps,
        curve: a.curve,
        out: a.out,
        encoding: a.encoding,
    })?;
    analysis::print(&out.analysis);
    snn_train::measure::early_exit::print(&out.early_exit);
    if let Some(d) = &out.deployed {
        println!("{d}");
    }
    eprintln!("wrote {} in {}", out.written.join(", "), out.out.display());
    Ok(())
}

pub(crate) fn bench_cmd(a: BenchArgs) -> Result<()> {
    use snn_train::measure::bench;
    let opts = bench::BenchOptions {
        dataset: a.dataset,
        data_dir: a.data_dir,
        model: a.model.unwrap_or_else(bench::default_model),
        timesteps: a.timesteps,
        batches: a.batches,
        inference_only: a.inference_only,
        batch_size: a.batch_size,
        images: a.images,
        arch: a.arch,
    };
    let report = bench::run(&opts)?;
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let doc = serde_json::json!({
        "machine": { "cores": report.cores, "cpu": report.cpu, "simd": report.simd },
        "model": report.model,
        "training": report.training,
        "inference": report.inference,
    });
    snn_train::exec::files::write_atomic(&a.out, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}

//! What a run tells its user: the opening banner, the progress bar, the epoch line,
//! `metrics.jsonl`. The epoch loop hands it numbers; it decides nothing.

use crate::data::events::Binning;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::data::Dataset;
use crate::model::net::Network;
use crate::sim::activity::{compact, PopActivity};
use crate::sim::grad::GradForm;
use crate::train::calibrate::{LayerCalibration, RATE_BAND};
use crate::train::config::TrainConfig;
use crate::train::error::TrainError;
use crate::train::step::{Stats, CHUNK};

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct EpochMetrics {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f32,
    /// Mean training loss per sample.
    pub train_loss: f64,
    /// Mean cross-entropy per sample.
    pub train_ce: f64,
    /// Training accuracy (percent, on the fly).
    pub train_acc: f64,
    /// Test accuracy of the float network (percent); in a QAT epoch, of its weights
    /// on the device's `i8` grid.
    pub test_acc: f64,
    /// Whether this epoch trained on the quantised weights (`optim.qat_epochs`).
    pub qat: bool,
    /// Best test accuracy so far.
    pub best_acc: f64,
    /// Training samples per second.
    pub samples_per_sec: f64,
    /// Wall time of the epoch, seconds.
    pub seconds: f64,
    /// Spiking activity per population, averaged over the epoch's training samples.
    pub train_activity: Vec<PopActivity>,
    /// Spiking activity per population on the test pass.
    pub test_activity: Vec<PopActivity>,
}

/// The run's voice: stderr lines, an optional progress bar, and the metrics file.
#[derive(Debug)]
pub struct Reporter {
    voice: bool,
    progress: bool,
    epochs: usize,
    metrics: PathBuf,
    bar: indicatif::ProgressBar,
    names: Vec<String>,
}

impl Reporter {
    /// A reporter for a run of `epochs` epochs writing `run_dir/metrics.jsonl`.
    pub fn new(run_dir: &Path, epochs: usize, progress: bool) -> Self {
        Self {
            voice: true,
            progress,
            epochs,
            metrics: run_dir.join("metrics.jsonl"),
            bar: indicatif::ProgressBar::hidden(),
            names: Vec::new(),
        }
    }

    /// A reporter that says nothing and writes nothing (the ranks other than 0 of a
    /// data-parallel run), but still knows the population names.
    pub fn silent(epochs: usize) -> Self {
        Self {
            voice: false,
            progress: false,
            epochs,
            metrics: PathBuf::new(),
            bar: indicatif::ProgressBar::hidden(),
            names: Vec::new(),
        }
    }

    /// The population names of the telemetry (see [`Network::pop_names`]).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The banner: what is trained on what, and the memory a sample holds.
    pub fn start(&mut self, cfg: &TrainConfig, net: &Network, (train, test): (&Dataset, &Dataset)) {
        self.names = net.pop_names();
        if !self.voice {
            return;
        }
        let threads = match cfg.run.threads {
            0 => rayon::current_num_threads(),
            n => n,
        };
        eprintln!(
            "training {} on {} ({} train / {} test {}), {} weights, T = {}, {} backward, {threads} thread(s), {} kernels",
            cfg.network.describe(),
            cfg.data.dataset.name(),
            train.len(),
            test.len(),
            if train.events.is_some() { "recordings" } else { "images" },
            net.num_params(),
            cfg.run.timesteps,
            match cfg.optim.grad {
                GradForm::Code => "code-form",
                GradForm::Aggregate => "aggregate-form",
            },
            crate::sim::kernels::simd::level().name(),
        );
        if let Some(ev) = &train.events {
            let o = cfg.data.event_options();
            eprintln!(
                "events: {}x{} sensor after {}x down-sampling, {:.0} events per training sample, {} binning{}",
                ev.width,
                ev.height,
                o.downsample,
                ev.total_events() as f64 / ev.len().max(1) as f64,
                match o.binning {
                    Binning::TimeBins => "time-bins".to_string(),
                    Binning::EventBins => "event-bins".to_string(),
                    Binning::Window(us) => format!("{us} us window"),
                },
                match o.denoise_us {
                    0 => String::new(),
                    f => format!(", denoised ({f} us)"),
                },
            );
        }
        let record = cfg.optim.grad == GradForm::Code;
        eprintln!(
            "memory per sample in flight: {:.0} KiB of spikes and state, plus a {:.0} KiB gradient buffer per {CHUNK} samples",
            crate::sim::sample_bytes(net, cfg.run.timesteps, record) as f64 / 1024.0,
            crate::sim::gradient_bytes(net) as f64 / 1024.0,
        );
    }

    /// Prints one line about the run (nothing when silent).
    pub fn say(&self, line: &str) {
        if self.voice {
            eprintln!("{line}");
        }
    }

    /// Says what the calibrated initialisation did.
    pub fn calibration(&self, layers: &[LayerCalibration]) {
        if !self.voice {
            return;
        }
        let parts: Vec<String> = layers
            .iter()
            .map(|l| {
                let name = self.names.get(l.pop).map_or("?", String::as_str);
                let (lo, hi) = RATE_BAND;
                if l.scale == 1.0 && (lo..=hi).contains(&l.rate_before) {
                    format!("{name} {:.3} (kept)", l.rate_before)
                } else if l.scale == 1.0 {
                    format!(
                        "{name} {:.3} (out of band, could not be moved)",
                        l.rate_before
                    )
                } else {
                    format!(
                        "{name} {:.3} -> {:.3} (x{:.3})",
                        l.rate_before, l.rate_after, l.scale
                    )
                }
            })
            .collect();
        let (lo, hi) = RATE_BAND;
        eprintln!(
            "calibrated init (spikes/neuron/step, band {lo}-{hi}): {}",
            parts.join(", ")
        );
    }

    /// Opens the progress bar of epoch `epoch` (0-based) over `samples` samples.
    pub fn begin_epoch(&mut self, epoch: usize, samples: usize) {
        self.bar = if self.progress {
            let bar = indicatif::ProgressBar::new(samples as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "epoch {prefix} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(format!("{}/{}", epoch + 1, self.epochs));
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
    }

    /// A batch of `n` samples is done; `stats` sums the epoch so far.
    pub fn batch(&self, n: usize, stats: &Stats) {
        self.bar.inc(n as u64);
        if self.progress {
            self.bar.set_message(format!(
                "loss {:.3} acc {:.2}% | {}",
                stats.mean_loss(),
                stats.accuracy(),
                compact(&stats.activity.summary(&self.names))
            ));
        }
    }

    /// Closes the epoch: appends its metrics and prints its line.
    ///
    /// # Errors
    /// [`TrainError::Io`] when `metrics.jsonl` cannot be written.
    pub fn end_epoch(&self, m: &EpochMetrics, best_epoch: usize) -> Result<(), TrainError> {
        self.bar.finish_and_clear();
        if !self.voice {
            return Ok(());
        }
        let line = serde_json::to_string(m).expect("metrics are plain numbers");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.metrics)
            .map_err(TrainError::io(&self.metrics))?;
        writeln!(f, "{line}").map_err(TrainError::io(&self.metrics))?;
        eprintln!(
            "epoch {:>3}/{}  loss {:.4}  train {:.2}%  test {:.2}%{}  best {:.2}% (epoch {best_epoch})  {:.0} samples/s  {:.0}s\n          spikes/neuron/step / silent: {}",
            m.epoch, self.epochs, m.train_loss, m.train_acc, m.test_acc,
            if m.qat { " (i8 weights)" } else { "" },
            m.best_acc, m.samples_per_sec, m.seconds,
            compact(&m.train_activity)
        );
        Ok(())
    }
}

//! `cargo xtask qemu`: run a model on the emulated Cortex-M4F and check it bit for bit
//! against `snn-core` on the host.
//!
//! Produces the inputs and the host's expected results, builds the firmware with them
//! embedded, runs QEMU (mps2-an386, `-icount shift=0`) under a timeout, decodes the
//! defmt stream with the `defmt-decoder` library, compares every class, score vector
//! and spike count, prints a table and a summary, and fails on any mismatch.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use snn_core::{Classification, Model};

use crate::firmware::{self, Embed, Target};
use crate::flags::QemuArgs;
use crate::project_root;

/// SysTick ticks per guest instruction on mps2-an386 at `-icount shift=0`.
const INSTRUCTIONS_PER_TICK: u64 = 40;

/// One decoded result line of the firmware.
#[derive(Debug, Default, Clone)]
struct DeviceResult {
    class: u16,
    ok: bool,
    ticks: u64,
    events: u64,
    input_spikes: u32,
    scores: Vec<i32>,
    spikes: Vec<u32>,
}

/// The inputs to embed, their labels when known, and where they were written.
pub fn inputs(
    args: &QemuArgs,
    model: &Model,
    out_dir: &Path,
) -> Result<(PathBuf, Vec<Option<u8>>)> {
    let path = out_dir.join("inputs.bin");
    let n_in = model.input_len();
    if let Some(p) = &args.inputs {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        if bytes.is_empty() || bytes.len() % n_in != 0 {
            bail!(
                "{}: {} bytes is not a whole number of {n_in}-pixel images",
                p.display(),
                bytes.len()
            );
        }
        let n = (bytes.len() / n_in).min(args.samples);
        std::fs::write(&path, &bytes[..n * n_in])?;
        return Ok((path, vec![None; n]));
    }
    let s = model.input_shape();
    if (s.channels, s.height, s.width) != (1, 28, 28) {
        bail!(
            "the model takes {}x{}x{} inputs: pass --inputs FILE (raw HWC bytes)",
            s.height,
            s.width,
            s.channels
        );
    }
    let kind = snn_train::data::DatasetKind::MnistSubset;
    let (_, test) = snn_train::data::load(kind, &snn_train::data::bundled_dir())?;
    let n = args.samples.min(test.len());
    std::fs::write(&path, &test.images[..n * n_in])?;
    Ok((path, test.labels[..n].iter().map(|&l| Some(l)).collect()))
}

fn host_results(
    model: &Model,
    inputs: &[u8],
    seed: u64,
    steps: u32,
) -> Result<Vec<Classification>> {
    let mut state = vec![0u32; model.state_words()];
    inputs
        .chunks(model.input_len())
        .enumerate()
        .map(|(i, img)| Ok(model.classify(&mut state, img, seed + i as u64, steps)?))
        .collect()
}

/// Runs QEMU on `elf` and returns (exit code, decoded log lines).
fn run_qemu(elf: &Path, timeout_s: u64) -> Result<(i32, Vec<String>)> {
    let which = Command::new("qemu-system-arm").arg("--version").output();
    if which.is_err() {
        bail!("qemu-system-arm not found: install it (Debian: apt-get install qemu-system-arm)");
    }
    let out = Command::new("timeout")
        .arg(timeout_s.to_string())
        .arg("qemu-system-arm")
        .args([
            "-machine",
            "mps2-an386",
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "none",
        ])
        .args([
            "-semihosting-config",
            "enable=on,target=native",
            "-icount",
            "shift=0",
            "-kernel",
        ])
        .arg(elf)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .context("running qemu-system-arm")?;
    let code = out.status.code().unwrap_or(-1);
    let bytes = std::fs::read(elf)?;
    let table = defmt_decoder::Table::parse(&bytes)
        .map_err(|e| anyhow::anyhow!("reading defmt table: {e}"))?
        .context("the firmware has no .defmt section")?;
    let mut decoder = table.new_stream_decoder();
    decoder.received(&out.stdout);
    let mut lines = Vec::new();
    loop {
        match decoder.decode() {
            Ok(frame) => lines.push(frame.display_message().to_string()),
            Err(defmt_decoder::DecodeError::UnexpectedEof) => break,
            Err(defmt_decoder::DecodeError::Malformed) => bail!("malformed defmt stream from QEMU"),
        }
    }
    Ok((code, lines))
}

fn field<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// `[1, -2, 3]` (defmt's slice display) to numbers.
fn list<T: std::str::FromStr>(s: &str) -> Vec<T> {
    s.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

fn parse(lines: &[String], n: usize) -> Vec<DeviceResult> {
    let mut out = vec![DeviceResult::default(); n];
    for l in lines {
        let mut words = l.splitn(3, ' ');
        let (tag, idx, rest) = (words.next(), words.next(), words.next().unwrap_or(""));
        let Some(i) = idx.and_then(|v| v.parse::<usize>().ok()).filter(|&i| i < n) else {
            continue;
        };
        match tag {
            Some("CASE") => {
                let r = &mut out[i];
                r.class = field(rest, "class").unwrap_or(u16::MAX);
                r.ok = field(rest, "ok").unwrap_or(false);
                r.ticks = field(rest, "ticks").unwrap_or(0);
                r.events = field(rest, "events").unwrap_or(0);
                r.input_spikes = field(rest, "input_spikes").unwrap_or(0);
            }
            Some("SCORES") => out[i].scores = list(rest),
            Some("SPIKES") => out[i].spikes = list(rest),
            _ => {}
        }
    }
    out
}

/// The figures of one QEMU run.
#[derive(Debug, Clone)]
pub struct Report {
    pub model: String,
    pub inputs: usize,
    pub steps: u32,
    pub instructions_per_inference: u64,
    pub instructions_per_event: f64,
    pub events_per_inference: u64,
}

pub fn run(args: &QemuArgs) -> Result<()> {
    run_report(args).map(|_| ())
}

/// Runs the check and returns its figures.
pub fn run_report(args: &QemuArgs) -> Result<Report> {
    let model_path = args
        .model
        .clone()
        .unwrap_or_else(|| project_root().join("models/lenet-mnist-subset.snn"));
    let blob =
        std::fs::read(&model_path).with_context(|| format!("reading {}", model_path.display()))?;
    let model =
        Model::from_bytes(&blob).map_err(|e| anyhow::anyhow!("{}: {e}", model_path.display()))?;
    let out_dir = project_root().join("target/qemu");
    std::fs::create_dir_all(&out_dir)?;
    let (inputs_path, labels) = inputs(args, &model, &out_dir)?;
    let inputs = std::fs::read(&inputs_path)?;
    let host = host_results(&model, &inputs, args.seed, args.steps)?;

    let embed = Embed {
        model: model_path.clone(),
        inputs: inputs_path,
        steps: args.steps,
        seed: args.seed,
    };
    let elf = firmware::build(Target::Qemu, &embed)?;
    let (code, lines) = run_qemu(&elf, args.timeout)?;
    for l in lines
        .iter()
        .filter(|l| l.starts_with("MODEL") || l.starts_with("MEMORY") || l.contains("rror"))
    {
        println!("{l}");
    }
    let device = parse(&lines, host.len());

    println!(
        "\n{:>4} {:>5} {:>5} {:>6} {:>6} {:>13} {:>10}",
        "#", "label", "host", "device", "equal", "instructions", "syn.events"
    );
    let (mut equal, mut correct, mut labelled) = (0usize, 0usize, 0usize);
    let (mut instr, mut events) = (0u64, 0u64);
    for (i, (h, d)) in host.iter().zip(&device).enumerate() {
        let same = d.ok
            && d.class == h.class
            && d.scores == h.scores.as_slice()
            && d.spikes == h.spikes.as_slice()
            && d.input_spikes == h.input_spikes
            && d.events == h.total_synaptic_events();
        equal += usize::from(same);
        if let Some(l) = labels[i] {
            labelled += 1;
            correct += usize::from(u16::from(l) == d.class);
        }
        let n_instr = d.ticks * INSTRUCTIONS_PER_TICK;
        instr += n_instr;
        events += d.events;
        let label = labels[i].map_or("-".to_string(), |l| l.to_string());
        println!(
            "{i:>4} {label:>5} {:>5} {:>6} {:>6} {n_instr:>13} {:>10}",
            h.class,
            d.class,
            if same { "yes" } else { "NO" },
            d.events
        );
    }
    let n = host.len() as u64;
    println!(
        "\nmodel {} ({} bytes), {} inputs, T = {}, seeds {}..",
        model_path.display(),
        blob.len(),
        n,
        args.steps,
        args.seed
    );
    println!("bit-exact agreement with snn-core on the host: {equal}/{n}");
    if labelled > 0 {
        println!(
            "accuracy on these inputs: {correct}/{labelled} ({:.1}%)",
            100.0 * correct as f64 / labelled as f64
        );
    }
    println!(
        "instructions per inference: {} (QEMU 7.2+ mps2-an386, -icount shift=0, SysTick-derived, ±40; firmware release profile, fat LTO)",
        instr / n.max(1)
    );
    if events > 0 {
        println!(
            "instructions per synaptic event: {:.2} ({} events per inference)",
            instr as f64 / events as f64,
            events / n.max(1)
        );
    }
    if code != 0 {
        bail!("the firmware exited with code {code} (1: mismatch, 2: model rejected, 3: arena too small, 101: panic, 102: HardFault, 124: timeout)");
    }
    if equal as u64 != n {
        bail!("{} of {n} results differ from the host", n - equal as u64);
    }
    Ok(Report {
        model: model_path.display().to_string(),
        inputs: host.len(),
        steps: args.steps,
        instructions_per_inference: instr / n.max(1),
        instructions_per_event: instr as f64 / events.max(1) as f64,
        events_per_inference: events / n.max(1),
    })
}

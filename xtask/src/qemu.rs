//! `cargo xtask qemu [--core m4|m7|m33|m0|netduino]`: run a model on an emulated
//! Cortex-M and check it bit for bit against `snn-core` on the host.
//!
//! Produces the inputs and the host's expected results, builds the firmware with them
//! embedded for the core's target and memory map, runs the core's QEMU machine
//! (`-icount shift=0`) under a timeout, decodes the defmt stream with the
//! `defmt-decoder` library (from semihosting, or from the USART on netduinoplus2),
//! compares every class, score vector and spike count, prints a table and a summary,
//! and fails on any mismatch. The cores and their clocks are in [`crate::cores`].
//!
//! The seeds, the report lines and the exit codes are those of
//! `snn_embedded::contract`, the same module the firmware uses: this file reads the
//! lines with `Line::parse` and explains an exit status with `ExitCode`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use snn_core::{Classification, Model};
use snn_embedded::contract::exit::ExitCode;
use snn_embedded::contract::report::{CaseLine, ExitLine, Line, ParseError};
use snn_embedded::contract::vectors::case_seed;

use crate::cores::{self, Core, Spec};
use crate::firmware::{self, Embed, Target};
use crate::flags::QemuArgs;
use crate::profile::Profile;
use crate::project_root;

/// What the firmware reported for one case (its `CASE`, `SCORES` and `SPIKES` lines).
#[derive(Debug, Default, Clone)]
struct DeviceResult {
    case: Option<CaseLine>,
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

/// The spike stream of the first `samples` test recordings of the event dataset in
/// `dir` (N-MNIST or DVS128 Gesture, told apart by their files), binned into `steps`
/// steps with the dataset's default `[data.events]` options, written to
/// `out_dir/spikes.bin`; and their labels.
fn event_stream(
    dir: &Path,
    samples: usize,
    model: &Model,
    steps: u32,
    out_dir: &Path,
) -> Result<(PathBuf, Vec<Option<u8>>)> {
    use snn_train::data::{self, events::bins, DatasetKind};
    let kind = if dir.join("trials_to_test.txt").is_file() {
        DatasetKind::DvsGesture
    } else {
        DatasetKind::Nmnist
    };
    let (_, mut test) = data::load(kind, dir)?;
    test.truncate(samples);
    let s = model.input_shape();
    if (
        usize::from(s.channels),
        usize::from(s.height),
        usize::from(s.width),
    ) != (test.channels, test.height, test.width)
    {
        bail!(
            "the model takes {}x{}x{} inputs, the {} recordings are {}",
            s.channels,
            s.height,
            s.width,
            kind.name(),
            test.shape_name()
        );
    }
    let set = test
        .events
        .as_ref()
        .context("an event dataset holds events")?;
    let mut bytes = Vec::new();
    for i in 0..set.len() {
        let words = bins::spike_words(
            &set.sample(i),
            (set.width, set.height),
            steps as usize,
            set.binning,
        );
        bytes.extend(words.iter().flat_map(|w| w.to_le_bytes()));
    }
    let path = out_dir.join("spikes.bin");
    std::fs::write(&path, bytes)?;
    Ok((path, test.labels.iter().map(|&l| Some(l)).collect()))
}

/// What `snn-core` gives on the host for each inference of a spike stream.
fn stream_results(
    model: &Model,
    stream: &[u8],
    steps: u32,
    rule: snn_core::EarlyExit,
) -> Result<Vec<Classification>> {
    use snn_embedded::stream::{classify_stream, SliceSource};
    let words: Vec<u32> = stream
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let per_case = model.input_len().div_ceil(32) * steps as usize;
    let mut source = SliceSource::new(&words);
    let (mut state, mut buf) = (
        vec![0u32; model.state_words()],
        vec![0u32; 2 * model.input_len().div_ceil(32)],
    );
    (0..words.len() / per_case)
        .map(|i| {
            classify_stream(model, &mut state, &mut source, &mut buf, steps, rule)
                .map_err(|e| anyhow::anyhow!("stream case {i}: {e}"))
        })
        .collect()
}

fn host_results(
    model: &Model,
    inputs: &[u8],
    seed: u64,
    steps: u32,
    rule: snn_core::EarlyExit,
) -> Result<Vec<Classification>> {
    let mut state = vec![0u32; model.state_words()];
    inputs
        .chunks(model.input_len())
        .enumerate()
        .map(|(i, img)| {
            Ok(model.classify_until(&mut state, img, case_seed(seed, i), steps, rule)?)
        })
        .collect()
}

/// Fails unless the 16-bit results `host` of `blob` differ from the same model's with
/// 32-bit membranes: proof that saturation happened and mattered.
fn check_saturation(
    blob: &[u8],
    host: &[Classification],
    inputs: &[u8],
    seed: u64,
    (steps, rule): (u32, snn_core::EarlyExit),
) -> Result<()> {
    let (_, payload) = snn_core::format::split_payload(blob)?;
    let mut desc = snn_core::format::decode_body(payload)?;
    if desc.membranes != snn_core::format::Membranes::I16 {
        bail!("--expect-saturation needs a model with 16-bit membranes");
    }
    desc.membranes = snn_core::format::Membranes::I32;
    let wide = Model::from_desc(&desc)?;
    let other = host_results(&wide, inputs, seed, steps, rule)?;
    let differ = host.iter().zip(&other).filter(|(a, b)| a != b).count();
    if differ == 0 {
        bail!("no saturation: the results with 32-bit membranes are the same on every input");
    }
    println!(
        "saturation: {differ}/{} inputs give other results with 32-bit membranes",
        host.len()
    );
    Ok(())
}

/// Fails early, with the fix, when QEMU is missing.
fn check_qemu() -> Result<()> {
    let which = Command::new("qemu-system-arm").arg("--version").output();
    if which.is_err() {
        bail!("qemu-system-arm not found: install it (Debian: apt-get install qemu-system-arm)");
    }
    Ok(())
}

/// The defmt table of `elf`.
fn defmt_table(elf: &Path) -> Result<defmt_decoder::Table> {
    let bytes = std::fs::read(elf)?;
    defmt_decoder::Table::parse(&bytes)
        .map_err(|e| anyhow::anyhow!("reading defmt table: {e}"))?
        .context("the firmware has no .defmt section")
}

/// Decodes every whole frame `decoder` holds into `lines`.
fn decode_frames(
    decoder: &mut dyn defmt_decoder::StreamDecoder,
    lines: &mut Vec<String>,
) -> Result<()> {
    loop {
        match decoder.decode() {
            Ok(frame) => lines.push(frame.display_message().to_string()),
            Err(defmt_decoder::DecodeError::UnexpectedEof) => return Ok(()),
            Err(defmt_decoder::DecodeError::Malformed) => bail!("malformed defmt stream from QEMU"),
        }
    }
}

/// Runs QEMU on `elf` and returns (exit code, decoded log lines); with `profile`, QEMU
/// also logs the blocks it runs, read into it as they come.
fn run_qemu(
    spec: &Spec,
    elf: &Path,
    timeout_s: u64,
    profile: Option<&mut Profile>,
) -> Result<(i32, Vec<String>)> {
    if spec.serial {
        if profile.is_some() {
            bail!("--profile needs a semihosting core: the USART board's QEMU cannot log to standard error for it");
        }
        return run_qemu_serial(spec, elf, timeout_s);
    }
    check_qemu()?;
    let mut qemu = Command::new("timeout");
    qemu.arg(timeout_s.to_string())
        .arg("qemu-system-arm")
        .args(["-machine", spec.machine])
        .args(spec.qemu_extra)
        .args(["-display", "none", "-monitor", "none", "-serial", "none"])
        .args([
            "-semihosting-config",
            "enable=on,target=native",
            "-icount",
            "shift=0",
            "-kernel",
        ])
        .arg(elf)
        .stdout(Stdio::piped());
    let (status, stdout) = match profile {
        None => {
            let out = qemu
                .stderr(Stdio::inherit())
                .output()
                .context("running qemu-system-arm")?;
            (out.status, out.stdout)
        }
        Some(profile) => run_profiled(&mut qemu, profile)?,
    };
    let code = status.code().unwrap_or(-1);
    let table = defmt_table(elf)?;
    let mut decoder = table.new_stream_decoder();
    decoder.received(&stdout);
    let mut lines = Vec::new();
    decode_frames(decoder.as_mut(), &mut lines)?;
    Ok((code, lines))
}

/// Runs `qemu` with its block log on standard error, feeding `profile` line by line
/// (other lines are QEMU's own messages, passed on); returns its status and stdout.
fn run_profiled(
    qemu: &mut Command,
    profile: &mut Profile,
) -> Result<(std::process::ExitStatus, Vec<u8>)> {
    use std::io::BufRead;
    let mut child = qemu
        .args(crate::profile::QEMU_LOG_ARGS)
        .stderr(Stdio::piped())
        .spawn()
        .context("running qemu-system-arm")?;
    let mut out = child.stdout.take().context("QEMU's stdout")?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        out.read_to_end(&mut buf).map(|_| buf)
    });
    let err = std::io::BufReader::new(child.stderr.take().context("QEMU's stderr")?);
    for line in err.lines() {
        let line = line.context("reading QEMU's log")?;
        if !profile.feed(&line) {
            eprintln!("{line}");
        }
    }
    let status = child.wait().context("waiting for qemu-system-arm")?;
    let stdout = reader
        .join()
        .map_err(|_| anyhow::anyhow!("QEMU's stdout reader panicked"))?
        .context("reading QEMU's stdout")?;
    Ok((status, stdout))
}

/// Runs board-style firmware, which reports over its first USART and cannot end QEMU:
/// QEMU connects USART1 to its stdout (`-serial stdio`, no semihosting), the stream is
/// decoded as it arrives, and QEMU is stopped after the firmware's `EXIT` line or at
/// the timeout. The exit code is the `EXIT` line's (124 on a timeout, as `timeout`
/// says, or QEMU's own status if it ended first).
fn run_qemu_serial(spec: &Spec, elf: &Path, timeout_s: u64) -> Result<(i32, Vec<String>)> {
    check_qemu()?;
    let table = defmt_table(elf)?;
    let mut child = Command::new("qemu-system-arm")
        .args(["-machine", spec.machine])
        .args(spec.qemu_extra)
        .args(["-display", "none", "-monitor", "none", "-serial", "stdio"])
        .args(["-icount", "shift=0", "-kernel"])
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("running qemu-system-arm")?;
    let mut out = child.stdout.take().context("QEMU's stdout")?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = out.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut decoder = table.new_stream_decoder();
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(timeout_s);
    let mut code = None;
    let result = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(bytes) => {
                decoder.received(&bytes);
                let seen = lines.len();
                if let Err(e) = decode_frames(decoder.as_mut(), &mut lines) {
                    break Err(e);
                }
                code = lines[seen..].iter().find_map(|l| match Line::parse(l) {
                    Ok(Line::Exit(ExitLine(c))) => Some(c.code()),
                    _ => None,
                });
                if code.is_some() {
                    break Ok(());
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                eprintln!("QEMU timed out after {timeout_s} s without an EXIT line");
                code = Some(124);
                break Ok(());
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(()),
        }
    };
    // QEMU never ends by itself here: the firmware waits after its EXIT line.
    let _ = child.kill();
    let status = child.wait().context("waiting for qemu-system-arm")?;
    let _ = reader.join();
    result?;
    Ok((code.unwrap_or(status.code().unwrap_or(-1)), lines))
}

/// Reads the decoded log: the contract's lines for cases `0..n` into results, and
/// every line outside the grammar (free-form messages, errors) and the start-up lines
/// (`MODEL`, `MEMORY`) into the lines to show, in log order.
///
/// A line with a known tag that does not parse, or does not print back identically
/// (the firmware's `defmt` formatter and the contract's `Display` disagree), is an
/// error: the two sides of the contract have drifted.
fn read_log(lines: &[String], n: usize) -> Result<(Vec<DeviceResult>, Vec<&str>)> {
    let mut out = vec![DeviceResult::default(); n];
    let mut show = Vec::new();
    for text in lines {
        let line = match Line::parse(text) {
            Ok(line) => line,
            Err(ParseError::UnknownTag) => {
                show.push(text.as_str());
                continue;
            }
            Err(e) => bail!("firmware line {text:?}: {e}"),
        };
        if line.to_string() != *text {
            bail!("firmware line {text:?} differs from the contract's form {line}");
        }
        match line {
            Line::Model(_) | Line::Memory(_) => show.push(text.as_str()),
            Line::Case(c) => {
                if let Some(r) = out.get_mut(c.case) {
                    r.case = Some(c);
                }
            }
            Line::Scores(l) => {
                if let Some(r) = out.get_mut(l.case) {
                    r.scores = l.scores.to_vec();
                }
            }
            Line::Spikes(l) => {
                if let Some(r) = out.get_mut(l.case) {
                    r.spikes = l.spikes.to_vec();
                }
            }
            Line::Summary(_) | Line::Exit(_) => {}
        }
    }
    Ok((out, show))
}

/// Why the firmware exited with `code`, for an error message.
fn exit_message(code: i32) -> String {
    match ExitCode::from_code(code) {
        Some(c) => format!("the firmware exited with code {c}"),
        None => format!(
            "the firmware exited with code {code}, which is none of the contract's ({})",
            ExitCode::legend()
        ),
    }
}

/// The figures of one QEMU run.
#[derive(Debug, Clone)]
pub struct Report {
    pub core: Core,
    /// Instructions per SysTick tick the calibration loop measured.
    pub instructions_per_tick: f64,
    /// Flash and RAM of the image as the firmware reports them (`MEMORY` line).
    pub flash: usize,
    pub ram: usize,
    /// Stack high-water mark and stack region, in bytes (`STACK` line).
    pub stack_peak: u64,
    pub stack_size: u64,
    pub model: String,
    pub inputs: usize,
    pub steps: u32,
    /// The early-exit rule, and the mean number of steps it ran.
    pub early_exit: snn_core::EarlyExit,
    pub mean_steps: f64,
    pub instructions_per_inference: u64,
    pub instructions_per_event: f64,
    pub events_per_inference: u64,
}

pub fn run(args: &QemuArgs) -> Result<()> {
    run_report(args).map(|_| ())
}

/// What a run embeds or streams and expects: the inputs' file, their labels, the
/// host's results and (for `--events`) the spike stream to read at run time.
#[allow(clippy::type_complexity)]
fn cases(
    args: &QemuArgs,
    spec: &Spec,
    (model, blob): (&Model, &[u8]),
    (steps, rule): (u32, snn_core::EarlyExit),
    out_dir: &Path,
) -> Result<(
    PathBuf,
    Vec<Option<u8>>,
    Vec<Classification>,
    Option<PathBuf>,
)> {
    Ok(match &args.events {
        Some(dir) => {
            if spec.serial {
                bail!(
                    "--events streams through semihosting: not on the USART board ({})",
                    spec.name
                );
            }
            let (path, labels) = event_stream(dir, args.samples, model, steps, out_dir)?;
            let host = stream_results(model, &std::fs::read(&path)?, steps, rule)?;
            (path.clone(), labels, host, Some(path))
        }
        None => {
            let (inputs_path, labels) = inputs(args, model, out_dir)?;
            let inputs = std::fs::read(&inputs_path)?;
            let host = host_results(model, &inputs, args.seed, steps, rule)?;
            if args.expect_saturation {
                check_saturation(blob, &host, &inputs, args.seed, (steps, rule))?;
            }
            (inputs_path, labels, host, None)
        }
    })
}

/// Runs the check and returns its figures.
pub fn run_report(args: &QemuArgs) -> Result<Report> {
    let spec = args.core.spec();
    let mut args = args.clone();
    if spec.golden_default && args.model.is_none() {
        let g = project_root().join("snn-core/tests/golden");
        args.model = Some(g.join("model.snn"));
        args.inputs.get_or_insert(g.join("inputs.bin"));
    }
    let args = &args;
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
    let (steps, rule) = args.setting(&model);
    let (inputs_path, labels, host, spikes) =
        cases(args, &spec, (&model, &blob), (steps, rule), &out_dir)?;

    let embed = Embed {
        model: model_path.clone(),
        inputs: inputs_path,
        spikes,
        steps,
        seed: args.seed,
        exit: rule,
    };
    let elf = firmware::build(Target::Qemu(args.core), &embed)?;
    let mut profile = args.profile.then(Profile::default);
    let (code, lines) = run_qemu(&spec, &elf, args.timeout, profile.as_mut())?;
    let (device, show) = read_log(&lines, host.len())?;
    let facts = log_facts(&spec, &show, code)?;
    let (flash, ram, stack, per_tick) = (facts.flash, facts.ram, facts.stack, facts.per_tick);
    let Tally {
        equal,
        correct,
        labelled,
        instr,
        events,
    } = compare_cases(&spec, &host, &device, &labels);
    let n = host.len() as u64;
    if let Some((peak, size)) = stack {
        println!(
            "\nstack: peak {peak} of {size} bytes, {} to spare (RAM: {ram} bytes of statics + the stack)",
            size.saturating_sub(peak)
        );
    }
    println!(
        "\nmodel {} ({} bytes), {} inputs, T = {}, seeds {}..",
        model_path.display(),
        blob.len(),
        n,
        steps,
        args.seed
    );
    println!(
        "core {}: {} on QEMU {} ({})",
        spec.name, spec.cpu, spec.machine, spec.target
    );
    println!("bit-exact agreement with snn-core on the host: {equal}/{n}");
    if labelled > 0 {
        println!(
            "accuracy on these inputs: {correct}/{labelled} ({:.1}%)",
            100.0 * correct as f64 / labelled as f64
        );
    }
    let mean_steps =
        host.iter().map(|r| f64::from(r.steps)).sum::<f64>() / host.len().max(1) as f64;
    println!("early exit: {rule} ({mean_steps:.2} of {steps} steps run on average)");
    println!(
        "instructions per inference: {} (QEMU 7.2+ {}, -icount shift=0, SysTick-derived, ±{}; firmware release profile, fat LTO)",
        instr / n.max(1),
        spec.machine,
        spec.quantum()
    );
    if events > 0 {
        println!(
            "instructions per synaptic event: {:.2} ({} events per inference)",
            instr as f64 / events as f64,
            events / n.max(1)
        );
    }
    if let Some(p) = profile.as_mut() {
        print!("{}", p.table(n, instr / n.max(1)));
        p.check(instr)?;
    }
    let (stack_peak, stack_size) = check_run(code, equal as u64, n, stack)?;
    Ok(Report {
        core: args.core,
        instructions_per_tick: per_tick,
        flash,
        ram,
        stack_peak,
        stack_size,
        model: model_path.display().to_string(),
        inputs: host.len(),
        steps,
        early_exit: rule,
        mean_steps,
        instructions_per_inference: instr / n.max(1),
        instructions_per_event: instr as f64 / events.max(1) as f64,
        events_per_inference: events / n.max(1),
    })
}

/// What the firmware's log says besides the cases: memory, stack, calibration.
struct LogFacts {
    flash: usize,
    ram: usize,
    stack: Option<(u64, u64)>,
    /// Instructions per SysTick tick (NaN when a failed run printed no calibration).
    per_tick: f64,
}

/// Reads the `CALIBRATE`, `STACK` and `MEMORY` lines of `show` and prints the others;
/// checks the calibration against the machine.
fn log_facts(spec: &Spec, show: &[&str], code: i32) -> Result<LogFacts> {
    let (mut calibration, mut flash, mut ram, mut stack) = (None, 0, 0, None);
    for &l in show {
        if let Some(c) = cores::calibration(l) {
            calibration = Some(c);
            continue;
        }
        if let Some(st) = cores::stack(l) {
            stack = Some(st);
            continue;
        }
        if let Ok(Line::Memory(m)) = Line::parse(l) {
            (flash, ram) = (m.flash, m.ram);
        }
        println!("{l}");
    }
    let per_tick = match calibration {
        Some((n, ticks)) => {
            let per_tick = cores::check_calibration(spec, n, ticks)?;
            println!(
                "calibration: a {n}-instruction loop read {ticks} SysTick ticks: \
                 {per_tick:.3} instructions per tick (xtask uses {} for {} at {} MHz)",
                spec.quantum(),
                spec.machine,
                spec.systick_hz as f64 / 1e6
            );
            per_tick
        }
        None if code == ExitCode::Pass.code() => {
            bail!("the firmware printed no CALIBRATE line")
        }
        None => f64::NAN,
    };
    Ok(LogFacts {
        flash,
        ram,
        stack,
        per_tick,
    })
}

/// The per-case comparison, summed.
struct Tally {
    equal: usize,
    correct: usize,
    labelled: usize,
    instr: u64,
    events: u64,
}

/// Compares each device result with the host's, prints one table row per case, and
/// sums agreement, accuracy, instructions and events.
fn compare_cases(
    spec: &Spec,
    host: &[Classification],
    device: &[DeviceResult],
    labels: &[Option<u8>],
) -> Tally {
    println!(
        "\n{:>4} {:>5} {:>5} {:>6} {:>6} {:>13} {:>10}",
        "#", "label", "host", "device", "equal", "instructions", "syn.events"
    );
    let (mut equal, mut correct, mut labelled) = (0usize, 0usize, 0usize);
    let (mut instr, mut events) = (0u64, 0u64);
    for (i, (h, d)) in host.iter().zip(device).enumerate() {
        let c = d.case.unwrap_or(CaseLine {
            case: i,
            class: u16::MAX,
            expected: h.class,
            ok: false,
            ticks: 0,
            events: 0,
            input_spikes: 0,
        });
        let same = c.ok
            && c.class == h.class
            && d.scores == h.scores.as_slice()
            && d.spikes == h.spikes.as_slice()
            && c.input_spikes == h.input_spikes
            && c.events == h.total_synaptic_events();
        equal += usize::from(same);
        if let Some(l) = labels[i] {
            labelled += 1;
            correct += usize::from(u16::from(l) == c.class);
        }
        let n_instr = spec.instructions(c.ticks);
        instr += n_instr;
        events += c.events;
        let label = labels[i].map_or("-".to_string(), |l| l.to_string());
        println!(
            "{i:>4} {label:>5} {:>5} {:>6} {:>6} {n_instr:>13} {:>10}",
            h.class,
            c.class,
            if same { "yes" } else { "NO" },
            c.events
        );
    }
    Tally {
        equal,
        correct,
        labelled,
        instr,
        events,
    }
}

/// Fails the run on a non-passing exit code, a result that differs from the host, or a
/// stack peak out of bounds; returns the stack's `(peak, size)`.
fn check_run(code: i32, equal: u64, n: u64, stack: Option<(u64, u64)>) -> Result<(u64, u64)> {
    if code != ExitCode::Pass.code() {
        bail!("{}", exit_message(code));
    }
    if equal != n {
        bail!("{} of {n} results differ from the host", n - equal);
    }
    let (stack_peak, stack_size) = stack.context("the firmware printed no STACK line")?;
    if stack_size < stack_peak + cores::STACK_SPARE_MIN {
        bail!(
            "the stack peaked at {stack_peak} of {stack_size} bytes: less than {} bytes to spare",
            cores::STACK_SPARE_MIN
        );
    }
    if stack_peak > cores::STACK_PEAK_MAX {
        bail!(
            "the stack peaked at {stack_peak} bytes, more than the {} the engine is built to stay under (docs/cores.md)",
            cores::STACK_PEAK_MAX
        );
    }
    Ok((stack_peak, stack_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_seed_wraps_instead_of_overflowing() {
        let g = project_root().join("snn-core/tests/golden");
        let blob = std::fs::read(g.join("model.snn")).unwrap();
        let model = Model::from_bytes(&blob).unwrap();
        let inputs = std::fs::read(g.join("inputs.bin")).unwrap();
        let two = &inputs[..2 * model.input_len()];
        let r = host_results(&model, two, u64::MAX, 4, snn_core::EarlyExit::Never).unwrap();
        let mut state = vec![0u32; model.state_words()];
        let second = &two[model.input_len()..];
        assert_eq!(r[1], model.classify(&mut state, second, 0, 4).unwrap());
    }

    #[test]
    fn every_exit_code_is_explained() {
        for &c in ExitCode::ALL {
            let m = exit_message(c.code());
            assert!(m.contains(c.meaning()), "{m}");
        }
        assert!(exit_message(4).contains("4 (an inference failed)"));
        let unknown = exit_message(134);
        assert!(unknown.contains("134"), "{unknown}");
        assert!(unknown.contains("4: an inference failed"), "{unknown}");
    }

    fn log(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn the_log_is_read_through_the_contract() {
        let lines = log(&[
            "MODEL bytes=1 crc=0x0000002a state_words=2 classes=2 populations=1 cases=1 steps=3",
            "case 0: wrong image size",
            "CASE 0 class=1 expected=1 ok=true ticks=5 events=6 input_spikes=7",
            "SCORES 0 [-3, 4]",
            "SPIKES 0 [9]",
            "CASE 5 class=1 expected=1 ok=true ticks=5 events=6 input_spikes=7",
            "SUMMARY cases=1 mismatches=0 ticks=5 events=6 counter=systick",
        ]);
        let (device, show) = read_log(&lines, 1).unwrap();
        assert_eq!(show, [lines[0].as_str(), lines[1].as_str()]);
        let c = device[0].case.unwrap();
        assert_eq!((c.class, c.ticks, c.events, c.input_spikes), (1, 5, 6, 7));
        assert_eq!(device[0].scores, [-3, 4]);
        assert_eq!(device[0].spikes, [9]);
    }

    #[test]
    fn a_drifted_line_is_an_error() {
        for bad in [
            "CASE 0 class=1 ok=true",
            "CASE 00 class=1 expected=1 ok=true ticks=5 events=6 input_spikes=7",
            "SCORES 0 [1,2]",
        ] {
            let e = read_log(&log(&[bad]), 1).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}

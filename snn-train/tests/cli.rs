//! The `snn-train` binary against bad arguments and bad inputs: every command
//! (`train`, `eval`, `export`, `analyze`, `bench`) runs a table of cases, and each must
//! exit non-zero with a one-line error on stderr that names the problem, and no panic
//! text. Runs the real binary (`CARGO_BIN_EXE_snn-train`) with
//! `std::process::Command`; the one run directory the cases need is trained once, on a
//! few images, and shared.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The longest a single case may run; a case that trains past this is killed and
/// reported (a bad input must be refused before any real work).
const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// The small run every config case starts from, as dotted TOML keys (`optim.epochs`)
/// of the config's sections; `toml_with` writes them in this order, without the keys
/// a case overrides.
const SMALL_RUN: &[(&str, &str)] = &[
    ("optim.epochs", "1"),
    ("run.timesteps", "2"),
    ("optim.batch_size", "4"),
    ("data.train_limit", "8"),
    ("data.test_limit", "4"),
    ("run.threads", "1"),
];

/// A TOML configuration: [`SMALL_RUN`] with `overrides` replacing or adding keys, then
/// `tail` (for example `[[network.layers]]` tables, which must come after the plain keys).
fn toml_with(overrides: &[(&str, &str)], tail: &str) -> String {
    let mut text = String::new();
    for (k, v) in SMALL_RUN {
        if !overrides.iter().any(|(o, _)| o == k) {
            text.push_str(&format!("{k} = {v}\n"));
        }
    }
    for (k, v) in overrides {
        text.push_str(&format!("{k} = {v}\n"));
    }
    text.push_str(tail);
    text
}

/// A bad configuration: overrides of [`SMALL_RUN`], a tail (`[[layers]]`), and the
/// substring the error must contain.
type ConfigCase = (
    &'static [(&'static str, &'static str)],
    String,
    &'static str,
);

/// One bad input: the arguments after the subcommand, and a substring that the first
/// line of the error must contain.
struct Case {
    what: String,
    args: Vec<OsString>,
    want: String,
}

fn case(what: &str, args: &[&dyn AsRef<OsStr>], want: &str) -> Case {
    Case {
        what: what.to_string(),
        args: args.iter().map(|a| a.as_ref().to_os_string()).collect(),
        want: want.to_string(),
    }
}

/// `base` arguments (flags, each with its value unless the next item is a flag)
/// followed by `extra`, leaving out each flag of `base` that `extra` gives again (clap
/// refuses a repeated flag, which would hide the case's real problem).
fn merge<'a>(
    base: &[&'a dyn AsRef<OsStr>],
    extra: &[&'a dyn AsRef<OsStr>],
) -> Vec<&'a dyn AsRef<OsStr>> {
    let given = |f: &OsStr| extra.iter().any(|e| e.as_ref() == f);
    let mut out = Vec::new();
    let mut i = 0;
    while i < base.len() {
        let flag = base[i].as_ref();
        let takes_value = base
            .get(i + 1)
            .is_some_and(|v| !v.as_ref().to_string_lossy().starts_with("--"));
        let n = if takes_value { 2 } else { 1 };
        if !given(flag) {
            out.extend_from_slice(&base[i..i + n]);
        }
        i += n;
    }
    out.extend_from_slice(extra);
    out
}

/// Runs `snn-train CMD ARGS` with a time limit; returns (exit code, stderr), or an
/// explanation when it ran too long.
fn run_bin(cmd: &str, args: &[OsString], cwd: &Path) -> Result<(Option<i32>, String), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_snn-train"))
        .arg(cmd)
        .args(args)
        .current_dir(cwd)
        .env_remove("SNN_DATA_DIR")
        // A user's error stays one line even with backtraces asked for.
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .env("RAYON_NUM_THREADS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start snn-train: {e}"))?;
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if t0.elapsed() > CASE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "still running after {}s (the bad input was not refused)",
                CASE_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok((status.code(), reader.join().unwrap_or_default()))
}

/// The first line of the error: the line anyhow (`Error: `) or clap (`error: `) starts
/// it with. Progress lines before it (`training ...`) are not the error.
fn error_line(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .find(|l| l.starts_with("Error: ") || l.starts_with("error: "))
}

/// Runs every case of `cmd`; prints one line per case and a summary, and fails listing
/// every case that exited zero, panicked, or did not name its problem.
fn check(cmd: &str, cases: Vec<Case>, cwd: &Path) {
    let mut failures = Vec::new();
    for c in &cases {
        let verdict = match run_bin(cmd, &c.args, cwd) {
            Err(e) => Err(e),
            Ok((code, stderr)) => {
                let first = error_line(&stderr);
                if stderr.contains("panicked at") {
                    Err(format!("panicked:\n{stderr}"))
                } else if code == Some(0) {
                    Err(format!("exited 0; stderr:\n{stderr}"))
                } else if code.is_none() || code == Some(101) {
                    Err(format!("died ({code:?}); stderr:\n{stderr}"))
                } else if stderr.trim().is_empty() {
                    Err("empty stderr".into())
                } else if !first.is_some_and(|l| l.contains(c.want.as_str())) {
                    Err(format!(
                        "error does not name the problem (want {:?}); stderr:\n{stderr}",
                        c.want
                    ))
                } else if stderr.contains("Caused by:") || stderr.contains("backtrace") {
                    Err(format!("error spans several lines; stderr:\n{stderr}"))
                } else {
                    Ok(first.unwrap_or_default().to_string())
                }
            }
        };
        match verdict {
            Ok(line) => println!("ok    {cmd} {}: {line}", c.what),
            Err(e) => {
                println!("FAIL  {cmd} {}: {e}", c.what);
                failures.push(format!("{cmd} {}: {e}", c.what));
            }
        }
    }
    println!(
        "snn-train {cmd}: {} bad inputs tried, {} refused with a clear error, {} not",
        cases.len(),
        cases.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs to `snn-train {cmd}` were not clear errors:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A trained run directory (one epoch on 16 images at T = 2), shared by every test of
/// this file; trained on first use.
fn good_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        sweep_old_runs(dir.parent().expect("in the target's tmp directory"));
        let out = Command::new(env!("CARGO_BIN_EXE_snn-train"))
            .args([
                "train",
                "--epochs",
                "1",
                "--timesteps",
                "2",
                "--train-limit",
                "16",
            ])
            .args(["--test-limit", "8", "--threads", "1", "--quiet", "--out"])
            .arg(&dir)
            .env_remove("SNN_DATA_DIR")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "training the shared run failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for f in [
            "checkpoint_best",
            "checkpoint_latest",
            "model.snn",
            "config.toml",
        ] {
            assert!(dir.join(f).is_file(), "{f} missing in the shared run");
        }
        dir
    })
}

/// Removes the shared runs of earlier test processes (a static is never dropped, so
/// each process leaves its run behind); an hour old is old enough not to be in use.
fn sweep_old_runs(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if old && e.file_name().to_string_lossy().starts_with("cli-run-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A copy of the shared run in `into/name`, with `file` replaced by `bytes`.
fn run_with(into: &Path, name: &str, file: &str, bytes: &[u8]) -> PathBuf {
    let dir = into.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(good_run()).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    std::fs::write(dir.join(file), bytes).unwrap();
    dir
}

/// The shared run's `checkpoint_best` with its first tensor shape replaced, so that
/// the tensor's byte size overflows.
fn overflowing_checkpoint() -> Vec<u8> {
    let good = std::fs::read(good_run().join("checkpoint_best")).unwrap();
    let hlen = u64::from_le_bytes(good[8..16].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&good[16..16 + hlen]).unwrap();
    header["shapes"][0] = serde_json::json!([1u64 << 62, 2]);
    let json = serde_json::to_vec(&header).unwrap();
    let mut out = good[..8].to_vec();
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&good[16 + hlen..]);
    out
}

/// Writes an MNIST-style IDX dataset: `train_n` training and `test_n` test images of
/// `train_side` and `test_side` pixels square.
fn mnist_dir(dir: &Path, train: (usize, usize), test: (usize, usize)) -> PathBuf {
    use snn_train::data::idx::encode_idx;
    std::fs::create_dir_all(dir).unwrap();
    for (split, (n, side)) in [("train", train), ("t10k", test)] {
        let pixels: Vec<u8> = (0..n * side * side).map(|i| (i * 7 % 256) as u8).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        std::fs::write(
            dir.join(format!("{split}-images-idx3-ubyte")),
            encode_idx(&[n, side, side], &pixels),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{split}-labels-idx1-ubyte")),
            encode_idx(&[n], &labels),
        )
        .unwrap();
    }
    dir.to_path_buf()
}

/// Datasets that are bad in one way each.
struct BadData {
    /// 1x32x32 images in both splits (the default model takes 1x28x28).
    wide: PathBuf,
    /// 28x28 training images, 32x32 test images.
    mismatched: PathBuf,
    /// A test split with no images.
    empty_test: PathBuf,
}

fn bad_data(tmp: &Path) -> BadData {
    BadData {
        wide: mnist_dir(&tmp.join("wide"), (2, 32), (2, 32)),
        mismatched: mnist_dir(&tmp.join("mismatched"), (2, 28), (2, 32)),
        empty_test: mnist_dir(&tmp.join("empty-test"), (2, 28), (0, 28)),
    }
}

/// A path that is not valid UTF-8 (an existing directory, so that only its name is
/// wrong).
#[cfg(unix)]
fn non_utf8_dir(tmp: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let p = tmp.join(OsStr::from_bytes(b"data-\xff\xfe"));
    mnist_dir(&p, (2, 28), (2, 28))
}

fn model_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/lenet-mnist-subset.snn")
}

/// Bad model files: (truncated, garbage).
fn bad_models(tmp: &Path) -> (PathBuf, PathBuf) {
    let good = std::fs::read(model_path()).unwrap();
    let truncated = tmp.join("truncated.snn");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let garbage = tmp.join("garbage.snn");
    std::fs::write(&garbage, b"this is not a model at all, just text").unwrap();
    (truncated, garbage)
}

/// The `[[network.layers]]` list of a network with `n` dense layers of 4 units and the output.
fn dense_layers(n: usize, units: usize) -> String {
    let mut s = String::new();
    for _ in 0..n {
        s.push_str(&format!(
            "[[network.layers]]\ntype = \"dense\"\nunits = {units}\n"
        ));
    }
    s.push_str("[[network.layers]]\ntype = \"output\"\n");
    s
}

#[test]
fn train_rejects_bad_configs_and_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let cfg = |name: &str, text: String| -> PathBuf {
        let p = t.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let out = |name: &str| t.join("runs").join(name);
    let data = bad_data(t);
    let mut cases = Vec::new();
    // (overrides of SMALL_RUN, tail, wanted substring). Files and run directories get
    // neutral names (c0.toml, r0), so a wanted key never matches a path by accident.
    let config_cases: Vec<ConfigCase> = vec![
        (
            &[("optim.epochs", "= 1")],
            String::new(),
            "line 6: extra `=`",
        ),
        (
            &[("optim.epoch", "3")],
            String::new(),
            "unknown field `epoch`",
        ),
        (&[("network.init_gain", "inf")], String::new(), "init_gain"),
        (&[("network.init_gain", "nan")], String::new(), "init_gain"),
        (&[("network.threshold", "nan")], String::new(), "threshold"),
        (&[("network.threshold", "inf")], String::new(), "threshold"),
        (
            &[("network.pool_threshold", "inf")],
            String::new(),
            "threshold",
        ),
        (&[("network.leak", "nan")], String::new(), "leak"),
        (&[("optim.lr", "nan")], String::new(), "lr"),
        (&[("optim.lr_gamma", "inf")], String::new(), "lr_gamma"),
        (
            &[("optim.weight_decay", "inf")],
            String::new(),
            "weight_decay",
        ),
        (&[("optim.momentum", "1.0")], String::new(), "momentum"),
        (&[("network.dropout", "nan")], String::new(), "dropout"),
        (&[("optim.epochs", "0")], String::new(), "epochs"),
        (&[("optim.batch_size", "0")], String::new(), "batch_size"),
        (&[("run.eval_timesteps", "0")], String::new(), "timesteps"),
        (&[], dense_layers(1, 70000), "70000"),
        (&[], dense_layers(25, 4), "24"),
    ];
    for (i, (overrides, tail, want)) in config_cases.iter().enumerate() {
        let what = match overrides.first() {
            Some((k, v)) => format!("--config with {k} = {v}"),
            None if tail.contains("70000") => "--config with a dense layer of 70000 units".into(),
            None => "--config with 26 layers".into(),
        };
        let p = cfg(&format!("c{i}.toml"), toml_with(overrides, tail));
        cases.push(case(
            &what,
            &[
                &"--config",
                &p,
                &"--quiet",
                &"--out",
                &out(&format!("r{i}")),
            ],
            want,
        ));
    }
    let small: &[&dyn AsRef<OsStr>] = &[
        &"--epochs",
        &"1",
        &"--timesteps",
        &"2",
        &"--train-limit",
        &"8",
        &"--test-limit",
        &"4",
        &"--threads",
        &"1",
        &"--quiet",
    ];
    let with_small = |what: &str, extra: &[&dyn AsRef<OsStr>], want: &str| {
        case(what, &merge(small, extra), want)
    };
    let missing = t.join("missing.toml");
    let corrupt = run_with(t, "corrupt", "checkpoint_latest", b"SNNCKPT2 garbage");
    let existing = good_run().to_path_buf();
    cases.extend([
        case(
            "--config missing.toml",
            &[&"--config", &missing],
            "missing.toml",
        ),
        with_small(
            "--timesteps 0",
            &[&"--timesteps", &"0", &"--out", &out("t0")],
            "timesteps",
        ),
        with_small(
            "--epochs 0",
            &[&"--epochs", &"0", &"--out", &out("e0")],
            "epochs",
        ),
        with_small("--epochs abc", &[&"--epochs", &"abc"], "invalid value"),
        with_small(
            "--train-limit 0",
            &[&"--train-limit", &"0", &"--out", &out("tl0")],
            "limit",
        ),
        with_small(
            "--test-limit 0",
            &[&"--test-limit", &"0", &"--out", &out("sl0")],
            "limit",
        ),
        with_small(
            "--dataset mnist, no such --data-dir",
            &[
                &"--dataset",
                &"mnist",
                &"--data-dir",
                &t.join("nowhere"),
                &"--out",
                &out("nd"),
            ],
            "dataset mnist",
        ),
        with_small(
            "--dataset mnist, train 28x28 and test 32x32",
            &[
                &"--dataset",
                &"mnist",
                &"--data-dir",
                &data.mismatched,
                &"--out",
                &out("mm"),
            ],
            "do not match",
        ),
        with_small(
            "--dataset mnist, empty test split",
            &[
                &"--dataset",
                &"mnist",
                &"--data-dir",
                &data.empty_test,
                &"--out",
                &out("et"),
            ],
            "no images in the test split",
        ),
        case(
            "--resume of no run",
            &[&"--resume", &t.join("no-run")],
            "checkpoint_latest",
        ),
        case(
            "--resume of a corrupt checkpoint",
            &[&"--resume", &corrupt],
            "not a valid checkpoint",
        ),
        with_small(
            "--out over an existing run",
            &[&"--out", &existing],
            "already holds a run",
        ),
    ]);
    #[cfg(unix)]
    {
        let bad = non_utf8_dir(t);
        cases.push(with_small(
            "--dataset mnist, non-UTF-8 --data-dir",
            &[
                &"--dataset",
                &"mnist",
                &"--data-dir",
                &bad,
                &"--out",
                &out("u8"),
            ],
            "not valid UTF-8",
        ));
        cases.push(with_small(
            "non-UTF-8 --data-dir (bundled subset)",
            &[&"--data-dir", &bad, &"--out", &out("u8b")],
            "not valid UTF-8",
        ));
    }
    check("train", cases, t);
}

#[test]
fn eval_rejects_bad_runs_and_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let good = std::fs::read(good_run().join("checkpoint_best")).unwrap();
    let garbage = run_with(t, "garbage", "checkpoint_best", b"not a checkpoint");
    let truncated = run_with(t, "truncated", "checkpoint_best", &good[..good.len() - 5]);
    let overflow = run_with(t, "overflow", "checkpoint_best", &overflowing_checkpoint());
    let no_latest = run_with(t, "no-latest", "checkpoint_best", &good);
    std::fs::remove_file(no_latest.join("checkpoint_latest")).unwrap();
    let run = good_run();
    #[allow(unused_mut)]
    let mut cases = vec![
        case("no such run", &[&t.join("no-run")], "checkpoint_best"),
        case("garbage checkpoint", &[&garbage], "not a valid checkpoint"),
        case("truncated checkpoint", &[&truncated], "truncated"),
        case(
            "checkpoint with an overflowing shape",
            &[&overflow],
            "overflow",
        ),
        case(
            "--latest without checkpoint_latest",
            &[&no_latest, &"--latest"],
            "checkpoint_latest",
        ),
        case("--timesteps 0", &[&run, &"--timesteps", &"0"], "timesteps"),
        case(
            "--timesteps abc",
            &[&run, &"--timesteps", &"abc"],
            "invalid value",
        ),
    ];
    #[cfg(unix)]
    cases.push(case(
        "non-UTF-8 --data-dir",
        &[&run, &"--data-dir", &non_utf8_dir(t)],
        "not valid UTF-8",
    ));
    check("eval", cases, t);
}

#[test]
fn export_rejects_bad_runs_and_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let good = std::fs::read(good_run().join("checkpoint_best")).unwrap();
    let garbage = run_with(t, "garbage", "checkpoint_best", b"SNNCKPT2");
    let truncated = run_with(t, "truncated", "checkpoint_best", &good[..good.len() / 2]);
    let overflow = run_with(t, "overflow", "checkpoint_best", &overflowing_checkpoint());
    let run = good_run();
    let nowhere = t.join("no-such-dir").join("model.snn");
    #[allow(unused_mut)]
    let mut cases = vec![
        case("no such run", &[&t.join("no-run")], "checkpoint_best"),
        case("garbage checkpoint", &[&garbage], "not a valid checkpoint"),
        case("truncated checkpoint", &[&truncated], "truncated"),
        case(
            "checkpoint with an overflowing shape",
            &[&overflow],
            "overflow",
        ),
        case(
            "--out in a missing directory",
            &[&run, &"--out", &nowhere],
            "no-such-dir",
        ),
    ];
    #[cfg(unix)]
    cases.push(case(
        "non-UTF-8 --data-dir",
        &[&run, &"--data-dir", &non_utf8_dir(t)],
        "not valid UTF-8",
    ));
    check("export", cases, t);
}

#[test]
fn analyze_rejects_bad_models_datasets_and_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let out = t.join("out");
    let data = bad_data(t);
    let (truncated, garbage) = bad_models(t);
    let model = model_path();
    let bad_config = run_with(t, "bad-config", "config.toml", b"epochs = = 2\n");
    let no_model = run_with(t, "no-model", "model.snn", b"");
    std::fs::remove_file(no_model.join("model.snn")).unwrap();
    let run = good_run();
    let m: &[&dyn AsRef<OsStr>] = &[&"--model", &model, &"--images", &"4"];
    let with_model = |what: &str, extra: &[&dyn AsRef<OsStr>], want: &str| {
        let mut args = merge(m, extra);
        args.extend_from_slice(&[&"--out", &out]);
        case(what, &args, want)
    };
    #[allow(unused_mut)]
    let mut cases = vec![
        with_model(
            "--timesteps 0",
            &[&"--timesteps", &"0"],
            "--timesteps must be at least 1",
        ),
        with_model(
            "--curve 0,5",
            &[&"--curve", &"0,5"],
            "--curve value must be at least 1",
        ),
        with_model(
            "--curve 5,0",
            &[&"--curve", &"5,0"],
            "--curve value must be at least 1",
        ),
        with_model("--curve ''", &[&"--curve", &""], "--curve"),
        with_model(
            "--images 0",
            &[&"--images", &"0"],
            "--images must be at least 1",
        ),
        with_model(
            "--timesteps -3",
            &[&"--timesteps", &"-3"],
            "unexpected argument",
        ),
        with_model(
            "model 1x28x28, dataset 1x32x32",
            &[&"--dataset", &"mnist", &"--data-dir", &data.wide],
            "model takes 1x28x28 inputs, dataset mnist has 1x32x32 images",
        ),
        with_model(
            "train 28x28, test 32x32",
            &[&"--dataset", &"mnist", &"--data-dir", &data.mismatched],
            "do not match",
        ),
        with_model(
            "empty test split",
            &[&"--dataset", &"mnist", &"--data-dir", &data.empty_test],
            "no images in the test split",
        ),
        with_model(
            "no such --data-dir",
            &[&"--dataset", &"mnist", &"--data-dir", &t.join("nowhere")],
            "dataset mnist",
        ),
        case(
            "truncated model blob",
            &[&"--model", &truncated, &"--out", &out],
            "truncated",
        ),
        case(
            "garbage model",
            &[&"--model", &garbage, &"--out", &out],
            "not an SNN model",
        ),
        case(
            "no such model",
            &[&"--model", &t.join("missing.snn"), &"--out", &out],
            "missing.snn",
        ),
        case(
            "no run and no model",
            &[&"--out", &out],
            "give a run directory or --model",
        ),
        case(
            "no such run",
            &[&t.join("no-run"), &"--out", &out],
            "no such run directory",
        ),
        case(
            "run with a bad config.toml",
            &[&bad_config, &"--out", &out],
            "config.toml",
        ),
        case(
            "run without model.snn",
            &[&no_model, &"--out", &out],
            "model.snn",
        ),
        case(
            "run, --timesteps 0",
            &[&run, &"--timesteps", &"0", &"--out", &out],
            "--timesteps",
        ),
    ];
    #[cfg(unix)]
    cases.push(with_model(
        "non-UTF-8 --data-dir",
        &[&"--dataset", &"mnist", &"--data-dir", &non_utf8_dir(t)],
        "not valid UTF-8",
    ));
    check("analyze", cases, t);
    assert!(
        !out.exists(),
        "a refused analysis wrote its output directory"
    );
}

#[test]
fn bench_rejects_bad_models_and_arguments() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let (truncated, garbage) = bad_models(t);
    let out = t.join("bench.json");
    let small: &[&dyn AsRef<OsStr>] = &[
        &"--timesteps",
        &"2",
        &"--batches",
        &"1",
        &"--images",
        &"2",
        &"--out",
        &out,
    ];
    let with_small = |what: &str, extra: &[&dyn AsRef<OsStr>], want: &str| {
        case(what, &merge(small, extra), want)
    };
    let cases = vec![
        with_small(
            "no such model",
            &[&"--model", &t.join("missing.snn")],
            "missing.snn",
        ),
        with_small("truncated model", &[&"--model", &truncated], "truncated"),
        with_small("garbage model", &[&"--model", &garbage], "not an SNN model"),
        with_small("--timesteps 0", &[&"--timesteps", &"0"], "timesteps"),
        with_small("--images 0", &[&"--images", &"0"], "images"),
        with_small("--batches 0", &[&"--batches", &"0"], "batches"),
        with_small("--timesteps x", &[&"--timesteps", &"x"], "invalid value"),
    ];
    check("bench", cases, t);
}

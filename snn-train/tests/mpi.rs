//! Data-parallel training over MPI (cargo feature `mpi`): `mpirun -n 2` and `-n 4` on
//! this machine give the weights of one process bit for bit, a run resumes with another
//! number of ranks, and a killed rank ends the job with an error instead of a hang.
//!
//! Needs `mpirun` (Debian: openmpi-bin); without it each test says so and passes.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use snn_train::train::checkpoint::Checkpoint;

/// LeNet on the bundled subset: 486 images in batches of 32, so the last batch holds 6
/// samples, a whole chunk and a partial one (on 4 ranks, ranks 0 and 2 get no work),
/// and momentum, so the optimiser state matters too.
const RUN: &str = r#"
[data]
train_limit = 486
test_limit = 100

[optim]
epochs = 2
batch_size = 32
momentum = 0.9
"#;

/// One MPI job at a time: they share the machine's two cores.
static JOBS: Mutex<()> = Mutex::new(());

fn mpirun() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("mpirun"))
        .find(|p| p.is_file())
}

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("run.toml");
    std::fs::write(&path, RUN).unwrap();
    path
}

const EXE: &str = env!("CARGO_BIN_EXE_snn-train");

/// `mpirun ... -n N snn-train`, ready for the subcommand and its arguments.
fn ranks_of(n: usize) -> Command {
    let mut c = Command::new(mpirun().unwrap());
    c.args([
        "--allow-run-as-root",
        "--oversubscribe",
        "--bind-to",
        "none",
    ])
    .args(["-n", &n.to_string(), EXE]);
    c
}

/// What every test starts with: `None` (after saying why) where MPI is missing, else
/// the machine to itself, a scratch directory and the run's configuration in it.
fn start() -> Option<(MutexGuard<'static, ()>, tempfile::TempDir, PathBuf)> {
    if mpirun().is_none() {
        println!("skipped: mpirun is not installed (Debian: apt install openmpi-bin)");
        return None;
    }
    let one_job = JOBS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    Some((one_job, dir, cfg))
}

/// `snn-train train ARGS` in `ranks` MPI processes (or plainly, without `mpirun`, for
/// `None`).
fn job(ranks: Option<usize>, args: &[&str]) -> Output {
    let mut cmd = match ranks {
        None => Command::new(EXE),
        Some(n) => ranks_of(n),
    };
    cmd.arg("train")
        .arg("--quiet")
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The weights, optimiser state and progress of a run's last checkpoint, as bits.
fn state(run: &Path) -> (Vec<Vec<u32>>, Vec<Vec<u32>>, usize) {
    let ck = Checkpoint::load(&run.join("checkpoint_latest")).unwrap();
    let bits = |t: &Vec<ndarray::ArrayD<f32>>| -> Vec<Vec<u32>> {
        t.iter()
            .map(|a| a.iter().map(|v| v.to_bits()).collect())
            .collect()
    };
    (bits(&ck.params), bits(&ck.sgd.velocity), ck.epochs_done)
}

/// The one-process run every MPI run is compared with.
fn reference() -> &'static (PathBuf, tempfile::TempDir) {
    static REF: OnceLock<(PathBuf, tempfile::TempDir)> = OnceLock::new();
    REF.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let out = dir.path().join("one");
        let o = job(
            None,
            &[
                "--config",
                cfg.to_str().unwrap(),
                "--threads",
                "2",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        ok(&o, "one process");
        (out, dir)
    })
}

#[test]
fn two_and_four_ranks_give_the_weights_of_one_process() {
    let Some((_one_job, dir, cfg)) = start() else {
        return;
    };
    let (one, _) = reference();
    for (ranks, threads) in [(2, "1"), (4, "1"), (3, "2")] {
        let out = dir.path().join(format!("n{ranks}"));
        let o = job(
            Some(ranks),
            &[
                "--config",
                cfg.to_str().unwrap(),
                "--threads",
                threads,
                "--out",
                out.to_str().unwrap(),
            ],
        );
        ok(&o, &format!("{ranks} ranks"));
        assert_eq!(state(&out), state(one), "{ranks} ranks: weights differ");
        assert_eq!(
            std::fs::read(out.join("model.snn")).unwrap(),
            std::fs::read(one.join("model.snn")).unwrap(),
            "{ranks} ranks: model differs"
        );
        // Only rank 0 talks: one banner, one line per epoch.
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.matches("training lenet").count(), 1, "{err}");
        assert_eq!(err.matches("epoch   2/2").count(), 1, "{err}");
        assert!(
            err.contains(&format!("data-parallel over {ranks} MPI ranks")),
            "{err}"
        );
    }
}

/// Event recordings (the N-MNIST-format sample, binned spikes with jitter and event
/// drop drawn per sample) train to the same bits on two ranks as in one process.
#[test]
fn event_data_trains_to_the_same_bits_on_two_ranks() {
    let Some((_one_job, dir, _)) = start() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cfg = root.join("configs/nmnist-sample.toml");
    let data = root.join("data/events-sample/nmnist");
    let run = |ranks: Option<usize>, name: &str| {
        let out = dir.path().join(name);
        let o = job(
            ranks,
            &[
                "--config",
                cfg.to_str().unwrap(),
                "--data-dir",
                data.to_str().unwrap(),
                "--epochs",
                "2",
                "--train-limit",
                "64",
                "--test-limit",
                "20",
                "--threads",
                "1",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        ok(&o, name);
        out
    };
    let (one, two) = (run(None, "events-one"), run(Some(2), "events-two"));
    assert_eq!(
        state(&two),
        state(&one),
        "2 ranks: weights differ on event data"
    );
    assert_eq!(
        std::fs::read(two.join("model.snn")).unwrap(),
        std::fs::read(one.join("model.snn")).unwrap()
    );
}

#[test]
fn a_run_resumes_with_another_number_of_ranks() {
    let Some((_one_job, dir, cfg)) = start() else {
        return;
    };
    let (one, _) = reference();
    let out = dir.path().join("resumed");
    let args = [
        "--config",
        cfg.to_str().unwrap(),
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    ok(&job(Some(2), &args), "first epoch on 2 ranks");
    assert_eq!(state(&out).2, 1);
    let o = job(
        Some(4),
        &[
            "--resume",
            out.to_str().unwrap(),
            "--epochs",
            "2",
            "--threads",
            "1",
        ],
    );
    ok(&o, "second epoch on 4 ranks");
    let (p, v, done) = state(&out);
    let (rp, rv, _) = state(one);
    assert_eq!(done, 2);
    assert!(
        p == rp && v == rv,
        "resumed weights differ from one process's"
    );
}

#[test]
fn a_killed_rank_ends_the_job_with_an_error() {
    let Some((_one_job, dir, _)) = start() else {
        return;
    };
    let out = dir.path().join("killed");
    let mut child = ranks_of(2)
        .args([
            "train",
            "--quiet",
            "--train-limit",
            "2000",
            "--test-limit",
            "100",
        ])
        .args(["--epochs", "20", "--threads", "1", "--out"])
        .arg(&out)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first epoch's checkpoint, then kill rank 1.
    let t0 = Instant::now();
    while !std::fs::read_to_string(out.join("metrics.jsonl")).is_ok_and(|m| !m.is_empty()) {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "no epoch finished in 300 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the job ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let rank1 = rank_pid(EXE, 1).expect("rank 1 is running");
    let killed = Instant::now();
    assert!(Command::new("kill")
        .args(["-KILL", &rank1.to_string()])
        .status()
        .unwrap()
        .success());
    // The job must end by itself, promptly, and say so.
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if killed.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the job still ran 60 s after rank 1 was killed (a hang)");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "exit status {status}");
    assert!(
        err.contains("rank 1"),
        "the error does not name the rank: {err}"
    );
    // The checkpoint rank 0 wrote is whole (written atomically) and resumes.
    let (_, _, done) = state(&out);
    assert!(done >= 1);
    let o = job(
        None,
        &[
            "--resume",
            out.to_str().unwrap(),
            "--epochs",
            &(done + 1).to_string(),
        ],
    );
    ok(&o, "resume after the kill");
    assert_eq!(state(&out).2, done + 1);
}

/// The PID of the `exe` process that Open MPI started as rank `rank`.
fn rank_pid(exe: &str, rank: usize) -> Option<u32> {
    let want = format!("OMPI_COMM_WORLD_RANK={rank}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        if !cmdline.starts_with(exe.as_bytes()) {
            return None;
        }
        let env = std::fs::read(e.path().join("environ")).ok()?;
        env.split(|&b| b == 0)
            .any(|v| v == want.as_bytes())
            .then_some(pid)
    })
}

//! Checkpoints that cannot be written or read: a configuration path that is not UTF-8
//! (the header is JSON text) and crafted files whose sizes overflow. Each is an error
//! naming the problem, never a panic.

use std::path::Path;

use snn_train::train::checkpoint::{Checkpoint, CheckpointError};
use snn_train::train::config::TrainConfig;
use snn_train::train::{self, RunOptions};

/// A one-epoch run on a few images, as TOML (dotted keys of the config's sections).
const TINY_RUN_TOML: &str = r#"
run.timesteps = 2
optim.epochs = 1
optim.batch_size = 8
data.train_limit = 16
data.test_limit = 8
"#;

/// Trains [`TINY_RUN_TOML`] into a temporary run directory and returns it with the
/// bytes of its `checkpoint_latest`.
fn tiny_checkpoint() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tiny.toml");
    std::fs::write(&p, TINY_RUN_TOML).unwrap();
    let cfg = TrainConfig::from_file(&p).unwrap();
    let run = dir.path().join("run");
    train::run(
        &cfg,
        &run,
        &RunOptions {
            stop_after: Some(1),
            ..RunOptions::default()
        },
    )
    .unwrap();
    let bytes = std::fs::read(run.join("checkpoint_latest")).unwrap();
    (dir, bytes)
}

/// Splits a checkpoint into its JSON header and tensor tail.
fn split(bytes: &[u8]) -> (serde_json::Value, &[u8]) {
    let hlen = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
    (
        serde_json::from_slice(&bytes[16..16 + hlen]).unwrap(),
        &bytes[16 + hlen..],
    )
}

fn join(header: &serde_json::Value, tail: &[u8]) -> Vec<u8> {
    let json = serde_json::to_vec(header).unwrap();
    let mut out = b"SNNCKPT2".to_vec();
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(tail);
    out
}

fn load_err(dir: &Path, bytes: &[u8]) -> String {
    let p = dir.join("crafted");
    std::fs::write(&p, bytes).unwrap();
    match Checkpoint::load(&p) {
        Ok(_) => panic!("a crafted checkpoint loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn crafted_sizes_that_overflow_are_corrupt_checkpoints() {
    let (dir, good) = tiny_checkpoint();
    let (header, tail) = split(&good);
    Checkpoint::load(&dir.path().join("run/checkpoint_latest")).unwrap();

    // A tensor of 2^62 x 2 floats: 4 * n overflows usize (wrapped before the fix).
    let mut h = header.clone();
    h["shapes"][0] = serde_json::json!([1u64 << 62, 2]);
    let e = load_err(dir.path(), &join(&h, tail));
    assert!(
        e.contains("not a valid checkpoint") && e.contains("overflow"),
        "{e}"
    );

    // Dimensions whose product alone overflows.
    let mut h = header.clone();
    h["shapes"][0] = serde_json::json!([u64::MAX, u64::MAX]);
    let e = load_err(dir.path(), &join(&h, tail));
    assert!(e.contains("overflow"), "{e}");

    // A product that is exactly 2^64 / 4 floats: wraps to 0 bytes when unchecked.
    let mut h = header.clone();
    h["shapes"][0] = serde_json::json!([1u64 << 31, 1u64 << 31]);
    let e = load_err(dir.path(), &join(&h, tail));
    assert!(e.contains("overflow"), "{e}");

    // A header length near u64::MAX.
    for hlen in [u64::MAX, u64::MAX - 15, 1 << 40] {
        let mut b = good.clone();
        b[8..16].copy_from_slice(&hlen.to_le_bytes());
        let e = load_err(dir.path(), &b);
        assert!(e.contains("truncated header"), "{hlen}: {e}");
    }

    // A shape that fits but does not match the tail.
    let mut h = header.clone();
    h["shapes"][0] = serde_json::json!([1u64 << 20, 1024]);
    let e = load_err(dir.path(), &join(&h, tail));
    assert!(e.contains("truncated tensors"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_non_utf8_data_dir_is_an_encode_error_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let (dir, _) = tiny_checkpoint();
    let mut ck = Checkpoint::load(&dir.path().join("run/checkpoint_latest")).unwrap();
    let bad = std::ffi::OsStr::from_bytes(b"/data/\xff\xfe-mnist");
    ck.config.data.dir = Some(bad.into());
    let e = ck.to_bytes().unwrap_err();
    assert!(matches!(e, CheckpointError::Encode { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("data.dir") && msg.contains("not valid UTF-8") && msg.contains("/data/"),
        "{msg}"
    );
    let target = dir.path().join("ck");
    let msg = ck.save(&target).unwrap_err().to_string();
    assert!(msg.contains("not valid UTF-8"), "{msg}");
    assert!(!target.exists(), "nothing is written");
}

#[test]
fn a_checkpoint_from_before_the_normalised_step_resumes_with_plain_sgd() {
    let (dir, bytes) = tiny_checkpoint();
    let ck = Checkpoint::from_bytes(&bytes, dir.path()).unwrap();
    assert_eq!(ck.sgd.normalized, Some(0.05), "today's default recipe");
    let (mut header, tail) = split(&bytes);
    let optim = header["config"]["optim"].as_object_mut().unwrap();
    assert!(optim.remove("normalized_step").is_some());
    let old = Checkpoint::from_bytes(&join(&header, tail), dir.path()).unwrap();
    assert_eq!(old.sgd.normalized, None);
    assert_eq!(old.config.optim.normalized_step, 0.0);
}

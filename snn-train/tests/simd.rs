//! The vector-extension levels compute the same bits: a short training run (every
//! layer kind, both backward forms, dropout and momentum) with the kernels forced to
//! the x86-64 baseline (`SNN_SIMD=baseline`) and with the best level this CPU has
//! gives byte-identical checkpoints and models. Each run's banner must name the level
//! its kernels used, so the test cannot compare a level with itself unnoticed.

use std::path::Path;
use std::process::Command;

use snn_train::sim::kernels::simd::Level;

const RUN: &str = r#"
[data]
train_limit = 64
test_limit = 16
augment_crop = true

[network]
layers = [
    { type = "conv", channels = 6, kernel = 3 },
    { type = "pool" },
    { type = "residual", channels = 6, stride = 2, shortcut = "identity" },
    { type = "residual", channels = 10, stride = 1 },
    { type = "dense", units = 24 },
    { type = "output" },
]
dropout = 0.1
reset = "subtract"

[optim]
epochs = 2
batch_size = 16
lr = 0.01
momentum = 0.9

[run]
timesteps = 6
threads = 2
"#;

/// Trains with `SNN_SIMD=simd`; returns the checkpoint and the model, after checking
/// that the run's banner names `level` as the kernels' level.
fn train(dir: &Path, config: &Path, grad: &str, simd: &str, level: Level) -> (Vec<u8>, Vec<u8>) {
    let out = dir.join(format!("{grad}-{simd}"));
    let o = Command::new(env!("CARGO_BIN_EXE_snn-train"))
        .args(["train", "--quiet", "--grad", grad, "--config"])
        .arg(config)
        .arg("--out")
        .arg(&out)
        .env("SNN_SIMD", simd)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{grad} {simd}: {stderr}");
    let banner = stderr
        .lines()
        .find(|l| l.starts_with("training "))
        .unwrap_or_else(|| panic!("{grad} {simd}: no banner in {stderr}"));
    assert!(
        banner.ends_with(&format!(", {} kernels", level.name())),
        "{grad} SNN_SIMD={simd}: expected {} kernels: {banner}",
        level.name()
    );
    (
        std::fs::read(out.join("checkpoint_latest")).unwrap(),
        std::fs::read(out.join("model.snn")).unwrap(),
    )
}

#[test]
fn baseline_and_detected_simd_give_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(&config, RUN).unwrap();
    let best = snn_train::sim::kernels::simd::available();
    if best == Level::Baseline {
        let _ = train(dir.path(), &config, "code", "baseline", Level::Baseline);
        println!("skipped: this CPU has no vector level above the x86-64 baseline to compare with");
        return;
    }
    println!("comparing the baseline kernels with {}", best.name());
    for grad in ["code", "aggregate"] {
        let base = train(dir.path(), &config, grad, "baseline", Level::Baseline);
        let fast = train(dir.path(), &config, grad, "auto", best);
        assert!(
            base.0 == fast.0,
            "{grad}: checkpoints differ between baseline and {best:?}"
        );
        assert!(
            base.1 == fast.1,
            "{grad}: models differ between baseline and {best:?}"
        );
    }
}

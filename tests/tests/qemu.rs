//! Host against device: the golden model run on the emulated Cortex-M4F through
//! `cargo xtask qemu`, which fails unless every class, score vector and spike count
//! equals the host's. Skipped, with the reason printed, where `qemu-system-arm` or the
//! thumb target is missing (`.ci/run` installs both).

use std::process::Command;

#[test]
fn golden_model_is_bit_exact_in_qemu() {
    if Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: qemu-system-arm is not installed (apt-get install qemu-system-arm)");
        return;
    }
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if !targets.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("thumbv7em-none-eabihf"))
    {
        println!("skipped: rustup target thumbv7em-none-eabihf is not installed");
        return;
    }
    let root = snn_tests::root();
    let g = root.join("snn-core/tests/golden");
    let out = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args([
            "run",
            "--quiet",
            "--manifest-path",
            "xtask/Cargo.toml",
            "--",
            "qemu",
            "--steps",
            "16",
            "--samples",
            "24",
        ])
        .arg("--model")
        .arg(g.join("model.snn"))
        .arg("--inputs")
        .arg(g.join("inputs.bin"))
        .output()
        .expect("run xtask");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "xtask qemu failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("bit-exact agreement with snn-core on the host: 24/24"),
        "{stdout}"
    );
}

//! Helpers for the workspace-level integration tests in `tests/tests/`: checks that
//! span crates (trainer export read by the engine, host against QEMU).

use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives below the root")
        .to_path_buf()
}

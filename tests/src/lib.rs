//! Shared helpers for the workspace-level integration tests in `tests/tests/`.
//!
//! The cross-crate checks (host vs fixed point, export round trips, QEMU runs) arrive
//! with the trainer and firmware issues; the golden-file check of the engine itself
//! lives in `snn-core/tests/golden.rs`.

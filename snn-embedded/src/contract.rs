//! The contract between the host and the firmware, in one place: the test-vector file
//! the host embeds, the exit codes the firmware ends with, and the report lines it
//! prints. Both sides use this module (the firmware's `build.rs` and `src/`, and
//! `cargo xtask qemu`), so a change to any of the three is one edit, checked by the
//! round-trip tests in `tests/contract.rs`.
//!
//! * [`vectors`]: the versioned, little-endian vector file (header, then one record
//!   per case: the host's expected result and the input image). [`vectors::Encoder`]
//!   writes it through a closure, [`vectors::Vectors::decode`] reads it with every
//!   length checked, returning a [`vectors::VectorError`], never panicking.
//!   [`vectors::case_seed`] is the one definition of the seed of case `i`.
//! * [`exit`]: [`exit::ExitCode`], every status a run can end with and what it means.
//! * [`report`]: the `MODEL` / `MEMORY` / `CASE` / `SCORES` / `SPIKES` / `SUMMARY` /
//!   `EXIT` lines. Each line type formats itself twice, identically: with
//!   `core::fmt::Display` and, behind the `defmt` feature, with `defmt::Format` (what
//!   the firmware logs). [`report::Line::parse`] reads the decoded text back.
//!
//! It holds no I/O and no allocation; board code, QEMU invocation and the comparison
//! table stay with their callers.

pub mod exit;
pub mod report;
pub mod vectors;

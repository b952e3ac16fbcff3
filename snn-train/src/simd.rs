//! The CPU's vector extensions for the trainer's hot kernels: detected once at run
//! time, with an environment switch that forces a lower level.
//!
//! Two kinds of kernel use the level:
//! - Long contiguous runs (the neuron update) run their portable body inside
//!   [`dispatch`], which calls it through a function compiled for the best level this
//!   CPU has (AVX-512, AVX2 with FMA, or the x86-64 baseline), so the compiler
//!   vectorises the body for that level (about 5x fewer instructions under AVX2).
//! - The synaptic kernels of [`crate::ops`] work on rows of a layer's output channels
//!   (20 or 50 floats in LeNet). Left to the compiler under AVX2 such rows ran about
//!   50% more instructions than under SSE2 (the vector body is unrolled past the row),
//!   so their row primitives are written with explicit AVX2 steps in
//!   [`crate::rows`], behind a token that only [`level`] hands out.
//!
//! The kernels keep each element's arithmetic and every summation order fixed in the
//! source (element-wise updates, 8-lane dot products with a fixed reduction tree), and
//! Rust never contracts `a * b + c` into a fused multiply-add on its own, so every
//! level computes the same bits; a test trains with the baseline and with the
//! detected level and compares the weights.
//!
//! `SNN_SIMD=baseline` (or `avx2`, `avx512`) caps the level; the level in use is
//! printed in the training banner and the benchmark results.
// The level dispatch calls `#[target_feature]` functions; each `unsafe` block says why
// the CPU has the feature.
#![allow(unsafe_code)]

use std::sync::OnceLock;

/// A vector-extension level, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// x86-64 baseline (SSE2), or any other architecture.
    Baseline,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512 (F, VL, BW) with AVX2 and FMA.
    Avx512,
}

impl Level {
    /// The name used by `SNN_SIMD`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }
}

/// The environment variable that caps the level.
pub const ENV: &str = "SNN_SIMD";

/// The best level this CPU supports.
pub fn available() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        let avx512 = avx2
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw");
        if avx512 {
            return Level::Avx512;
        }
        if avx2 {
            return Level::Avx2;
        }
    }
    Level::Baseline
}

/// The level `SNN_SIMD` asks for (`None`: unset or `auto`).
fn requested() -> Option<Level> {
    match std::env::var(ENV).ok()?.to_ascii_lowercase().as_str() {
        "baseline" | "none" | "scalar" => Some(Level::Baseline),
        "avx2" => Some(Level::Avx2),
        "avx512" => Some(Level::Avx512),
        "" | "auto" => None,
        other => {
            eprintln!("warning: {ENV}={other} is not baseline, avx2, avx512 or auto; using auto");
            None
        }
    }
}

/// The level the kernels use: the best available, capped by `SNN_SIMD`. Decided once
/// per process.
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let best = available();
        requested().map_or(best, |r| r.min(best))
    })
}

/// Runs `f` compiled for [`level`]. `f` should be `#[inline(always)]` (and what it
/// calls `#[inline]`), so that its body is compiled inside the level's function.
#[inline(always)]
pub fn dispatch<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match level() {
        // SAFETY: `level()` returns `Avx512` only when `available()` detected AVX-512
        // F/VL/BW, AVX2 and FMA on this CPU, so the features `avx512` enables exist.
        Level::Avx512 => return unsafe { avx512(f) },
        // SAFETY: `level()` returns `Avx2` only when AVX2 and FMA were detected.
        Level::Avx2 => return unsafe { avx2(f) },
        Level::Baseline => {}
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx2,fma")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

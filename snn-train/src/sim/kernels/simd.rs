//! The CPU's vector extensions for the trainer's hot kernels: detected once at run
//! time, with an environment switch that forces a lower level.
//!
//! One seam, [`run`], calls a [`Kernel`] through a function compiled for the best level
//! this CPU has (AVX-512, AVX2 with FMA, or the x86-64 baseline) and hands it that
//! level's row primitives ([`crate::sim::kernels::rows::Rows`]):
//! - Long contiguous runs (the neuron update) use no rows: [`dispatch`] runs their
//!   portable body inside the level's function, so the compiler vectorises it for
//!   that level (about 5x fewer instructions under AVX2).
//! - The synaptic kernels of [`crate::sim::kernels::ops`] work on rows of a layer's output channels
//!   (20 or 50 floats in LeNet). Left to the compiler under AVX2 such rows ran about
//!   50% more instructions than under SSE2 (the vector body is unrolled past the row),
//!   so their row primitives are written with explicit AVX2 steps in
//!   [`crate::sim::kernels::rows`], behind a token that only [`run`] hands out.
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

use crate::sim::kernels::rows::{Portable, Rows};

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

/// A kernel written once over the row primitives of a level ([`Rows`]): [`run`]
/// compiles its body for the level in use and hands it that level's rows. The one
/// seam between the kernels and the CPU's vector extensions.
pub trait Kernel {
    /// What the kernel returns.
    type Output;
    /// The kernel's body over `rows`. Implementations mark it `#[inline(always)]` (and
    /// what it calls `#[inline]`), so that it is compiled inside the level's function.
    fn run<R: Rows>(self, rows: R) -> Self::Output;
}

/// Runs kernel `k` compiled for [`level`] with that level's rows: AVX-512 or AVX2 code
/// around the explicit AVX2 rows ([`crate::sim::kernels::rows::Avx2`]), else the portable rows.
#[inline(always)]
pub fn run<K: Kernel>(k: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    match level() {
        // SAFETY: `level()` returns `Avx512` only when `available()` detected AVX-512
        // F/VL/BW, AVX2 and FMA on this CPU, so the features (and the token's) exist.
        Level::Avx512 => return unsafe { avx512(k, crate::sim::kernels::rows::Avx2::new()) },
        // SAFETY: `level()` returns `Avx2` only when AVX2 and FMA were detected.
        Level::Avx2 => return unsafe { avx2(k, crate::sim::kernels::rows::Avx2::new()) },
        Level::Baseline => {}
    }
    k.run(Portable)
}

/// Runs `f` compiled for [`level`]: a kernel that uses no rows of its own (the neuron
/// update, whose long contiguous loops the compiler vectorises for the level). `f`
/// should be `#[inline(always)]`.
#[inline(always)]
pub fn dispatch<O>(f: impl FnOnce() -> O) -> O {
    struct Body<F, O>(F, std::marker::PhantomData<O>);
    impl<F: FnOnce() -> O, O> Kernel for Body<F, O> {
        type Output = O;
        #[inline(always)]
        fn run<R: Rows>(self, _: R) -> O {
            (self.0)()
        }
    }
    run(Body(f, std::marker::PhantomData))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<K: Kernel>(k: K, rows: crate::sim::kernels::rows::Avx2) -> K::Output {
    k.run(rows)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512bw,avx2,fma")]
unsafe fn avx512<K: Kernel>(k: K, rows: crate::sim::kernels::rows::Avx2) -> K::Output {
    k.run(rows)
}

//! The row primitives of the synaptic kernels ([`crate::sim::kernels::ops`]): `y += a * x` and the
//! dot product, on rows of a layer's output channels, once for each SIMD level.
//!
//! Rows are short (20 or 50 floats in LeNet). Left to the auto-vectoriser under AVX2,
//! such rows fell into a scalar epilogue behind a 32-float unrolled body and ran about
//! 50% more instructions than under SSE2, so the AVX2 forms here are written with
//! explicit 8-lane and 4-lane steps. Every level computes the same bits as
//! [`Portable`]:
//! - [`Rows::axpy`] computes each element as `y + a * x` (a multiply, then an add: no
//!   fused multiply-add, which would round once instead of twice);
//! - [`Rows::dot`] keeps 8 lane sums over the 8-float blocks, reduces them in the
//!   fixed tree `((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7))`, then adds the
//!   tail's products one by one.
//!
//! A kernel is written once, generic over [`Rows`], and instantiated per level inside
//! a function compiled for that level (see `ops`).
// The explicit AVX2 row primitives: each `unsafe` block states its bounds and feature.
#![allow(unsafe_code)]

/// The row primitives of one SIMD level. Implementations give identical bits.
pub trait Rows: Copy {
    /// `y[i] += a * x[i]` over the common length.
    fn axpy(self, y: &mut [f32], a: f32, x: &[f32]);
    /// `sum x[i] * y[i]` over the common length, in the order the module states.
    fn dot(self, x: &[f32], y: &[f32]) -> f32;
}

/// Plain Rust, any target; the compiler vectorises it for the baseline.
#[derive(Debug, Clone, Copy)]
pub struct Portable;

impl Rows for Portable {
    #[inline(always)]
    fn axpy(self, y: &mut [f32], a: f32, x: &[f32]) {
        let n = y.len().min(x.len());
        let (y, x) = (&mut y[..n], &x[..n]);
        let mut yc = y.chunks_exact_mut(8);
        let mut xc = x.chunks_exact(8);
        for (y8, x8) in (&mut yc).zip(&mut xc) {
            for k in 0..8 {
                y8[k] += a * x8[k];
            }
        }
        for (y, x) in yc.into_remainder().iter_mut().zip(xc.remainder()) {
            *y += a * *x;
        }
    }

    #[inline(always)]
    fn dot(self, x: &[f32], y: &[f32]) -> f32 {
        let n = x.len().min(y.len());
        let (x, y) = (&x[..n], &y[..n]);
        let mut acc = [0.0f32; 8];
        let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
        let (xr, yr) = (xc.remainder(), yc.remainder());
        for (a, b) in xc.zip(yc) {
            for k in 0..8 {
                acc[k] += a[k] * b[k];
            }
        }
        let mut s =
            ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for (a, b) in xr.iter().zip(yr) {
            s += a * b;
        }
        s
    }
}

#[cfg(target_arch = "x86_64")]
pub use avx2::Avx2;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Rows;
    use std::arch::x86_64::*;

    /// AVX2 rows. A value of this type exists only where the CPU has AVX2 and FMA
    /// (`Avx2::new`, called by the SIMD seam [`crate::sim::kernels::simd::run`] only at a level
    /// that has them), which is what makes its methods' use of AVX instructions sound.
    #[derive(Debug, Clone, Copy)]
    pub struct Avx2(());

    impl Avx2 {
        /// The token.
        ///
        /// # Safety
        /// The CPU has AVX2 and FMA.
        pub(crate) unsafe fn new() -> Self {
            Self(())
        }
    }

    impl Rows for Avx2 {
        #[inline(always)]
        fn axpy(self, y: &mut [f32], a: f32, x: &[f32]) {
            // SAFETY: `self` proves AVX2 is present (see the type).
            unsafe { axpy(y, a, x) }
        }

        #[inline(always)]
        fn dot(self, x: &[f32], y: &[f32]) -> f32 {
            // SAFETY: as in `axpy`.
            unsafe { dot(x, y) }
        }
    }

    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
        let n = y.len().min(x.len());
        let (yp, xp) = (y.as_mut_ptr(), x.as_ptr());
        let a8 = _mm256_set1_ps(a);
        let mut i = 0;
        // SAFETY (all pointer accesses): `i + 8 <= n`, `i + 4 <= n` and `i < n` bound
        // each access by `n`, the length of both slices' common prefix.
        while i + 8 <= n {
            unsafe {
                let v = _mm256_add_ps(
                    _mm256_loadu_ps(yp.add(i)),
                    _mm256_mul_ps(a8, _mm256_loadu_ps(xp.add(i))),
                );
                _mm256_storeu_ps(yp.add(i), v);
            }
            i += 8;
        }
        if i + 4 <= n {
            unsafe {
                let a4 = _mm256_castps256_ps128(a8);
                let v = _mm_add_ps(
                    _mm_loadu_ps(yp.add(i)),
                    _mm_mul_ps(a4, _mm_loadu_ps(xp.add(i))),
                );
                _mm_storeu_ps(yp.add(i), v);
            }
            i += 4;
        }
        while i < n {
            unsafe { *yp.add(i) += a * *xp.add(i) };
            i += 1;
        }
    }

    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot(x: &[f32], y: &[f32]) -> f32 {
        let n = x.len().min(y.len());
        let (xp, yp) = (x.as_ptr(), y.as_ptr());
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        // SAFETY (all pointer accesses): bounded by `n` as in `axpy`.
        while i + 8 <= n {
            unsafe {
                acc = _mm256_add_ps(
                    acc,
                    _mm256_mul_ps(_mm256_loadu_ps(xp.add(i)), _mm256_loadu_ps(yp.add(i))),
                );
            }
            i += 8;
        }
        // h = (l0 + l4, l1 + l5, l2 + l6, l3 + l7), q = (h0 + h1, h2 + h3, ..), q0 + q1.
        let h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
        let q = _mm_hadd_ps(h, h);
        let mut s = _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps::<0b01>(q, q)));
        while i < n {
            unsafe { s += *xp.add(i) * *yp.add(i) };
            i += 1;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Awkward values: mixed signs and magnitudes, so any change of rounding order
    /// shows in the bits.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                let m = (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                m * [1.0, 1e-3, 37.0, 1e4][(s & 3) as usize]
            })
            .collect()
    }

    /// The dot's order written out, independently of both implementations.
    fn dot_reference(x: &[f32], y: &[f32]) -> f32 {
        let blocks = x.len() / 8;
        let mut l = [0.0f32; 8];
        for b in 0..blocks {
            for (k, lane) in l.iter_mut().enumerate() {
                *lane += x[b * 8 + k] * y[b * 8 + k];
            }
        }
        let mut s = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
        for i in blocks * 8..x.len() {
            s += x[i] * y[i];
        }
        s
    }

    #[test]
    fn portable_dot_follows_the_stated_order() {
        for n in 0..70 {
            let (x, y) = (values(n, 1), values(n, 2));
            assert_eq!(
                Portable.dot(&x, &y).to_bits(),
                dot_reference(&x, &y).to_bits(),
                "{n}"
            );
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_rows_equal_portable_bits() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            println!("skipped: this CPU has no AVX2 and FMA");
            return;
        }
        // SAFETY: both features were just detected.
        let avx = unsafe { Avx2::new() };
        for n in 0..70 {
            let (x, y0, a) = (values(n, 3), values(n, 4), values(1, n as u32)[0]);
            assert_eq!(
                avx.dot(&x, &y0).to_bits(),
                Portable.dot(&x, &y0).to_bits(),
                "dot {n}"
            );
            let (mut ya, mut yp) = (y0.clone(), y0.clone());
            avx.axpy(&mut ya, a, &x);
            Portable.axpy(&mut yp, a, &x);
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&ya), bits(&yp), "axpy {n}");
        }
    }
}

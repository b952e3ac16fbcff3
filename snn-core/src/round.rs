//! Round-half-away-from-zero for `f32` and `f64` without `std`.
//!
//! `f32::round` and `f64::round` live in `std` (they call `libm`), and `snn-core` is
//! `no_std`, so the float-to-fixed-point constructors ([`crate::neuron::Leak::from_f32`],
//! [`crate::encode::unsigned_gain`], ...) round with these exact integer-based forms
//! instead. They equal `std`'s `round` for every input, except that a result of zero
//! may be `+0.0` where `std` gives `-0.0` (the constructors cast it to an integer
//! next, so the sign of zero never shows). A test compares them with `std`.

/// `x` rounded to the nearest integer, halfway cases away from zero; NaN and the
/// infinities are returned unchanged.
///
/// ```text
/// t = trunc(x)   (exact: |x| < 2^23 fits an i32)
/// f = x - t      (exact: the fraction bits of x)
/// round(x) = t + sign(x)  if |f| >= 0.5,  else t
/// ```
#[inline]
pub(crate) fn round_f32(x: f32) -> f32 {
    // From 2^23 on every f32 is an integer (and NaN/inf pass through here too).
    if x.is_nan() || x.abs() >= 8_388_608.0 {
        return x;
    }
    let t = x as i32 as f32;
    let f = x - t;
    if f >= 0.5 {
        t + 1.0
    } else if f <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

/// [`round_f32`] for `f64` (every `f64` from `2^52` on is an integer).
#[inline]
pub(crate) fn round_f64(x: f64) -> f64 {
    if x.is_nan() || x.abs() >= 4_503_599_627_370_496.0 {
        return x;
    }
    let t = x as i64 as f64;
    let f = x - t;
    if f >= 0.5 {
        t + 1.0
    } else if f <= -0.5 {
        t - 1.0
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_f32(a: f32, b: f32) -> bool {
        a == b || (a.is_nan() && b.is_nan())
    }

    fn same_f64(a: f64, b: f64) -> bool {
        a == b || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn f32_matches_std() {
        let special = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.499_999_97,
            -0.499_999_97,
            8_388_607.5,
            -8_388_607.5,
            8_388_608.0,
            16_777_217.0,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            f32::EPSILON,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        for x in special {
            assert!(same_f32(round_f32(x), x.round()), "{x}");
        }
        // Every 97th bit pattern: all exponents, both signs, NaNs included.
        for bits in (0..=u32::MAX).step_by(97) {
            let x = f32::from_bits(bits);
            assert!(same_f32(round_f32(x), x.round()), "{x} ({bits:#x})");
        }
    }

    #[test]
    fn f64_matches_std() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..2_000_000u64 {
            // Random bit patterns, then values near halves and in the trainer's range.
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let x = match i % 3 {
                0 => f64::from_bits(s),
                1 => (s >> 11) as f64 / 1024.0 - 4.0e12 + 0.5,
                _ => (s >> 11) as f64 * f64::EPSILON * 1.0e6 - 1.0e6,
            };
            assert!(same_f64(round_f64(x), x.round()), "{x}");
        }
        for x in [
            0.5,
            -0.5,
            0.499_999_999_999_999_94,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            f64::INFINITY,
            f64::NAN,
        ] {
            assert!(same_f64(round_f64(x), x.round()), "{x}");
        }
    }
}

//! The seeding scheme: every random stream of a run derives from the run's seed and a
//! pair of stream numbers, never from a thread or a clock.
//!
//! | stream | `(a, b)` | draws |
//! |---|---|---|
//! | initial weights | `(u64::MAX, 0)` | [`crate::model::net::Network::init`] |
//! | shuffle of epoch `e` | `(e, u64::MAX)` | the sample order |
//! | training sample `i` of epoch `e` | `(e, i)` | augmentation, dropout masks, encoder seed |
//! | test image `i` | fixed seed, `(0, i)` | encoder seed ([`eval_seed`]) |
//! | calibration image `i` | `(u64::MAX - 1, i)` | encoder seed ([`crate::train::calibrate`]) |
//!
//! Because a sample's stream depends only on `(seed, epoch, index)`, its spikes and
//! masks are the same whichever thread runs it. This module holds no training logic.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use snn_core::encode::SplitMix64;

/// The seed of test-time encoders (the same for every run, so that float and
/// fixed-point evaluations of any model see the same input spikes).
const EVAL_SEED: u64 = 0x5EED_E7A1;

/// A seed for stream `(a, b)` of `seed`, via SplitMix64.
///
/// ```
/// use snn_train::exec::seed::derive_seed;
/// assert_eq!(derive_seed(1, 2, 3), derive_seed(1, 2, 3));
/// assert_ne!(derive_seed(1, 2, 3), derive_seed(1, 3, 2));
/// ```
pub fn derive_seed(seed: u64, a: u64, b: u64) -> u64 {
    let x = SplitMix64::new(seed).next_u64() ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let y = SplitMix64::new(x).next_u64() ^ b.wrapping_mul(0xD1B5_4A32_D192_ED03);
    SplitMix64::new(y).next_u64()
}

/// The encoder seed of test image `i` (the same in float and fixed-point evaluation).
pub fn eval_seed(i: usize) -> u64 {
    derive_seed(EVAL_SEED, 0, i as u64)
}

/// The seed of the initial weights of a run.
pub fn init_seed(seed: u64) -> u64 {
    derive_seed(seed, u64::MAX, 0)
}

/// The generator that shuffles the training set before epoch `epoch` (0-based).
pub fn shuffle_rng(seed: u64, epoch: usize) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(derive_seed(seed, epoch as u64, u64::MAX))
}

/// The generator of training sample `index` in epoch `epoch` (0-based): it draws the
/// augmentation, then the dropout masks, then the encoder seed, in that order.
pub fn sample_rng(seed: u64, epoch: usize, index: usize) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(derive_seed(seed, epoch as u64, index as u64))
}

//! The one home of weight quantisation: float weights to the model format's `i8` and
//! back, for our export, the NIR import and export, the model import and the
//! quantisation-aware epochs.
//!
//! A weight tensor has its output channel on the last axis (`co` channels: element `i`
//! belongs to channel `i % co`). A group of `n` scales covers it with scale
//! `(i % co) % n`: `n = co` is one scale per channel (the rule), `n = 1` one for all
//! (the output layer). A scale is `max|w| / 127` over its weights (`snn-core`'s
//! [`weight_scale`]) and a weight `clamp(round(w / s), -127, 127)`
//! ([`weight_from_f32`]).

use snn_core::format;
use snn_core::layer::{weight_from_f32, weight_scale};

/// The scales of the `n` groups of `tensors` (each with `co` output channels last):
/// the largest magnitude of each group over every tensor, as a scale.
///
/// ```
/// # use snn_train::io::quant::scales;
/// let w = [0.5f32, -1.27, 0.1, 0.2];
/// assert_eq!(scales(&[&w], 2, 2), vec![0.5 / 127.0, 1.27 / 127.0]);
/// assert_eq!(scales(&[&w], 2, 1), vec![1.27 / 127.0]);
/// ```
pub fn scales(tensors: &[&[f32]], co: usize, n: usize) -> Vec<f32> {
    let (co, n) = (co.max(1), n.max(1));
    let mut max = vec![0.0f32; n];
    for t in tensors {
        for (i, &w) in t.iter().enumerate() {
            let c = (i % co) % n;
            max[c] = max[c].max(w.abs());
        }
    }
    max.into_iter().map(weight_scale).collect()
}

/// `i8` weights (as bytes) of `t` (`co` output channels last) with `scales` (one per
/// channel, or a group of them, as [`scales`]).
///
/// ```
/// # use snn_train::io::quant::quantize;
/// assert_eq!(quantize(&[1.0, -0.5, 2.0], &[0.01], 1), vec![100, 206, 127]);
/// ```
pub fn quantize(t: &[f32], scales: &[f32], co: usize) -> Vec<u8> {
    let (co, n) = (co.max(1), scales.len().max(1));
    t.iter()
        .enumerate()
        .map(|(i, &w)| weight_from_f32(w, scales[(i % co) % n]) as u8)
        .collect()
}

/// `t` on the `i8` grid of `scales`, in float: `s * q(w, s)` for every weight (what
/// the device computes with, for the quantisation-aware epochs).
pub fn round_to_grid(t: &mut [f32], scales: &[f32], co: usize) {
    let (co, n) = (co.max(1), scales.len().max(1));
    for (i, w) in t.iter_mut().enumerate() {
        let s = scales[(i % co) % n];
        *w = f32::from(weight_from_f32(*w, s)) * s;
    }
}

/// Float weights `w_i8 * scale` in logical order from a model's weight rows of `row`
/// bytes, stored interleaved ([`format::interleave_rows`]); `scales` as in
/// [`quantize`] with `co = row`.
pub fn dequantize(weights: &[u8], scales: &[f32], row: u16) -> Vec<f32> {
    let mut w = weights.to_vec();
    format::interleave_rows(&mut w, usize::from(row));
    let (co, n) = (usize::from(row).max(1), scales.len().max(1));
    w.iter()
        .enumerate()
        .map(|(i, &w)| f32::from(w as i8) * scales[(i % co) % n])
        .collect()
}

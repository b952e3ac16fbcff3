//! Data-driven initialisation: after the random init, each spiking layer's incoming
//! weights are rescaled, layer by layer from the input, until its firing rate on a
//! calibration batch falls in [`RATE_BAND`].
//!
//! The random init (`N(0, sqrt(gain / fan_in))`) fixes the weights' *shape*; how much
//! a layer fires also depends on how dense its input is (bright or inverted images
//! fire far more input spikes than MNIST's) and on the time step count. A layer that
//! fires too much saturates and trains unstably; one that fires too little starves the
//! layers above it. Calibration measures the rate of each LIF population on the first
//! [`CALIBRATION_IMAGES`] training images (no augmentation, no dropout, fixed encoder
//! seeds) and, when it lies outside the band, multiplies the weights feeding that
//! population by a common factor found by doubling or halving, then bisection of its
//! logarithm, aiming at the band's geometric middle. A layer already inside the band
//! is left bit-for-bit as drawn, so a network that starts well is not touched.
//! Pooling neurons have fixed weights; they follow the layer below. The output
//! integrator does not spike and is not rescaled. The forward and backward passes are
//! unchanged: this only chooses the starting weights.
//!
//! Every measurement sums integer spike counts in a fixed order, so the result does
//! not depend on the thread count.

use crate::data::Dataset;
use crate::exec::par;
use crate::exec::seed::derive_seed;
use crate::model::net::{Params, PopKind};
use crate::sim::activity::Activity;
use crate::sim::{forward_sample, Masks, Window};

/// The band of initial firing rates (spikes per neuron per step) a calibrated LIF
/// layer ends in.
pub const RATE_BAND: (f64, f64) = (0.02, 0.2);

/// Training images the rates are measured on.
pub const CALIBRATION_IMAGES: usize = 64;

/// Forward passes allowed per layer.
pub const MAX_PROBES: usize = 24;

/// What calibration did to one population.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerCalibration {
    /// Population index.
    pub pop: usize,
    /// Rate before (spikes per neuron per step).
    pub rate_before: f64,
    /// Rate after.
    pub rate_after: f64,
    /// The factor applied to its incoming weights (1 when already in the band).
    pub scale: f32,
}

/// Rescales the weights in `params` so that every LIF population of `win.net` fires in
/// [`RATE_BAND`] on the first images of `data`; returns what it did, per population.
pub fn calibrate(
    win: &Window<'_>,
    params: &mut Params,
    data: &Dataset,
    seed: u64,
) -> Vec<LayerCalibration> {
    let net = win.net;
    let win = Window {
        record: false,
        ..*win
    };
    let images: Vec<usize> = (0..data.len().min(CALIBRATION_IMAGES)).collect();
    let masks = Masks::none(net);
    let rate_of = |params: &Params, pop: usize| -> f64 {
        let chunks = par::map_chunks(&images, 8, |_, chunk| {
            let mut a = Activity::default();
            for &i in chunk {
                let s = derive_seed(seed, u64::MAX - 1, i as u64);
                a.add(&Activity::of_trace(
                    net,
                    &forward_sample(&win, params, data, i, s, &masks),
                ));
            }
            a
        });
        let mut total = Activity::default();
        for a in &chunks {
            total.add(a);
        }
        let c = total.counts(pop);
        c.spikes as f64 / c.neuron_steps.max(1) as f64
    };
    let (lo, hi) = RATE_BAND;
    let target = (lo * hi).sqrt();
    let mut report = Vec::new();
    for (pop, p) in net.pops.iter().enumerate() {
        if p.kind != PopKind::Lif {
            continue;
        }
        let tensors: Vec<usize> = net
            .conns
            .iter()
            .filter(|c| c.dst == pop)
            .filter_map(|c| c.param)
            .collect();
        let before = rate_of(params, pop);
        let mut entry = LayerCalibration {
            pop,
            rate_before: before,
            rate_after: before,
            scale: 1.0,
        };
        if (lo..=hi).contains(&before) || tensors.is_empty() {
            report.push(entry);
            continue;
        }
        let original: Vec<_> = tensors.iter().map(|&t| params[t].clone()).collect();
        let probe = |params: &mut Params, log2: f64| -> f64 {
            let s = log2.exp2() as f32;
            for (&t, w) in tensors.iter().zip(&original) {
                params[t] = w.mapv(|v| v * s);
            }
            rate_of(params, pop)
        };
        // Bracket the target in log2(scale), then bisect.
        let up = before < target;
        let (mut below, mut above) = if up {
            (0.0, f64::INFINITY)
        } else {
            (f64::NEG_INFINITY, 0.0)
        };
        let (mut x, mut best) = (0.0f64, (0.0f64, before));
        for _ in 0..MAX_PROBES {
            x = if below.is_finite() && above.is_finite() {
                (below + above) / 2.0
            } else if up {
                x + 1.0
            } else {
                x - 1.0
            };
            let r = probe(params, x);
            // Distance in log-rate: with the target at the band's geometric middle, a
            // rate inside the band is always nearer than one outside.
            let off = |r: f64| (r.max(1e-12) / target).ln().abs();
            if off(r) < off(best.1) {
                best = (x, r);
            }
            if (lo..=hi).contains(&r) {
                break;
            }
            if r < target {
                below = x;
            } else {
                above = x;
            }
        }
        let r = probe(params, best.0);
        entry.rate_after = r;
        entry.scale = best.0.exp2() as f32;
        report.push(entry);
    }
    report
}

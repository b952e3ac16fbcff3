//! The engine against a plain, obviously-correct reference written here.
//!
//! The reference keeps every tensor as `[c][y][x]` arrays of `i64`, computes
//! convolutions in gather form (`U[o,y,x] += sum W * x[y*s-p+ky, x*s-p+kx]`), uses
//! `rand_xoshiro`'s generator for the encoder, and applies the neuron rules of
//! `method.md` §1 literally. Property tests compare scores, classes, spike counts and
//! synaptic-event counts bit for bit on random networks that use every layer kind.
//!
//! With 16-bit membranes every add saturates, so the order of the adds matters. The
//! reference gathers each membrane's contributions, sorts them into the documented
//! order (positive input spikes before negative ones, each by input index; in a
//! residual block the main path before the shortcut) and saturates after each.
//!
//! A current-based population (`synapse != 0`) gathers its input into a current `S`
//! instead (exact sums, no order), then `S = clamp(S, -2^30, 2^30 - 1)`, `V += S`
//! (saturating once for 16 bits), `S = leak(S, synapse)`, before its neurons fire; the
//! output integrator likewise before its leak.
//!
//! An analog input is the first layer's gather-form sum of `W * (p - center / 256)`,
//! once, rounded and shifted as `docs/model-format.md` says and clamped to the membrane
//! range, then added (saturating for 16 bits) at every step before the neurons fire.

// Index loops are the point of a reference: they mirror the formulas one to one.
#![allow(clippy::needless_range_loop)]

mod common;

use common::{
    random_image, random_model, ConvSpec, LayerSpec, ModelSpec, NeuronSpec, ShortcutSpec,
};
use proptest::prelude::*;
use rand::{RngCore, SeedableRng};
use snn_core::format::{Drive, Membranes, Reset};
use snn_core::Model;

type T3 = Vec<Vec<Vec<i64>>>;

fn zeros(c: usize, h: usize, w: usize) -> T3 {
    vec![vec![vec![0; w]; h]; c]
}

const LIMIT: i64 = (1 << 30) - 1;

/// Each membrane's pending contributions: `(order key, delta)`.
type Pending = Vec<Vec<Vec<Vec<(u64, i64)>>>>;

fn pending(m: &T3) -> Pending {
    vec![vec![vec![Vec::new(); m[0][0].len()]; m[0].len()]; m.len()]
}

/// The order of an add from input value `v` at `HWC` index `i`: positive spikes first.
fn key(v: i64, i: usize) -> u64 {
    (u64::from(v < 0) << 40) | i as u64
}

thread_local! {
    /// Saturating adds since the last [`take_saturations`]: per channel, from positive
    /// and from negative input values.
    static SATURATIONS: std::cell::RefCell<Vec<[u64; 2]>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn count_saturation(c: usize, negative: bool) {
    SATURATIONS.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() <= c {
            s.resize(c + 1, [0; 2]);
        }
        s[c][usize::from(negative)] += 1;
    });
}

fn take_saturations() -> Vec<[u64; 2]> {
    SATURATIONS.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

/// Applies the pending adds in order: plain sums for 32-bit membranes, saturating
/// after each add for 16-bit ones (counting the adds the bound changed).
fn apply(mem: &mut T3, mut p: Pending, width: Membranes) {
    for (c, (mc, pc)) in mem.iter_mut().zip(&mut p).enumerate() {
        for (my, py) in mc.iter_mut().zip(pc) {
            for (m, adds) in my.iter_mut().zip(py) {
                adds.sort_by_key(|a| a.0);
                for &(k, d) in adds.iter() {
                    *m += d;
                    if width == Membranes::I16 && !(-32768..=32767).contains(m) {
                        count_saturation(c, k >> 40 == 1);
                        *m = (*m).clamp(-32768, 32767);
                    }
                }
            }
        }
    }
}

/// `HWC` index of `(c, y, x)` in a tensor shaped like `t`.
fn hwc(t: &T3, c: usize, y: usize, x: usize) -> usize {
    (y * t[0][0].len() + x) * t.len() + c
}

fn leak(u: i64, bits: u16) -> i64 {
    (u * bits as i64 + 16384).div_euclid(32768)
}

/// Updates membranes in place, returns spikes (0/1) and their count.
fn fire(mem: &mut T3, n: &NeuronSpec, width: Membranes) -> (T3, u32) {
    let (lo, hi) = match width {
        Membranes::I16 => (-32768, 32767),
        Membranes::I32 => (-LIMIT - 1, LIMIT),
    };
    let mut out = zeros(mem.len(), mem[0].len(), mem[0][0].len());
    let mut count = 0;
    for (c, plane) in mem.iter_mut().enumerate() {
        let th = n.thresholds[c] as i64;
        for (y, row) in plane.iter_mut().enumerate() {
            for (x, u) in row.iter_mut().enumerate() {
                let v = if *u > th {
                    out[c][y][x] = 1;
                    count += 1;
                    match n.reset {
                        Reset::Hard => 0,
                        Reset::Subtract => leak(*u - th, n.leak),
                    }
                } else {
                    leak(*u, n.leak)
                };
                *u = v.clamp(lo, hi);
            }
        }
    }
    (out, count)
}

/// `mem += conv(x)` in the add order of `width`; returns synaptic events.
fn conv_into(mem: &mut T3, x: &T3, c: &ConvSpec, width: Membranes) -> u64 {
    let mut p = pending(mem);
    let events = conv_pending(&mut p, x, c);
    apply(mem, p, width);
    events
}

/// The adds of `conv(x)`; returns synaptic events (nonzero input times valid weight rows).
fn conv_pending(pend: &mut Pending, x: &T3, c: &ConvSpec) -> u64 {
    let (ic, ih, iw) = (x.len(), x[0].len() as i64, x[0][0].len() as i64);
    let (k, s, p) = (c.kernel as i64, c.stride as i64, c.padding as i64);
    let oc = c.out_channels as usize;
    let mut events = 0;
    for o in 0..oc {
        for oy in 0..pend[o].len() {
            for ox in 0..pend[o][0].len() {
                for i in 0..ic {
                    for ky in 0..k {
                        for kx in 0..k {
                            let (y, xx) = (oy as i64 * s - p + ky, ox as i64 * s - p + kx);
                            if y < 0 || xx < 0 || y >= ih || xx >= iw {
                                continue;
                            }
                            let v = x[i][y as usize][xx as usize];
                            if v != 0 {
                                let wi = ((i * k as usize + ky as usize) * k as usize
                                    + kx as usize)
                                    * oc
                                    + o;
                                pend[o][oy][ox].push((
                                    key(v, hwc(x, i, y as usize, xx as usize)),
                                    v * c.weights[wi] as i64,
                                ));
                                events += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    events
}

fn out_dim(n: usize, k: u8, s: u8, p: u8) -> usize {
    (n + 2 * p as usize - k as usize) / s as usize + 1
}

/// HWC flatten, as the engine's dense layers expect.
fn flatten(x: &T3) -> Vec<i64> {
    let (c, h, w) = (x.len(), x[0].len(), x[0][0].len());
    let mut v = Vec::with_capacity(c * h * w);
    for y in 0..h {
        for xx in 0..w {
            for plane in x {
                v.push(plane[y][xx]);
            }
        }
    }
    let _ = c;
    v
}

struct Reference<'a> {
    spec: &'a ModelSpec,
    /// The analog input's current into the first layer.
    current: Option<T3>,
    mems: Vec<Vec<T3>>,
    /// Synaptic currents, shaped as `mems` (unused for populations without one).
    syns: Vec<Vec<T3>>,
    /// The output integrator's synaptic currents.
    out_syn: Vec<i64>,
    scores: Vec<i64>,
    spikes: Vec<u32>,
    events: Vec<u64>,
    /// Per layer and channel, the saturating adds from positive and negative inputs.
    saturations: Vec<Vec<[u64; 2]>>,
}

impl<'a> Reference<'a> {
    fn new(spec: &'a ModelSpec) -> Self {
        let (mut c, mut h, mut w) = (
            spec.channels as usize,
            spec.height as usize,
            spec.width as usize,
        );
        let mut mems = Vec::new();
        let mut pops = 0;
        for l in &spec.layers {
            match l {
                LayerSpec::Conv(cv, _) => {
                    (c, h, w) = (
                        cv.out_channels as usize,
                        out_dim(h, cv.kernel, cv.stride, cv.padding),
                        out_dim(w, cv.kernel, cv.stride, cv.padding),
                    );
                    mems.push(vec![zeros(c, h, w)]);
                    pops += 1;
                }
                LayerSpec::Pool(_) => {
                    (h, w) = (h / 2, w / 2);
                    mems.push(vec![zeros(c, h, w)]);
                    pops += 1;
                }
                LayerSpec::Dense { outputs, .. } => {
                    (c, h, w) = (*outputs as usize, 1, 1);
                    mems.push(vec![zeros(c, 1, 1)]);
                    pops += 1;
                }
                LayerSpec::Residual { conv1, conv2, .. } => {
                    let (h1, w1) = (
                        out_dim(h, conv1.kernel, conv1.stride, conv1.padding),
                        out_dim(w, conv1.kernel, conv1.stride, conv1.padding),
                    );
                    let m1 = zeros(conv1.out_channels as usize, h1, w1);
                    (c, h, w) = (
                        conv2.out_channels as usize,
                        out_dim(h1, conv2.kernel, conv2.stride, conv2.padding),
                        out_dim(w1, conv2.kernel, conv2.stride, conv2.padding),
                    );
                    mems.push(vec![m1, zeros(c, h, w)]);
                    pops += 2;
                }
                LayerSpec::Output { classes, .. } => {
                    mems.push(vec![]);
                    c = *classes as usize;
                }
            }
        }
        Reference {
            spec,
            current: None,
            syns: mems.clone(),
            mems,
            out_syn: vec![0; c],
            scores: vec![0; c],
            spikes: vec![0; pops],
            events: vec![0; spec.layers.len()],
            saturations: vec![Vec::new(); spec.layers.len()],
        }
    }

    fn step(&mut self, input: &T3) {
        let mut x = input.clone();
        let mut p = 0;
        let width = self.spec.membranes;
        for (l, layer) in self.spec.layers.iter().enumerate() {
            let mems = &mut self.mems[l];
            let syns = &mut self.syns[l];
            let current = self.current.as_ref().filter(|_| l == 0);
            match layer {
                LayerSpec::Conv(cv, n) => {
                    self.events[l] += integrate(&mut mems[0], &mut syns[0], n, width, |m, w| {
                        conv_into(m, &x, cv, w)
                    });
                    if let Some(c) = current {
                        drive(&mut mems[0], c, width);
                    }
                    let (o, k) = fire(&mut mems[0], n, width);
                    self.spikes[p] += k;
                    x = o;
                }
                LayerSpec::Pool(n) => {
                    let m = &mut mems[0];
                    self.events[l] +=
                        integrate(m, &mut syns[0], n, width, |m, w| pool_into(m, &x, w));
                    let (o, k) = fire(m, n, width);
                    self.spikes[p] += k;
                    x = o;
                }
                LayerSpec::Dense {
                    outputs,
                    weights,
                    neuron,
                } => {
                    let flat = flatten(&x);
                    let n = *outputs as usize;
                    let dense = |m: &mut T3, w| {
                        let mut events = 0;
                        let mut pend = pending(m);
                        for (j, &v) in flat.iter().enumerate() {
                            if v != 0 {
                                for o in 0..n {
                                    pend[o][0][0].push((key(v, j), v * weights[j * n + o] as i64));
                                }
                                events += n as u64;
                            }
                        }
                        apply(m, pend, w);
                        events
                    };
                    self.events[l] += integrate(&mut mems[0], &mut syns[0], neuron, width, dense);
                    if let Some(c) = current {
                        drive(&mut mems[0], c, width);
                    }
                    let (o, k) = fire(&mut mems[0], neuron, width);
                    self.spikes[p] += k;
                    x = o;
                }
                LayerSpec::Residual {
                    conv1,
                    n1,
                    conv2,
                    shortcut,
                    n2,
                } => {
                    self.events[l] += integrate(&mut mems[0], &mut syns[0], n1, width, |m, w| {
                        conv_into(m, &x, conv1, w)
                    });
                    let (o1, k1) = fire(&mut mems[0], n1, width);
                    let s = (conv1.stride * conv2.stride) as usize;
                    let second = |m: &mut T3, width| {
                        conv_into(m, &o1, conv2, width)
                            + shortcut_into(m, &x, shortcut, conv2.out_channels, s, width)
                    };
                    let (m2, s2) = (&mut mems[1], &mut syns[1]);
                    self.events[l] += integrate(m2, s2, n2, width, second);
                    let (o2, k2) = fire(&mut mems[1], n2, width);
                    self.spikes[p] += k1;
                    self.spikes[p + 1] += k2;
                    p += 1;
                    x = o2;
                }
                LayerSpec::Output {
                    classes,
                    weights,
                    leak: lk,
                    synapse,
                    ..
                } => {
                    self.events[l] += output_into(
                        &flatten(&x),
                        weights,
                        *classes as usize,
                        [*lk, *synapse],
                        (&mut self.scores, &mut self.out_syn),
                    );
                    p = p.wrapping_sub(1); // the output layer is no population
                }
            }
            p = p.wrapping_add(1);
            let sats = take_saturations();
            let acc = &mut self.saturations[l];
            if acc.len() < sats.len() {
                acc.resize(sats.len(), [0; 2]);
            }
            for (a, s) in acc.iter_mut().zip(sats) {
                a[0] += s[0];
                a[1] += s[1];
            }
        }
    }
}

/// The output integrator's step on the flattened spikes `flat`: into the scores, or
/// into the synaptic currents that then drive them, then the leak; returns events.
fn output_into(
    flat: &[i64],
    weights: &[i8],
    n: usize,
    [lk, synapse]: [u16; 2],
    (scores, out_syn): (&mut [i64], &mut [i64]),
) -> u64 {
    let mut events = 0;
    let target = if synapse == 0 {
        &mut *scores
    } else {
        &mut *out_syn
    };
    for (j, &v) in flat.iter().enumerate() {
        if v != 0 {
            for o in 0..n {
                target[o] += v * weights[j * n + o] as i64;
            }
            events += n as u64;
        }
    }
    if synapse != 0 {
        for (score, syn) in scores.iter_mut().zip(out_syn.iter_mut()) {
            let s = (*syn).clamp(-LIMIT - 1, LIMIT);
            *score += s;
            *syn = leak(s, synapse);
        }
    }
    for s in scores.iter_mut() {
        *s = leak(*s, lk).clamp(-LIMIT - 1, LIMIT);
    }
    events
}

/// `mem += pool(x)` (each input spike one unit into its 2x2 window's neuron) in the
/// add order of `width`; returns synaptic events.
fn pool_into(m: &mut T3, x: &T3, width: Membranes) -> u64 {
    let mut events = 0;
    let mut pend = pending(m);
    for c in 0..m.len() {
        for y in 0..m[0].len() {
            for xx in 0..m[0][0].len() {
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let (iy, ix) = (2 * y + dy, 2 * xx + dx);
                    let v = x[c][iy][ix];
                    if v != 0 {
                        pend[c][y][xx].push((key(v, hwc(x, c, iy, ix)), v));
                        events += 1;
                    }
                }
            }
        }
    }
    apply(m, pend, width);
    events
}

/// `mem += shortcut(x)` of a residual block with stride `s` and `out_channels`
/// outputs, in the add order of `width`; returns synaptic events.
fn shortcut_into(
    m: &mut T3,
    x: &T3,
    shortcut: &ShortcutSpec,
    out_channels: u16,
    s: usize,
    width: Membranes,
) -> u64 {
    match shortcut {
        ShortcutSpec::Conv(w) => {
            let sc = ConvSpec {
                out_channels,
                kernel: 1,
                stride: s as u8,
                padding: 0,
                weights: w.clone(),
            };
            conv_into(m, x, &sc, width)
        }
        ShortcutSpec::Identity(g) => {
            let mut events = 0;
            let mut pend = pending(m);
            for c in 0..m.len() {
                for y in 0..m[0].len() {
                    for xx in 0..m[0][0].len() {
                        let v = x[c][y * s][xx * s];
                        if v != 0 {
                            let k = key(v, hwc(x, c, y * s, xx * s));
                            pend[c][y][xx].push((k, v * g[c] as i64));
                            events += 1;
                        }
                    }
                }
            }
            apply(m, pend, width);
            events
        }
    }
}

/// One step's input into a population: `add(target, width)` into its membranes, or,
/// with a synaptic current, into the current (exact `i64` sums: `I32` adds), which then
/// drives the membranes (saturating once for 16 bits) and decays. Returns the events.
fn integrate(
    mem: &mut T3,
    syn: &mut T3,
    n: &NeuronSpec,
    width: Membranes,
    add: impl FnOnce(&mut T3, Membranes) -> u64,
) -> u64 {
    if n.synapse == 0 {
        return add(mem, width);
    }
    let events = add(syn, Membranes::I32);
    for (mc, sc) in mem.iter_mut().zip(syn.iter_mut()) {
        for (my, sy) in mc.iter_mut().zip(sc) {
            for (m, sv) in my.iter_mut().zip(sy) {
                let s = (*sv).clamp(-LIMIT - 1, LIMIT);
                *m += s;
                if width == Membranes::I16 {
                    *m = (*m).clamp(-32768, 32767);
                }
                *sv = leak(s, n.synapse);
            }
        }
    }
    events
}

/// `mem += current`, saturating for 16-bit membranes.
fn drive(mem: &mut T3, current: &T3, width: Membranes) {
    for (mc, cc) in mem.iter_mut().zip(current) {
        for (my, cy) in mc.iter_mut().zip(cc) {
            for (m, &c) in my.iter_mut().zip(cy) {
                *m += c;
                if width == Membranes::I16 {
                    *m = (*m).clamp(-32768, 32767);
                }
            }
        }
    }
}

/// The analog current of `image` into the first layer (gather form, exact sums), and
/// the products it took (nonzero values times weights reached).
fn analog_current(spec: &ModelSpec, image: &[u8], shift: u8) -> (T3, u64) {
    let (c, h, w) = (
        spec.channels as usize,
        spec.height as usize,
        spec.width as usize,
    );
    let mut x = zeros(c, h, w);
    for (i, &p) in image.iter().enumerate() {
        let ch = i % c;
        x[ch][i / c / w][i / c % w] = p as i64 - (spec.center[ch] >> 8) as i64;
    }
    let (mut sums, events) = match &spec.layers[0] {
        LayerSpec::Conv(cv, _) => {
            let (oh, ow) = (
                out_dim(h, cv.kernel, cv.stride, cv.padding),
                out_dim(w, cv.kernel, cv.stride, cv.padding),
            );
            let mut pend = pending(&zeros(cv.out_channels as usize, oh, ow));
            let events = conv_pending(&mut pend, &x, cv);
            let sums = pend
                .iter()
                .map(|p| {
                    p.iter()
                        .map(|r| r.iter().map(|a| a.iter().map(|t| t.1).sum()).collect())
                        .collect()
                })
                .collect::<T3>();
            (sums, events)
        }
        LayerSpec::Dense {
            outputs, weights, ..
        } => {
            let flat = flatten(&x);
            let n = *outputs as usize;
            let mut sums = zeros(n, 1, 1);
            let mut events = 0;
            for (j, &v) in flat.iter().enumerate() {
                if v != 0 {
                    for o in 0..n {
                        sums[o][0][0] += v * weights[j * n + o] as i64;
                    }
                    events += n as u64;
                }
            }
            (sums, events)
        }
        _ => unreachable!("analog models start with a conv or dense layer"),
    };
    let (lo, hi) = match spec.membranes {
        Membranes::I16 => (-32768, 32767),
        Membranes::I32 => (-LIMIT - 1, LIMIT),
    };
    for s in sums.iter_mut().flatten().flatten() {
        let half = (1i64 << shift) >> 1;
        *s = ((*s + half) >> shift).clamp(lo, hi);
    }
    (sums, events)
}

/// The reference encoder: rand_xoshiro's generator, 128-bit threshold arithmetic.
fn encode(spec: &ModelSpec, image: &[u8], rng: &mut rand_xoshiro::Xoshiro128PlusPlus) -> T3 {
    let (c, h, w) = (
        spec.channels as usize,
        spec.height as usize,
        spec.width as usize,
    );
    let mut x = zeros(c, h, w);
    for (i, &p) in image.iter().enumerate() {
        let ch = i % c;
        let v = p as i128 * 256 - spec.center[ch] as i128;
        let thr = (v.abs() * spec.gain[ch] as i128).min(u32::MAX as i128);
        if thr > 0 && (rng.next_u32() as i128) < thr {
            x[ch][i / c / w][i / c % w] = if v < 0 { -1 } else { 1 };
        }
    }
    x
}

fn check<'a>(spec: &'a ModelSpec, image: &[u8], seed: u64, steps: u32) -> Reference<'a> {
    let blob = spec.to_bytes();
    let model = Model::from_bytes(&blob).expect("random model is valid");
    let mut state = vec![0u32; model.state_words()];
    let got = model.classify(&mut state, image, seed, steps).unwrap();

    let mut reference = Reference::new(spec);
    let mut rng = rand_xoshiro::Xoshiro128PlusPlus::seed_from_u64(seed);
    if let Drive::Analog { shift } = spec.drive {
        let (current, events) = analog_current(spec, image, shift);
        reference.current = Some(current);
        reference.events[0] += events;
    }
    for _ in 0..steps {
        let x = match spec.drive {
            Drive::Rate => encode(spec, image, &mut rng),
            Drive::Analog { .. } => zeros(
                spec.channels as usize,
                spec.height as usize,
                spec.width as usize,
            ),
        };
        reference.step(&x);
    }
    let scores: Vec<i64> = got.scores.iter().map(|&s| s as i64).collect();
    assert_eq!(scores, reference.scores, "scores");
    assert_eq!(
        got.spikes.as_slice(),
        reference.spikes.as_slice(),
        "spike counts"
    );
    assert_eq!(
        got.synaptic_events.as_slice(),
        reference.events.as_slice(),
        "synaptic events"
    );
    let best =
        reference
            .scores
            .iter()
            .enumerate()
            .fold(0, |b, (i, &s)| if s > reference.scores[b] { i } else { b });
    assert_eq!(got.class as usize, best);
    reference
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_reference(model_seed in any::<u64>(), image_seed in any::<u64>(), seed in any::<u64>(), steps in 1u32..12) {
        let spec = random_model(model_seed);
        let image = random_image(&spec, image_seed);
        check(&spec, &image, seed, steps);
    }
}

/// A network whose 16-bit membranes saturate: excitatory weights, thresholds near
/// `i16::MAX`, bright images with a signed encoder (negative spikes too), every kind
/// of synaptic kernel.
fn saturating_model(seed: u64) -> ModelSpec {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut w = |n: usize| -> Vec<i8> { (0..n).map(|_| rng.random_range(-50..=127)).collect() };
    let (conv_w, res1, res2, sc, dense_w, out_w) = (
        w(3 * 25 * 6),
        w(6 * 9 * 4),
        w(4 * 9 * 6),
        w(6 * 6),
        w(6 * 6 * 6 * 9),
        w(9 * 3),
    );
    let mut neuron = |c: usize| NeuronSpec {
        thresholds: (0..c).map(|_| rng.random_range(20000..=32767)).collect(),
        leak: if rng.random_bool(0.5) { 32768 } else { 32700 },
        reset: if rng.random_bool(0.5) {
            Reset::Hard
        } else {
            Reset::Subtract
        },
        synapse: 0,
    };
    let conv = |oc: u16, k: u8, s: u8, p: u8, weights: Vec<i8>| ConvSpec {
        out_channels: oc,
        kernel: k,
        stride: s,
        padding: p,
        weights,
    };
    let layers = vec![
        LayerSpec::Conv(conv(6, 5, 1, 2, conv_w), neuron(6)),
        LayerSpec::Residual {
            conv1: conv(4, 3, 1, 1, res1),
            n1: neuron(4),
            conv2: conv(6, 3, 1, 1, res2),
            shortcut: ShortcutSpec::Conv(sc),
            n2: neuron(6),
        },
        LayerSpec::Pool(NeuronSpec {
            thresholds: vec![3; 6],
            leak: 32768,
            reset: Reset::Hard,
            synapse: 0,
        }),
        LayerSpec::Dense {
            outputs: 9,
            weights: dense_w,
            neuron: neuron(9),
        },
        LayerSpec::Output {
            classes: 3,
            weights: out_w,
            leak: 32768,
            scale: 0.01,
            synapse: 0,
        },
    ];
    ModelSpec {
        channels: 3,
        height: 12,
        width: 12,
        center: vec![10000, 0, 30000],
        gain: vec![common::MNIST_GAIN * 2; 3],
        membranes: Membranes::I16,
        drive: snn_core::format::Drive::Rate,
        deployment: None,
        layers,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn saturating_16_bit_membranes_match_reference(model_seed in any::<u64>(), seed in any::<u64>()) {
        let spec = saturating_model(model_seed);
        let image: Vec<u8> = (0..3 * 144).map(|i| 160 + (i * 37 % 96) as u8).collect();
        check(&spec, &image, seed, 30);
    }
}

/// `spec` with an analog input (shift drawn from `seed`, centres rounded to whole
/// pixels), when its first layer can take one.
fn analog(mut spec: ModelSpec, seed: u64) -> Option<ModelSpec> {
    if !matches!(
        spec.layers[0],
        LayerSpec::Conv(..) | LayerSpec::Dense { .. }
    ) {
        return None;
    }
    // The engine refuses an analog input into a synaptic current.
    match &mut spec.layers[0] {
        LayerSpec::Conv(_, n) | LayerSpec::Dense { neuron: n, .. } => n.synapse = 0,
        _ => unreachable!(),
    }
    spec.drive = Drive::Analog {
        shift: (seed % 13) as u8,
    };
    for c in &mut spec.center {
        *c &= !255;
    }
    Some(spec)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Analog input on random networks of both widths: the current, its rounding,
    /// clamp and saturating adds, and the events it counts.
    #[test]
    fn analog_input_matches_reference(model_seed in any::<u64>(), image_seed in any::<u64>(), shift_seed in any::<u64>(), steps in 1u32..8) {
        let spec = analog(random_model(model_seed), shift_seed);
        prop_assume!(spec.is_some());
        let spec = spec.unwrap();
        let image = random_image(&spec, image_seed);
        check(&spec, &image, 0, steps);
    }

    /// The saturating network with an analog input: large currents clamped to 16 bits.
    #[test]
    fn analog_input_saturates_like_reference(model_seed in any::<u64>(), shift in 0u8..4) {
        let mut spec = saturating_model(model_seed);
        spec.drive = Drive::Analog { shift };
        spec.center = vec![0, 256 * 40, 256 * 255];
        let image: Vec<u8> = (0..3 * 144).map(|i| (i * 37 % 256) as u8).collect();
        check(&spec, &image, 0, 12);
    }
}

/// The saturating device case (`tests/golden/saturating.snn`, run in QEMU by CI):
/// the engine matches the reference, and its 16-bit membranes saturate in every
/// kernel path of the Cortex-M DSP row adds: in every convolution (stride 1, which
/// takes the reversed-rows kernel, and stride 2), residual block and dense layer, in
/// a channel of each segment of a 15-weight row (the block of eight, the group of
/// four, the pair, the single last weight), and in the first layer from negative
/// input spikes too (`QSUB16`).
#[test]
fn the_saturating_device_case_saturates_every_kernel_path() {
    let spec = common::saturating_device();
    let mut total: Vec<Vec<[u64; 2]>> = vec![Vec::new(); spec.layers.len()];
    for (i, image) in common::saturating_images(SATURATING_CASES)
        .iter()
        .enumerate()
    {
        let r = check(&spec, image, 1000 + i as u64, SATURATING_STEPS);
        for (t, s) in total.iter_mut().zip(&r.saturations) {
            t.resize(s.len().max(t.len()), [0; 2]);
            for (a, b) in t.iter_mut().zip(s) {
                a[0] += b[0];
                a[1] += b[1];
            }
        }
    }
    assert_eq!(common::SATURATING_CHANNELS, 15);
    for (l, layer) in spec.layers.iter().enumerate() {
        if matches!(layer, LayerSpec::Pool(_) | LayerSpec::Output { .. }) {
            continue;
        }
        for segment in [0..8, 8..12, 12..14, 14..15] {
            let n: u64 = total[l]
                .get(segment.clone())
                .map_or(0, |s| s.iter().map(|c| c[0] + c[1]).sum());
            assert!(
                n > 0,
                "layer {l} never saturates in channels {segment:?}: {total:?}"
            );
        }
    }
    let neg: u64 = total[0].iter().map(|s| s[1]).sum();
    assert!(neg > 0, "no negative input spike saturates: {:?}", total[0]);
}

/// Cases and steps of the saturating device case (as `golden.rs` writes them).
const SATURATING_CASES: usize = 8;
const SATURATING_STEPS: u32 = 100;

#[test]
fn lenet_matches_reference() {
    let spec = common::lenet(3);
    let image = common::blob_image(5);
    check(&spec, &image, 11, 4);
}

#[test]
fn encoder_stream_is_rand_xoshiro() {
    let mut ours = snn_core::encode::Xoshiro128PlusPlus::seed_from_u64(0xDEAD_BEEF);
    let mut theirs = rand_xoshiro::Xoshiro128PlusPlus::seed_from_u64(0xDEAD_BEEF);
    for _ in 0..1000 {
        assert_eq!(ours.next_u32(), theirs.next_u32());
    }
}

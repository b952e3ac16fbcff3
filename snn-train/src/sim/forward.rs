//! The float forward pass over `T` time steps (`method.md` §1-2).
//!
//! Input spikes come from `snn-core`'s own encoder (same generator, same thresholds),
//! so for a given seed the float network and the exported fixed-point model see the
//! very same input spikes; or from the caller ([`forward_spikes`], [`InputSpikes`]).
//! With `record`, every population's spikes are kept, bit-packed, for the backward
//! pass; otherwise only the current step's are.

use rand::Rng;
use snn_core::encode::{encode_step, pixel_threshold, Xoshiro128PlusPlus};
use snn_core::format::Reset;
use snn_core::layer::{for_each_spike, words_for as words};

use crate::data::{Dataset, Encoding};
use crate::model::net::{Network, Params, PopKind};
use crate::sim::kernels::ops::{scatter, Event, Link};
use crate::sim::spikes::{InputSpikes, SpikesError};

/// Dropout masks, one per population: kept neurons and the `1 / (1 - p)` scale.
/// Drawn once per sample and iteration, shared by all time steps.
#[derive(Debug, Clone, Default)]
pub struct Masks {
    keep: Vec<Option<(Vec<u32>, f32)>>,
}

impl Masks {
    /// No dropout (evaluation).
    pub fn none(net: &Network) -> Self {
        Self {
            keep: vec![None; net.pops.len()],
        }
    }

    /// Draws a Bernoulli(1 - p) keep mask for each population with dropout `p > 0`.
    pub fn draw(net: &Network, rng: &mut impl Rng) -> Self {
        let keep = net
            .pops
            .iter()
            .map(|pop| {
                (pop.dropout > 0.0).then(|| {
                    let n = pop.shape.len();
                    let mut bits = vec![0u32; words(n)];
                    for i in 0..n {
                        if rng.random::<f32>() >= pop.dropout {
                            bits[i / 32] |= 1 << (i % 32);
                        }
                    }
                    (bits, 1.0 / (1.0 - pop.dropout))
                })
            })
            .collect();
        Self { keep }
    }

    /// `m_i / (1 - p)` for neuron `i` of population `pop` (1 without dropout).
    #[inline]
    pub fn scale(&self, pop: usize, i: usize) -> f32 {
        match &self.keep[pop] {
            None => 1.0,
            Some((bits, s)) => {
                if bits[i / 32] >> (i % 32) & 1 == 1 {
                    *s
                } else {
                    0.0
                }
            }
        }
    }
}

/// What a forward pass leaves for the backward pass and the metrics.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Steps simulated.
    pub steps: usize,
    /// Per population, its spikes: `steps * words(n)` words when recorded (one step
    /// otherwise). For the input, the positive spikes.
    pub spikes: Vec<Vec<u32>>,
    /// Negative input spikes, laid out like `spikes[0]`.
    pub input_neg: Vec<u32>,
    /// Per population, the leak-filtered spike train at `T`: `sum_t lambda^(T-t) o(t)`.
    pub lf: Vec<Vec<f32>>,
    /// Per population, spikes per neuron over the window (input: both signs).
    pub counts: Vec<Vec<u32>>,
    /// Per input neuron, positive minus negative spikes over the window.
    pub input_net: Vec<i32>,
    /// With an analog input ([`Encoding::analog`]): the input's events at every step,
    /// `(pixel, x)` for every pixel with `x != 0` (times its dropout scale); empty for
    /// spike input.
    pub analog: Vec<Event>,
    /// The output `y = M(T) / T`.
    pub y: Vec<f32>,
}

impl Trace {
    /// Spike bitset of population `pop` at step `t` (recorded traces only).
    pub fn step_bits(&self, pop: usize, n: usize, t: usize) -> &[u32] {
        let w = words(n);
        &self.spikes[pop][t * w..(t + 1) * w]
    }

    /// Total spikes of each population.
    pub fn total_spikes(&self) -> Vec<u64> {
        self.counts
            .iter()
            .map(|c| c.iter().map(|&v| u64::from(v)).sum())
            .collect()
    }
}

/// Bytes one sample in flight holds at its peak, from the buffers [`forward`] and
/// [`crate::sim::grad::backward`] allocate: bit-packed spikes (`steps` of them when
/// recorded), and per neuron the membrane, leak-filtered train and count (forward) or
/// the trace plus `D` and `g` (backward). The chunk's shared
/// gradient buffer is not included (see [`gradient_bytes`]).
pub fn sample_bytes(net: &Network, steps: usize, record: bool) -> usize {
    let neurons: usize = net.pops.iter().map(|p| p.shape.len()).sum();
    let input = net.pops[0].shape.len();
    let slots = if record { steps } else { 1 };
    let bits: usize = net
        .pops
        .iter()
        .map(|p| 4 * words(p.shape.len()))
        .sum::<usize>()
        * slots
        + 4 * words(input) * slots;
    let trace = bits + 8 * neurons + 12 * input; // spikes, lf, counts, input_net, analog
    let forward = trace + 4 * neurons; // + membranes
    let backward = trace + 8 * neurons; // + D, g
    forward.max(backward)
}

/// Bytes of one gradient buffer (one per chunk of [`crate::train::step::CHUNK`] samples).
pub fn gradient_bytes(net: &Network) -> usize {
    4 * net.num_params()
}

/// Events of one population at one step: its spikes (`±1`, the input may be
/// negative), times the dropout scale; dropped neurons give no event.
pub fn events_of(
    pop: usize,
    pos: &[u32],
    neg: Option<&[u32]>,
    masks: &Masks,
    out: &mut Vec<Event>,
) {
    out.clear();
    for (sign, bits) in [(1.0f32, Some(pos)), (-1.0, neg)] {
        let Some(bits) = bits else { continue };
        for_each_spike(bits, |i| {
            let s = masks.scale(pop, i);
            if s != 0.0 {
                out.push((i as u32, sign * s));
            }
        });
    }
}

/// The analog input's events of `image`: `(j, x_j * m_j / (1 - p))` for every pixel
/// with `x_j = (p_j - z_c) / 255 != 0` ([`Encoding::analog_value`]).
pub fn analog_events(image: &[u8], channels: usize, enc: &Encoding, masks: &Masks) -> Vec<Event> {
    let channels = channels.max(1);
    image
        .iter()
        .enumerate()
        .filter_map(|(j, &p)| {
            let x = enc.analog_value(p, j % channels) * masks.scale(0, j);
            (x != 0.0).then_some((j as u32, x))
        })
        .collect()
}

/// Per-pixel encoder thresholds and sign bits (`snn_core::encode::pixel_threshold`).
pub fn input_thresholds(image: &[u8], channels: usize, enc: &Encoding) -> (Vec<u32>, Vec<u32>) {
    let mut thr = vec![0u32; image.len()];
    let mut sign = vec![0u32; words(image.len())];
    for (i, &p) in image.iter().enumerate() {
        let c = i % channels;
        let (t, negative) = pixel_threshold(p, enc.center[c], enc.gain[c]);
        thr[i] = t;
        if negative {
            sign[i / 32] |= 1 << (i % 32);
        }
    }
    (thr, sign)
}

/// The constants of one population's spiking neurons.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lif {
    /// Firing threshold `V_th`.
    pub threshold: f32,
    /// Leak `lambda` (1 for the pooling IF neurons).
    pub leak: f32,
    /// Reset rule.
    pub reset: Reset,
}

/// One time step of a population's neurons, after its input current was added to `mem`:
///
/// ```text
/// o   = U > V_th
/// V   = o ? (hard: 0 | subtract: lambda * (U - V_th)) : lambda * U
/// LF  = lambda * LF + o          (the leak-filtered spike train)
/// count += o;   bit i of `bits` = o_i
/// ```
///
/// Branch-free over blocks of 32 neurons (one spike word each), so the compiler
/// vectorises it; every neuron's arithmetic is the same as a scalar loop's, so the
/// results do not depend on the vector width.
///
/// # Shapes
/// `mem`, `lf`, `counts`: `n`; `bits`: `ceil(n / 32)` words, all overwritten.
pub fn update_neurons(
    lif: Lif,
    mem: &mut [f32],
    lf: &mut [f32],
    counts: &mut [u32],
    bits: &mut [u32],
) {
    crate::sim::kernels::simd::dispatch(
        #[inline(always)]
        || match lif.reset {
            Reset::Hard => update_block::<false>(lif, mem, lf, counts, bits),
            Reset::Subtract => update_block::<true>(lif, mem, lf, counts, bits),
        },
    )
}

#[inline(always)]
fn update_block<const SUBTRACT: bool>(
    lif: Lif,
    mem: &mut [f32],
    lf: &mut [f32],
    counts: &mut [u32],
    bits: &mut [u32],
) {
    let Lif {
        threshold: th,
        leak,
        ..
    } = lif;
    let blocks = mem
        .chunks_mut(32)
        .zip(lf.chunks_mut(32))
        .zip(counts.chunks_mut(32));
    for (((m, l), c), word) in blocks.zip(bits.iter_mut()) {
        let mut w = 0u32;
        for (k, ((u, f), n)) in m.iter_mut().zip(l.iter_mut()).zip(c.iter_mut()).enumerate() {
            let fired = *u > th;
            let reset = if SUBTRACT { leak * (*u - th) } else { 0.0 };
            *u = if fired { reset } else { *u * leak };
            *f = leak * *f + if fired { 1.0 } else { 0.0 };
            *n += u32::from(fired);
            w |= u32::from(fired) << k;
        }
        *word = w;
    }
}

/// What a forward pass simulates: a network with its input encoding, over a window of
/// `steps` time steps, keeping every step's spikes (`record`, for the code-form
/// backward) or only the current step's.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// The network.
    pub net: &'a Network,
    /// The rate encoder's parameters.
    pub enc: &'a Encoding,
    /// Time steps `T`.
    pub steps: usize,
    /// Keep all steps' spikes.
    pub record: bool,
}

/// Where a forward pass takes its input spikes from.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    /// The rate encoder on an image, with its seed.
    Image(&'a [u8], u64),
    /// Given spike trains.
    Spikes(&'a InputSpikes),
}

/// Runs the network of `win` on `image` for `win.steps` steps with encoder seed `seed`.
///
/// ```text
/// U(t) = V(t-1) + sum_conns W * (m / (1-p)) o_src(t)
/// LIF:    o = U > V_th;   V = lambda * (o ? reset(U) : U)      reset: 0 or U - V_th
/// Pool:   o = U > 0.75;   V = o ? 0 : U
/// Output: M = lambda * U;  y = M(T) / T
/// ```
pub fn forward(win: &Window<'_>, params: &Params, image: &[u8], seed: u64, masks: &Masks) -> Trace {
    run(win, params, Source::Image(image, seed), masks)
}

/// Runs the network of `win` on the given input spike trains instead of the encoder:
/// the same pass as [`forward`], whose result it equals when fed the encoder's own
/// spikes ([`encode`]).
///
/// # Errors
/// [`SpikesError`] when the trains do not cover the network's input or the window's
/// steps.
pub fn forward_spikes(
    win: &Window<'_>,
    params: &Params,
    spikes: &InputSpikes,
    masks: &Masks,
) -> Result<Trace, SpikesError> {
    spikes.check(win.net.pops[0].shape.len(), win.steps)?;
    Ok(run(win, params, Source::Spikes(spikes), masks))
}

/// The forward pass on sample `i` of `data` without augmentation: an image through
/// the rate encoder (or the analog input) with seed `seed`, or an event sample's
/// binned spikes ([`InputSpikes::from_events`]; `seed` unused).
///
/// **Panics** when `i` is out of range or the network was not built for `data`'s
/// shape.
pub fn forward_sample(
    win: &Window<'_>,
    params: &Params,
    data: &Dataset,
    i: usize,
    seed: u64,
    masks: &Masks,
) -> Trace {
    match sample_spikes(data, i, win.steps) {
        Some(spikes) => forward_spikes(win, params, &spikes, masks)
            .expect("the network is built for the dataset's shape and the window's steps"),
        None => forward(win, params, data.image(i), seed, masks),
    }
}

/// The input spikes of sample `i` of an event dataset over `steps` steps (`None` for
/// an image dataset).
pub fn sample_spikes(data: &Dataset, i: usize, steps: usize) -> Option<InputSpikes> {
    let set = data.events.as_ref()?;
    let ev = set.sample(i);
    Some(InputSpikes::from_events(
        &ev,
        (set.width, set.height),
        steps,
        set.binning,
    ))
}

/// The rate encoder's spikes for `image` with seed `seed` over `steps` steps: what
/// [`forward`] feeds the network.
pub fn encode(net: &Network, enc: &Encoding, image: &[u8], seed: u64, steps: usize) -> InputSpikes {
    let (thr, sign) = input_thresholds(image, usize::from(net.pops[0].shape.channels), enc);
    let mut rng = Xoshiro128PlusPlus::seed_from_u64(seed);
    let mut out = InputSpikes::new(image.len(), steps);
    for t in 0..steps {
        let (pos, neg) = out.step_mut(t);
        encode_step(&thr, &sign, &mut rng, pos, neg);
    }
    out
}

/// The input of a pass in progress: the encoder's thresholds, sign bits and generator,
/// the given trains, or the analog input's events (the same at every step).
enum Feed<'a> {
    Encoder((Vec<u32>, Vec<u32>), Xoshiro128PlusPlus),
    Given(&'a InputSpikes),
    Analog,
}

fn run(win: &Window<'_>, params: &Params, source: Source<'_>, masks: &Masks) -> Trace {
    let Window {
        net,
        enc,
        steps,
        record,
    } = *win;
    let n_pops = net.pops.len();
    let sizes: Vec<usize> = net.pops.iter().map(|p| p.shape.len()).collect();
    let slots = if record { steps } else { 1 };
    let mut spikes: Vec<Vec<u32>> = sizes.iter().map(|&n| vec![0; slots * words(n)]).collect();
    let mut input_neg = vec![0u32; slots * words(sizes[0])];
    let mut mem: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
    let mut lf: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
    let mut counts: Vec<Vec<u32>> = sizes.iter().map(|&n| vec![0; n]).collect();
    let mut events: Vec<Vec<Event>> = vec![Vec::new(); n_pops];
    let mut input_net = vec![0i32; sizes[0]];

    let channels = usize::from(net.pops[0].shape.channels);
    let analog = match source {
        Source::Image(image, _) if enc.analog => analog_events(image, channels, enc, masks),
        _ => Vec::new(),
    };
    let mut feed = match source {
        Source::Image(..) if enc.analog => Feed::Analog,
        Source::Image(image, seed) => Feed::Encoder(
            input_thresholds(image, usize::from(net.pops[0].shape.channels), enc),
            Xoshiro128PlusPlus::seed_from_u64(seed),
        ),
        Source::Spikes(given) => Feed::Given(given),
    };
    let nw = |p: usize| words(sizes[p]);
    let lambda = net.neuron.leak;

    for t in 0..steps {
        let slot = if record { t } else { 0 };
        {
            let w0 = nw(0);
            let pos = &mut spikes[0][slot * w0..(slot + 1) * w0];
            let neg = &mut input_neg[slot * w0..(slot + 1) * w0];
            match &mut feed {
                Feed::Encoder((thr, sign), rng) => encode_step(thr, sign, rng, pos, neg),
                Feed::Given(given) => {
                    let (p, n) = given.step(t);
                    pos.copy_from_slice(p);
                    neg.copy_from_slice(n);
                }
                // No spikes: the input's events are the analog current's (below).
                Feed::Analog => {}
            }
            for (c, (b, net_c)) in counts[0].iter_mut().zip(&mut input_net).enumerate() {
                let bit = |v: &[u32]| v[c / 32] >> (c % 32) & 1;
                *b += bit(pos) + bit(neg);
                *net_c += bit(pos) as i32 - bit(neg) as i32;
            }
            events_of(0, pos, Some(neg), masks, &mut events[0]);
            if matches!(feed, Feed::Analog) {
                events[0].clone_from(&analog);
            }
        }
        for p in 1..n_pops {
            let m = &mut mem[p];
            for c in net.conns.iter().filter(|c| c.dst == p) {
                let w = c.param.map_or(&[][..], |i| {
                    params[i].as_slice().expect("parameters are contiguous")
                });
                let link = Link {
                    op: c.op,
                    src: net.pops[c.src].shape,
                    dst: net.pops[p].shape,
                };
                scatter(link, w, &events[c.src], m);
            }
            let w = nw(p);
            let bits = &mut spikes[p][slot * w..(slot + 1) * w];
            let lif = match net.pops[p].kind {
                PopKind::Lif => Lif {
                    threshold: net.neuron.threshold,
                    leak: lambda,
                    reset: net.neuron.reset,
                },
                PopKind::Pool => Lif {
                    threshold: net.neuron.pool_threshold,
                    leak: 1.0,
                    reset: Reset::Hard,
                },
                PopKind::Output => {
                    for v in m.iter_mut() {
                        *v *= lambda;
                    }
                    continue;
                }
                PopKind::Input => unreachable!("the input is population 0 only"),
            };
            update_neurons(lif, m, &mut lf[p], &mut counts[p], bits);
            events_of(p, bits, None, masks, &mut events[p]);
        }
    }
    let out = n_pops - 1;
    let y = mem[out].iter().map(|&m| m / steps as f32).collect();
    Trace {
        steps,
        spikes,
        input_neg,
        lf,
        counts,
        input_net,
        analog,
        y,
    }
}

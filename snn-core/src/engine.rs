//! The time loop: sessions over a caller-supplied state arena, and `classify`.
//!
//! A [`Session`] owns nothing: it borrows the [`Model`] and the state words, encodes
//! (or accepts) one step of input spikes, then runs every layer in order: scatter the
//! presynaptic spikes into the membranes ([`crate::layer`]), update the neurons
//! ([`crate::neuron`]). [`Model::classify`] is the whole window in one call.

use core::ops::Range;

use crate::analog::{self, First};
use crate::early_exit::EarlyExit;
use crate::encode::{count_spikes, encode_pixels_step, Xoshiro128PlusPlus};
use crate::format::{Drive, Membranes};
use crate::layer::{dense_scatter, identity_scatter, pool_scatter, words_for};
use crate::membrane::Membrane;
use crate::model::{
    Layout, Model, Plan, PlannedLayer, PlannedShortcut, Pop, MAX_CLASSES, MAX_POPULATIONS,
};
use crate::neuron::{Leak, STATE_LIMIT, STATE_MIN};
use crate::synapse;
use crate::{RunError, MAX_LAYERS};

/// The result of classifying one input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Classification {
    /// Index of the highest score (the lowest index wins a tie).
    pub class: u16,
    /// Output membranes after the last step, in score units (see
    /// [`Model::output_scale`]); the paper's `y = M(T) / T` is `score * scale / T`.
    pub scores: heapless::Vec<i32, MAX_CLASSES>,
    /// Spikes emitted by each spiking population over the window, in layer order (a
    /// residual block contributes two entries).
    pub spikes: heapless::Vec<u32, MAX_POPULATIONS>,
    /// Spikes emitted by the input encoder over the window.
    pub input_spikes: u32,
    /// Synaptic events (accumulates) each layer performed over the window.
    pub synaptic_events: heapless::Vec<u64, MAX_LAYERS>,
    /// Time steps run.
    pub steps: u32,
}

impl Classification {
    /// Sum of [`synaptic_events`](Self::synaptic_events) (the paper's `#AC`).
    pub fn total_synaptic_events(&self) -> u64 {
        self.synaptic_events.iter().sum()
    }

    /// Class probabilities: the softmax of the paper's outputs `y = score * scale / steps`
    /// (pass [`Model::output_scale`]), written into `out`, one per class.
    ///
    /// ```text
    /// p[k] = exp(y[k] - max y) / sum_j exp(y[j] - max y)
    /// ```
    /// `exp` is `micromath`'s approximation (relative error about 1e-3, no `libm`), the
    /// same on every target. Extra entries of `out` are left untouched.
    ///
    /// ```
    /// # use snn_core::Classification;
    /// let mut c = Classification { class: 1, scores: Default::default(), spikes: Default::default(),
    ///     input_spikes: 0, synaptic_events: Default::default(), steps: 10 };
    /// c.scores.extend_from_slice(&[0, 100]).unwrap();
    /// let mut p = [0.0f32; 2];
    /// c.probabilities(0.1, &mut p); // y = [0, 1]
    /// assert!((p[1] - 0.731).abs() < 0.01 && (p[0] + p[1] - 1.0).abs() < 1e-4);
    /// ```
    pub fn probabilities(&self, scale: f32, out: &mut [f32]) {
        let steps = self.steps.max(1) as f32;
        let y = |s: i32| s as f32 * scale / steps;
        let max = self.scores.iter().map(|&s| y(s)).fold(f32::MIN, f32::max);
        let mut sum = 0.0;
        for (p, &s) in out.iter_mut().zip(&self.scores) {
            *p = micromath::F32(y(s) - max).exp().0;
            sum += *p;
        }
        for p in out.iter_mut().take(self.scores.len()) {
            *p /= sum;
        }
    }
}

/// A running inference: the model, its state and the encoder's generator.
///
/// ```
/// # fn demo(model: &snn_core::Model, image: &[u8]) -> Result<(), snn_core::RunError> {
/// let mut state = vec![0u32; model.state_words()];
/// let mut session = model.session(&mut state, image, 42)?;
/// for _ in 0..100 {
///     session.step();
///     let top = session.scores().iter().max().copied().unwrap_or(0);
///     if top > 10_000 {
///         break; // early exit once one class is clearly ahead
///     }
/// }
/// let _class = session.class();
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Session<'m, 's> {
    layout: &'m Layout<'m>,
    layers: &'m [PlannedLayer<'m>],
    state: &'s mut [u32],
    rng: Xoshiro128PlusPlus,
    steps: u32,
    input_spikes: u32,
}

fn as_i32(words: &mut [u32]) -> &mut [i32] {
    bytemuck::cast_slice_mut(words)
}

fn shift(r: &Range<usize>, base: usize) -> Range<usize> {
    r.start - base..r.end - base
}

/// The presynaptic spikes of one layer: the positive bitset, and the negative one
/// when the layer reads the (signed) input encoder.
struct Spikes<'a> {
    pos: &'a [u32],
    neg: Option<&'a [u32]>,
}

impl Spikes<'_> {
    /// Runs `kernel(bits, negative)` on the positive spikes, then on the negative ones
    /// if any, and returns the summed synaptic events.
    #[inline]
    fn scatter(&self, mut kernel: impl FnMut(&[u32], bool) -> u64) -> u64 {
        let mut events = kernel(self.pos, false);
        if let Some(neg) = self.neg {
            events += kernel(neg, true);
        }
        events
    }
}

/// A population's arena regions, split out of the words `cur` (which start at arena
/// word `base`): packed thresholds, membranes (still as words), spike bitset and
/// synaptic currents (empty without a synapse).
struct PopState<'c> {
    pairs: &'c [u32],
    mem: &'c mut [u32],
    bits: &'c mut [u32],
    syn: &'c mut [u32],
    n: usize,
    synapse: Leak,
}

fn pop_state<'c>(cur: &'c mut [u32], base: usize, pop: &Pop<'_>) -> PopState<'c> {
    let region = &mut cur[pop.pairs.start - base..pop.syn().end - base];
    let (pairs, rest) = region.split_at_mut(pop.pairs.len());
    let (mem, rest) = rest.split_at_mut(pop.mem.len());
    let (bits, syn) = rest.split_at_mut(pop.bits.len());
    PopState {
        pairs,
        mem,
        bits,
        syn,
        n: pop.n,
        synapse: pop.neurons.synapse(),
    }
}

/// Runs `$body` with `$m` bound to the population's membranes as `&mut [i16]` or
/// `&mut [i32]`, by the model's width: each kernel is monomorphised for both.
macro_rules! with_membranes {
    ($width:expr, $state:expr, |$m:ident| $body:expr) => {
        match $width {
            Membranes::I16 => {
                let $m: &mut [i16] = &mut bytemuck::cast_slice_mut($state.mem)[..$state.n];
                $body
            }
            Membranes::I32 => {
                let $m: &mut [i32] = bytemuck::cast_slice_mut($state.mem);
                $body
            }
        }
    };
}

/// Runs `$body` (one step's synaptic input, returning its events) with `$m` bound to
/// where a population's input goes: its membranes (as [`with_membranes`]), or, for a
/// current-based population, its synaptic currents as `&mut [i32]`, which then drive
/// the membranes and decay ([`synapse::drive`]). Evaluates to the events.
macro_rules! with_input {
    ($width:expr, $state:expr, |$m:ident| $body:expr) => {
        if $state.syn.is_empty() {
            with_membranes!($width, $state, |$m| $body)
        } else {
            let events = {
                let $m: &mut [i32] = bytemuck::cast_slice_mut($state.syn);
                $body
            };
            let syn: &mut [i32] = bytemuck::cast_slice_mut($state.syn);
            with_membranes!($width, $state, |m| synapse::drive(m, syn, $state.synapse));
            events
        }
    };
}

/// The output integrator's step (`plan` is its [`Plan::Output`]; `cur` the arena from
/// word `base`): the spikes into the scores, or into the synaptic currents that then
/// drive them, then the leak. Returns the synaptic events.
fn output_step(plan: &Plan<'_>, cur: &mut [u32], base: usize, spikes: &Spikes<'_>) -> u64 {
    let Plan::Output {
        weights,
        leak,
        synapse,
        mem,
        syn,
        ..
    } = plan
    else {
        return 0;
    };
    let (head, tail) = cur.split_at_mut(syn.start - base);
    let mem = as_i32(&mut head[shift(mem, base)]);
    let syn = as_i32(&mut tail[..syn.len()]);
    let events = if syn.is_empty() {
        spikes.scatter(|b, negative| dense_scatter(weights, b, negative, mem))
    } else {
        let events = spikes.scatter(|b, negative| dense_scatter(weights, b, negative, syn));
        synapse::drive(mem, syn, *synapse);
        events
    };
    for m in mem.iter_mut() {
        *m = leak.apply(*m).clamp(STATE_MIN, STATE_LIMIT);
    }
    events
}

/// One population's step after its synaptic input: the neuron update.
fn fire<M: Membrane>(pop: &Pop<'_>, mem: &mut [M], pairs: &[u32], bits: &mut [u32]) -> u32 {
    M::step(&pop.neurons, mem, pairs, bits)
}

impl<'m, const L: usize> Model<'m, L> {
    /// Starts an inference on `image` (`u8` pixels, `HWC`), rate-encoded with `seed`
    /// (or, for a model with an analog input, driving the first layer with the
    /// image's current: [`crate::analog`]; the seed is then unused).
    ///
    /// Zeroes the first [`state_words`](Self::state_words) words of `state` and
    /// computes each pixel's spike threshold ([`crate::encode::pixel_threshold`]) or
    /// the analog current.
    ///
    /// # Errors
    /// [`RunError::StateTooSmall`] or [`RunError::InputLength`].
    pub fn session<'s>(
        &'m self,
        state: &'s mut [u32],
        image: &[u8],
        seed: u64,
    ) -> Result<Session<'m, 's>, RunError> {
        let mut session = self.blank_session(state)?;
        if image.len() != self.input_len() {
            return Err(RunError::InputLength {
                expected: self.input_len(),
                found: image.len(),
            });
        }
        session.rng = Xoshiro128PlusPlus::seed_from_u64(seed);
        let inp = &self.layout.input;
        let (pixels, tables) =
            session.state[inp.pixels.start..inp.tables.end].split_at_mut(inp.pixels.len());
        let pixels: &mut [u8] = bytemuck::cast_slice_mut(pixels);
        pixels[..image.len()].copy_from_slice(image);
        let table = |t: &[u8], c: usize| {
            t.get(4 * c..4 * c + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        for (c, t) in tables.chunks_exact_mut(2).enumerate() {
            t[0] = table(inp.center, c);
            t[1] = table(inp.gain, c);
        }
        if let Drive::Analog { shift } = inp.drive {
            session.start_analog(image, shift);
        }
        Ok(session)
    }

    /// Starts a session whose input spikes the caller supplies each step with
    /// [`Session::step_with_spikes`] (streaming or event-sensor input).
    ///
    /// # Errors
    /// [`RunError::StateTooSmall`].
    pub fn session_without_encoder<'s>(
        &'m self,
        state: &'s mut [u32],
    ) -> Result<Session<'m, 's>, RunError> {
        self.blank_session(state)
    }

    fn blank_session<'s>(&'m self, state: &'s mut [u32]) -> Result<Session<'m, 's>, RunError> {
        let found = state.len();
        let state = state
            .get_mut(..self.layout.state_words)
            .ok_or(RunError::StateTooSmall {
                needed: self.layout.state_words,
                found,
            })?;
        state.fill(0);
        let (weights, signed) = self.layout.output_weights;
        crate::model::output_currents(
            weights,
            signed,
            bytemuck::cast_slice_mut(&mut state[self.layout.output_bounds.clone()]),
        );
        if self.layout.membranes == Membranes::I16 {
            for layer in &self.layers {
                for pop in layer.plan.populations().into_iter().flatten() {
                    pop.neurons.write_pairs(&mut state[pop.pairs.clone()]);
                }
            }
        }
        // The spike and event counts live in the arena (zeroed above), so a session is
        // a few words: on a device, stack.
        Ok(Session {
            layout: &self.layout,
            layers: &self.layers,
            state,
            rng: Xoshiro128PlusPlus::seed_from_u64(0),
            steps: 0,
            input_spikes: 0,
        })
    }

    /// [`classify`](Self::classify) that may stop early under `rule` (see
    /// [`EarlyExit`]); the result's `steps` says how many steps ran. With
    /// [`EarlyExit::Exact`] the class is always the one `classify` gives.
    ///
    /// # Errors
    /// As [`classify`](Self::classify).
    pub fn classify_until(
        &self,
        state: &mut [u32],
        image: &[u8],
        seed: u64,
        steps: u32,
        rule: EarlyExit,
    ) -> Result<Classification, RunError> {
        if steps == 0 {
            return Err(RunError::ZeroSteps);
        }
        let mut session = self.session(state, image, seed)?;
        for t in 1..=steps {
            session.step();
            if t < steps && rule != EarlyExit::Never && session.settled(steps - t, rule) {
                break;
            }
        }
        Ok(session.result())
    }

    /// Classifies `image` with `steps` time steps of rate coding seeded by `seed`.
    ///
    /// The same model, image, seed and steps give the same result on every target.
    ///
    /// # Errors
    /// [`RunError::ZeroSteps`], [`RunError::StateTooSmall`], [`RunError::InputLength`].
    pub fn classify(
        &self,
        state: &mut [u32],
        image: &[u8],
        seed: u64,
        steps: u32,
    ) -> Result<Classification, RunError> {
        self.classify_until(state, image, seed, steps, EarlyExit::Never)
    }
}

impl<'m> Session<'m, '_> {
    /// Writes the first layer's analog current for `image` and counts its
    /// multiply-accumulates as the first layer's synaptic events.
    fn start_analog(&mut self, image: &[u8], shift: u8) {
        let model = self.layout;
        let inp = &model.input;
        let first = match self.layers.first().map(|l| &l.plan) {
            Some(Plan::Conv { conv, .. }) => First::Conv(conv),
            Some(Plan::Dense { weights, .. }) => First::Dense(weights),
            // Refused by validation.
            _ => return,
        };
        let center = |c: usize| {
            inp.center
                .get(4 * c..4 * c + 4)
                .map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let out = &mut self.state[inp.current.clone()];
        let channels = usize::from(inp.shape.channels);
        let macs = analog::current(first, image, channels, center, shift, model.membranes, out);
        let events = model.counts.start + model.populations;
        if let Some([lo, hi]) = self.state.get_mut(events..events + 2) {
            (*lo, *hi) = (macs as u32, (macs >> 32) as u32);
        }
    }

    /// Runs one time step with rate-encoded input (with an analog input: the
    /// first layer's current, and no input spikes).
    pub fn step(&mut self) {
        let inp = &self.layout.input;
        if inp.drive != Drive::Rate {
            self.state[inp.pos.start..inp.neg.end].fill(0);
            self.propagate();
            return;
        }
        let (head, tail) = self.state.split_at_mut(inp.pos.start);
        let (pos, neg) = tail[..inp.neg.end - inp.pos.start].split_at_mut(inp.pos.len());
        let pixels: &[u8] = bytemuck::cast_slice(&head[inp.pixels.clone()]);
        encode_pixels_step(
            &pixels[..inp.shape.len()],
            bytemuck::cast_slice(&head[inp.tables.clone()]),
            &mut self.rng,
            pos,
            neg,
        );
        self.propagate();
    }

    /// Runs one time step with input spikes given as bitsets over the input neurons
    /// (`HWC` order): `positive` spikes add the weights, `negative` ones subtract them.
    ///
    /// A neuron may be in one bitset or neither, not both: a spike has one sign. Bits
    /// past the last input neuron are ignored.
    ///
    /// # Errors
    /// [`RunError::SpikeWords`] when a bitset does not have `ceil(input_len / 32)` words;
    /// [`RunError::SpikeOverlap`] when a neuron is set in both. On an error the session
    /// is unchanged.
    pub fn step_with_spikes(&mut self, positive: &[u32], negative: &[u32]) -> Result<(), RunError> {
        let inp = &self.layout.input;
        let n = inp.shape.len();
        let expected = words_for(n);
        for b in [positive, negative] {
            if b.len() != expected {
                return Err(RunError::SpikeWords {
                    expected,
                    found: b.len(),
                });
            }
        }
        // Bits past the last input neuron are ignored by the kernels; clear them so
        // the spike count is exact too.
        let tail = n % 32;
        let mask = |w: usize| {
            if tail != 0 && w + 1 == expected {
                (1u32 << tail) - 1
            } else {
                u32::MAX
            }
        };
        for (w, (&p, &q)) in positive.iter().zip(negative).enumerate() {
            let both = p & q & mask(w);
            if both != 0 {
                return Err(RunError::SpikeOverlap {
                    neuron: w * 32 + both.trailing_zeros() as usize,
                });
            }
        }
        let (pos, neg) = (inp.pos.clone(), inp.neg.clone());
        for (range, bits) in [(pos, positive), (neg, negative)] {
            for (w, (dst, &src)) in self.state[range].iter_mut().zip(bits).enumerate() {
                *dst = src & mask(w);
            }
        }
        self.propagate();
        Ok(())
    }

    fn propagate(&mut self) {
        let model = self.layout;
        let inp = &model.input;
        let input_spikes =
            count_spikes(&self.state[inp.pos.clone()]) + count_spikes(&self.state[inp.neg.clone()]);
        self.input_spikes = self.input_spikes.saturating_add(input_spikes);
        let mut prev = inp.pos.clone();
        let mut prev_neg = Some(inp.neg.clone());
        let mut p = 0;
        for (l, layer) in self.layers.iter().enumerate() {
            let base = layer.base;
            let (before, cur) = self.state.split_at_mut(base);
            // The analog current follows the first layer's regions.
            let (cur, current): (&mut [u32], Option<&[u32]>) = if l == 0 && !inp.current.is_empty()
            {
                let (regions, rest) = cur.split_at_mut(inp.current.start - base);
                (regions, Some(&rest[..inp.current.len()]))
            } else {
                (cur, None)
            };
            let spikes = Spikes {
                pos: &before[prev.clone()],
                neg: prev_neg.take().map(|r| &before[r]),
            };
            let mut events = 0u64;
            // Spikes of this layer's (at most two) populations.
            let mut spiked = [0u32; 2];
            let mut fired = |pop: usize, n: u32| spiked[pop - p] = n;
            let width = model.membranes;
            match &layer.plan {
                Plan::Conv { conv, pop } => {
                    let st = pop_state(cur, base, pop);
                    events += with_input!(width, st, |m| {
                        spikes.scatter(|b, negative| conv.scatter(b, negative, m))
                    });
                    if let Some(c) = current {
                        analog::drive(width, st.mem, c);
                    }
                    with_membranes!(width, st, |m| {
                        fired(p, fire(pop, m, st.pairs, st.bits));
                    });
                    prev = pop.bits.clone();
                }
                Plan::Pool { pop } => {
                    let st = pop_state(cur, base, pop);
                    let (i, o) = (layer.info.input, layer.info.output);
                    events += with_input!(width, st, |m| {
                        spikes.scatter(|b, negative| pool_scatter(i, o, b, negative, m))
                    });
                    with_membranes!(width, st, |m| {
                        fired(p, fire(pop, m, st.pairs, st.bits));
                    });
                    prev = pop.bits.clone();
                }
                Plan::Dense { weights, pop } => {
                    let st = pop_state(cur, base, pop);
                    events += with_input!(width, st, |m| {
                        spikes.scatter(|b, negative| dense_scatter(weights, b, negative, m))
                    });
                    if let Some(c) = current {
                        analog::drive(width, st.mem, c);
                    }
                    with_membranes!(width, st, |m| {
                        fired(p, fire(pop, m, st.pairs, st.bits));
                    });
                    prev = pop.bits.clone();
                }
                Plan::Residual {
                    conv1,
                    pop1,
                    conv2,
                    shortcut,
                    pop2,
                } => {
                    let (first, second) = cur.split_at_mut(pop2.pairs.start - base);
                    let st1 = pop_state(first, base, pop1);
                    let st2 = pop_state(second, pop2.pairs.start, pop2);
                    events += with_input!(width, st1, |m1| {
                        spikes.scatter(|b, negative| conv1.scatter(b, negative, m1))
                    });
                    with_membranes!(width, st1, |m1| {
                        fired(p, fire(pop1, m1, st1.pairs, st1.bits));
                    });
                    let bits1: &[u32] = st1.bits;
                    events += with_input!(width, st2, |m2| {
                        conv2.scatter(bits1, false, m2)
                            + spikes.scatter(|b, negative| match shortcut {
                                PlannedShortcut::Conv(sc) => sc.scatter(b, negative, m2),
                                PlannedShortcut::Identity { stride, gains } => identity_scatter(
                                    layer.info.input,
                                    layer.info.output,
                                    *stride,
                                    gains,
                                    b,
                                    negative,
                                    m2,
                                ),
                            })
                    });
                    with_membranes!(width, st2, |m2| {
                        fired(p + 1, fire(pop2, m2, st2.pairs, st2.bits));
                    });
                    prev = pop2.bits.clone();
                }
                Plan::Output { .. } => events += output_step(&layer.plan, cur, base, &spikes),
            }
            let pops = usize::from(layer.info.populations);
            self.count(l, p..p + pops, spiked, events);
            p += pops;
        }
        self.steps = self.steps.saturating_add(1);
    }

    /// Adds one step's spikes of populations `pops` (of layer `l`) and the layer's
    /// synaptic `events` to the arena's counts, saturating.
    fn count(&mut self, l: usize, pops: Range<usize>, spiked: [u32; 2], events: u64) {
        let model = self.layout;
        let counts = &mut self.state[model.counts.clone()];
        let (spikes, layer_events) = counts.split_at_mut(model.populations);
        if let Some(s) = spikes.get_mut(pops) {
            for (s, n) in s.iter_mut().zip(spiked) {
                *s = s.saturating_add(n);
            }
        }
        if let Some([lo, hi]) = layer_events.as_chunks_mut::<2>().0.get_mut(l) {
            let e = (u64::from(*hi) << 32 | u64::from(*lo)).saturating_add(events);
            (*lo, *hi) = (e as u32, (e >> 32) as u32);
        }
    }

    /// Whether the current leader keeps the lead over `remaining` more steps under
    /// `rule` ([`crate::early_exit::settled`] with this model's output bounds).
    /// With a synaptic current at the output (NIR's `CubaLI`) input reaches the scores
    /// after the step it arrived in, so the per-step bounds of `Exact` do not hold: it
    /// then settles only at the end (`remaining == 0`).
    pub fn settled(&self, remaining: u32, rule: EarlyExit) -> bool {
        let m = self.layout;
        if rule == EarlyExit::Exact && m.output_synapse != Leak::ZERO {
            return remaining == 0;
        }
        crate::early_exit::settled(
            self.scores(),
            bytemuck::cast_slice(&self.state[m.output_bounds.clone()]),
            m.output_leak,
            remaining,
            rule,
        )
    }

    /// Output scores so far (the output membranes), one per class.
    pub fn scores(&self) -> &[i32] {
        bytemuck::cast_slice(&self.state[self.layout.output_mem.clone()])
    }

    /// Index of the highest score so far (lowest index on a tie).
    pub fn class(&self) -> u16 {
        crate::early_exit::leader(self.scores()) as u16
    }

    /// Steps run so far.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Spikes per population so far.
    pub fn spike_counts(&self) -> &[u32] {
        &self.state[self.layout.counts.start..][..self.layout.populations]
    }

    /// The spike bitset population `index` emitted at the last step (for rasters), or
    /// `None` past the last population.
    pub fn population_spikes(&self, index: usize) -> Option<&[u32]> {
        let mut p = 0;
        for layer in self.layers {
            for pop in layer.plan.populations().into_iter().flatten() {
                if p == index {
                    return Some(&self.state[pop.bits.clone()]);
                }
                p += 1;
            }
        }
        None
    }

    /// Everything measured so far, as a [`Classification`].
    pub fn result(&self) -> Classification {
        let mut c = Classification {
            class: self.class(),
            scores: heapless::Vec::new(),
            spikes: heapless::Vec::new(),
            input_spikes: self.input_spikes,
            synaptic_events: heapless::Vec::new(),
            steps: self.steps,
        };
        let events = &self.state[self.layout.counts.start + self.layout.populations..];
        // Cannot fail: a valid model has at most `MAX_CLASSES` classes, `MAX_POPULATIONS`
        // populations and `MAX_LAYERS` layers.
        let _ = c.scores.extend_from_slice(self.scores());
        let _ = c.spikes.extend_from_slice(self.spike_counts());
        for [lo, hi] in events.as_chunks::<2>().0.iter().take(self.layers.len()) {
            let _ = c
                .synaptic_events
                .push(u64::from(*hi) << 32 | u64::from(*lo));
        }
        c
    }
}

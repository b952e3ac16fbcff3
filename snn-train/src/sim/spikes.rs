//! Caller-supplied input spike trains: the way event-camera data, other encoders and
//! external reference checks enter the trainer instead of the rate encoder.
//!
//! An [`InputSpikes`] holds `T` bitsets over the input population (HWC order, as the
//! images), one for positive and one for negative spikes per step. Run it through
//! [`crate::sim::forward_spikes`], then [`crate::sim::grad::backward`] (either form), or do
//! both at once with [`crate::train::step::StepContext::spikes_gradient`].
//!
//! ```
//! use snn_train::train::config::TrainConfig;
//! use snn_train::model::net::{shape, Network};
//! use snn_train::sim::{forward_spikes, Masks, Window};
//! use snn_train::sim::spikes::InputSpikes;
//! use snn_train::LayerIndex;
//!
//! let cfg = TrainConfig::default();
//! let input = shape(LayerIndex::Input, 1, 28, 28)?;
//! let layers = cfg.network.layer_list();
//! let net = Network::build(&layers, input, 10, cfg.network.neuron(), 0.0)?;
//! let params = net.init(2.0, 1);
//! let enc = cfg.data.dataset.encoding();
//! let win = Window { net: &net, enc: &enc, steps: 5, record: true };
//! let mut spikes = InputSpikes::new(28 * 28, 5);
//! for t in 0..5 {
//!     spikes.set(t, 14 * 28 + 14, 1); // the centre pixel fires at every step
//! }
//! let trace = forward_spikes(&win, &params, &spikes, &Masks::none(&net))?;
//! assert_eq!(trace.counts[0][14 * 28 + 14], 5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use snn_core::layer::words_for as words;

use crate::data::events::bins::spike_words;
use crate::data::events::{Binning, Event};

/// Input spike trains that do not fit the network they are fed to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpikesError {
    /// The trains cover another number of input neurons.
    #[error("the input spikes cover {found} neurons, the network's input has {expected}")]
    Neurons {
        /// The network's input size.
        expected: usize,
        /// The trains' size.
        found: usize,
    },
    /// The trains have another number of steps than the window.
    #[error("the input spikes have {found} time steps, the window has {expected}")]
    Steps {
        /// The window's steps.
        expected: usize,
        /// The trains' steps.
        found: usize,
    },
    /// A bitset of the wrong length was given.
    #[error("{what} has {found} words, {expected} expected ({steps} steps of {neurons} neurons)")]
    Words {
        /// Which bitset.
        what: &'static str,
        /// Words expected.
        expected: usize,
        /// Words given.
        found: usize,
        /// Steps.
        steps: usize,
        /// Neurons.
        neurons: usize,
    },
    /// A neuron spikes both positively and negatively at the same step.
    #[error("input neuron {neuron} has both a positive and a negative spike at step {step}")]
    BothSigns {
        /// Step.
        step: usize,
        /// Neuron.
        neuron: usize,
    },
}

/// `T` steps of input spikes, bit-packed (bit `i % 32` of word `t * words(n) + i / 32`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpikes {
    neurons: usize,
    steps: usize,
    pos: Vec<u32>,
    neg: Vec<u32>,
}

impl InputSpikes {
    /// Silent trains over `neurons` inputs for `steps` steps.
    pub fn new(neurons: usize, steps: usize) -> Self {
        let n = steps * words(neurons);
        Self {
            neurons,
            steps,
            pos: vec![0; n],
            neg: vec![0; n],
        }
    }

    /// Trains from bitsets: `pos` (and `neg` for signed input, else all silent), each
    /// `steps * ceil(neurons / 32)` words, step after step.
    ///
    /// # Errors
    /// [`SpikesError::Words`] for a bitset of the wrong length, and
    /// [`SpikesError::BothSigns`] when a neuron has both signs at one step.
    pub fn from_bits(
        neurons: usize,
        steps: usize,
        pos: Vec<u32>,
        neg: Option<Vec<u32>>,
    ) -> Result<Self, SpikesError> {
        let expected = steps * words(neurons);
        let check = |what, v: &[u32]| {
            if v.len() == expected {
                Ok(())
            } else {
                Err(SpikesError::Words {
                    what,
                    expected,
                    found: v.len(),
                    steps,
                    neurons,
                })
            }
        };
        check("pos", &pos)?;
        let neg = neg.unwrap_or_else(|| vec![0; expected]);
        check("neg", &neg)?;
        let mut s = Self {
            neurons,
            steps,
            pos,
            neg,
        };
        s.clear_padding();
        for t in 0..steps {
            for (w, (p, n)) in s.step(t).0.iter().zip(s.step(t).1).enumerate() {
                let both = p & n;
                if both != 0 {
                    return Err(SpikesError::BothSigns {
                        step: t,
                        neuron: w * 32 + both.trailing_zeros() as usize,
                    });
                }
            }
        }
        Ok(s)
    }

    /// Input neurons.
    pub fn neurons(&self) -> usize {
        self.neurons
    }

    /// Time steps.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Sets neuron `i` at step `t` to a positive (`sign > 0`), negative (`sign < 0`)
    /// or no spike (`sign == 0`).
    ///
    /// # Panics
    /// When `t` or `i` is out of range.
    pub fn set(&mut self, t: usize, i: usize, sign: i8) {
        assert!(
            t < self.steps && i < self.neurons,
            "spike ({t}, {i}) out of range"
        );
        let w = t * words(self.neurons) + i / 32;
        let bit = 1u32 << (i % 32);
        self.pos[w] &= !bit;
        self.neg[w] &= !bit;
        match sign {
            1.. => self.pos[w] |= bit,
            ..=-1 => self.neg[w] |= bit,
            0 => {}
        }
    }

    /// The spike of neuron `i` at step `t`: 1, -1 or 0.
    ///
    /// # Panics
    /// When `t` or `i` is out of range.
    pub fn get(&self, t: usize, i: usize) -> i8 {
        assert!(
            t < self.steps && i < self.neurons,
            "spike ({t}, {i}) out of range"
        );
        let w = t * words(self.neurons) + i / 32;
        let bit = |v: &[u32]| v[w] >> (i % 32) & 1 == 1;
        i8::from(bit(&self.pos)) - i8::from(bit(&self.neg))
    }

    /// The spikes of an event sample (sorted by time) on a `width x height` sensor:
    /// `steps` bins of `binning`, a positive spike at input `(y * width + x) * 2 + p`
    /// wherever a bin holds an event of polarity `p` at `(x, y)` (two channels, HWC,
    /// like the images; see [`crate::data::events::bins`]). Events off the sensor are
    /// ignored.
    ///
    /// ```
    /// use snn_train::data::events::{Binning, Event};
    /// use snn_train::sim::spikes::InputSpikes;
    /// let ev = [Event { t: 0, x: 1, y: 0, p: 1 }, Event { t: 10, x: 0, y: 0, p: 0 }];
    /// let s = InputSpikes::from_events(&ev, (2, 1), 1, Binning::EventBins);
    /// assert_eq!(s.step(0).0[0], 0b1001); // (x 1, ON) is input 3, (x 0, OFF) input 0
    /// ```
    pub fn from_events(
        events: &[Event],
        (width, height): (usize, usize),
        steps: usize,
        binning: Binning,
    ) -> Self {
        let pos = spike_words(events, (width, height), steps, binning);
        let neg = vec![0; pos.len()];
        Self {
            neurons: width * height * 2,
            steps,
            pos,
            neg,
        }
    }

    /// The positive and negative bitsets of step `t`.
    ///
    /// # Panics
    /// When `t` is out of range.
    pub fn step(&self, t: usize) -> (&[u32], &[u32]) {
        let w = words(self.neurons);
        (&self.pos[t * w..(t + 1) * w], &self.neg[t * w..(t + 1) * w])
    }

    /// Mutable bitsets of step `t` (for filling them in place).
    pub(crate) fn step_mut(&mut self, t: usize) -> (&mut [u32], &mut [u32]) {
        let w = words(self.neurons);
        (
            &mut self.pos[t * w..(t + 1) * w],
            &mut self.neg[t * w..(t + 1) * w],
        )
    }

    /// Checks that the trains fit an input of `neurons` neurons and `steps` steps.
    ///
    /// # Errors
    /// [`SpikesError::Neurons`] or [`SpikesError::Steps`].
    pub fn check(&self, neurons: usize, steps: usize) -> Result<(), SpikesError> {
        if self.neurons != neurons {
            return Err(SpikesError::Neurons {
                expected: neurons,
                found: self.neurons,
            });
        }
        if self.steps != steps {
            return Err(SpikesError::Steps {
                expected: steps,
                found: self.steps,
            });
        }
        Ok(())
    }

    /// Bits past the last neuron of each step carry no spike.
    fn clear_padding(&mut self) {
        let (w, tail) = (words(self.neurons), self.neurons % 32);
        if tail == 0 {
            return;
        }
        let mask = (1u32 << tail) - 1;
        for t in 0..self.steps {
            self.pos[t * w + w - 1] &= mask;
            self.neg[t * w + w - 1] &= mask;
        }
    }
}

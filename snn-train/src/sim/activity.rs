//! Spiking activity telemetry: per population, spikes per neuron per step and the
//! fraction of neurons silent for a whole sample, summed over samples so it can be
//! reduced in a fixed order like the gradients and averaged over a batch, an epoch or
//! the test pass.
//!
//! Every spiking population is counted (the input, the LIF layers, the pooling
//! neurons); the output integrator does not spike and is left out. A network whose
//! output receives no spikes has a silent population on the way: the training guard
//! ([`crate::train::guard`]) names the first one.
//!
//! ```
//! use snn_train::sim::activity::Activity;
//! let mut a = Activity::default();
//! // a population of 4 neurons over 10 steps: one neuron fired 5 times, three were silent
//! a.add_population(1, 4, 10, &[5, 0, 0, 0]);
//! let s = &a.summary(&["input".into(), "conv1".into()])[0];
//! assert_eq!((s.name.as_str(), s.rate, s.silent), ("conv1", 0.125, 0.75));
//! ```

use serde::{Deserialize, Serialize};

use crate::model::net::{Network, PopKind};
use crate::sim::Trace;

/// Sums over samples of one population's activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PopCounts {
    /// Spikes.
    pub spikes: u64,
    /// Neuron-steps simulated (`neurons * T` per sample).
    pub neuron_steps: u64,
    /// Neurons that did not fire in their sample's window.
    pub silent: u64,
    /// Neurons simulated (`neurons` per sample).
    pub neurons: u64,
}

impl PopCounts {
    fn add(&mut self, o: &PopCounts) {
        self.spikes += o.spikes;
        self.neuron_steps += o.neuron_steps;
        self.silent += o.silent;
        self.neurons += o.neurons;
    }
}

/// Activity of every population (by population index; the output's entry stays
/// empty), summed over samples.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pops: Vec<PopCounts>,
}

/// The activity of one population, averaged: what `metrics.jsonl` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopActivity {
    /// Population name (`input`, `conv1`, `pool1`, `fc1`, ...).
    pub name: String,
    /// Spikes per neuron per step.
    pub rate: f64,
    /// Fraction of neurons that never fired within a sample's window, averaged over
    /// samples.
    pub silent: f64,
}

impl Activity {
    /// The activity of one forward pass.
    pub fn of_trace(net: &Network, trace: &Trace) -> Self {
        let mut a = Self::default();
        for (p, pop) in net.pops.iter().enumerate() {
            if pop.kind != PopKind::Output {
                a.add_population(p, pop.shape.len(), trace.steps, &trace.counts[p]);
            }
        }
        a
    }

    /// Adds one sample of population `pop` (`neurons` neurons over `steps` steps, with
    /// per-neuron spike `counts`).
    pub fn add_population(&mut self, pop: usize, neurons: usize, steps: usize, counts: &[u32]) {
        if self.pops.len() <= pop {
            self.pops.resize(pop + 1, PopCounts::default());
        }
        self.pops[pop].add(&PopCounts {
            spikes: counts.iter().map(|&c| u64::from(c)).sum(),
            neuron_steps: (neurons * steps) as u64,
            silent: counts.iter().filter(|&&c| c == 0).count() as u64,
            neurons: neurons as u64,
        });
    }

    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &Activity) {
        if self.pops.len() < o.pops.len() {
            self.pops.resize(o.pops.len(), PopCounts::default());
        }
        for (a, b) in self.pops.iter_mut().zip(&o.pops) {
            a.add(b);
        }
    }

    /// The sums of population `pop` (zeros when it was never counted).
    pub fn counts(&self, pop: usize) -> PopCounts {
        self.pops.get(pop).copied().unwrap_or_default()
    }

    /// The first population that was counted and did not spike at all, if any.
    pub fn first_silent(&self) -> Option<usize> {
        self.pops
            .iter()
            .position(|c| c.neurons > 0 && c.spikes == 0)
    }

    /// Averages per counted population, named by `names` (indexed by population).
    pub fn summary(&self, names: &[String]) -> Vec<PopActivity> {
        self.pops
            .iter()
            .enumerate()
            .filter(|(_, c)| c.neurons > 0)
            .map(|(p, c)| PopActivity {
                name: names.get(p).cloned().unwrap_or_else(|| format!("pop{p}")),
                rate: c.spikes as f64 / c.neuron_steps.max(1) as f64,
                silent: c.silent as f64 / c.neurons as f64,
            })
            .collect()
    }
}

/// The compact form for the progress line: `conv1 .071/12% pool1 .09/30% ...` (rate,
/// then silent share), without the input.
pub fn compact(summary: &[PopActivity]) -> String {
    summary
        .iter()
        .filter(|a| a.name != "input")
        .map(|a| {
            let rate = format!("{:.3}", a.rate);
            format!(
                "{} {}/{:.0}%",
                a.name,
                rate.trim_start_matches('0'),
                100.0 * a.silent
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

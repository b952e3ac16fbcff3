//! The neuron nodes (`IF`, `LIF`, `LI`, `I`, `CubaLIF`, `CubaLI`): their parameters
//! per channel, with NIR's continuous-time constants discretised at `dt` (forward
//! Euler).

use snn_core::format::Reset;
use snn_core::neuron::Leak;

use super::{bad, Pop, Walker};
use crate::io::export::Dynamics;
use crate::io::nir::graph::{Array, Graph, Kind};
use crate::io::nir::NirError;

/// A spiking or integrating node's parameters, per output channel.
pub(super) struct NeuronParams {
    pub(super) spiking: bool,
    /// `1 - dt / tau` (1 without leak).
    pub(super) lam: f64,
    pub(super) leak_bits: u16,
    /// The synaptic current's `1 - dt / tau_syn` (current-based nodes only).
    pub(super) syn_lam: Option<f64>,
    /// Its U1F15 bits (0 without a synaptic current).
    pub(super) synapse_bits: u16,
    /// Input gain `dt R / tau` (`dt R` without leak), times `dt w_in / tau_syn` for a
    /// current-based node.
    pub(super) gain: Vec<f64>,
    pub(super) threshold: Vec<f64>,
    pub(super) reset: Reset,
}
impl NeuronParams {
    /// Integrate-and-fire without leak or synaptic current, resetting hard: what our
    /// pooling neurons are.
    pub(super) fn plain_if(&self) -> bool {
        self.lam == 1.0 && self.syn_lam.is_none() && self.reset == Reset::Hard
    }

    /// The layer's constants in the format's units.
    pub(super) fn dynamics(&self) -> Dynamics {
        Dynamics {
            leak: self.leak_bits,
            reset: self.reset,
            synapse: self.synapse_bits,
        }
    }
}

/// Values of `a` per channel of `pop`: one value for all, one per channel, or one per
/// neuron that is uniform within each channel.
pub(super) fn per_channel(
    g: &Graph,
    node: &str,
    what: &str,
    a: &Array,
    pop: &Pop,
) -> Result<Vec<f64>, NirError> {
    let c = pop.channels();
    let n = pop.len();
    let v = if a.len() == 1 {
        vec![a.data[0]; c]
    } else if a.len() == n {
        let per = n / c.max(1);
        let mut out = Vec::with_capacity(c);
        for ch in a.data.chunks(per.max(1)) {
            if ch.iter().any(|&x| x != ch[0]) {
                return Err(bad(
                    node,
                    g,
                    format!(
                        "`{what}` varies within a channel; our layers hold one value per channel"
                    ),
                ));
            }
            out.push(ch[0]);
        }
        out
    } else if a.len() == c {
        a.data.clone()
    } else {
        return Err(bad(
            node,
            g,
            format!(
                "`{what}` has {} values for a population of shape {:?}",
                a.len(),
                pop.shape
            ),
        ));
    };
    if v.iter().any(|x| !x.is_finite()) {
        return Err(bad(node, g, format!("`{what}` is not finite")));
    }
    Ok(v)
}

fn uniform(g: &Graph, node: &str, what: &str, v: &[f64]) -> Result<f64, NirError> {
    match v.first() {
        Some(&x) if v.iter().all(|&y| y == x) => Ok(x),
        _ => Err(bad(
            node,
            g,
            format!("`{what}` differs between channels; a layer has one leak"),
        )),
    }
}
impl Walker<'_> {
    pub(super) fn neuron(&self, name: &str, pop: &Pop) -> Result<NeuronParams, NirError> {
        let node = self.node(name);
        let dt = self.dt;
        let pc = |what: &str, a: &Array| per_channel(self.g, name, what, a, pop);
        let Parts {
            spiking,
            tau,
            r,
            v_leak,
            v_threshold,
            v_reset,
            syn,
            w_in,
        } = parts(&node.kind);
        let time_constant = |what: &str, t: &Array| -> Result<f64, NirError> {
            let tau = uniform(self.g, name, what, &pc(what, t)?)?;
            if tau <= 0.0 {
                return Err(self.err(name, format!("{what} = {tau} is not positive")));
            }
            if dt > tau {
                return Err(self.err(
                    name,
                    format!(
                        "dt = {dt} s is longer than {what} = {tau} s: the forward-Euler step \
                         would overshoot (pass a smaller --dt; Norse 1.1.0 writes dt times its \
                         time constant, so its files need --dt equal to its dt squared, 1e-6 \
                         for dt = 1e-3)"
                    ),
                ));
            }
            Ok(tau)
        };
        let tau = tau.map(|t| time_constant("tau", t)).transpose()?;
        let lam = tau.map_or(1.0, |tau| 1.0 - dt / tau);
        let tau_syn = syn.map(|t| time_constant("tau_syn", t)).transpose()?;
        let r = pc("r", r)?;
        if r.iter().any(|&x| x <= 0.0) {
            return Err(self.err(name, "a resistance r that is not positive"));
        }
        // Forward Euler: v += dt/tau (v_leak - v) + dt R/tau I, or v += dt R I; a
        // synaptic current I += -dt/tau_syn I + dt w_in/tau_syn S brings dt w_in/tau_syn.
        let w_in = match w_in {
            Some(w) => pc("w_in", w)?,
            None => vec![1.0; r.len()],
        };
        if w_in.iter().any(|&x| x <= 0.0) {
            return Err(self.err(name, "an input weight w_in that is not positive"));
        }
        let gain: Vec<f64> = r
            .iter()
            .zip(&w_in)
            .map(|(&r, &w)| {
                let g = tau.map_or(dt * r, |tau| dt * r / tau);
                tau_syn.map_or(g, |ts| g * dt * w / ts)
            })
            .collect();
        if let Some(v) = v_leak {
            if pc("v_leak", v)?.iter().any(|&x| x != 0.0) {
                return Err(self.err(
                    name,
                    "v_leak != 0 acts as a constant current; our neurons have no bias",
                ));
            }
        }
        let reset = match (self.reset, node.meta_text("snn_reset")) {
            (Some(r), _) => r,
            (None, Some("subtract")) => Reset::Subtract,
            _ => Reset::Hard,
        };
        let threshold = match v_threshold {
            Some(t) => {
                let t = pc("v_threshold", t)?;
                if t.iter().any(|&x| x <= 0.0) {
                    return Err(self.err(name, "a threshold that is not positive"));
                }
                t
            }
            None => Vec::new(),
        };
        if let (Some(v), Reset::Hard) = (v_reset, reset) {
            if pc("v_reset", v)?.iter().any(|&x| x != 0.0) {
                return Err(self.err(name, "v_reset != 0: our hard reset sets the membrane to 0"));
            }
        }
        let computed = bits_of(lam);
        let leak_bits = match node.meta_number("snn_leak") {
            Some(b) if (b - f64::from(computed)).abs() <= 1.0 && (0.0..=32768.0).contains(&b) => {
                b as u16
            }
            _ => computed,
        };
        let syn_lam = tau_syn.map(|ts| 1.0 - dt / ts);
        let synapse_bits = match syn_lam {
            // A current that decays to nothing within the step is no current at all.
            Some(a) => match node.meta_number("snn_synapse") {
                Some(b)
                    if (b - f64::from(bits_of(a))).abs() <= 1.0 && (0.0..=32768.0).contains(&b) =>
                {
                    b as u16
                }
                _ => bits_of(a),
            },
            None => 0,
        };
        Ok(NeuronParams {
            spiking,
            lam,
            leak_bits,
            syn_lam,
            synapse_bits,
            gain,
            threshold,
            reset,
        })
    }
}

/// A neuron node's parameters by role: spiking or not, the membrane's time constant
/// (none for `IF`/`I`), resistance, leak potential, threshold and reset potential
/// (spiking nodes), and the synaptic current's time constant and input weight
/// (current-based nodes).
struct Parts<'k> {
    spiking: bool,
    tau: Option<&'k Array>,
    r: &'k Array,
    v_leak: Option<&'k Array>,
    v_threshold: Option<&'k Array>,
    v_reset: Option<&'k Array>,
    syn: Option<&'k Array>,
    w_in: Option<&'k Array>,
}

/// The [`Parts`] of a neuron node (`kind` is one; anything else is a caller's bug).
fn parts(kind: &Kind) -> Parts<'_> {
    let (syn, w_in) = match kind {
        Kind::CubaLif { tau_syn, w_in, .. } | Kind::CubaLi { tau_syn, w_in, .. } => {
            (Some(tau_syn), Some(w_in))
        }
        _ => (None, None),
    };
    let (spiking, tau, r, v_leak, v_threshold, v_reset) = match kind {
        Kind::Lif {
            tau,
            r,
            v_leak,
            v_threshold,
            v_reset,
        } => (
            true,
            Some(tau),
            r,
            Some(v_leak),
            Some(v_threshold),
            Some(v_reset),
        ),
        Kind::If {
            r,
            v_threshold,
            v_reset,
        } => (true, None, r, None, Some(v_threshold), Some(v_reset)),
        Kind::Li { tau, r, v_leak } => (false, Some(tau), r, Some(v_leak), None, None),
        Kind::I { r } => (false, None, r, None, None, None),
        Kind::CubaLif {
            tau_mem,
            r,
            v_leak,
            v_threshold,
            v_reset,
            ..
        } => (
            true,
            Some(tau_mem),
            r,
            Some(v_leak),
            Some(v_threshold),
            Some(v_reset),
        ),
        Kind::CubaLi {
            tau_mem, r, v_leak, ..
        } => (false, Some(tau_mem), r, Some(v_leak), None, None),
        _ => unreachable!(),
    };
    Parts {
        spiking,
        tau,
        r,
        v_leak,
        v_threshold,
        v_reset,
        syn,
        w_in,
    }
}

/// The U1F15 bits of a decay factor.
fn bits_of(lam: f64) -> u16 {
    Leak::from_f32(lam as f32).to_bits()
}

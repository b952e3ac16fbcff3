//! The synaptic current of current-based (CUBA) populations: NIR's `CubaLIF` and
//! `CubaLI`, snnTorch's `Synaptic`, Norse's default LIF.
//!
//! A population whose [`synapse`](crate::format::NeuronDesc::synapse) decay `a` is not
//! zero keeps one 32-bit current `S` per neuron. At every step its synaptic input `I`
//! (the same event-driven kernels as for any population) adds into `S` instead of the
//! membrane, then
//!
//! ```text
//! S = clamp(S + I, -2^30, 2^30 - 1)
//! V = V (+) S                 the membrane's own add: exact in i32, saturating in i16
//! S = a(S)                    (S * a + 2^14) >> 15, as a membrane leak
//! ```
//!
//! and the neurons update as usual ([`crate::neuron::update`]: fire, reset, leak). In
//! float, `S[t] = a S[t-1] + I[t]` and `U[t] = lambda U'[t-1] + S[t]`: snnTorch's
//! `syn = alpha syn + input; mem = beta mem + syn` with `a = alpha`. With `a = 0` the
//! current is `I` alone and the population is the paper's, which the engine runs
//! without the current (no state, no extra work).
//!
//! Validation bounds one step's input by `2^30` and `S` stays in `-2^30..2^30` after
//! the clamp and the decay, so `S + I` and `V + S` fit an `i32`: nothing wraps.

use crate::membrane::Membrane;
use crate::neuron::{Leak, STATE_LIMIT, STATE_MIN};

/// Drives the membranes `mem` with the currents `syn` (which already hold this step's
/// input), then decays the currents by `decay`, as the module documentation says.
///
/// ```
/// use snn_core::{neuron::Leak, synapse::drive};
/// let half = Leak::from_bits(16384).unwrap();
/// let (mut mem, mut syn) = ([10i32, 0], [6i32, -3]);
/// drive(&mut mem, &mut syn, half);
/// assert_eq!((mem, syn), ([16, -3], [3, -1])); // -1.5 rounds to -1 (ties up)
/// let (mut narrow, mut syn) = ([32000i16], [5000i32]);
/// drive(&mut narrow, &mut syn, half);
/// assert_eq!((narrow, syn), ([i16::MAX], [2500])); // 16-bit membranes saturate
/// ```
#[inline]
pub fn drive<M: Membrane>(mem: &mut [M], syn: &mut [i32], decay: Leak) {
    for (m, s) in mem.iter_mut().zip(syn.iter_mut()) {
        let current = (*s).clamp(STATE_MIN, STATE_LIMIT);
        if current != 0 {
            m.add(current);
            *s = decay.apply(current);
        }
    }
}

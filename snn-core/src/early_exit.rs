//! Early exit: when an inference may stop before its last time step.
//!
//! [`EarlyExit::Exact`] stops once no class can overtake the leader in the steps that
//! remain, whatever spikes arrive: the class is then the one the whole window gives.
//! The bound follows the output integrator `M = clamp(leak(M + I))`: one step's current
//! `I` of class `k` lies between the sum of its negative weights and the sum of its
//! positive ones (every presynaptic neuron silent or firing as suits it best), and
//! `leak` and the clamp are monotone, so iterating them on the bounds bounds `M`:
//!
//! ```text
//! lo_a(t+1) = clamp(leak(lo_a(t) + I_min[a]))     the leader a, at worst
//! hi_k(t+1) = clamp(leak(hi_k(t) + I_max[k]))     every other class k, at best
//! settled  <=>  for every k != a:  lo_a(T) > hi_k(T), or lo_a(T) = hi_k(T) and a < k
//! ```
//! (the lowest index wins a tie). Exact, and loose: a step's real current is far
//! below the all-inputs bound, so it settles late.
//!
//! [`EarlyExit::Margin`] stops once the leader is ahead of the runner-up by at least
//! `per_step` score units per remaining step. It is not exact: `per_step` is
//! calibrated on training data (`snn-train analyze` measures its accuracy cost).

use crate::neuron::{Leak, STATE_LIMIT, STATE_MIN};

/// When an inference may stop before its last step (see the module documentation).
///
/// Serialisable: a model stores its deployment rule ([`crate::format::Deployment`]);
/// postcard encodes the variant index (`0` never, `1` exact, `2` margin, then
/// `per_step`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EarlyExit {
    /// Run every step.
    #[default]
    Never,
    /// Stop once the class can no longer change: the same class as the whole window.
    Exact,
    /// Stop once `leader - runner-up >= per_step * remaining steps` (score units).
    /// Calibrated, not exact.
    Margin {
        /// Score units of margin per remaining step.
        per_step: u32,
    },
}

/// Whether the leader of `scores` keeps the lead over the `remaining` steps under
/// `rule`. `current[k]` is class `k`'s least and most current per step, `leak` the
/// output integrator's.
///
/// ```
/// use snn_core::early_exit::{settled, EarlyExit};
/// use snn_core::neuron::Leak;
/// let current = [[-10, 10], [-10, 10]];
/// // Two steps left: class 1 can gain 20 at most, class 0 lose 20: 50 - 20 > 9 + 20.
/// assert!(settled(&[50, 9], &current, Leak::ONE, 2, EarlyExit::Exact));
/// assert!(settled(&[50, 10], &current, Leak::ONE, 2, EarlyExit::Exact)); // a tie: class 0 wins it
/// assert!(!settled(&[50, 11], &current, Leak::ONE, 2, EarlyExit::Exact));
/// assert!(settled(&[50, 11], &current, Leak::ONE, 2, EarlyExit::Margin { per_step: 15 }));
/// ```
pub fn settled(
    scores: &[i32],
    current: &[[i32; 2]],
    leak: Leak,
    remaining: u32,
    rule: EarlyExit,
) -> bool {
    let lead = leader(scores);
    let Some(&top) = scores.get(lead) else {
        return false;
    };
    match rule {
        EarlyExit::Never => remaining == 0,
        EarlyExit::Margin { per_step } => {
            let second = scores
                .iter()
                .enumerate()
                .filter(|&(k, _)| k != lead)
                .map(|(_, &s)| s)
                .max();
            let Some(second) = second else {
                return true;
            };
            let margin = i64::from(top) - i64::from(second);
            margin >= i64::from(per_step) * i64::from(remaining)
        }
        EarlyExit::Exact => {
            let run = |mut m: i32, i: i32| {
                for _ in 0..remaining {
                    // As the engine: clamp(leak(M + I)), where M + I fits an i32.
                    m = leak
                        .apply(m.saturating_add(i))
                        .clamp(STATE_MIN, STATE_LIMIT);
                }
                m
            };
            let lo = run(top, current.get(lead).map_or(i32::MIN, |c| c[0]));
            scores.iter().enumerate().all(|(k, &s)| {
                if k == lead {
                    return true;
                }
                let hi = run(s, current.get(k).map_or(i32::MAX, |c| c[1]));
                lo > hi || (lo == hi && lead < k)
            })
        }
    }
}

/// Index of the highest score (the lowest index on a tie), 0 when empty.
pub(crate) fn leader(scores: &[i32]) -> usize {
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if scores.get(best).is_some_and(|&b| s > b) {
            best = i;
        }
    }
    best
}

/// The text form of a rule: `never`, `exact`, or `margin:N` (`N` score units per
/// remaining step), as build scripts and command lines spell it.
///
/// ```
/// use snn_core::EarlyExit;
/// assert_eq!("exact".parse(), Ok(EarlyExit::Exact));
/// assert_eq!("margin:64".parse(), Ok(EarlyExit::Margin { per_step: 64 }));
/// assert!("margin:".parse::<EarlyExit>().is_err());
/// assert_eq!(EarlyExit::Margin { per_step: 8 }.to_string(), "margin:8");
/// ```
impl core::str::FromStr for EarlyExit {
    type Err = ParseEarlyExitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "never" => Ok(Self::Never),
            "exact" => Ok(Self::Exact),
            _ => s
                .strip_prefix("margin:")
                .and_then(|n| n.parse().ok())
                .map(|per_step| Self::Margin { per_step })
                .ok_or(ParseEarlyExitError),
        }
    }
}

impl core::fmt::Display for EarlyExit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Never => f.write_str("never"),
            Self::Exact => f.write_str("exact"),
            Self::Margin { per_step } => write!(f, "margin:{per_step}"),
        }
    }
}

/// A rule that is not `never`, `exact` or `margin:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseEarlyExitError;

impl core::fmt::Display for ParseEarlyExitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("an early-exit rule is `never`, `exact` or `margin:N` (N a whole number)")
    }
}

impl core::error::Error for ParseEarlyExitError {}

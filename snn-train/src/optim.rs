//! SGD with weight decay and optional momentum, and the multi-step LR schedule.
//!
//! The schedule is a pure function of the epoch; the update mutates parameters in
//! place, element by element in a fixed order (deterministic).

use serde::{Deserialize, Serialize};

use crate::net::Params;

/// Learning rate at `epoch` (0-based): `lr * gamma^(milestones passed)`.
///
/// ```
/// use snn_train::optim::lr_at;
/// assert_eq!(lr_at(0.01, &[2, 4], 0.5, 1), 0.01);
/// assert_eq!(lr_at(0.01, &[2, 4], 0.5, 2), 0.005);
/// assert_eq!(lr_at(0.01, &[2, 4], 0.5, 9), 0.0025);
/// ```
pub fn lr_at(lr: f32, milestones: &[usize], gamma: f32, epoch: usize) -> f32 {
    let passed = milestones.iter().filter(|&&m| epoch >= m).count();
    lr * gamma.powi(passed as i32)
}

/// Plain SGD (PyTorch semantics): `g' = g + wd * w`; with momentum `mu > 0`,
/// `v = mu * v + g'` and the step uses `v`; `w -= lr * step`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sgd {
    /// Weight decay.
    pub weight_decay: f32,
    /// Momentum (0 = none, the paper's setting).
    pub momentum: f32,
    /// Velocity buffers (empty without momentum).
    pub velocity: Params,
}

impl Sgd {
    /// A new optimiser for parameters shaped like `params`.
    pub fn new(weight_decay: f32, momentum: f32, params: &Params) -> Self {
        let velocity = if momentum > 0.0 {
            params.iter().map(|p| p.mapv(|_| 0.0)).collect()
        } else {
            Vec::new()
        };
        Self {
            weight_decay,
            momentum,
            velocity,
        }
    }

    /// Applies one step with the summed gradients `grads`.
    pub fn step(&mut self, params: &mut Params, grads: &Params, lr: f32) {
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let wd = self.weight_decay;
            if self.momentum > 0.0 {
                let mu = self.momentum;
                let v = &mut self.velocity[i];
                ndarray::Zip::from(p).and(g).and(v).for_each(|w, &g, v| {
                    *v = mu * *v + g + wd * *w;
                    *w -= lr * *v;
                });
            } else {
                ndarray::Zip::from(p).and(g).for_each(|w, &g| {
                    *w -= lr * (g + wd * *w);
                });
            }
        }
    }
}

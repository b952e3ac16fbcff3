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

/// SGD with weight decay and dampened momentum, on gradients summed over a batch.
///
/// The loss stays the paper's squared error summed over the batch; the learning rate
/// is defined on the mean gradient, so its meaning does not change with the batch
/// size or the momentum. With `B` samples in the batch, summed gradient `G` and
/// momentum `mu`:
///
/// ```text
/// g = G / B + wd * w          (mean gradient plus decay)
/// v = mu * v + (1 - mu) * g   (mu = 0: v = g)
/// w = w - lr * v
/// ```
///
/// In PyTorch terms (summed loss, `dampening = mu`) this is `lr_torch = lr / B` and
/// `weight_decay_torch = wd * B`: the paper's MNIST recipe (batch 64, lr 0.0085, weight
/// decay 5e-4) is `lr = 0.544`, `wd = 7.8125e-6` here. The step is computed as
/// `(lr / B) * (G + (wd * B) * w)`; for a power-of-two `B` both factors are exact.
///
/// ```
/// use ndarray::{ArrayD, IxDyn};
/// use snn_train::optim::Sgd;
/// let mut w = vec![ArrayD::from_elem(IxDyn(&[1]), 1.0f32)];
/// let g = vec![ArrayD::from_elem(IxDyn(&[1]), 8.0f32)]; // summed over 4 samples
/// let mut sgd = Sgd::new(0.0, 0.0, &w);
/// sgd.step(&mut w, &g, 0.5, 4); // mean gradient 2, lr 0.5
/// assert_eq!(w[0][[0]], 0.0);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sgd {
    /// Weight decay (on the mean gradient).
    pub weight_decay: f32,
    /// Momentum (0 = none, the paper's setting), dampened by `1 - momentum`.
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

    /// Applies one step with the gradients `grads` summed over a batch, `batch` being
    /// the configured batch size (an epoch's last, smaller batch is divided by it too,
    /// so it weighs each of its samples like a full batch does).
    pub fn step(&mut self, params: &mut Params, grads: &Params, lr: f32, batch: usize) {
        let b = batch.max(1) as f32;
        let (step, wd) = (lr / b, self.weight_decay * b);
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            if self.momentum > 0.0 {
                let (mu, keep) = (self.momentum, 1.0 - self.momentum);
                let v = &mut self.velocity[i];
                ndarray::Zip::from(p).and(g).and(v).for_each(|w, &g, v| {
                    *v = mu * *v + keep * (g + wd * *w);
                    *w -= step * *v;
                });
            } else {
                ndarray::Zip::from(p).and(g).for_each(|w, &g| {
                    *w -= step * (g + wd * *w);
                });
            }
        }
    }
}

//! SGD with weight decay and optional momentum, and the multi-step LR schedule.
//!
//! The schedule is a pure function of the epoch; the update mutates parameters in
//! place, element by element in a fixed order (deterministic).

use serde::{Deserialize, Serialize};

use crate::model::net::Params;

/// Learning rate at `epoch` (0-based): `lr * gamma^(milestones passed)`.
///
/// ```
/// use snn_train::train::optim::lr_at;
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
/// use snn_train::train::optim::Sgd;
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
    /// The normalised step (`None`: plain SGD): each weight tensor moves by
    /// `lr * eta * |w| / |d|` times its update direction `d`, a fixed fraction of its
    /// own norm per step, whatever the size of its gradient.
    #[serde(default)]
    pub normalized: Option<f32>,
    /// Adam's second moments (`optim.optimizer = "adam"`; `None`: SGD).
    #[serde(default)]
    pub adam: Option<Adam>,
}

/// Adam (Kingma & Ba, 2015) on the mean gradient plus decay `g` (L2 decay, as
/// PyTorch's `Adam(weight_decay)`): the first moment is the dampened velocity of
/// [`Sgd`] with `momentum = beta1`, and at step `t`
///
/// ```text
/// s = beta2 * s + (1 - beta2) * g^2
/// w = w - lr * (v / (1 - beta1^t)) / (sqrt(s / (1 - beta2^t)) + eps)
/// ```
///
/// element by element in a fixed order, so the result does not depend on threads or
/// processes. `lr` is Adam's step size (1e-3 is the usual start), not SGD's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Adam {
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to the root of the second moment.
    pub eps: f32,
    /// Second moments, shaped like the weights.
    pub second: Params,
    /// Steps taken.
    pub steps: u64,
}

/// Adam's `eps`.
pub const ADAM_EPS: f32 = 1e-8;

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
            normalized: None,
            adam: None,
        }
    }

    /// The same optimiser as Adam with first-moment decay `beta1` and second-moment
    /// decay `beta2` (see [`Adam`]).
    ///
    /// ```
    /// use ndarray::{ArrayD, IxDyn};
    /// use snn_train::train::optim::Sgd;
    /// let mut w = vec![ArrayD::from_elem(IxDyn(&[2]), 1.0f32)];
    /// let g = vec![ArrayD::from_shape_vec(IxDyn(&[2]), vec![4.0f32, -0.004]).unwrap()];
    /// let mut adam = Sgd::new(0.0, 0.0, &w).with_adam(0.9, 0.999, &w);
    /// adam.step(&mut w, &g, 0.01, 2);
    /// // The first step moves every weight by about lr, whatever its gradient's size.
    /// assert!((w[0][[0]] - 0.99).abs() < 1e-6 && (w[0][[1]] - 1.01).abs() < 1e-6);
    /// ```
    #[must_use]
    pub fn with_adam(self, beta1: f32, beta2: f32, params: &Params) -> Self {
        let zeros = || params.iter().map(|p| p.mapv(|_| 0.0)).collect();
        Self {
            momentum: beta1,
            velocity: if beta1 > 0.0 { zeros() } else { Vec::new() },
            adam: Some(Adam {
                beta2,
                eps: ADAM_EPS,
                second: zeros(),
                steps: 0,
            }),
            ..self
        }
    }

    /// The same optimiser with the normalised step of fraction `eta` (`None`: plain
    /// SGD); see [`Sgd::step`].
    #[must_use]
    pub fn with_normalized_step(mut self, eta: Option<f32>) -> Self {
        self.normalized = eta;
        self
    }

    /// Applies one step with the gradients `grads` summed over a batch, `batch` being
    /// the configured batch size (an epoch's last, smaller batch is divided by it too,
    /// so it weighs each of its samples like a full batch does).
    ///
    /// With the normalised step (`eta`), the direction `d` of each weight tensor (the
    /// mean gradient plus decay, or the velocity with momentum) is rescaled so that the
    /// tensor moves by `lr * eta * |w|` (Euclidean norms, summed in a fixed order, so
    /// the result does not depend on threads or processes):
    ///
    /// ```text
    /// w = w - lr * eta * |w| / |d| * d        (d = 0: no step)
    /// ```
    ///
    /// ```
    /// use ndarray::{ArrayD, IxDyn};
    /// use snn_train::train::optim::Sgd;
    /// let mut w = vec![ArrayD::from_shape_vec(IxDyn(&[2]), vec![3.0f32, 4.0]).unwrap()];
    /// let g = vec![ArrayD::from_shape_vec(IxDyn(&[2]), vec![0.0f32, 1e-6]).unwrap()];
    /// let mut opt = Sgd::new(0.0, 0.0, &w).with_normalized_step(Some(0.1));
    /// opt.step(&mut w, &g, 1.0, 1); // |w| = 5: a step of length 0.5, along g
    /// assert_eq!(w[0].as_slice().unwrap(), &[3.0, 3.5]);
    /// ```
    pub fn step(&mut self, params: &mut Params, grads: &Params, lr: f32, batch: usize) {
        let b = batch.max(1) as f32;
        if self.adam.is_some() {
            return self.adam_step(params, grads, lr, b);
        }
        let (step, wd) = (lr / b, self.weight_decay * b);
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            if self.momentum > 0.0 {
                let (mu, keep) = (self.momentum, 1.0 - self.momentum);
                let v = &mut self.velocity[i];
                match self.normalized {
                    None => ndarray::Zip::from(p).and(g).and(v).for_each(|w, &g, v| {
                        *v = mu * *v + keep * (g + wd * *w);
                        *w -= step * *v;
                    }),
                    Some(eta) => {
                        ndarray::Zip::from(&*p)
                            .and(g)
                            .and(&mut *v)
                            .for_each(|&w, &g, v| {
                                *v = mu * *v + keep * (g + wd * w);
                            });
                        let f = lr * normalised_factor(eta, p.iter().copied(), v.iter().copied());
                        ndarray::Zip::from(p).and(&*v).for_each(|w, &v| *w -= f * v);
                    }
                }
            } else {
                match self.normalized {
                    None => ndarray::Zip::from(p).and(g).for_each(|w, &g| {
                        *w -= step * (g + wd * *w);
                    }),
                    Some(eta) => {
                        // The direction's scale cancels: use the summed form.
                        let d = p.iter().zip(g).map(|(&w, &g)| g + wd * w);
                        let f = lr * normalised_factor(eta, p.iter().copied(), d);
                        ndarray::Zip::from(p).and(g).for_each(|w, &g| {
                            *w -= f * (g + wd * *w);
                        });
                    }
                }
            }
        }
    }
}

impl Sgd {
    /// [`Sgd::step`] for Adam (see [`Adam`]); `b` is the batch size.
    fn adam_step(&mut self, params: &mut Params, grads: &Params, lr: f32, b: f32) {
        let Some(adam) = self.adam.as_mut() else {
            return;
        };
        adam.steps += 1;
        let (beta1, beta2, eps, wd) = (self.momentum, adam.beta2, adam.eps, self.weight_decay);
        let t = i32::try_from(adam.steps).unwrap_or(i32::MAX);
        let bc1 = 1.0 - f64::from(beta1).powi(t);
        let bc2 = 1.0 - f64::from(beta2).powi(t);
        // With beta1 = 0 the first moment is the gradient itself (bc1 = 1).
        let (f1, f2) = (
            (1.0 / bc1.max(f64::MIN_POSITIVE)) as f32,
            (1.0 / bc2) as f32,
        );
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let s = &mut adam.second[i];
            let one = |w: &mut f32, g: f32, s: &mut f32, m: Option<&mut f32>| {
                let g = g / b + wd * *w;
                *s = beta2 * *s + (1.0 - beta2) * g * g;
                let m = match m {
                    Some(m) => {
                        *m = beta1 * *m + (1.0 - beta1) * g;
                        *m
                    }
                    None => g,
                };
                *w -= lr * (m * f1) / ((*s * f2).sqrt() + eps);
            };
            match self.velocity.get_mut(i) {
                Some(v) => ndarray::Zip::from(p)
                    .and(g)
                    .and(s)
                    .and(v)
                    .for_each(|w, &g, s, m| one(w, g, s, Some(m))),
                None => ndarray::Zip::from(p)
                    .and(g)
                    .and(s)
                    .for_each(|w, &g, s| one(w, g, s, None)),
            }
        }
    }
}

/// `eta * |w| / |d|` (0 when `d` is 0), norms summed in `f64` in element order.
fn normalised_factor(eta: f32, w: impl Iterator<Item = f32>, d: impl Iterator<Item = f32>) -> f32 {
    let norm = |it: &mut dyn Iterator<Item = f32>| {
        it.map(|x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt()
    };
    let (wn, dn) = (norm(&mut { w }), norm(&mut { d }));
    if dn > 0.0 && dn.is_finite() {
        (f64::from(eta) * wn / dn) as f32
    } else {
        0.0
    }
}

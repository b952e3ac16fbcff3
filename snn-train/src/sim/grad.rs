//! The paper's backward pass, in its two forms (`method.md` §4-5), and the losses.
//!
//! Both forms walk the population graph from the output down and use the same
//! event-driven kernels ([`crate::sim::kernels::ops::backward`]); they differ in what an event is.
//!
//! **Code form** (default; what the released code computes), per neuron, backward in
//! time, with `D = dL/dU`:
//!
//! ```text
//! ghat_i(t) = g_i(t) * NG_i * (m_i / (1-p)) / V_th        (pooling: ghat = g)
//! D_i(t)    = o_i(t) ? ghat_i(t) : D_i(t+1),   D_i(T+1) = 0
//! dL/dW    += D(t) (outer) xtilde(t)            events: the spikes at t
//! g_src(t)  = W^T D(t)                           needed only where src spiked at t
//! output:   D_out(t) = dL/dy / T for every t    (leak treated as 1)
//! ```
//!
//! **Aggregate form** (the paper's prose), once per window, with spike counts `x`:
//!
//! ```text
//! delta_out = dL/dy / T;   delta_l = (W_{l+1}^T delta_{l+1}) * NG_l * m / (1-p) / V_th
//! dL/dW_l  += delta_l (outer) x_{l-1}           events: neurons with x != 0, value x
//! ```
//!
//! `NG_i = [LF_i > 1e-3] + ln(lambda) * LF_i / max(gamma_i, 1)`; silent neurons get 0.
//!
//! With an analog input the first layer's presynaptic events are the pixel values
//! `x` at every step (code form), or `T x` over the window (aggregate form, the count
//! of a spike train with that rate).

use serde::{Deserialize, Serialize};

use crate::model::net::{Network, Params, PopKind};
use crate::sim::kernels::ops::{backward as conn_backward, Event, Link};
use snn_core::layer::{for_each_spike, words_for as words};

use crate::sim::{events_of, Masks, Trace};

/// Which backward pass to run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GradForm {
    /// Restricted BPTT through the unrolled steps (the released code).
    #[default]
    Code,
    /// Layer-wise rules on accumulated spike counts (the paper's prose).
    Aggregate,
}

/// The training loss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Summed squared error `sum_k (y_k - onehot_k)^2` (PyTorch `MSELoss(sum)`, as in
    /// the released code), summed over the batch.
    #[default]
    Sse,
    /// Softmax cross-entropy on `y`.
    CrossEntropy,
}

/// The loss of one sample whose output `y` is all zero (no spike reached the output),
/// which is the same for every label.
///
/// ```
/// use snn_train::sim::grad::{silent_loss, Loss};
/// assert!(silent_loss(Loss::Sse, 10) > 0.0);
/// ```
pub fn silent_loss(loss: Loss, classes: usize) -> f64 {
    f64::from(loss_and_grad(&vec![0.0; classes.max(1)], 0, loss).0)
}

/// Loss of one sample and its gradient with respect to `y`.
///
/// ```
/// use snn_train::sim::grad::{loss_and_grad, Loss};
/// let (l, g) = loss_and_grad(&[0.5, 0.0], 0, Loss::Sse);
/// assert_eq!(l, 0.25);
/// assert_eq!(g, vec![-1.0, 0.0]);
/// ```
pub fn loss_and_grad(y: &[f32], label: usize, loss: Loss) -> (f32, Vec<f32>) {
    match loss {
        Loss::Sse => {
            let mut l = 0.0;
            let g = y
                .iter()
                .enumerate()
                .map(|(k, &v)| {
                    let e = v - if k == label { 1.0 } else { 0.0 };
                    l += e * e;
                    2.0 * e
                })
                .collect();
            (l, g)
        }
        Loss::CrossEntropy => {
            let p = softmax(y);
            let l = -p[label].max(1e-30).ln();
            let g = p
                .iter()
                .enumerate()
                .map(|(k, &v)| v - if k == label { 1.0 } else { 0.0 })
                .collect();
            (l, g)
        }
    }
}

/// [`loss_and_grad`] towards a soft target: the label mixed at weight `a` with a
/// teacher's outputs `teacher` (knowledge distillation, [`crate::train::distill`]).
/// SSE: `t_k = (1 - a) [k = label] + a teacher_k`, loss `sum_k (y_k - t_k)^2`;
/// cross-entropy: `t_k = (1 - a) [k = label] + a softmax(teacher)_k`, loss
/// `-sum_k t_k ln softmax(y)_k`, gradient `softmax(y) - t`.
///
/// ```
/// use snn_train::sim::grad::{loss_and_grad_soft, Loss};
/// let (l, g) = loss_and_grad_soft(&[0.5, 0.0], 0, &[0.5, 0.5], 0.5, Loss::Sse);
/// // Target (0.75, 0.25).
/// assert_eq!((l, g), (0.125, vec![-0.5, -0.5]));
/// ```
pub fn loss_and_grad_soft(
    y: &[f32],
    label: usize,
    teacher: &[f32],
    a: f32,
    loss: Loss,
) -> (f32, Vec<f32>) {
    let mix = |k: usize, s: f32| (1.0 - a) * if k == label { 1.0 } else { 0.0 } + a * s;
    match loss {
        Loss::Sse => {
            let mut l = 0.0;
            let g = y
                .iter()
                .zip(teacher)
                .enumerate()
                .map(|(k, (&v, &s))| {
                    let e = v - mix(k, s);
                    l += e * e;
                    2.0 * e
                })
                .collect();
            (l, g)
        }
        Loss::CrossEntropy => {
            let (p, q) = (softmax(y), softmax(teacher));
            let mut l = 0.0;
            let g = p
                .iter()
                .zip(&q)
                .enumerate()
                .map(|(k, (&pk, &qk))| {
                    let t = mix(k, qk);
                    l -= t * pk.max(1e-30).ln();
                    pk - t
                })
                .collect();
            (l, g)
        }
    }
}

/// Cross-entropy of `y` against `label` (logged for every loss).
pub fn cross_entropy(y: &[f32], label: usize) -> f32 {
    -softmax(y)[label].max(1e-30).ln()
}

fn softmax(y: &[f32]) -> Vec<f32> {
    let max = y.iter().copied().fold(f32::MIN, f32::max);
    let e: Vec<f32> = y.iter().map(|&v| (v - max).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// The paper's approximate derivative factor `NG` of one neuron.
///
/// ```
/// use snn_train::sim::grad::ng;
/// assert_eq!(ng(0.0, 0, 0.99), 0.0); // silent
/// assert_eq!(ng(3.0, 3, 1.0), 1.0);  // non-leaky: exactly 1
/// let v = ng(0.99f32.powi(10), 1, 0.99); // one spike 10 steps before T
/// assert!(v > 0.99 && v < 1.0);
/// ```
pub fn ng(lf: f32, gamma: u32, lambda: f32) -> f32 {
    ng_ln(lf, gamma, lambda.ln())
}

/// [`ng`] with `ln(lambda)` given (the backward computes it once, not per spike).
#[inline]
fn ng_ln(lf: f32, gamma: u32, ln_lambda: f32) -> f32 {
    let on = if lf > 1e-3 { 1.0 } else { 0.0 };
    on + ln_lambda * lf / gamma.max(1) as f32
}

/// `ghat / g` of neuron `i` of population `p`: `NG * m/(1-p) / V_th` for LIF, 1 for
/// pooling. Computed when needed rather than stored, so a sample in flight holds no
/// per-neuron factor table.
/// `ln_lambda` is `ln(net.neuron.leak)`.
#[inline]
fn factor(
    net: &Network,
    trace: &Trace,
    masks: &Masks,
    (ln_lambda, clip): (f32, bool),
    p: usize,
    i: usize,
) -> f32 {
    match net.pops[p].kind {
        PopKind::Lif if clip && trace.counts[p][i] as usize >= trace.steps => 0.0,
        PopKind::Lif => {
            ng_ln(trace.lf[p][i], trace.counts[p][i], ln_lambda) * masks.scale(p, i)
                / net.neuron.threshold
        }
        _ => 1.0,
    }
}

/// How [`backward_with`] forms the gradient: the backward form and, as an option
/// beyond the paper (`optim.clip_saturated`), whether a LIF neuron that fired at every
/// step of the window passes no gradient. Its rate is at the ceiling of one spike per
/// step, where the rate as a function of the input is flat (the derivative of a ReLU
/// clipped at its ceiling); the paper's factor would still ask it for more spikes.
///
/// ```
/// use snn_train::sim::grad::{GradForm, Rules};
/// let paper = Rules::from(GradForm::Aggregate);
/// assert!(!paper.clip_saturated);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// Code or aggregate form.
    pub form: GradForm,
    /// A neuron that spiked at every step gets no gradient.
    pub clip_saturated: bool,
}

impl From<GradForm> for Rules {
    fn from(form: GradForm) -> Self {
        Self {
            form,
            clip_saturated: false,
        }
    }
}

/// Adds this sample's weight gradients to `grads`.
///
/// `dldy` is `dL/dy` of the sample. The code form needs a trace recorded with
/// `record = true`.
pub fn backward(
    net: &Network,
    params: &Params,
    trace: &Trace,
    masks: &Masks,
    dldy: &[f32],
    form: GradForm,
    grads: &mut Params,
) {
    backward_with(net, params, trace, masks, dldy, form, &[], grads);
}

/// The activity regulariser's loss for a trace: `sum_p a[p] * r_p` over the
/// populations, `r_p` the spikes of population `p` per neuron and step (`a` one weight
/// per population, 0 for the input and output; shorter: the rest 0).
///
/// ```
/// # use snn_train::sim::grad::activity_loss;
/// assert_eq!(activity_loss(&[10, 4], &[2, 2], 2, &[0.0, 1.5]), 1.5);
/// ```
pub fn activity_loss(spikes: &[u64], neurons: &[usize], steps: usize, a: &[f32]) -> f32 {
    a.iter()
        .zip(spikes.iter().zip(neurons))
        .map(|(&a, (&s, &n))| a * s as f32 / (n.max(1) * steps.max(1)) as f32)
        .sum()
}

/// [`backward`] with the activity regulariser of weights `activity` (per population,
/// as [`activity_loss`]): its gradient `a[p] / (n_p T)` per spike is added to `dL/do`
/// of every spike of population `p` (code form), or of every neuron that fired
/// (aggregate form), before the factor `NG m / (1-p) / V_th`.
#[allow(clippy::too_many_arguments)]
pub fn backward_with(
    net: &Network,
    params: &Params,
    trace: &Trace,
    masks: &Masks,
    dldy: &[f32],
    rules: impl Into<Rules>,
    activity: &[f32],
    grads: &mut Params,
) {
    let Rules {
        form,
        clip_saturated,
    } = rules.into();
    let n_pops = net.pops.len();
    let out = n_pops - 1;
    let sizes: Vec<usize> = net.pops.iter().map(|p| p.shape.len()).collect();
    let mut d: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
    let mut g: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0.0; n]).collect();
    let t_f = trace.steps as f32;
    let ln_lambda = net.neuron.leak.ln();
    for (dv, &gy) in d[out].iter_mut().zip(dldy) {
        *dv = gy / t_f;
    }
    let mut events: Vec<Event> = Vec::new();
    let reg: Vec<f32> = (0..n_pops)
        .map(|p| {
            let a = activity.get(p).copied().unwrap_or(0.0);
            a / (sizes[p].max(1) * trace.steps.max(1)) as f32
        })
        .collect();
    let mut grads_slices: Vec<&mut [f32]> = grads
        .iter_mut()
        .map(|a| a.as_slice_mut().expect("contiguous"))
        .collect();

    // One backward sweep over the populations; `at` says which spikes are the
    // events (a time step in the code form, the window's counts in the aggregate).
    let mut sweep = |at: Option<usize>, d: &mut Vec<Vec<f32>>, g: &mut Vec<Vec<f32>>| {
        for p in (1..n_pops).rev() {
            if p != out {
                match at {
                    Some(t) => {
                        let bits = trace.step_bits(p, sizes[p], t);
                        let (dp, gp) = (&mut d[p], &mut g[p]);
                        let r = reg[p];
                        for_each_spike(bits, |i| {
                            dp[i] = (gp[i] + r)
                                * factor(net, trace, masks, (ln_lambda, clip_saturated), p, i);
                            gp[i] = 0.0;
                        });
                    }
                    None => {
                        for i in 0..sizes[p] {
                            d[p][i] = if trace.counts[p][i] > 0 {
                                (g[p][i] + reg[p])
                                    * factor(net, trace, masks, (ln_lambda, clip_saturated), p, i)
                            } else {
                                0.0
                            };
                        }
                    }
                }
            }
            for c in net.conns.iter().filter(|c| c.dst == p) {
                let src = c.src;
                presynaptic_events(trace, masks, (src, sizes[src]), at, &mut events);
                let lower = &mut g[..p];
                let gsrc = (src != 0).then(|| &mut lower[src][..]);
                let (w, dw): (&[f32], &mut [f32]) = match c.param {
                    Some(i) => (
                        params[i].as_slice().expect("contiguous"),
                        &mut *grads_slices[i],
                    ),
                    None => (&[], &mut []),
                };
                let link = Link {
                    op: c.op,
                    src: net.pops[src].shape,
                    dst: net.pops[p].shape,
                };
                conn_backward(link, w, &events, &d[p], dw, gsrc);
            }
        }
    };
    match form {
        GradForm::Code => {
            for t in (0..trace.steps).rev() {
                sweep(Some(t), &mut d, &mut g);
            }
        }
        GradForm::Aggregate => sweep(None, &mut d, &mut g),
    }
}

/// The events of presynaptic population `src` (of `n` neurons) in one backward sweep:
/// its spikes at step `t` (code form, `at = Some(t)`) or its spike counts over the
/// window (aggregate form, `None`), scaled by its dropout mask; for an analog input,
/// its values at every step (times `T` over the window).
fn presynaptic_events(
    trace: &Trace,
    masks: &Masks,
    (src, n): (usize, usize),
    at: Option<usize>,
    events: &mut Vec<Event>,
) {
    let t_f = trace.steps as f32;
    match at {
        // The analog input's events are the same at every step.
        Some(_) if src == 0 && !trace.analog.is_empty() => {
            events.clone_from(&trace.analog);
        }
        None if src == 0 && !trace.analog.is_empty() => {
            events.clear();
            events.extend(trace.analog.iter().map(|&(j, x)| (j, x * t_f)));
        }
        Some(t) => {
            let pos = trace.step_bits(src, n, t);
            let neg = (src == 0).then(|| {
                let w = words(n);
                &trace.input_neg[t * w..(t + 1) * w]
            });
            events_of(src, pos, neg, masks, events);
        }
        None => {
            events.clear();
            for j in 0..n {
                let x = if src == 0 {
                    trace.input_net[j] as f32
                } else {
                    trace.counts[src][j] as f32
                };
                let v = x * masks.scale(src, j);
                if v != 0.0 {
                    events.push((j as u32, v));
                }
            }
        }
    }
}

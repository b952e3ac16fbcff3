//! One training step: the per-sample forward and backward pass, the ordered reduction
//! of a mini-batch's gradients, and the SGD update.
//!
//! [`StepContext`] is built once from the configuration (network, encoding, window,
//! backward form, loss, resolved augmentation, seed), so a step takes only what
//! changes between steps: the weights, the data and the sample indices.

use std::sync::{Mutex, PoisonError};

use rand::RngCore;

use crate::data::events::EventAugment;
use crate::data::{augment, Dataset, Encoding};
use crate::exec::dist::{Group, Solo};
use crate::exec::par;
use crate::exec::seed::sample_rng;
use crate::model::net::{Network, Params, PopKind};
use crate::sim::activity::Activity;
use crate::sim::grad::{
    activity_loss, backward_with, cross_entropy, loss_and_grad, loss_and_grad_soft, GradForm, Loss,
    Rules,
};
use crate::sim::spikes::{InputSpikes, SpikesError};
use crate::sim::{forward, forward_spikes, Masks, Trace, Window};
use crate::train::config::TrainConfig;
use crate::train::distill::Teacher;
use crate::train::eval::argmax;
use crate::train::optim::Sgd;
use crate::train::qat::fake_quantized;

/// Samples per parallel work item. Fixed, so the summation order of gradients (and
/// hence the result) does not depend on the number of threads.
pub const CHUNK: usize = 4;

/// Floats per message of the running gradient sum between ranks (256 KiB).
const SEGMENT: usize = 1 << 16;

/// Statistics of training samples (sums).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// Summed training loss.
    pub loss: f64,
    /// Summed cross-entropy (logged for every loss).
    pub ce: f64,
    /// Correct predictions.
    pub correct: usize,
    /// Samples.
    pub samples: usize,
    /// Samples whose output received no input at all (`y` all zero).
    pub silent_outputs: usize,
    /// Spiking activity per population.
    pub activity: Activity,
}

impl Stats {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &Stats) {
        self.loss += o.loss;
        self.ce += o.ce;
        self.correct += o.correct;
        self.samples += o.samples;
        self.silent_outputs += o.silent_outputs;
        self.activity.add(&o.activity);
    }

    /// The statistics of one sample's forward pass with loss `loss`.
    pub fn of_sample(net: &Network, trace: &Trace, label: usize, loss: f32) -> Self {
        Self {
            loss: f64::from(loss),
            ce: f64::from(cross_entropy(&trace.y, label)),
            correct: usize::from(argmax(&trace.y) == label),
            samples: 1,
            silent_outputs: usize::from(trace.y.iter().all(|&y| y == 0.0)),
            activity: Activity::of_trace(net, trace),
        }
    }

    /// Mean loss per sample (0 without samples).
    pub fn mean_loss(&self) -> f64 {
        self.loss / self.samples.max(1) as f64
    }

    /// Mean cross-entropy per sample.
    pub fn mean_ce(&self) -> f64 {
        self.ce / self.samples.max(1) as f64
    }

    /// Accuracy in percent.
    pub fn accuracy(&self) -> f64 {
        100.0 * self.correct as f64 / self.samples.max(1) as f64
    }
}

/// Gradient buffers kept from one mini-batch to the next. A deep preset's buffer is
/// large (ResNet11: 72 MB per chunk of [`CHUNK`] samples): allocated afresh for every
/// chunk, each of its pages faults in zeroed by the kernel (and two threads faulting
/// at once serialise on the process's page tables); a kept buffer is cleared in place.
/// The pool holds at most what one batch had in flight. A clone starts empty.
#[derive(Debug, Default)]
struct GradPool(Mutex<Vec<Params>>);

impl Clone for GradPool {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl GradPool {
    /// A zeroed gradient buffer for `net`: a kept one, cleared, or a new one.
    fn take(&self, net: &Network) -> Params {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner).pop();
        match kept {
            Some(mut g) => {
                g.iter_mut().for_each(|a| a.fill(0.0));
                g
            }
            None => net.zeros(),
        }
    }

    /// Keeps `buffers` for the next mini-batch.
    fn give(&self, buffers: impl IntoIterator<Item = Params>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(buffers);
    }
}

/// Everything a training step needs that stays fixed for the whole run.
#[derive(Debug, Clone)]
pub struct StepContext<'a> {
    /// The network, its encoding and the window (recorded for the code form).
    pub window: Window<'a>,
    /// Backward form and rules.
    pub grad: Rules,
    /// Loss.
    pub loss: Loss,
    /// Random crop padding in pixels (0: no crop).
    pub crop: usize,
    /// Random horizontal flip.
    pub flip: bool,
    /// Event augmentation (event datasets).
    pub events: EventAugment,
    /// The run's seed.
    pub seed: u64,
    /// The configured batch size: a step divides the summed gradient by it (also for
    /// an epoch's last, smaller batch).
    pub batch_size: usize,
    /// Activity-regulariser weight of each population (0 for the input and output).
    pub activity: Vec<f32>,
    /// The first (0-based) epoch that trains on the quantised weights
    /// (`optim.qat_epochs`), `usize::MAX` for none.
    pub qat_from: usize,
    /// The distillation teacher's outputs on the training images (none: train on the
    /// labels alone).
    pub teacher: Option<&'a Teacher>,
    /// Gradient buffers reused between mini-batches.
    pool: GradPool,
}

/// Per population, the activity weight of `cfg` (`OptimConfig::activity`: none, one
/// for every hidden spiking population, or one each in order); 0 for the input and
/// the output.
fn activity_weights(net: &Network, cfg: &[f32]) -> Vec<f32> {
    let mut hidden = 0;
    net.pops
        .iter()
        .map(|p| match p.kind {
            PopKind::Input | PopKind::Output => 0.0,
            _ => {
                let a = match cfg {
                    [one] => *one,
                    many => many.get(hidden).copied().unwrap_or(0.0),
                };
                hidden += 1;
                a
            }
        })
        .collect()
}

impl<'a> StepContext<'a> {
    /// The step context of `cfg` for `net` with input encoding `enc`.
    pub fn new(cfg: &TrainConfig, net: &'a Network, enc: &'a Encoding) -> Self {
        let (crop, flip) = cfg.data.augmentation();
        Self {
            window: Window {
                net,
                enc,
                steps: cfg.run.timesteps,
                record: cfg.optim.grad == GradForm::Code,
            },
            grad: Rules {
                form: cfg.optim.grad,
                clip_saturated: cfg.optim.clip_saturated,
            },
            loss: cfg.optim.loss,
            crop,
            flip,
            events: cfg.data.event_augment(),
            seed: cfg.run.seed,
            batch_size: cfg.optim.batch_size,
            activity: activity_weights(net, &cfg.optim.activity),
            qat_from: match cfg.optim.qat_epochs {
                0 => usize::MAX,
                n => cfg.optim.epochs.saturating_sub(n),
            },
            teacher: None,
            pool: GradPool::default(),
        }
    }

    /// Whether epoch `epoch` (0-based) trains on the quantised weights.
    pub fn qat_at(&self, epoch: usize) -> bool {
        epoch >= self.qat_from
    }

    /// This context with a distillation teacher.
    pub fn with_teacher(self, teacher: Option<&'a Teacher>) -> Self {
        Self { teacher, ..self }
    }

    /// This sample's loss with the activity term, and the backward pass into `grads`.
    /// `image` is the training image's index, which picks the teacher's target.
    fn learn(
        &self,
        params: &Params,
        trace: &Trace,
        masks: &Masks,
        (label, image): (usize, Option<usize>),
        grads: &mut Params,
    ) -> f32 {
        let net = self.net();
        let (loss, dldy) = match (self.teacher, image) {
            (Some(t), Some(i)) => {
                loss_and_grad_soft(&trace.y, label, t.outputs(i), t.weight, self.loss)
            }
            _ => loss_and_grad(&trace.y, label, self.loss),
        };
        let sizes: Vec<usize> = net.pops.iter().map(|p| p.shape.len()).collect();
        let reg = activity_loss(&trace.total_spikes(), &sizes, trace.steps, &self.activity);
        backward_with(
            net,
            params,
            trace,
            masks,
            &dldy,
            self.grad,
            &self.activity,
            grads,
        );
        loss + reg
    }

    /// The network.
    pub fn net(&self) -> &'a Network {
        self.window.net
    }

    /// Adds the gradients of training sample `i` of epoch `epoch` into `grads`.
    /// `scratch` holds an augmented image (any contents; resized as needed).
    pub fn sample_gradient(
        &self,
        params: &Params,
        data: &Dataset,
        (epoch, i): (usize, usize),
        scratch: &mut Vec<u8>,
        grads: &mut Params,
    ) -> Stats {
        let net = self.net();
        let mut rng = sample_rng(self.seed, epoch, i);
        if let Some(set) = &data.events {
            let sensor = (set.width, set.height);
            let mut ev = set.sample(i);
            if self.events.active() {
                ev = self.events.apply(ev, sensor, &mut rng);
            }
            let masks = Masks::draw(net, &mut rng);
            let spikes = InputSpikes::from_events(&ev, sensor, self.window.steps, set.binning);
            let trace = forward_spikes(&self.window, params, &spikes, &masks)
                .expect("the network is built for the dataset's shape and the window's steps");
            let label = usize::from(data.labels[i]);
            let loss = self.learn(params, &trace, &masks, (label, None), grads);
            return Stats::of_sample(net, &trace, label, loss);
        }
        let image = if self.crop > 0 || self.flip {
            scratch.resize(data.image_len(), 0);
            let hwc = (data.height, data.width, data.channels);
            augment::crop_flip(data.image(i), hwc, self.crop, self.flip, &mut rng, scratch);
            &scratch[..]
        } else {
            data.image(i)
        };
        let masks = Masks::draw(net, &mut rng);
        let spike_seed = rng.next_u64();
        let trace = forward(&self.window, params, image, spike_seed, &masks);
        let label = usize::from(data.labels[i]);
        let loss = self.learn(params, &trace, &masks, (label, Some(i)), grads);
        Stats::of_sample(net, &trace, label, loss)
    }

    /// The forward pass and this run's backward form and loss on caller-supplied input
    /// spikes (instead of the encoder) with label `label` and dropout `masks`, adding
    /// the gradients into `grads`: what [`Self::sample_gradient`] does after encoding.
    ///
    /// # Errors
    /// [`SpikesError`] when `spikes` does not fit the network's input and the window.
    pub fn spikes_gradient(
        &self,
        params: &Params,
        spikes: &InputSpikes,
        label: usize,
        masks: &Masks,
        grads: &mut Params,
    ) -> Result<Stats, SpikesError> {
        let trace = forward_spikes(&self.window, params, spikes, masks)?;
        let loss = self.learn(params, &trace, masks, (label, None), grads);
        Ok(Stats::of_sample(self.net(), &trace, label, loss))
    }

    /// Gradient and statistics of a chunk of samples, summed in index order.
    pub fn chunk_gradient(
        &self,
        params: &Params,
        data: &Dataset,
        epoch: usize,
        indices: &[usize],
    ) -> (Params, Stats) {
        self.chunk_gradient_into(params, data, epoch, indices, self.net().zeros())
    }

    /// [`Self::chunk_gradient`] into `grads`, a zeroed buffer.
    fn chunk_gradient_into(
        &self,
        params: &Params,
        data: &Dataset,
        epoch: usize,
        indices: &[usize],
        mut grads: Params,
    ) -> (Params, Stats) {
        let mut stats = Stats::default();
        let mut scratch = Vec::new();
        for &i in indices {
            let s = self.sample_gradient(params, data, (epoch, i), &mut scratch, &mut grads);
            stats.add(&s);
        }
        (grads, stats)
    }

    /// One optimisation step on a mini-batch: parallel chunks of [`CHUNK`] samples,
    /// their gradients summed in chunk order, then one SGD step with rate `lr` (on the
    /// mean gradient, see [`Sgd`]).
    pub fn train_batch(
        &self,
        params: &mut Params,
        sgd: &mut Sgd,
        data: &Dataset,
        (epoch, batch): (usize, &[usize]),
        lr: f32,
    ) -> Stats {
        self.train_batch_in(&Solo, params, sgd, data, (epoch, batch), lr)
    }

    /// [`train_batch`](Self::train_batch) as one rank of `group`: this rank computes
    /// its share of the batch's chunks, the running sum passes along the ranks in
    /// chunk order (see [`crate::exec::dist`]), and every rank takes the same step. The
    /// weights after it are bit-identical for any group size.
    pub fn train_batch_in(
        &self,
        group: &dyn Group,
        params: &mut Params,
        sgd: &mut Sgd,
        data: &Dataset,
        (epoch, batch): (usize, &[usize]),
        lr: f32,
    ) -> Stats {
        let mine = group.share(batch.len().div_ceil(CHUNK));
        let items =
            &batch[(mine.start * CHUNK).min(batch.len())..(mine.end * CHUNK).min(batch.len())];
        // A QAT epoch: the passes see the device's weights, the step moves the float
        // ones (straight-through).
        let quantized = self
            .qat_at(epoch)
            .then(|| fake_quantized(self.net(), params));
        let seen = quantized.as_ref().unwrap_or(params);
        let results = par::map_chunks(items, CHUNK, |_, idx| {
            self.chunk_gradient_into(seen, data, epoch, idx, self.pool.take(self.net()))
        });
        let (first, last) = (group.is_root(), group.is_last());
        // Sum the chunks' gradients element by element, always in chunk order, with
        // the elements split across threads: deterministic and not a serial bottleneck.
        // On a later rank the sum starts from the earlier ranks' running sum.
        // Between ranks the sum travels in segments, so that rank r + 1 adds one
        // segment while rank r adds the next (a pipeline, not a relay of whole tensors).
        let mut total = self.pool.take(self.net());
        for (t, out) in total.iter_mut().enumerate() {
            let out = out.as_slice_mut().expect("zeros() are contiguous");
            for (s, segment) in out.chunks_mut(SEGMENT).enumerate() {
                if !first {
                    group.receive_from_previous(segment);
                }
                let base = s * SEGMENT;
                par::for_each_block_mut(segment, 1 << 14, |at, block| {
                    let at = base + at;
                    for (g, _) in &results {
                        let g =
                            &g[t].as_slice().expect("zeros() are contiguous")[at..at + block.len()];
                        for (o, v) in block.iter_mut().zip(g) {
                            *o += v;
                        }
                    }
                });
                if !last {
                    group.send_to_next(segment);
                }
            }
        }
        let mut stats = if first {
            Stats::default()
        } else {
            postcard::from_bytes(&group.receive_bytes_from_previous())
                .expect("ranks run the same binary: the statistics decode")
        };
        for (_, s) in &results {
            stats.add(s);
        }
        self.pool.give(results.into_iter().map(|(g, _)| g));
        if group.size() > 1 {
            let mut bytes = postcard::to_allocvec(&stats).expect("statistics encode");
            if !last {
                group.send_bytes_to_next(&bytes);
            }
            for out in total.iter_mut() {
                group.broadcast_from_last(out.as_slice_mut().expect("zeros() are contiguous"));
            }
            group.broadcast_bytes(group.size() - 1, &mut bytes);
            stats = postcard::from_bytes(&bytes)
                .expect("ranks run the same binary: the statistics decode");
        }
        sgd.step(params, &total, lr, self.batch_size);
        self.pool.give([total]);
        stats
    }
}

//! Knowledge distillation (`[optim.distill]`): a trained model (the *teacher*, an
//! exported `.snn`) gives every training image a soft target, and the student trains
//! towards a mix of it and the label.
//!
//! The teacher is rebuilt as a float network ([`crate::io::import`]) and run once per
//! training image, before the first epoch, on the image as stored (no augmentation, no
//! dropout) over its deployment window (its stored `T`, else the run's) with the
//! evaluation seeds of [`crate::exec::seed::eval_seed`]: the targets are the same for
//! every thread count, process count and resume. The target of sample `i` with label
//! `c` and teacher outputs `y'` is
//!
//! ```text
//! SSE:            t_k = (1 - a) [k = c] + a y'_k          (y' in the units of y)
//! cross-entropy:  t_k = (1 - a) [k = c] + a softmax(y')_k
//! ```
//!
//! with `a` the configured weight; `a = 0` is training on the labels alone. `y'` is in
//! the units of `y` when the teacher was trained with the squared error over a window
//! like its stored one: the output integrator leaks, so `y = M(T) / T` shrinks slowly
//! with `T` (a constant current gives 0.91 of it at T = 20, 0.87 at T = 30, 0.63 at
//! T = 100 with the default leak 0.99).

use std::path::{Path, PathBuf};

use crate::data::Dataset;
use crate::exec::par;
use crate::exec::seed::eval_seed;
use crate::io::import;
use crate::sim::{forward_sample, Masks, Window};
use crate::train::config::DistillConfig;

/// Why a teacher cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("teacher {path}: {reason}")]
pub struct TeacherError {
    /// The teacher's file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

/// Training images per parallel work item.
const CHUNK: usize = 64;

/// The teacher's outputs on every training image, `classes` values per image.
#[derive(Debug, Clone, PartialEq)]
pub struct Teacher {
    /// Weight `a` of the teacher in the target.
    pub weight: f32,
    /// Outputs `y'`, image-major.
    outputs: Vec<f32>,
    /// Classes per image.
    classes: usize,
    /// The teacher's accuracy on the training images (percent).
    pub accuracy: f64,
}

impl Teacher {
    /// Runs the teacher of `cfg` on every image of `train`.
    ///
    /// # Errors
    /// [`TeacherError`] when the file cannot be read, is not a model the
    /// trainer can rebuild, or does not take `train`'s images and classes; event
    /// datasets are refused (their samples are spike trains, not images).
    pub fn run(
        cfg: &DistillConfig,
        train: &Dataset,
        default_steps: usize,
    ) -> Result<Self, TeacherError> {
        let fail = |reason: String| TeacherError {
            path: cfg.teacher.clone(),
            reason,
        };
        if train.events.is_some() {
            return Err(fail("distillation needs an image dataset".into()));
        }
        let blob = std::fs::read(&cfg.teacher).map_err(|e| fail(e.to_string()))?;
        let t = import::import(&blob).map_err(|e| fail(e.to_string()))?;
        let s = t.net.pops[0].shape;
        let shape = (
            usize::from(s.channels),
            usize::from(s.height),
            usize::from(s.width),
        );
        if shape != (train.channels, train.height, train.width) || t.net.classes() != train.classes
        {
            return Err(fail(format!(
                "it takes {}x{}x{} images in {} classes, the dataset has {}x{}x{} in {}",
                shape.0,
                shape.1,
                shape.2,
                t.net.classes(),
                train.channels,
                train.height,
                train.width,
                train.classes
            )));
        }
        let steps = t.deployment.map_or(default_steps, |d| d.steps as usize);
        let win = Window {
            net: &t.net,
            enc: &t.enc,
            steps,
            record: false,
        };
        let masks = Masks::none(&t.net);
        let idx: Vec<usize> = (0..train.len()).collect();
        let chunks = par::map_chunks(&idx, CHUNK, |_, chunk| {
            let mut out = Vec::with_capacity(chunk.len() * train.classes);
            let mut correct = 0usize;
            for &i in chunk {
                let y = forward_sample(&win, &t.params, train, i, eval_seed(i), &masks).y;
                correct +=
                    usize::from(crate::train::eval::argmax(&y) == usize::from(train.labels[i]));
                out.extend_from_slice(&y);
            }
            (out, correct)
        });
        let correct: usize = chunks.iter().map(|c| c.1).sum();
        Ok(Self {
            weight: cfg.weight,
            outputs: chunks.into_iter().flat_map(|c| c.0).collect(),
            classes: train.classes,
            accuracy: 100.0 * correct as f64 / train.len().max(1) as f64,
        })
    }

    /// The teacher's outputs on training image `i`.
    pub fn outputs(&self, i: usize) -> &[f32] {
        &self.outputs[i * self.classes..(i + 1) * self.classes]
    }

    /// The line a run prints about its teacher, read from `path`.
    pub fn summary(&self, path: &Path) -> String {
        format!(
            "distilling from {} (weight {}; it scores {:.2}% on the training images)",
            path.display(),
            self.weight,
            self.accuracy
        )
    }
}

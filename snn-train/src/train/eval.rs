//! Evaluation on a test set: the float network's accuracy, and the comparison of the
//! float network with its exported model run by `snn-core` itself, on the very same
//! input spikes (the encoder seeds of [`crate::exec::seed::eval_seed`]).

use crate::data::Dataset;
use crate::exec::par;
use crate::exec::seed::eval_seed;
use crate::io::export::ExportError;
use crate::model::net::Params;
use crate::sim::activity::Activity;
use crate::sim::{forward_sample, sample_spikes, Masks, Window};

/// Test images per parallel work item.
const EVAL_CHUNK: usize = 16;

/// Index of the largest value (lowest index on ties; 0 for an empty slice).
///
/// ```
/// use snn_train::train::eval::argmax;
/// assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.2]), 1);
/// ```
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Float test accuracy (percent) of `params` on `test`, without dropout, with the
/// evaluation seeds. `win.record` is ignored.
pub fn evaluate(win: &Window<'_>, params: &Params, test: &Dataset) -> f64 {
    evaluate_with_activity(win, params, test).0
}

/// [`evaluate`], and the spiking activity of the test pass (summed in chunk order, so
/// independent of the thread count).
pub fn evaluate_with_activity(
    win: &Window<'_>,
    params: &Params,
    test: &Dataset,
) -> (f64, Activity) {
    let win = Window {
        record: false,
        ..*win
    };
    let idx: Vec<usize> = (0..test.len()).collect();
    let masks = Masks::none(win.net);
    let chunks = par::map_chunks(&idx, EVAL_CHUNK, |_, chunk| {
        let mut activity = Activity::default();
        let mut correct = 0;
        for &i in chunk {
            let tr = forward_sample(&win, params, test, i, eval_seed(i), &masks);
            correct += usize::from(argmax(&tr.y) == usize::from(test.labels[i]));
            activity.add(&Activity::of_trace(win.net, &tr));
        }
        (correct, activity)
    });
    let mut activity = Activity::default();
    let mut correct = 0;
    for (c, a) in &chunks {
        correct += c;
        activity.add(a);
    }
    (100.0 * correct as f64 / test.len().max(1) as f64, activity)
}

/// Float and fixed-point accuracy of an exported model on a test set.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Agreement {
    /// Images evaluated.
    pub images: usize,
    /// Float network accuracy (percent).
    pub float_accuracy: f64,
    /// Exported model accuracy under `snn-core` (percent).
    pub fixed_accuracy: f64,
    /// Share of images on which both predict the same class (percent).
    pub agreement: f64,
}

/// Evaluates the float network and the exported `blob` (through `snn-core`) on `test`
/// with the same input spikes, in parallel.
///
/// # Errors
/// [`ExportError::Format`] when `blob` does not load or does not take `test`'s images.
pub fn compare(
    win: &Window<'_>,
    params: &Params,
    blob: &[u8],
    test: &Dataset,
) -> Result<Agreement, ExportError> {
    let win = Window {
        record: false,
        ..*win
    };
    let model = snn_core::Model::from_bytes(blob).map_err(ExportError::Format)?;
    let idx: Vec<usize> = (0..test.len()).collect();
    let masks = Masks::none(win.net);
    let steps = u32::try_from(win.steps).unwrap_or(u32::MAX);
    let per_chunk = par::map_chunks(&idx, EVAL_CHUNK, |_, chunk| {
        let mut state = vec![0u32; model.state_words()];
        let (mut f, mut q, mut a) = (0usize, 0usize, 0usize);
        for &i in chunk {
            let label = usize::from(test.labels[i]);
            let fp = argmax(&forward_sample(&win, params, test, i, eval_seed(i), &masks).y);
            let r = match sample_spikes(test, i, win.steps) {
                // An event sample: the same binned spikes, step by step.
                Some(spikes) => {
                    let mut s = model
                        .session_without_encoder(&mut state)
                        .map_err(ExportError::Run)?;
                    for t in 0..win.steps {
                        let (pos, neg) = spikes.step(t);
                        s.step_with_spikes(pos, neg).map_err(ExportError::Run)?;
                    }
                    s.result()
                }
                None => model
                    .classify(&mut state, test.image(i), eval_seed(i), steps)
                    .map_err(ExportError::Run)?,
            };
            let qp = usize::from(r.class);
            f += usize::from(fp == label);
            q += usize::from(qp == label);
            a += usize::from(fp == qp);
        }
        Ok((f, q, a))
    });
    let (mut f, mut q, mut a) = (0, 0, 0);
    for c in per_chunk {
        let c = c?;
        (f, q, a) = (f + c.0, q + c.1, a + c.2);
    }
    let pct = |v: usize| 100.0 * v as f64 / test.len().max(1) as f64;
    Ok(Agreement {
        images: test.len(),
        float_accuracy: pct(f),
        fixed_accuracy: pct(q),
        agreement: pct(a),
    })
}

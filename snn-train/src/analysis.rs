//! The paper's inference analysis (`method.md` §9) of an exported model, computed by
//! `snn-core` on a test set: spikes per neuron per layer, synaptic operations (`#AC`)
//! against the same network's `#MAC`, the 45 nm energy estimate, and accuracy against
//! the number of time steps.

use serde::Serialize;
use snn_core::{LayerKind, Model};

use crate::data::Dataset;
use crate::par;
use crate::seed::eval_seed;

/// Energy of one 32-bit float multiply-accumulate at 45 nm (3.7 + 0.9 pJ).
pub const E_MAC_PJ: f64 = 4.6;
/// Energy of one 32-bit float accumulate at 45 nm.
pub const E_AC_PJ: f64 = 0.9;

/// One layer's row of the analysis.
#[derive(Debug, Clone, Serialize)]
pub struct LayerRow {
    /// Layer index in the model.
    pub layer: usize,
    /// Kind (`conv`, `pool`, `dense`, `residual`, `output`).
    pub kind: String,
    /// Output shape `C x H x W`.
    pub shape: String,
    /// Neurons of the layer's spiking populations.
    pub neurons: usize,
    /// Average spikes per neuron over the window (0 for the output layer).
    pub spikes_per_neuron: f64,
    /// Average synaptic operations (accumulates) per inference: the SNN's `#AC`.
    pub ac: f64,
    /// The same layer's multiply-accumulates in a non-spiking network over one
    /// forward pass: `#MAC`.
    pub mac: f64,
}

/// The whole analysis.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Images analysed.
    pub images: usize,
    /// Time steps per inference.
    pub steps: u32,
    /// Per-layer rows.
    pub layers: Vec<LayerRow>,
    /// Total `#AC` per inference.
    pub total_ac: f64,
    /// Total `#MAC` per inference.
    pub total_mac: f64,
    /// `E_SNN / E_ANN = (#AC * 0.9) / (#MAC * 4.6)`.
    pub energy_ratio: f64,
    /// Fixed-point accuracy (percent) on the analysed images.
    pub accuracy: f64,
}

fn kind_name(k: LayerKind) -> &'static str {
    match k {
        LayerKind::Conv => "conv",
        LayerKind::Pool => "pool",
        LayerKind::Dense => "dense",
        LayerKind::Residual => "residual",
        LayerKind::Output => "output",
    }
}

/// Per-image results needed by the analysis: (correct, spikes per population,
/// events per layer).
fn run_all(model: &Model<'_>, data: &Dataset, steps: u32) -> Vec<(bool, Vec<u32>, Vec<u64>)> {
    let idx: Vec<usize> = (0..data.len()).collect();
    par::map_chunks(&idx, 8, |_, chunk| {
        let mut state = vec![0u32; model.state_words()];
        chunk
            .iter()
            .map(|&i| {
                let r = model
                    .classify(&mut state, data.image(i), eval_seed(i), steps)
                    .expect("a validated model and an image of its size");
                (
                    usize::from(r.class) == usize::from(data.labels[i]),
                    r.spikes.to_vec(),
                    r.synaptic_events.to_vec(),
                )
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Analyses `model` on `data` with `steps` time steps (evaluation seeds).
pub fn analyze(model: &Model<'_>, data: &Dataset, steps: u32) -> Analysis {
    let results = run_all(model, data, steps);
    let n = results.len().max(1) as f64;
    let mut pop_spikes = vec![0f64; model.populations()];
    let mut events = vec![0f64; model.layers().len()];
    let mut correct = 0usize;
    for (ok, spikes, ev) in &results {
        correct += usize::from(*ok);
        for (a, &s) in pop_spikes.iter_mut().zip(spikes) {
            *a += f64::from(s);
        }
        for (a, &e) in events.iter_mut().zip(ev) {
            *a += e as f64;
        }
    }
    let mut rows = Vec::new();
    let mut p = 0;
    for (l, info) in model.layers().enumerate() {
        let pops = usize::from(info.populations);
        let spikes: f64 = pop_spikes[p..p + pops].iter().sum();
        let neurons = info.neurons;
        rows.push(LayerRow {
            layer: l,
            kind: kind_name(info.kind).into(),
            shape: format!(
                "{}x{}x{}",
                info.output.channels, info.output.height, info.output.width
            ),
            neurons,
            spikes_per_neuron: if neurons > 0 {
                spikes / n / neurons as f64
            } else {
                0.0
            },
            ac: events[l] / n,
            mac: info.macs as f64,
        });
        p += pops;
    }
    let total_ac: f64 = rows.iter().map(|r| r.ac).sum();
    let total_mac: f64 = rows.iter().map(|r| r.mac).sum();
    Analysis {
        images: results.len(),
        steps,
        layers: rows,
        total_ac,
        total_mac,
        energy_ratio: total_ac * E_AC_PJ / (total_mac * E_MAC_PJ).max(f64::MIN_POSITIVE),
        accuracy: 100.0 * correct as f64 / n,
    }
}

/// Fixed-point accuracy (percent) for each number of time steps in `steps`.
pub fn accuracy_vs_steps(model: &Model<'_>, data: &Dataset, steps: &[u32]) -> Vec<(u32, f64)> {
    steps
        .iter()
        .map(|&t| {
            let ok = run_all(model, data, t).iter().filter(|r| r.0).count();
            (t, 100.0 * ok as f64 / data.len().max(1) as f64)
        })
        .collect()
}

/// The spikes of one input through every population: `(step, neuron)` pairs per
/// population, recorded step by step with `snn-core`'s session API.
pub fn raster(model: &Model<'_>, image: &[u8], seed: u64, steps: u32) -> Vec<Vec<(u32, u32)>> {
    let mut state = vec![0u32; model.state_words()];
    let mut out = vec![Vec::new(); model.populations()];
    let Ok(mut session) = model.session(&mut state, image, seed) else {
        return out;
    };
    for t in 0..steps {
        session.step();
        for (p, points) in out.iter_mut().enumerate() {
            if let Some(bits) = session.population_spikes(p) {
                for (w, &word) in bits.iter().enumerate() {
                    let mut word = word;
                    while word != 0 {
                        points.push((t, (w * 32) as u32 + word.trailing_zeros()));
                        word &= word - 1;
                    }
                }
            }
        }
    }
    out
}

/// Prints the analysis as a table.
pub fn print(a: &Analysis) {
    println!(
        "{:>3} {:<9} {:>12} {:>9} {:>14} {:>14} {:>10}",
        "#", "layer", "shape", "neurons", "spikes/neuron", "#AC", "#MAC"
    );
    for l in &a.layers {
        println!(
            "{:>3} {:<9} {:>12} {:>9} {:>14.3} {:>14.0} {:>10.0}",
            l.layer, l.kind, l.shape, l.neurons, l.spikes_per_neuron, l.ac, l.mac
        );
    }
    println!(
        "total #AC {:.0}, #MAC {:.0}; E_SNN / E_ANN = (#AC x {E_AC_PJ} pJ) / (#MAC x {E_MAC_PJ} pJ) = {:.3}; accuracy {:.2}% on {} images at T = {}",
        a.total_ac, a.total_mac, a.energy_ratio, a.accuracy, a.images, a.steps
    );
}

//! Quantisation-aware fine-tuning (`optim.qat_epochs`): the weights as the device
//! stores them, in float.
//!
//! [`fake_quantized`] rounds every weight tensor to the `i8` grid the export uses
//! ([`crate::io::export::quantize_layer`]: one scale per output channel, `s = max|w| / 127`;
//! a residual block's second convolution and its 1x1 shortcut share theirs; the output
//! layer one scale for all classes) and multiplies back, `w_q = s * clamp(round(w / s),
//! -127, 127)`. A QAT epoch runs the forward and backward passes on `w_q` and applies
//! the gradient to the float weights `w` (the straight-through estimator: the rounding
//! counts as the identity in the backward pass), so the training loss is that of the
//! network the device runs; the float weights keep the small steps the rounding
//! would swallow. Exporting `w` gives the same `i8` weights as exporting `w_q`.
//!
//! What stays float in a QAT epoch: the membranes (the device rounds the leak once per
//! step, saturates 16-bit membranes and compares with integer thresholds `round(V_th
//! / s)`). Their effect is what `snn-train analyze` reports as float/fixed agreement.

use ndarray::ArrayD;

use crate::io::export::channel_scales;
use crate::model::net::{Network, Params};
use crate::model::spec::LayerSpec;

/// `params` with every weight on the device's `i8` grid (see the module docs); other
/// tensors unchanged.
///
/// ```
/// use snn_train::model::net::{Network, Neuron};
/// use snn_train::model::spec::Preset;
/// use snn_train::model::net::Shape;
/// use snn_core::format::Reset;
/// let input = Shape { channels: 1, height: 28, width: 28 };
/// let neuron = Neuron { leak: 0.99, threshold: 1.0, pool_threshold: 0.75, reset: Reset::Hard };
/// let net = Network::build(&Preset::Lenet.layers(), input, 10, neuron, 0.0).unwrap();
/// let params = net.init(2.0, 1);
/// let q = snn_train::train::qat::fake_quantized(&net, &params);
/// // At most 255 levels per output channel.
/// let conv1 = &q[net.layer_params[0][0]];
/// let mut levels: Vec<f32> = conv1.iter().copied().collect();
/// levels.sort_by(f32::total_cmp);
/// levels.dedup();
/// assert!(levels.len() <= 255 * 20);
/// ```
pub fn fake_quantized(net: &Network, params: &Params) -> Params {
    let mut out = params.clone();
    for (li, layer) in net.layers.iter().enumerate() {
        let ids = &net.layer_params[li];
        let with = |k: usize| &params[ids[k]];
        // The tensors of each scale group, as `quantize_layer` groups them.
        let groups: Vec<(Vec<usize>, Vec<f32>)> = match layer {
            LayerSpec::Conv { .. } | LayerSpec::Dense { .. } => {
                vec![(vec![ids[0]], channel_scales(&[with(0)]))]
            }
            LayerSpec::Residual { .. } => {
                let second: Vec<&ArrayD<f32>> = (1..ids.len()).map(with).collect();
                vec![
                    (vec![ids[0]], channel_scales(&[with(0)])),
                    (ids[1..].to_vec(), channel_scales(&second)),
                ]
            }
            LayerSpec::Output => {
                let max = with(0).iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let oc = with(0).shape().last().copied().unwrap_or(1);
                vec![(vec![ids[0]], vec![snn_core::layer::weight_scale(max); oc])]
            }
            LayerSpec::Pool => Vec::new(),
        };
        for (tensors, scales) in groups {
            for t in tensors {
                round_to_grid(&mut out[t], &scales);
            }
        }
    }
    out
}

/// `w = s * q(w, s)` for every element, `s` the scale of its output channel (the last
/// axis).
fn round_to_grid(t: &mut ArrayD<f32>, scales: &[f32]) {
    let oc = t.shape().last().copied().unwrap_or(1);
    crate::io::quant::round_to_grid(
        t.as_slice_mut().expect("parameters are contiguous"),
        scales,
        oc,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::export::quantize_layer;
    use crate::model::net::Neuron;
    use crate::model::net::Shape;
    use crate::model::spec::Preset;
    use snn_core::format::Reset;

    fn net(preset: Preset, input: Shape) -> Network {
        let neuron = Neuron {
            leak: 0.99,
            threshold: 1.0,
            pool_threshold: 0.75,
            reset: Reset::Hard,
        };
        Network::build(&preset.layers(), input, 10, neuron, 0.0).unwrap()
    }

    /// Exporting the fake-quantised weights gives the same `i8` weights and thresholds
    /// as exporting the float ones, and fake quantisation is idempotent.
    #[test]
    fn the_grid_is_the_exports() {
        let grey = Shape {
            channels: 1,
            height: 28,
            width: 28,
        };
        let colour = Shape {
            channels: 3,
            height: 32,
            width: 32,
        };
        for (preset, input) in [(Preset::Lenet, grey), (Preset::Resnet11, colour)] {
            let net = net(preset, input);
            for seed in 0..3 {
                let params = net.init(2.0, seed);
                let q = fake_quantized(&net, &params);
                assert_ne!(q, params, "{preset:?}: the float weights are off the grid");
                for li in 0..net.layers.len() {
                    assert_eq!(
                        format!("{:?}", quantize_layer(&net, &q, li)),
                        format!("{:?}", quantize_layer(&net, &params, li)),
                        "{preset:?} layer {li}"
                    );
                }
                assert_eq!(fake_quantized(&net, &q), q, "{preset:?}: idempotent");
            }
        }
    }
}

//! From an `snn-core` model back to a float network: the inverse of [`crate::io::export`]
//! up to rounding. Used to start training-speed measurements from a trained network
//! (its activity, not a fresh network's, decides the cost) and to fine-tune a model
//! whose float checkpoint is gone.
//!
//! Each channel's float weights are its `i8` weights times `V_th / threshold_c` with
//! `V_th = 1`, which is what export divided by; the output layer uses its stored
//! scale. Pooling thresholds become `threshold / 4`, the leak `bits / 2^15`. With an
//! analog input the first layer's membrane unit is `s * 2^shift / 255`
//! ([`snn_core::analog`]), so its weights are `i8 * 255 / (2^shift * threshold_c)`.

use snn_core::format::{self, LayerDesc, NeuronDesc, Reset, Shortcut};
use snn_core::neuron::Leak;

use crate::data::Encoding;
use crate::error::NetworkError;
use crate::io::quant;
use crate::model::net::{Network, Neuron, Params, Shape};
use crate::model::spec::{LayerSpec, ShortcutKind};

/// Why a model could not be turned back into a float network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// `snn-core` rejects the blob.
    #[error("not a valid model: {0}")]
    Format(snn_core::FormatError),
    /// The layers do not form a network the trainer builds.
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// A weight tensor's length differs from what the rebuilt network expects.
    #[error("the weight counts do not match the rebuilt network")]
    WeightCount,
    /// Layer `layer` has a geometry the trainer's layer list cannot express (a
    /// residual block whose convolutions are not 3x3 with padding 1).
    #[error("layer {layer}: {what} cannot be expressed as a trainer layer")]
    Unsupported {
        /// Index of the layer.
        layer: usize,
        /// What is not expressible.
        what: &'static str,
    },
}

/// A float network rebuilt from a model.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The network (LIF threshold 1, the model's leak and reset, no dropout).
    pub net: Network,
    /// Its dequantised weights.
    pub params: Params,
    /// The model's input encoding.
    pub enc: Encoding,
    /// The model's stored deployment setting.
    pub deployment: Option<format::Deployment>,
}

fn le_i32(b: &[u8]) -> impl Iterator<Item = i32> + '_ {
    b.chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// `1 / threshold_c` for each channel (the weight scale export used with `V_th = 1`).
fn scales(n: &NeuronDesc<'_>) -> Vec<f32> {
    le_i32(n.thresholds)
        .map(|t| 1.0 / t.max(1) as f32)
        .collect()
}

/// Rebuilds the float network of `blob`.
///
/// # Errors
/// [`ImportError`] when the blob is invalid or not expressible as a trainer network.
pub fn import(blob: &[u8]) -> Result<Imported, ImportError> {
    let desc = decode(blob)?;
    let mut layers = Vec::new();
    let mut tensors: Vec<Vec<f32>> = Vec::new();
    let (mut leak, mut pool_threshold, mut classes) = (None, 0.75, 0);
    let analog_unit = match desc.input.drive {
        format::Drive::Rate => 1.0,
        format::Drive::Analog { shift } => 255.0 / (1u64 << shift) as f32,
    };
    for (li, layer) in desc.layers.iter().enumerate() {
        let scales = |n: &NeuronDesc<'_>| {
            let unit = if li == 0 { analog_unit } else { 1.0 };
            scales(n)
                .into_iter()
                .map(|s| s * unit)
                .collect::<Vec<f32>>()
        };
        match layer {
            LayerDesc::Conv { conv, neuron } => {
                layers.push(LayerSpec::Conv {
                    channels: usize::from(conv.out_channels),
                    kernel: usize::from(conv.kernel),
                    stride: usize::from(conv.stride),
                    padding: Some(usize::from(conv.padding)),
                });
                tensors.push(quant::dequantize(
                    conv.weights,
                    &scales(neuron),
                    conv.out_channels,
                ));
                leak.get_or_insert((neuron.leak, neuron.reset));
            }
            LayerDesc::Pool { neuron } => {
                layers.push(LayerSpec::Pool);
                pool_threshold = le_i32(neuron.thresholds).next().unwrap_or(3) as f32 / 4.0;
            }
            LayerDesc::Dense {
                outputs,
                weights,
                neuron,
            } => {
                layers.push(LayerSpec::Dense {
                    units: usize::from(*outputs),
                });
                tensors.push(quant::dequantize(weights, &scales(neuron), *outputs));
                leak.get_or_insert((neuron.leak, neuron.reset));
            }
            LayerDesc::Residual {
                conv1,
                neuron1,
                conv2,
                shortcut,
                neuron2,
            } => {
                let three =
                    |c: &format::ConvDesc<'_>, s| c.kernel == 3 && c.padding == 1 && c.stride == s;
                if !three(conv1, 1) || !three(conv2, conv2.stride) {
                    return Err(ImportError::Unsupported {
                        layer: li,
                        what: "a residual convolution that is not 3x3, padding 1 (stride 1 first)",
                    });
                }
                let s2 = scales(neuron2);
                tensors.push(quant::dequantize(
                    conv1.weights,
                    &scales(neuron1),
                    conv1.out_channels,
                ));
                tensors.push(quant::dequantize(conv2.weights, &s2, conv2.out_channels));
                let kind = match shortcut {
                    Shortcut::Conv { weights } => {
                        tensors.push(quant::dequantize(weights, &s2, conv2.out_channels));
                        ShortcutKind::Conv
                    }
                    Shortcut::Identity { .. } => ShortcutKind::Identity,
                };
                layers.push(LayerSpec::Residual {
                    channels: usize::from(conv1.out_channels),
                    stride: usize::from(conv2.stride),
                    shortcut: kind,
                });
                leak.get_or_insert((neuron1.leak, neuron1.reset));
            }
            LayerDesc::Output {
                classes: c,
                weights,
                leak: l,
                scale,
                ..
            } => {
                layers.push(LayerSpec::Output);
                classes = usize::from(*c);
                tensors.push(quant::dequantize(weights, &[*scale], *c));
                leak.get_or_insert((*l, Reset::Hard));
            }
        }
    }
    let neuron = neuron_of(leak, pool_threshold);
    let input = Shape {
        channels: desc.input.channels,
        height: desc.input.height,
        width: desc.input.width,
    };
    let net = Network::build(&layers, input, classes, neuron, 0.0)?;
    let params = net
        .param_shapes
        .iter()
        .zip(tensors)
        .map(|(shape, data)| ndarray::ArrayD::from_shape_vec(shape.clone(), data).ok())
        .collect::<Option<Params>>()
        .ok_or(ImportError::WeightCount)?;
    Ok(Imported {
        net,
        params,
        enc: encoding_of(&desc.input),
        deployment: desc.deployment,
    })
}

/// The validated description of `blob`, refused where a layer has a synaptic current.
fn decode(blob: &[u8]) -> Result<format::ModelDesc<'_>, ImportError> {
    snn_core::Model::from_bytes(blob).map_err(ImportError::Format)?;
    let (_, payload) = format::split_payload(blob).map_err(ImportError::Format)?;
    let desc = format::decode_body(payload).map_err(ImportError::Format)?;
    if let Some(layer) = desc.layers.iter().position(has_synapse) {
        let what = "a synaptic current (current-based neurons: the trainer's are not)";
        return Err(ImportError::Unsupported { layer, what });
    }
    Ok(desc)
}

/// Whether a layer has a synaptic current (a current-based population or output).
fn has_synapse(layer: &LayerDesc<'_>) -> bool {
    match layer {
        LayerDesc::Conv { neuron, .. }
        | LayerDesc::Pool { neuron }
        | LayerDesc::Dense { neuron, .. } => neuron.synapse != 0,
        LayerDesc::Residual {
            neuron1, neuron2, ..
        } => neuron1.synapse != 0 || neuron2.synapse != 0,
        LayerDesc::Output { synapse, .. } => *synapse != 0,
    }
}

/// The trainer's neuron constants from the first spiking layer's leak and reset (a
/// model without one: no leak, hard reset) and the pooling threshold; the threshold is
/// 1 in float units (the weight scales carry the rest).
fn neuron_of(leak: Option<(u16, Reset)>, pool_threshold: f32) -> Neuron {
    let (leak_bits, reset) = leak.unwrap_or((Leak::ONE.to_bits(), Reset::Hard));
    Neuron {
        leak: f32::from(leak_bits) / f32::from(Leak::ONE.to_bits()),
        threshold: 1.0,
        pool_threshold,
        reset,
    }
}

/// The trainer's encoding of a model's input description.
fn encoding_of(input: &format::InputDesc<'_>) -> Encoding {
    Encoding {
        center: le_i32(input.center).collect(),
        gain: input
            .gain
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        analog: input.drive != format::Drive::Rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed default model survives import and export: same network, and
    /// every byte but (at most) the output scale's last bits.
    #[test]
    fn default_model_round_trips() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../models/lenet-mnist-subset.snn");
        let blob = std::fs::read(path).unwrap();
        let m = import(&blob).unwrap();
        assert_eq!(
            m.net.layers,
            crate::model::spec::Preset::Lenet
                .layers()
                .into_iter()
                .map(|l| match l {
                    LayerSpec::Conv {
                        channels,
                        kernel,
                        stride,
                        ..
                    } => LayerSpec::Conv {
                        channels,
                        kernel,
                        stride,
                        padding: Some(kernel / 2)
                    },
                    l => l,
                })
                .collect::<Vec<_>>()
        );
        let opts = crate::io::export::ExportOptions {
            membranes: None,
            deployment: m.deployment,
        };
        let again = crate::io::export::export_with(&m.net, &m.params, &m.enc, opts).unwrap();
        assert_eq!(again.len(), blob.len());
        let differing = blob.iter().zip(&again).filter(|(a, b)| a != b).count();
        assert!(differing <= 8, "{differing} bytes differ");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(
            import(b"not a model"),
            Err(ImportError::Format(_))
        ));
    }
}

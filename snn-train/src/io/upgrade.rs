//! Rewriting a model blob of an older format version in today's format (4).
//!
//! Version 3 is version 4 without synaptic currents: [`upgrade`] sets every
//! population's and the output's `synapse` to 0 (none) and keeps everything else, so
//! the model computes exactly what it computed. Version 2 is version 3 without the input drive (it is rate-coded) and without the
//! deployment setting: [`upgrade`] adds both (the deployment only when given) and
//! keeps every array as it is, so the upgraded model computes exactly what version 2
//! computed. Version 1 (before 16-bit membranes) also lacks the membrane width and
//! stores its weight rows in logical order: [`upgrade`] interleaves every row
//! ([`snn_core::format::interleave_rows`]) and picks the membrane width (16 bits when
//! every threshold fits, as export does, unless told). With 32-bit membranes a
//! version-1 model computes exactly what the old engine computed; with 16-bit ones it
//! differs only where a membrane would leave the 16-bit range.

use serde::Deserialize;

use crate::data::Encoding;
use snn_core::format::{
    self, interleave_rows, ConvDesc, Deployment, Drive, InputDesc, LayerDesc, Membranes, ModelDesc,
    NeuronDesc, Reset, Shortcut, HEADER_LEN, MAGIC, MAX_LAYERS,
};

/// Why a blob could not be upgraded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeError {
    /// Not a model blob, or a damaged one.
    #[error("not a readable model blob: {0}")]
    Unreadable(&'static str),
    /// Already in today's format.
    #[error("the model is already format version {0}: nothing to upgrade")]
    Current(u16),
    /// A version this release cannot upgrade from.
    #[error("format version {0} cannot be upgraded (this release upgrades versions 1 to 3)")]
    Unknown(u16),
    /// The model cannot take the encoding asked for (an analog model's first layer
    /// expects a current; an analog encoding needs the model re-exported).
    #[error("cannot re-encode the model: {0}")]
    Encoding(&'static str),
    /// The upgraded model does not validate (for example 16-bit membranes asked for
    /// with a threshold above `i16::MAX`).
    #[error("the upgraded model is invalid: {0}")]
    Format(snn_core::FormatError),
}

/// The input description of format versions 1 and 2 (rate-coded, no drive).
#[derive(Deserialize)]
struct InputV2<'a> {
    channels: u16,
    height: u16,
    width: u16,
    center: &'a [u8],
    gain: &'a [u8],
}

impl<'a> InputV2<'a> {
    fn rate(&self) -> InputDesc<'a> {
        InputDesc {
            channels: self.channels,
            height: self.height,
            width: self.width,
            center: self.center,
            gain: self.gain,
            drive: Drive::Rate,
        }
    }
}

/// A population's parameters in format versions 1 to 3 (no synaptic current).
#[derive(Deserialize)]
struct NeuronV3<'a> {
    thresholds: &'a [u8],
    leak: u16,
    reset: Reset,
}

impl<'a> NeuronV3<'a> {
    fn current(&self) -> NeuronDesc<'a> {
        NeuronDesc {
            thresholds: self.thresholds,
            leak: self.leak,
            reset: self.reset,
            synapse: 0,
        }
    }
}

/// A layer in format versions 1 to 3: today's without the `synapse` fields.
#[derive(Deserialize)]
enum LayerV3<'a> {
    Conv {
        #[serde(borrow)]
        conv: ConvDesc<'a>,
        #[serde(borrow)]
        neuron: NeuronV3<'a>,
    },
    Pool {
        #[serde(borrow)]
        neuron: NeuronV3<'a>,
    },
    Dense {
        outputs: u16,
        weights: &'a [u8],
        #[serde(borrow)]
        neuron: NeuronV3<'a>,
    },
    Residual {
        #[serde(borrow)]
        conv1: ConvDesc<'a>,
        #[serde(borrow)]
        neuron1: NeuronV3<'a>,
        #[serde(borrow)]
        conv2: ConvDesc<'a>,
        #[serde(borrow)]
        shortcut: Shortcut<'a>,
        #[serde(borrow)]
        neuron2: NeuronV3<'a>,
    },
    Output {
        classes: u16,
        weights: &'a [u8],
        leak: u16,
        scale: f32,
    },
}

impl<'a> LayerV3<'a> {
    /// The layer in today's terms: no synaptic current anywhere.
    fn current(&self) -> LayerDesc<'a> {
        match self {
            Self::Conv { conv, neuron } => LayerDesc::Conv {
                conv: conv.clone(),
                neuron: neuron.current(),
            },
            Self::Pool { neuron } => LayerDesc::Pool {
                neuron: neuron.current(),
            },
            Self::Dense {
                outputs,
                weights,
                neuron,
            } => LayerDesc::Dense {
                outputs: *outputs,
                weights,
                neuron: neuron.current(),
            },
            Self::Residual {
                conv1,
                neuron1,
                conv2,
                shortcut,
                neuron2,
            } => LayerDesc::Residual {
                conv1: conv1.clone(),
                neuron1: neuron1.current(),
                conv2: conv2.clone(),
                shortcut: shortcut.clone(),
                neuron2: neuron2.current(),
            },
            Self::Output {
                classes,
                weights,
                leak,
                scale,
            } => LayerDesc::Output {
                classes: *classes,
                weights,
                leak: *leak,
                synapse: 0,
                scale: *scale,
            },
        }
    }
}

/// Layers of versions 1 to 3 in today's terms.
fn current_layers<'a>(old: &[LayerV3<'a>]) -> heapless::Vec<LayerDesc<'a>, MAX_LAYERS> {
    // Same capacity as the old list.
    old.iter().map(LayerV3::current).collect()
}

/// The body of format version 1.
#[derive(Deserialize)]
struct DescV1<'a> {
    #[serde(borrow)]
    input: InputV2<'a>,
    #[serde(borrow)]
    layers: heapless::Vec<LayerV3<'a>, MAX_LAYERS>,
}

/// The body of format version 2.
#[derive(Deserialize)]
struct DescV2<'a> {
    #[serde(borrow)]
    input: InputV2<'a>,
    membranes: Membranes,
    #[serde(borrow)]
    layers: heapless::Vec<LayerV3<'a>, MAX_LAYERS>,
}

/// The body of format version 3.
#[derive(Deserialize)]
struct DescV3<'a> {
    #[serde(borrow)]
    input: InputDesc<'a>,
    membranes: Membranes,
    deployment: Option<Deployment>,
    #[serde(borrow)]
    layers: heapless::Vec<LayerV3<'a>, MAX_LAYERS>,
}

/// A current blob with its deployment setting (and, if given, membrane width) replaced:
/// storing the early-exit rule `snn-train analyze` calibrated, for example.
fn redeploy(
    blob: &[u8],
    membranes: Option<Membranes>,
    deployment: Deployment,
) -> Result<Vec<u8>, UpgradeError> {
    snn_core::Model::from_bytes(blob).map_err(UpgradeError::Format)?;
    let (_, payload) = format::split_payload(blob).map_err(UpgradeError::Format)?;
    let mut desc = format::decode_body(payload).map_err(UpgradeError::Format)?;
    desc.deployment = Some(deployment);
    if let Some(m) = membranes {
        desc.membranes = m;
    }
    write(&desc)
}

/// A current, rate-coded blob with its encoder replaced by `enc` (one entry for every
/// channel, or one per channel): what `--encoding rate:G` does to a model before it is
/// scored. Nothing else changes.
///
/// # Errors
/// [`UpgradeError::Encoding`] for an analog model or an analog `enc`, a damaged or
/// older blob, or an encoder of another channel count.
pub fn reencode(blob: &[u8], enc: &Encoding) -> Result<Vec<u8>, UpgradeError> {
    let model = snn_core::Model::from_bytes(blob).map_err(UpgradeError::Format)?;
    let channels = usize::from(model.input_shape().channels);
    let per = |v: &[u32]| -> Result<Vec<u8>, UpgradeError> {
        match v.len() {
            1 => Ok(v[0].to_le_bytes().repeat(channels)),
            n if n == channels => Ok(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            _ => Err(UpgradeError::Encoding(
                "the encoding has another number of channels",
            )),
        }
    };
    let center: Vec<u32> = enc.center.iter().map(|&c| c as u32).collect();
    let (center, gain) = (per(&center)?, per(&enc.gain)?);
    let (_, payload) = format::split_payload(blob).map_err(UpgradeError::Format)?;
    let mut desc = format::decode_body(payload).map_err(UpgradeError::Format)?;
    if enc.analog || desc.input.drive != format::Drive::Rate {
        return Err(UpgradeError::Encoding(
            "analog input is chosen at export (the first layer's thresholds depend on it)",
        ));
    }
    desc.input.center = &center;
    desc.input.gain = &gain;
    write(&desc)
}

/// Writes `desc` and checks that `snn-core` accepts the result.
fn write(desc: &ModelDesc<'_>) -> Result<Vec<u8>, UpgradeError> {
    let mut out = vec![0u8; desc.encoded_len_bound()];
    let n = snn_core::write_model(desc, &mut out).map_err(UpgradeError::Format)?;
    out.truncate(n);
    snn_core::Model::from_bytes(&out).map_err(UpgradeError::Format)?;
    Ok(out)
}

/// The format version a blob's header states, if it has one.
pub fn version(blob: &[u8]) -> Option<u16> {
    (blob.len() >= HEADER_LEN && blob[..4] == MAGIC).then(|| u16::from_le_bytes([blob[4], blob[5]]))
}

/// Rewrites a version-1, 2 or 3 blob as a version-4 blob (`membranes`: `None` keeps a
/// version-2 or 3 model's width and picks 16 bits for a version-1 model when every
/// threshold fits `i16`), storing `deployment` if given (a version-3 model keeps its
/// own otherwise). A current blob is only rewritten with a new `deployment` (else
/// [`UpgradeError::Current`]).
///
/// # Errors
/// [`UpgradeError`] for a damaged blob, one already current or of an unknown
/// version, or a result `snn-core` rejects.
pub fn upgrade(
    blob: &[u8],
    membranes: Option<Membranes>,
    deployment: Option<Deployment>,
) -> Result<Vec<u8>, UpgradeError> {
    let v = version(blob).ok_or(UpgradeError::Unreadable("no SNNM header"))?;
    if v == format::FORMAT_VERSION {
        return match deployment {
            Some(d) => redeploy(blob, membranes, d),
            None => Err(UpgradeError::Current(v)),
        };
    }
    if !(1..=3).contains(&v) {
        return Err(UpgradeError::Unknown(v));
    }
    let len = u32::from_le_bytes([blob[8], blob[9], blob[10], blob[11]]) as usize;
    let payload =
        blob.get(HEADER_LEN..)
            .filter(|p| p.len() == len)
            .ok_or(UpgradeError::Unreadable(
                "payload length does not match the header",
            ))?;
    let crc = u32::from_le_bytes([blob[12], blob[13], blob[14], blob[15]]);
    if format::crc32(payload) != crc {
        return Err(UpgradeError::Unreadable("checksum mismatch"));
    }
    if v == 3 {
        let (old, rest) = postcard::take_from_bytes::<DescV3<'_>>(payload)
            .map_err(|_| UpgradeError::Unreadable("the version-3 body does not decode"))?;
        if !rest.is_empty() {
            return Err(UpgradeError::Unreadable("bytes after the version-3 body"));
        }
        return write(&ModelDesc {
            input: old.input,
            membranes: membranes.unwrap_or(old.membranes),
            deployment: deployment.or(old.deployment),
            layers: current_layers(&old.layers),
        });
    }
    if v == 2 {
        let (old, rest) = postcard::take_from_bytes::<DescV2<'_>>(payload)
            .map_err(|_| UpgradeError::Unreadable("the version-2 body does not decode"))?;
        if !rest.is_empty() {
            return Err(UpgradeError::Unreadable("bytes after the version-2 body"));
        }
        return write(&ModelDesc {
            input: old.input.rate(),
            membranes: membranes.unwrap_or(old.membranes),
            deployment,
            layers: current_layers(&old.layers),
        });
    }
    from_v1(payload, membranes, deployment)
}

/// The version-1 body `payload` rewritten as version 4: rows interleaved, the membrane
/// width chosen (or given), the deployment stored if given.
fn from_v1(
    payload: &[u8],
    membranes: Option<Membranes>,
    deployment: Option<Deployment>,
) -> Result<Vec<u8>, UpgradeError> {
    let (old, rest) = postcard::take_from_bytes::<DescV1<'_>>(payload)
        .map_err(|_| UpgradeError::Unreadable("the version-1 body does not decode"))?;
    if !rest.is_empty() {
        return Err(UpgradeError::Unreadable("bytes after the version-1 body"));
    }
    let old_layers = current_layers(&old.layers);
    // Owned, interleaved copies of every weight array, in the order `describe` reads.
    let mut arrays: Vec<Vec<u8>> = Vec::new();
    let mut keep = |w: &[u8], row: u16| {
        let mut w = w.to_vec();
        interleave_rows(&mut w, usize::from(row));
        arrays.push(w);
    };
    let mut max_threshold = 0;
    let mut thresholds = |t: &[u8]| {
        for c in t.chunks_exact(4) {
            max_threshold = max_threshold.max(i32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        }
    };
    for l in &old_layers {
        match l {
            LayerDesc::Conv { conv, neuron } => {
                keep(conv.weights, conv.out_channels);
                thresholds(neuron.thresholds);
            }
            LayerDesc::Pool { neuron } => thresholds(neuron.thresholds),
            LayerDesc::Dense {
                outputs,
                weights,
                neuron,
            } => {
                keep(weights, *outputs);
                thresholds(neuron.thresholds);
            }
            LayerDesc::Residual {
                conv1,
                neuron1,
                conv2,
                shortcut,
                neuron2,
            } => {
                keep(conv1.weights, conv1.out_channels);
                keep(conv2.weights, conv2.out_channels);
                if let Shortcut::Conv { weights } = shortcut {
                    keep(weights, conv2.out_channels);
                }
                thresholds(neuron1.thresholds);
                thresholds(neuron2.thresholds);
            }
            LayerDesc::Output {
                classes, weights, ..
            } => keep(weights, *classes),
        }
    }
    let membranes = membranes.unwrap_or(if max_threshold <= i32::from(i16::MAX) {
        Membranes::I16
    } else {
        Membranes::I32
    });
    let mut next = arrays.iter();
    let mut take = || next.next().map_or(&[][..], Vec::as_slice);
    let mut layers = heapless::Vec::<LayerDesc<'_>, MAX_LAYERS>::new();
    for l in &old_layers {
        let mut l = l.clone();
        match &mut l {
            LayerDesc::Conv { conv, .. } => conv.weights = take(),
            LayerDesc::Pool { .. } => {}
            LayerDesc::Dense { weights, .. } | LayerDesc::Output { weights, .. } => {
                *weights = take()
            }
            LayerDesc::Residual {
                conv1,
                conv2,
                shortcut,
                ..
            } => {
                conv1.weights = take();
                conv2.weights = take();
                if let Shortcut::Conv { weights } = shortcut {
                    *weights = take();
                }
            }
        }
        // Same capacity as the old list.
        let _ = layers.push(l);
    }
    let desc = ModelDesc {
        input: old.input.rate(),
        membranes,
        deployment,
        layers,
    };
    write(&desc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--encoding rate:1` rewrites the encoder table only: every channel gets the
    /// gain, the rest of the body is untouched, and analog models are refused.
    #[test]
    fn reencoding_replaces_the_encoder_and_nothing_else() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let blob = std::fs::read(format!("{root}/models/lenet-mnist-subset.snn")).unwrap();
        let enc = crate::data::DatasetKind::Mnist
            .encoding_with("rate:1".parse().unwrap())
            .unwrap();
        let new = reencode(&blob, &enc).unwrap();
        let (_, p) = format::split_payload(&new).unwrap();
        let d = format::decode_body(p).unwrap();
        let gain = snn_core::encode::unsigned_gain(1.0).to_le_bytes();
        assert_eq!(d.input.gain, &gain[..]);
        let (_, p0) = format::split_payload(&blob).unwrap();
        let d0 = format::decode_body(p0).unwrap();
        assert_ne!(d0.input.gain, d.input.gain);
        assert_eq!(d0.layers, d.layers, "only the encoder changes");
        // Back to the paper's encoder: the very same bytes as before.
        let paper = crate::data::DatasetKind::Mnist.encoding();
        assert_eq!(reencode(&new, &paper).unwrap(), blob);
        let analog = std::fs::read(format!("{root}/snn-core/tests/golden/analog.snn")).unwrap();
        assert!(matches!(
            reencode(&analog, &paper),
            Err(UpgradeError::Encoding(_))
        ));
    }

    /// The version-1, 2 and 3 golden models upgrade to the committed version-4 golden
    /// model byte for byte (all written from the same network), a current blob is
    /// refused, and a deployment setting is stored when given.
    #[test]
    fn golden_v1_to_v3_upgrade_to_the_golden_v4() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../snn-core/tests/golden");
        let v1 = std::fs::read(format!("{dir}/model-v1.snn")).unwrap();
        let v2 = std::fs::read(format!("{dir}/model-v2.snn")).unwrap();
        let v3 = std::fs::read(format!("{dir}/model-v3.snn")).unwrap();
        let v4 = std::fs::read(format!("{dir}/model.snn")).unwrap();
        assert_eq!(version(&v1), Some(1));
        assert_eq!(version(&v2), Some(2));
        assert_eq!(version(&v3), Some(3));
        assert_eq!(upgrade(&v1, None, None).unwrap(), v4);
        assert_eq!(upgrade(&v2, None, None).unwrap(), v4);
        assert_eq!(upgrade(&v3, None, None).unwrap(), v4);
        assert!(matches!(
            upgrade(&v4, None, None),
            Err(UpgradeError::Current(4))
        ));
        let wide = upgrade(&v1, Some(Membranes::I32), None).unwrap();
        let m = snn_core::Model::from_bytes(&wide).unwrap();
        assert_eq!(m.membranes(), Membranes::I32);
        let d = Deployment {
            steps: 8,
            early_exit: snn_core::EarlyExit::Margin { per_step: 32 },
        };
        let deployed = upgrade(&v2, None, Some(d)).unwrap();
        assert_eq!(
            snn_core::Model::from_bytes(&deployed).unwrap().deployment(),
            Some(d)
        );
        // A current model takes a new deployment and nothing else changes; a
        // version-3 one keeps its own unless given one.
        assert_eq!(upgrade(&v4, None, Some(d)).unwrap(), deployed);
        assert_eq!(upgrade(&v3, None, Some(d)).unwrap(), deployed);
        let mut cut = v1.clone();
        cut.truncate(v1.len() - 1);
        assert!(matches!(
            upgrade(&cut, None, None),
            Err(UpgradeError::Unreadable(_))
        ));
    }
}

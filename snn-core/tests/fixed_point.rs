//! The float-to-fixed-point constructors the trainer uses give bit-identical results
//! to the trainer's original `std` formulas (restated here as the reference), for
//! millions of values: random bit patterns (NaN, infinities, subnormals included),
//! values near halfway points and the ranges real models use. Also checks that
//! `ModelDesc::encoded_len_bound` always suffices for `write_model`, and that
//! `Model::header` returns the blob's header.

mod common;

use proptest::prelude::*;
use snn_core::encode::{normalised_channel, unsigned_gain, PIXEL_UNIT};
use snn_core::format::{split_payload, Header};
use snn_core::layer::{
    shortcut_gain_from_f32, weight_from_f32, weight_scale, MAX_SHORTCUT_GAIN, WEIGHT_LIMIT,
};
use snn_core::neuron::{threshold_from_f32, Leak, MAX_THRESHOLD};
use snn_core::{write_model, Model};

/// xorshift64: a fixed stream of test values.
struct Values(u64);

impl Values {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Random bit patterns, halfway points and small "real" values, in turn.
    fn f32(&mut self, i: u64, scale: f32) -> f32 {
        let r = self.next();
        match i % 4 {
            0 => f32::from_bits(r as u32),
            1 => ((r >> 40) as i32 - (1 << 23)) as f32 / 2.0, // exact halves
            2 => ((r >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale,
            _ => ((r >> 40) as f32 / (1u64 << 24) as f32) * 2.0,
        }
    }

    fn f64(&mut self, i: u64, scale: f64) -> f64 {
        let r = self.next();
        match i % 4 {
            0 => f64::from_bits(r),
            1 => ((r >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * scale,
            2 => (r >> 11) as f64 / (1u64 << 53) as f64,
            _ => ((r >> 20) as i64 - (1 << 43)) as f64 / 65536.0,
        }
    }
}

const N: u64 = 1_000_000;

#[test]
fn leak_matches_the_trainer_formula() {
    let mut v = Values(1);
    for i in 0..N {
        let x = v.f32(i, 3.0);
        let reference = (x * 32768.0).round().clamp(0.0, 32768.0) as u16;
        assert_eq!(Leak::from_f32(x).to_bits(), reference, "{x:e}");
    }
}

#[test]
fn threshold_matches_the_trainer_formula() {
    let mut v = Values(2);
    for i in 0..N {
        let x = v.f32(i, 1e9);
        let reference = x.round().clamp(1.0, (1u32 << 30) as f32) as i32;
        assert_eq!(threshold_from_f32(x), reference, "{x:e}");
    }
    assert_eq!(MAX_THRESHOLD, 1 << 30);
}

#[test]
fn shortcut_gain_matches_the_trainer_formula() {
    let mut v = Values(3);
    for i in 0..N {
        let x = v.f32(i, 2e9);
        let reference = x.round().clamp(-(1 << 29) as f32, (1 << 29) as f32) as i32;
        assert_eq!(shortcut_gain_from_f32(x), reference, "{x:e}");
        // The trainer passes 1 / scale.
        let s = 1.0 / x;
        let reference = s.round().clamp(-(1 << 29) as f32, (1 << 29) as f32) as i32;
        assert_eq!(shortcut_gain_from_f32(s), reference, "1/{x:e}");
    }
    assert_eq!(MAX_SHORTCUT_GAIN, 1 << 29);
}

#[test]
fn weights_match_the_trainer_formula() {
    let mut v = Values(4);
    for i in 0..N {
        let max = v.f32(i, 10.0).abs();
        let scale = weight_scale(max);
        assert_eq!(
            scale.to_bits(),
            (max / 127.0).max(1e-12).to_bits(),
            "{max:e}"
        );
        let w = v.f32(i / 2, 2.0 * max);
        let reference = (w / scale).round().clamp(-127.0, 127.0) as i8;
        assert_eq!(weight_from_f32(w, scale), reference, "{w:e} / {scale:e}");
    }
    assert_eq!(WEIGHT_LIMIT, 127);
}

#[test]
fn encoder_matches_the_trainer_formulas() {
    assert_eq!(PIXEL_UNIT, 65280);
    let mut v = Values(5);
    for i in 0..N {
        let c = v.f64(i, 4.0);
        let reference = (c * 4294967296.0 / 65280.0).round() as u32;
        assert_eq!(unsigned_gain(c), reference, "{c:e}");
        let (mean, std) = (v.f64(i, 2.0), v.f64(i + 1, 1.0));
        let center = (mean * 65280.0).round() as i32;
        let gain = (4294967296.0 / (std * 65280.0))
            .round()
            .min(u32::MAX as f64) as u32;
        assert_eq!(
            normalised_channel(mean, std),
            (center, gain),
            "{mean:e} {std:e}"
        );
    }
    // The datasets' own values.
    for (mean, std) in [(0.4914, 0.2470), (0.4822, 0.2435), (0.4465, 0.2616)] {
        let (c, g) = normalised_channel(mean, std);
        assert_eq!(c, (mean * 65280.0).round() as i32);
        assert_eq!(g, (4294967296.0 / (std * 65280.0)).round() as u32);
    }
    assert_eq!(unsigned_gain(0.5), common::MNIST_GAIN);
}

fn golden() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/model.snn"
    ))
    .unwrap()
}

#[test]
fn header_is_the_blobs() {
    let blob = golden();
    let (header, _) = split_payload(&blob).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    assert_eq!(model.header(), header);
    assert_eq!(
        model.header().checksum,
        u32::from_le_bytes(blob[12..16].try_into().unwrap())
    );
    let desc = snn_core::format::decode_body(&blob[16..]).unwrap();
    assert_eq!(Header::for_desc(&desc), Ok(header));
    assert_eq!(Model::from_desc(&desc).unwrap().header(), header);
}

fn check_bound(spec: &common::ModelSpec) -> Result<(), TestCaseError> {
    let blob = spec.to_bytes();
    let desc = snn_core::format::decode_body(&blob[16..]).unwrap();
    let bound = desc.encoded_len_bound();
    prop_assert!(bound >= blob.len(), "bound {bound} < {}", blob.len());
    let mut out = vec![0u8; bound];
    prop_assert_eq!(write_model(&desc, &mut out), Ok(blob.len()));
    prop_assert_eq!(&out[..blob.len()], &blob[..]);
    // Not wildly loose: a few dozen bytes per layer.
    prop_assert!(bound <= blob.len() + 64 + 96 * desc.layers.len());
    Ok(())
}

#[test]
fn encoded_len_bound_holds_for_the_golden_model() {
    let blob = golden();
    let desc = snn_core::format::decode_body(&blob[16..]).unwrap();
    assert!(desc.encoded_len_bound() >= blob.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn encoded_len_bound_always_suffices(seed in any::<u64>(), wide in any::<bool>()) {
        let mut spec = common::random_model(seed);
        if wide {
            // Large values in every varint field: channels, lengths, leaks.
            spec.layers.insert(0, common::LayerSpec::Dense {
                outputs: 60_000,
                weights: Vec::new(),
                neuron: common::NeuronSpec {
                    thresholds: vec![i32::MAX; 300],
                    leak: u16::MAX,
                    reset: snn_core::format::Reset::Subtract, synapse: 0,
                },
            });
            spec.channels = u16::MAX;
        }
        check_bound(&spec)?;
    }
}

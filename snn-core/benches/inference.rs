//! Host inference cost of `snn-core` (single thread).
//!
//! `lenet_20_steps` runs the LeNet of `method.md` §7 (random weights, thresholds set so
//! every layer is active) on MNIST-like images for 20 steps. Its throughput is set to
//! the number of synaptic events of one inference, so criterion's `thrpt` line reads
//! in events per second: ns per synaptic event = 1000 / (Melem/s). `lenet_image`
//! reports the same run as images per second. `neuron_update` and `conv_scatter` time
//! the two kernels alone.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use snn_core::Model;

fn lenet(c: &mut Criterion) {
    let blob = common::lenet(3).to_bytes();
    let model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0u32; model.state_words()];
    let images: Vec<Vec<u8>> = (0..8).map(common::blob_image).collect();
    let events: u64 = images
        .iter()
        .map(|img| {
            model
                .classify(&mut state, img, 1, 20)
                .unwrap()
                .total_synaptic_events()
        })
        .sum::<u64>()
        / images.len() as u64;
    let r = model.classify(&mut state, &images[0], 1, 20).unwrap();
    eprintln!(
        "lenet: {} synaptic events per inference on average; spikes per population {:?}, input spikes {}",
        events, r.spikes, r.input_spikes
    );

    let mut g = c.benchmark_group("inference");
    g.throughput(Throughput::Elements(events * images.len() as u64));
    g.bench_function("lenet_20_steps_x8", |b| {
        b.iter(|| {
            for img in &images {
                black_box(model.classify(&mut state, black_box(img), 1, 20).unwrap());
            }
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("lenet_image", |b| {
        b.iter(|| {
            black_box(
                model
                    .classify(&mut state, black_box(&images[1]), 1, 20)
                    .unwrap(),
            )
        })
    });
    g.finish();
}

fn kernels(c: &mut Criterion) {
    use snn_core::format::Reset;
    let blob = common::lenet(3).to_bytes();
    let model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0u32; model.state_words()];
    let img = common::blob_image(1);
    // Warm the network up so membranes hold realistic values.
    let mut session = model.session(&mut state, &img, 3).unwrap();
    for _ in 0..10 {
        session.step();
    }
    let mut g = c.benchmark_group("kernels");
    g.throughput(Throughput::Elements(20 * 28 * 28));
    let mut mem: Vec<i32> = (0..20 * 28 * 28).map(|i| (i * 7919 % 300) - 50).collect();
    let mut bits = vec![0u32; (20 * 28 * 28usize).div_ceil(32)];
    g.bench_function("session_step_lenet", |b| b.iter(|| session.step()));
    g.bench_function("leak_update_15680", |b| {
        let leak = snn_core::neuron::Leak::from_bits(32440).unwrap();
        b.iter(|| {
            let mut fired = 0u32;
            for (i, m) in mem.iter_mut().enumerate() {
                let (v, s) = snn_core::neuron::update(*m + 40, 150, leak, Reset::Hard);
                *m = v;
                bits[i / 32] |= (s as u32) << (i % 32);
                fired += s as u32;
            }
            black_box(fired)
        })
    });
    g.finish();
}

/// Spike propagation alone: a dense layer (2450 -> 200, LeNet's FC) and a conv layer
/// (20 -> 50 channels, 5x5 on 14x14, LeNet's conv2) as single-layer models, driven
/// with a fixed 10 % of input spikes per step.
fn propagation(c: &mut Criterion) {
    use common::{rand_i8s, ConvSpec, LayerSpec, ModelSpec, NeuronSpec};
    use rand::SeedableRng;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
    let never = |n: usize| NeuronSpec {
        thresholds: vec![1 << 30; n],
        leak: 32768,
        reset: snn_core::format::Reset::Hard,
        synapse: 0,
    };
    let dense = ModelSpec {
        channels: 50,
        height: 7,
        width: 7,
        center: vec![0; 50],
        gain: vec![0; 50],
        membranes: snn_core::format::Membranes::I16,
        drive: snn_core::format::Drive::Rate,
        deployment: None,
        layers: vec![
            LayerSpec::Dense {
                outputs: 200,
                weights: rand_i8s(&mut rng, 2450 * 200, 127),
                neuron: never(200),
            },
            LayerSpec::Output {
                classes: 1,
                weights: vec![0; 200],
                leak: 32768,
                scale: 1.0,
                synapse: 0,
            },
        ],
    };
    let conv = ModelSpec {
        channels: 20,
        height: 14,
        width: 14,
        center: vec![0; 20],
        gain: vec![0; 20],
        membranes: snn_core::format::Membranes::I16,
        drive: snn_core::format::Drive::Rate,
        deployment: None,
        layers: vec![
            LayerSpec::Conv(
                ConvSpec {
                    out_channels: 50,
                    kernel: 5,
                    stride: 1,
                    padding: 2,
                    weights: rand_i8s(&mut rng, 20 * 25 * 50, 127),
                },
                never(50),
            ),
            LayerSpec::Output {
                classes: 1,
                weights: vec![0; 9800],
                leak: 32768,
                scale: 1.0,
                synapse: 0,
            },
        ],
    };
    let mut g = c.benchmark_group("propagation");
    for (name, spec) in [("dense_2450x200", dense), ("conv_20to50_5x5_14x14", conv)] {
        let blob = spec.to_bytes();
        let model = Model::from_bytes(&blob).unwrap();
        let mut state = vec![0u32; model.state_words()];
        let n = model.input_len();
        let mut pos = vec![0u32; n.div_ceil(32)];
        for i in (0..n).step_by(10) {
            pos[i / 32] |= 1 << (i % 32);
        }
        let neg = vec![0u32; pos.len()];
        let mut session = model.session_without_encoder(&mut state).unwrap();
        session.step_with_spikes(&pos, &neg).unwrap();
        let events = session.result().synaptic_events[0];
        g.throughput(Throughput::Elements(events));
        g.bench_function(name, |b| {
            b.iter(|| session.step_with_spikes(black_box(&pos), &neg).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, lenet, kernels, propagation);
criterion_main!(benches);

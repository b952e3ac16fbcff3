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

criterion_group!(benches, lenet, kernels);
criterion_main!(benches);

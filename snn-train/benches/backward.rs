//! criterion micro-benchmarks of the trainer's hot kernels: one LeNet sample's forward
//! pass (recorded, T = 20) and its backward pass in both forms.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use snn_train::data::{self, DatasetKind};
use snn_train::model::net::{Network, Shape};
use snn_train::sim::grad::{backward, loss_and_grad, GradForm, Loss};
use snn_train::sim::{forward, Masks, Window};
use snn_train::train::config::TrainConfig;

fn kernels(c: &mut Criterion) {
    let cfg = TrainConfig::default();
    let net = Network::build(
        &cfg.network.layer_list(),
        Shape {
            channels: 1,
            height: 28,
            width: 28,
        },
        10,
        cfg.network.neuron(),
        0.0,
    )
    .unwrap();
    // Weights that spike like a trained LeNet: the committed model is not float, so
    // use the paper's init scaled up a little.
    let params: Vec<_> = net.init(6.0, 1);
    let (_, test) = data::load(DatasetKind::MnistSubset, &data::bundled_dir()).unwrap();
    let enc = DatasetKind::MnistSubset.encoding();
    let img = test.image(0);
    let win = Window {
        net: &net,
        enc: &enc,
        steps: 20,
        record: true,
    };
    let masks = Masks::draw(
        &net,
        &mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1),
    );
    let mut g = c.benchmark_group("train_kernels");
    g.throughput(Throughput::Elements(1));
    g.bench_function("forward_recorded_lenet_t20", |b| {
        b.iter(|| black_box(forward(&win, &params, black_box(img), 7, &masks)))
    });
    let trace = forward(&win, &params, img, 7, &masks);
    let (_, dldy) = loss_and_grad(&trace.y, 3, Loss::Sse);
    for form in [GradForm::Code, GradForm::Aggregate] {
        let mut grads = net.zeros();
        g.bench_function(format!("backward_{form:?}_lenet_t20").to_lowercase(), |b| {
            b.iter(|| {
                backward(
                    &net,
                    &params,
                    &trace,
                    &masks,
                    black_box(&dldy),
                    form,
                    &mut grads,
                )
            })
        });
    }
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);

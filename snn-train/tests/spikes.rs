//! Given input spikes: feeding the encoder's own spike trains through
//! `forward_spikes` and both backward forms gives exactly what the encoder path gives
//! (unsigned MNIST-style and signed, normalised input), and trains that do not fit are
//! refused with a clear error.

use snn_train::data::Encoding;
use snn_train::model::net::{shape, Network, Params};
use snn_train::model::spec::LayerSpec;
use snn_train::sim::grad::{backward, loss_and_grad, GradForm, Loss};
use snn_train::sim::spikes::{InputSpikes, SpikesError};
use snn_train::sim::{encode, forward, forward_spikes, Masks, Window};
use snn_train::train::config::TrainConfig;
use snn_train::LayerIndex;

fn network(c: usize, hw: usize, dropout: f32) -> Network {
    let layers = vec![
        LayerSpec::Conv {
            channels: 4,
            kernel: 3,
            stride: 1,
            padding: None,
        },
        LayerSpec::Pool,
        LayerSpec::Dense { units: 16 },
        LayerSpec::Output,
    ];
    let input = shape(LayerIndex::Input, c, hw, hw).unwrap();
    Network::build(
        &layers,
        input,
        10,
        TrainConfig::default().network.neuron(),
        dropout,
    )
    .unwrap()
}

fn image(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn grads(
    net: &Network,
    params: &Params,
    tr: &snn_train::sim::Trace,
    masks: &Masks,
    form: GradForm,
) -> Params {
    let (_, dldy) = loss_and_grad(&tr.y, 3, Loss::Sse);
    let mut g = net.zeros();
    backward(net, params, tr, masks, &dldy, form, &mut g);
    g
}

fn same_as_encoder(enc: &Encoding, c: usize, dropout: f32) {
    let net = network(c, 8, dropout);
    let params = net.init(4.0, 7);
    let img = image(8 * 8 * c, 11);
    let masks = {
        use rand::SeedableRng;
        Masks::draw(
            &net,
            &mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3),
        )
    };
    for form in [GradForm::Code, GradForm::Aggregate] {
        let win = Window {
            net: &net,
            enc,
            steps: 12,
            record: form == GradForm::Code,
        };
        let spikes = encode(&net, enc, &img, 99, 12);
        let a = forward(&win, &params, &img, 99, &masks);
        let b = forward_spikes(&win, &params, &spikes, &masks).unwrap();
        assert_eq!(a.spikes, b.spikes, "{form:?}");
        assert_eq!(a.input_neg, b.input_neg, "{form:?}");
        assert_eq!(a.counts, b.counts, "{form:?}");
        assert_eq!(a.y, b.y, "{form:?}");
        assert!(
            a.total_spikes().iter().skip(1).any(|&s| s > 0),
            "the test network is silent"
        );
        let (ga, gb) = (
            grads(&net, &params, &a, &masks, form),
            grads(&net, &params, &b, &masks, form),
        );
        assert_eq!(ga, gb, "{form:?}");
        assert!(
            ga.iter().any(|g| g.iter().any(|&v| v != 0.0)),
            "no gradient"
        );
    }
}

#[test]
fn unsigned_input_spikes_equal_the_encoder_path() {
    same_as_encoder(&Encoding::unsigned(0.5), 1, 0.0);
}

#[test]
fn signed_input_spikes_equal_the_encoder_path_with_dropout() {
    let enc = Encoding::normalised(&[0.5, 0.4, 0.3], &[0.6, 0.5, 0.55]);
    let net = network(3, 8, 0.0);
    let spikes = encode(&net, &enc, &image(8 * 8 * 3, 5), 1, 12);
    let negatives = (0..12)
        .flat_map(|t| (0..192).map(move |i| (t, i)))
        .filter(|&(t, i)| spikes.get(t, i) < 0)
        .count();
    assert!(
        negatives > 0,
        "the normalised encoder gave no negative spike"
    );
    same_as_encoder(&enc, 3, 0.25);
}

/// A one-channel 8x8 network with weights, and the unsigned encoder.
fn small() -> (Network, Params, Encoding) {
    let net = network(1, 8, 0.0);
    let params = net.init(4.0, 7);
    (net, params, Encoding::unsigned(0.5))
}

/// A window over `net` (10 steps, no trace); tests override what they need.
fn window<'a>(net: &'a Network, enc: &'a Encoding) -> Window<'a> {
    Window {
        net,
        enc,
        steps: 10,
        record: false,
    }
}

#[test]
fn hand_made_spikes_drive_the_network() {
    let (net, params, enc) = small();
    let win = Window {
        record: true,
        ..window(&net, &enc)
    };
    let silent =
        forward_spikes(&win, &params, &InputSpikes::new(64, 10), &Masks::none(&net)).unwrap();
    assert!(silent.total_spikes().iter().all(|&s| s == 0));
    assert!(silent.y.iter().all(|&y| y == 0.0));
    let mut busy = InputSpikes::new(64, 10);
    for t in 0..10 {
        for i in 0..64 {
            busy.set(t, i, if i % 3 == 0 { -1 } else { 1 });
        }
    }
    let tr = forward_spikes(&win, &params, &busy, &Masks::none(&net)).unwrap();
    assert_eq!(tr.counts[0].iter().sum::<u32>(), 640);
    assert_eq!(tr.input_net.iter().filter(|&&v| v == -10).count(), 22);
    assert!(
        tr.total_spikes()[1] > 0,
        "dense input must drive the first layer"
    );
}

#[test]
fn spikes_that_do_not_fit_are_refused() {
    let (net, params, enc) = small();
    let win = window(&net, &enc);
    let masks = Masks::none(&net);
    let e = forward_spikes(&win, &params, &InputSpikes::new(63, 10), &masks).unwrap_err();
    assert_eq!(
        e,
        SpikesError::Neurons {
            expected: 64,
            found: 63
        }
    );
    let e = forward_spikes(&win, &params, &InputSpikes::new(64, 9), &masks).unwrap_err();
    assert_eq!(
        e,
        SpikesError::Steps {
            expected: 10,
            found: 9
        }
    );
    assert!(e.to_string().contains("9 time steps"));
    let e = InputSpikes::from_bits(64, 2, vec![0; 3], None).unwrap_err();
    assert!(
        matches!(
            e,
            SpikesError::Words {
                expected: 4,
                found: 3,
                ..
            }
        ),
        "{e}"
    );
    let e = InputSpikes::from_bits(64, 2, vec![0, 0, 4, 0], Some(vec![0, 0, 4, 0])).unwrap_err();
    assert_eq!(e, SpikesError::BothSigns { step: 1, neuron: 2 });
    let ok = InputSpikes::from_bits(40, 1, vec![u32::MAX, u32::MAX], None).unwrap();
    assert_eq!(
        (0..40).filter(|&i| ok.get(0, i) == 1).count(),
        40,
        "padding bits are dropped"
    );
}

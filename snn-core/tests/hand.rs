//! Tiny networks whose spike trains are worked out by hand in each test.
//!
//! Input spikes are given explicitly with `Session::step_with_spikes`, so every
//! membrane value can be followed on paper; the comments show the arithmetic.

mod common;

use common::{ConvSpec, LayerSpec, ModelSpec, NeuronSpec, ShortcutSpec};
use snn_core::format::Reset;
use snn_core::Model;

fn neuron(th: i32, leak: u16, reset: Reset) -> NeuronSpec {
    NeuronSpec {
        thresholds: vec![th],
        leak,
        reset,
        synapse: 0,
    }
}

fn output(inputs: usize, weight: i8, leak: u16) -> LayerSpec {
    LayerSpec::Output {
        classes: 1,
        weights: vec![weight; inputs],
        leak,
        scale: 1.0,
        synapse: 0,
    }
}

fn spec(c: u16, h: u16, w: u16, layers: Vec<LayerSpec>) -> ModelSpec {
    ModelSpec {
        channels: c,
        height: h,
        width: w,
        center: vec![0; c as usize],
        gain: vec![0; c as usize],
        membranes: snn_core::format::Membranes::I32,
        drive: snn_core::format::Drive::Rate,
        deployment: None,
        layers,
    }
}

/// Runs `inputs` (one positive and one negative bitset word per step) and returns the
/// first population's spike bits after each step, plus the final result.
fn run(spec: &ModelSpec, steps: &[(u32, u32)]) -> (Vec<u32>, snn_core::Classification) {
    let blob = spec.to_bytes();
    let model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0; model.state_words()];
    let mut s = model.session_without_encoder(&mut state).unwrap();
    let mut trace = Vec::new();
    for &(p, n) in steps {
        s.step_with_spikes(&[p], &[n]).unwrap();
        trace.push(s.population_spikes(0).map_or(0, |b| b[0]));
    }
    (trace, s.result())
}

#[test]
fn leaky_neuron_hard_reset() {
    // U(t) = V(t-1) + 60, threshold 100, leak 0.5:
    // t1: U=60  -> V=30     t2: U=90 -> V=45     t3: U=105 > 100 -> spike, V=0
    // t4..t6 repeat.  Output weight 7, no leak: score = 7 * 2 spikes.
    let s = spec(
        1,
        1,
        1,
        vec![
            LayerSpec::Dense {
                outputs: 1,
                weights: vec![60],
                neuron: neuron(100, 16384, Reset::Hard),
            },
            output(1, 7, 32768),
        ],
    );
    let (trace, r) = run(&s, &[(1, 0); 6]);
    assert_eq!(trace, [0, 0, 1, 0, 0, 1]);
    assert_eq!(r.scores.as_slice(), [14]);
    assert_eq!(r.spikes.as_slice(), [2]);
    assert_eq!(r.input_spikes, 6);
    assert_eq!(r.synaptic_events.as_slice(), [6, 2]);
}

#[test]
fn hard_and_subtract_reset_differ() {
    // Non-leaky, weight 60, threshold 100.
    // hard:     60, 120 spike->0, 60, 120 spike->0, 60, 120 spike->0, 60
    // subtract: 60, 120 spike->20, 80, 140 spike->40, 100 (not > 100), 160 spike->60, 120 spike->20
    let make = |reset| {
        spec(
            1,
            1,
            1,
            vec![
                LayerSpec::Dense {
                    outputs: 1,
                    weights: vec![60],
                    neuron: neuron(100, 32768, reset),
                },
                output(1, 1, 32768),
            ],
        )
    };
    let (hard, _) = run(&make(Reset::Hard), &[(1, 0); 7]);
    let (sub, r) = run(&make(Reset::Subtract), &[(1, 0); 7]);
    assert_eq!(hard, [0, 1, 0, 1, 0, 1, 0]);
    assert_eq!(sub, [0, 1, 0, 1, 0, 1, 1]);
    assert_eq!(r.scores.as_slice(), [4]);
}

#[test]
fn strided_padded_conv_scatters_the_flipped_kernel() {
    // 1x3x3 input, 3x3 kernel w = 1..9, stride 2, padding 1 -> 2x2 output.
    // A spike at the centre (1,1) reaches output (oy,ox) through ky = 2 - 2*oy:
    // out(0,0) += w[2][2] = 9, out(0,1) += w[2][0] = 7, out(1,0) += w[0][2] = 3,
    // out(1,1) += w[0][0] = 1.  Threshold 5, no leak:
    // step 1 fires (0,0), (0,1); step 2: (1,0) reaches 6 and fires too.
    let conv = ConvSpec {
        out_channels: 1,
        kernel: 3,
        stride: 2,
        padding: 1,
        weights: (1..=9).collect(),
    };
    let s = spec(
        1,
        3,
        3,
        vec![
            LayerSpec::Conv(conv, neuron(5, 32768, Reset::Hard)),
            LayerSpec::Output {
                classes: 4,
                weights: vec![1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1],
                leak: 32768,
                scale: 1.0,
                synapse: 0,
            },
        ],
    );
    let centre = 1 << 4;
    let (trace, r) = run(&s, &[(centre, 0), (centre, 0)]);
    assert_eq!(trace, [0b0011, 0b0111]);
    assert_eq!(r.scores.as_slice(), [2, 2, 1, 0]);
    assert_eq!(r.class, 0);
    assert_eq!(r.synaptic_events[0], 8);
}

#[test]
fn conv_channels_are_channel_last() {
    // 2 input channels, 1x1 kernel, 2 output channels: W[ic][oc] = [[1, 2], [3, 4]].
    // Input neuron index = pixel * 2 + channel; spiking channel 1 only adds [3, 4].
    let conv = ConvSpec {
        out_channels: 2,
        kernel: 1,
        stride: 1,
        padding: 0,
        weights: vec![1, 2, 3, 4],
    };
    let s = spec(
        2,
        1,
        1,
        vec![
            LayerSpec::Conv(
                conv,
                NeuronSpec {
                    thresholds: vec![2, 3],
                    leak: 32768,
                    reset: Reset::Hard,
                    synapse: 0,
                },
            ),
            LayerSpec::Output {
                classes: 2,
                weights: vec![1, 0, 0, 1],
                leak: 32768,
                scale: 1.0,
                synapse: 0,
            },
        ],
    );
    let (trace, _) = run(&s, &[(0b10, 0)]);
    assert_eq!(trace, [0b11]); // 3 > 2 and 4 > 3
    let (trace, _) = run(&s, &[(0b01, 0)]);
    assert_eq!(trace, [0b00]); // 1 <= 2 and 2 <= 3
}

#[test]
fn pooling_if_neurons_count_quarters() {
    // 2x2 input -> one pool neuron, threshold 3 (= 0.75 of four quarter-units).
    // step 1: four spikes, U = 4 > 3 -> fire, V = 0
    // step 2: three positive, one negative, U = 2 -> V = 2 (non-leaky)
    // step 3: two positive, U = 4 -> fire
    let s = spec(
        1,
        2,
        2,
        vec![
            LayerSpec::Pool(neuron(3, 32768, Reset::Hard)),
            output(1, 1, 32768),
        ],
    );
    let (trace, r) = run(&s, &[(0b1111, 0), (0b0111, 0b1000), (0b0011, 0)]);
    assert_eq!(trace, [1, 0, 1]);
    assert_eq!(r.scores.as_slice(), [2]);
    assert_eq!(r.input_spikes, 10);
}

#[test]
fn residual_identity_shortcut_adds_into_second_membrane() {
    // 1x2x2 input, spikes at (0,0) and (1,1) every step.
    // conv1 1x1 w=1, th 1: each mid neuron reaches 2 > 1 on even steps.
    // conv2 1x1 stride 2, w=5: only mid (0,0) reaches out (0,0).
    // shortcut identity, gain 10, subsampled by 2: only input (0,0) reaches out (0,0).
    // out: t1 10; t2 10+5+10 = 25 > 15 fire; t3 10; t4 fire.
    let s = spec(
        1,
        2,
        2,
        vec![
            LayerSpec::Residual {
                conv1: ConvSpec {
                    out_channels: 1,
                    kernel: 1,
                    stride: 1,
                    padding: 0,
                    weights: vec![1],
                },
                n1: neuron(1, 32768, Reset::Hard),
                conv2: ConvSpec {
                    out_channels: 1,
                    kernel: 1,
                    stride: 2,
                    padding: 0,
                    weights: vec![5],
                },
                shortcut: ShortcutSpec::Identity(vec![10]),
                n2: neuron(15, 32768, Reset::Hard),
            },
            output(1, 1, 32768),
        ],
    );
    let (trace, r) = run(&s, &[(0b1001, 0); 4]);
    assert_eq!(trace, [0, 0b1001, 0, 0b1001]); // first population: the block's conv1
    assert_eq!(r.spikes.as_slice(), [4, 2]);
    assert_eq!(r.scores.as_slice(), [2]);
    // conv1: 2 per step (8); shortcut: 1 per step (4); conv2: 1 on even steps (2).
    assert_eq!(r.synaptic_events.as_slice(), [14, 2]);
}

#[test]
fn output_integrator_leaks_after_adding() {
    // M(t) = leak(M(t-1) + 8) with leak 0.5: 4, 6, 7 (7 = round(14 / 2)).
    let s = spec(1, 1, 1, vec![output(1, 8, 16384)]);
    let blob = s.to_bytes();
    let model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0; model.state_words()];
    let mut session = model.session_without_encoder(&mut state).unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        session.step_with_spikes(&[1], &[0]).unwrap();
        seen.push(session.scores()[0]);
    }
    assert_eq!(seen, [4, 6, 7]);
}

#[test]
fn signed_encoder_gives_negative_spikes_below_the_centre() {
    // centre 65280 (pixel 255), gain 65793: pixel 0 is d = 65280 below the centre,
    // threshold 65280 * 65793 = 2^32 - 256: a -1 spike at (almost) every step.
    let mut s = spec(
        1,
        1,
        2,
        vec![LayerSpec::Output {
            classes: 1,
            weights: vec![3, 3],
            leak: 32768,
            scale: 1.0,
            synapse: 0,
        }],
    );
    s.center = vec![65280];
    s.gain = vec![65793];
    let blob = s.to_bytes();
    let model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0; model.state_words()];
    // pixel 255 sits exactly on the centre: never spikes.
    let r = model.classify(&mut state, &[0, 255], 9, 5).unwrap();
    assert_eq!(r.scores.as_slice(), [-15]);
    assert_eq!(r.input_spikes, 5);
}

#[test]
fn silent_input_costs_no_synaptic_work() {
    let spec = common::lenet(1);
    let blob = spec.to_bytes();
    let model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0; model.state_words()];
    let r = model.classify(&mut state, &[0; 784], 1, 20).unwrap();
    assert_eq!(r.total_synaptic_events(), 0);
    assert_eq!(r.input_spikes, 0);
    assert!(r.spikes.iter().all(|&s| s == 0));
    let busy = model
        .classify(&mut state, &common::blob_image(2), 1, 20)
        .unwrap();
    assert!(busy.total_synaptic_events() > 100_000);
    assert!(
        busy.spikes.iter().all(|&s| s > 0),
        "every LeNet layer is active: {:?}",
        busy.spikes
    );
}

#[test]
fn same_seed_same_result_other_seed_other_spikes() {
    let spec = common::lenet(4);
    let blob = spec.to_bytes();
    let model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0; model.state_words()];
    let img = common::blob_image(3);
    let a = model.classify(&mut state, &img, 5, 10).unwrap();
    let b = model.classify(&mut state, &img, 5, 10).unwrap();
    let c = model.classify(&mut state, &img, 6, 10).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.input_spikes, c.input_spikes);
}

#[test]
fn lenet_state_size_matches_the_format_doc() {
    // docs/model-format.md quotes this figure; the arena layout is part of the format.
    let blob = common::lenet(1).to_bytes();
    let model = Model::from_bytes(&blob).unwrap();
    let bitset = |n: usize| n.div_ceil(32);
    // 16-bit membranes: per population the packed thresholds (channels / 2 words),
    // the membranes (two per word) and the spike bitset.
    let pop = |channels: usize, n: usize| channels / 2 + n / 2 + bitset(n);
    // Input: the pixels (a byte each), centre and gain per channel, the positive and
    // negative spike bitsets.
    let expected = (784 / 4 + 2 + 2 * bitset(784))
        + pop(20, 15680)
        + pop(20, 3920)
        + pop(50, 9800)
        + pop(50, 2450)
        + pop(200, 200)
        + 10
        + 2 * 10 // output scores, then each class's current bounds (early exit)
        + 5
        + 2 * 6; // spike counts per population, event counts per layer (two words each)
    assert_eq!(model.state_words(), expected);
    assert_eq!(model.state_words(), 17_494);
    // With 32-bit membranes: one word per membrane, no threshold table.
    let mut wide = common::lenet(1);
    wide.membranes = snn_core::format::Membranes::I32;
    let wide = wide.to_bytes();
    assert_eq!(Model::from_bytes(&wide).unwrap().state_words(), 33_349);
    let macs: Vec<u64> = model.layers().map(|l| l.macs).collect();
    assert_eq!(
        macs,
        [
            20 * 25 * 784,
            4 * 3920,
            50 * 20 * 25 * 196,
            4 * 2450,
            2450 * 200,
            2000
        ]
    );
}

#[test]
fn sixteen_bit_membranes_saturate_add_by_add_in_input_order() {
    // Two inputs, both spiking every step, into one neuron with weights +127 and -100,
    // no leak, threshold 32766. Input 0 is added first, so each step is +27 net until
    // the +127 saturates: from 32643, +127 -> 32767 (saturated), -100 -> 32667. The
    // membrane then stays at 32667 and never exceeds the threshold. (Adding input 1
    // first would reach 32767 and fire.) With 32-bit membranes nothing saturates:
    // 27 * 1214 = 32778 > 32766 fires at step 1214.
    let mut s = spec(
        2,
        1,
        1,
        vec![
            LayerSpec::Dense {
                outputs: 1,
                weights: vec![127, -100],
                neuron: neuron(32766, 32768, Reset::Subtract),
            },
            output(1, 1, 32768),
        ],
    );
    s.membranes = snn_core::format::Membranes::I16;
    let (trace, r) = run(&s, &[(0b11, 0); 1300]);
    assert_eq!(r.spikes.as_slice(), [0], "16-bit");
    assert!(trace.iter().all(|&t| t == 0));
    s.membranes = snn_core::format::Membranes::I32;
    let (trace, r) = run(&s, &[(0b11, 0); 1300]);
    assert_eq!(r.spikes.as_slice(), [1], "32-bit");
    assert_eq!(trace.iter().position(|&t| t != 0), Some(1213));
}

#[test]
fn a_session_is_a_few_words() {
    // The counts live in the arena (docs/model-format.md), so a session on a device's
    // stack is its borrows, the generator and two counters, whatever the model: a
    // regression here puts fixed-capacity vectors back on the firmware's stack.
    let words =
        std::mem::size_of::<snn_core::Session<'static, 'static>>() / std::mem::size_of::<usize>();
    assert!(words <= 8, "a Session is {words} machine words");
}

/// A current-based neuron (synaptic decay 0.5) under one input spike per step of
/// weight 10, no leak, threshold 40, hard reset; its spikes reach a current-based
/// output (decay 0.25, weight 100). Decays round half up: `(x * bits + 2^14) >> 15`.
///
/// ```text
/// step          1    2    3    4    5    6
/// S (used)     10   15   18   19   20   20     S = decay(S) + 10: 5, 8, 9, 10, 10
/// U = V + S    10   25   43   19   39   59
/// spike         -    -    1    -    -    1     (U > 40), then V = 0
/// output S      -    -  100   25    6  102     decay 0.25: 25, 6, 2, 26
/// score M       0    0  100  125  131  233
/// ```
///
/// Without the synaptic current the neuron fires at step 5 only (U = 10 t).
#[test]
fn current_based_neurons_filter_their_input() {
    let model = |synapse: u16, out_synapse: u16| {
        spec(
            1,
            1,
            1,
            vec![
                LayerSpec::Dense {
                    outputs: 1,
                    weights: vec![10],
                    neuron: NeuronSpec {
                        synapse,
                        ..neuron(40, 32768, Reset::Hard)
                    },
                },
                LayerSpec::Output {
                    classes: 1,
                    weights: vec![100],
                    leak: 32768,
                    scale: 1.0,
                    synapse: out_synapse,
                },
            ],
        )
    };
    let (trace, r) = run(&model(16384, 8192), &[(1, 0); 6]);
    assert_eq!(trace, [0, 0, 1, 0, 0, 1]);
    assert_eq!(r.scores[0], 233);
    assert_eq!(r.spikes[0], 2);
    let (trace, r) = run(&model(0, 0), &[(1, 0); 6]);
    assert_eq!(trace, [0, 0, 0, 0, 1, 0]);
    assert_eq!(r.scores[0], 100);
}

/// An analog input cannot drive a current-based first layer, and a synaptic decay
/// above 1.0 is refused; both name the problem.
#[test]
fn synaptic_currents_are_validated() {
    let mut s = spec(
        1,
        1,
        1,
        vec![
            LayerSpec::Dense {
                outputs: 1,
                weights: vec![10],
                neuron: NeuronSpec {
                    synapse: 40000,
                    ..neuron(40, 32768, Reset::Hard)
                },
            },
            output(1, 1, 32768),
        ],
    );
    let err = Model::from_bytes(&s.to_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0: synaptic-current decay 40000/32768 is above 1.0"
    );
    if let LayerSpec::Dense { neuron, .. } = &mut s.layers[0] {
        neuron.synapse = 32768;
    }
    assert!(Model::from_bytes(&s.to_bytes()).is_ok());
    s.drive = snn_core::format::Drive::Analog { shift: 0 };
    let err = Model::from_bytes(&s.to_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "input: an analog input cannot drive a first layer with a synaptic current"
    );
}

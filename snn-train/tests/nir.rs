//! NIR import and export (feature `nir`): round trips of every preset and both reset
//! modes, refusals by node name, and cross-checks against the reference `nir` Python
//! package and a NumPy simulation of NIR's equations (`tests/nir/*.py`, run with the
//! virtual environment `.ci/run` creates; skipped with a message where it is absent,
//! except under CI).
#![cfg(feature = "nir")]

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{read_npy, run_engine};

use snn_core::format::Reset;
use snn_train::data::Encoding;
use snn_train::io::nir::graph::{Array, Graph, Kind, Node};
use snn_train::io::nir::{self, ImportOptions, NirError};
use snn_train::model::net::{Network, Neuron, Shape};
use snn_train::model::spec::Preset;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A model of `preset` with random weights on inputs of `input`, reset `reset`.
fn preset_model(preset: Preset, input: Shape, reset: Reset, seed: u64) -> Vec<u8> {
    let neuron = Neuron {
        leak: 0.99,
        threshold: 1.0,
        pool_threshold: 0.75,
        reset,
    };
    let net = Network::build(&preset.layers(), input, 10, neuron, 0.0).unwrap();
    let params = net.init(2.0, seed);
    let enc = if input.channels == 1 {
        Encoding::unsigned(0.5)
    } else {
        Encoding::normalised(&[0.4914, 0.4822, 0.4465], &[0.557, 0.549, 0.5534])
    };
    snn_train::io::export::export(&net, &params, &enc).unwrap()
}

/// Our model -> NIR bytes -> graph -> our model.
fn round_trip(blob: &[u8]) -> Vec<u8> {
    let graph = nir::from_model(blob, nir::DEFAULT_DT).unwrap();
    let bytes = nir::graph_to_bytes(&graph).unwrap();
    let read = nir::graph_from_bytes(bytes).unwrap();
    // Weights are stored as float32 (as PyTorch exporters write them): compare the
    // structure here; the model bytes below compare the values.
    assert!(
        read.edges == graph.edges,
        "the HDF5 layer changed the edges"
    );
    let kinds = |g: &Graph| -> Vec<(String, String)> {
        g.nodes
            .iter()
            .map(|(k, n)| (k.clone(), n.kind.name().to_string()))
            .collect()
    };
    assert!(
        kinds(&read) == kinds(&graph),
        "the HDF5 layer changed the nodes"
    );
    nir::to_model(&read, &ImportOptions::default())
        .unwrap()
        .blob
}

#[test]
fn the_default_model_survives_a_round_trip_bit_for_bit() {
    let blob = std::fs::read(root().join("models/lenet-mnist-subset.snn")).unwrap();
    assert!(round_trip(&blob) == blob);
}

/// Current-based populations leave as `CubaLIF`, the output as `CubaLI` (with our
/// `snn_synapse` metadata), and come back as the same model: the default model with
/// a synaptic current in its convolutions, dense layer and output.
#[test]
fn current_based_neurons_survive_a_round_trip_bit_for_bit() {
    use snn_core::format::{self, LayerDesc};
    let blob = std::fs::read(root().join("models/lenet-mnist-subset.snn")).unwrap();
    let (_, payload) = format::split_payload(&blob).unwrap();
    let mut desc = format::decode_body(payload).unwrap();
    let mut decays = [16384u16, 29491, 8192, 32768].into_iter();
    for l in &mut desc.layers {
        match l {
            LayerDesc::Conv { neuron, .. } | LayerDesc::Dense { neuron, .. } => {
                neuron.synapse = decays.next().unwrap()
            }
            LayerDesc::Output { synapse, .. } => *synapse = decays.next().unwrap(),
            _ => {}
        }
    }
    let mut out = vec![0; desc.encoded_len_bound()];
    let n = snn_core::write_model(&desc, &mut out).unwrap();
    let blob = out[..n].to_vec();
    let graph = nir::from_model(&blob, nir::DEFAULT_DT).unwrap();
    let kinds: Vec<&str> = graph.nodes.values().map(|n| n.kind.name()).collect();
    assert!(
        kinds.contains(&"CubaLIF") && kinds.contains(&"CubaLI"),
        "{kinds:?}"
    );
    assert!(round_trip(&blob) == blob);
}

#[test]
fn every_preset_and_both_resets_survive_a_round_trip() {
    let mnist = Shape {
        channels: 1,
        height: 28,
        width: 28,
    };
    let cifar = Shape {
        channels: 3,
        height: 32,
        width: 32,
    };
    let presets = [
        (Preset::Lenet, mnist),
        (Preset::Vgg7, cifar),
        (Preset::Vgg9, cifar),
        (Preset::Resnet7, cifar),
        (Preset::Resnet9, cifar),
        (Preset::Resnet11, cifar),
    ];
    for (i, (preset, input)) in presets.into_iter().enumerate() {
        for reset in [Reset::Hard, Reset::Subtract] {
            let blob = preset_model(preset, input, reset, i as u64);
            assert!(round_trip(&blob) == blob, "{preset:?} with {reset:?} reset");
        }
    }
}

/// Without our metadata (as another tool would write the same network), the import
/// quantises anew: same layers, weights within one unit.
#[test]
fn a_graph_without_our_metadata_imports_to_the_same_network() {
    let blob = std::fs::read(root().join("models/lenet-mnist-subset.snn")).unwrap();
    let mut graph = nir::from_model(&blob, nir::DEFAULT_DT).unwrap();
    for n in graph.nodes.values_mut() {
        n.metadata.retain(|k, _| !k.starts_with("snn_"));
    }
    graph.metadata.clear();
    let back = nir::to_model(&graph, &ImportOptions::default())
        .unwrap()
        .blob;
    let (a, b) = (
        snn_core::Model::from_bytes(&blob).unwrap(),
        snn_core::Model::from_bytes(&back).unwrap(),
    );
    assert_eq!(a.layers().count(), b.layers().count());
    let mut s1 = vec![0u32; a.state_words()];
    let mut s2 = vec![0u32; b.state_words()];
    let data = snn_train::data::load(
        snn_train::data::DatasetKind::MnistSubset,
        &snn_train::data::bundled_dir(),
    )
    .unwrap()
    .1;
    let agree = (0..200)
        .filter(|&i| {
            let x = a
                .classify(&mut s1, data.image(i), i as u64, 20)
                .unwrap()
                .class;
            let y = b
                .classify(&mut s2, data.image(i), i as u64, 20)
                .unwrap()
                .class;
            x == y
        })
        .count();
    assert!(agree >= 196, "{agree}/200 classes agree");
}

fn arr(shape: &[usize], v: f64) -> Array {
    Array::full(shape, v)
}

/// Input(4) -> Affine -> LIF -> Affine -> LI -> Output, with `edit` applied.
fn small_graph(edit: impl FnOnce(&mut Graph)) -> Graph {
    let mut g = Graph::default();
    let mut add = |name: &str, kind: Kind| {
        g.nodes.insert(name.into(), Node::new(kind));
    };
    add("in", Kind::Input { shape: vec![4] });
    add(
        "fc1",
        Kind::Affine {
            weight: arr(&[3, 4], 0.5),
            bias: arr(&[3], 0.0),
        },
    );
    add(
        "lif",
        Kind::Lif {
            tau: arr(&[3], 1e-3),
            r: arr(&[3], 10.0),
            v_leak: arr(&[3], 0.0),
            v_threshold: arr(&[3], 1.0),
            v_reset: arr(&[3], 0.0),
        },
    );
    add(
        "fc2",
        Kind::Linear {
            weight: arr(&[2, 3], 1.0),
        },
    );
    add(
        "li",
        Kind::Li {
            tau: arr(&[2], 1e-3),
            r: arr(&[2], 10.0),
            v_leak: arr(&[2], 0.0),
        },
    );
    add("out", Kind::Output { shape: vec![2] });
    for (a, b) in [
        ("in", "fc1"),
        ("fc1", "lif"),
        ("lif", "fc2"),
        ("fc2", "li"),
        ("li", "out"),
    ] {
        g.edges.push((a.into(), b.into()));
    }
    edit(&mut g);
    g
}

fn refusal(g: &Graph) -> String {
    match nir::to_model(g, &ImportOptions::default()) {
        Err(e @ (NirError::Unsupported { .. } | NirError::Graph(_))) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn what_we_cannot_run_is_refused_by_node_and_reason() {
    assert!(nir::to_model(&small_graph(|_| {}), &ImportOptions::default()).is_ok());
    let cases: Vec<(Graph, &str)> = vec![
        (
            small_graph(|g| g.edges.push(("lif".into(), "fc1".into()))),
            "cycle",
        ),
        (
            small_graph(|g| {
                g.nodes.insert(
                    "lif".into(),
                    Node::new(Kind::Other {
                        kind: "Conv1d".into(),
                    }),
                );
            }),
            "node `lif` (Conv1d): 1-D convolutions",
        ),
        (
            small_graph(|g| {
                g.nodes.insert(
                    "fc2".into(),
                    Node::new(Kind::Other {
                        kind: "Delay".into(),
                    }),
                );
            }),
            "node `fc2` (Delay): synaptic delays",
        ),
        (
            small_graph(|g| {
                g.nodes.insert(
                    "fc1".into(),
                    Node::new(Kind::Affine {
                        weight: arr(&[3, 4], 0.5),
                        bias: arr(&[3], 0.1),
                    }),
                );
            }),
            "node `fc1` (Affine): a non-zero bias",
        ),
        (
            small_graph(|g| {
                if let Some(Node {
                    kind: Kind::Lif { v_leak, .. },
                    ..
                }) = g.nodes.get_mut("lif")
                {
                    *v_leak = arr(&[3], -0.2);
                }
            }),
            "node `lif` (LIF): v_leak != 0",
        ),
        (
            small_graph(|g| {
                if let Some(Node {
                    kind: Kind::Lif { tau, .. },
                    ..
                }) = g.nodes.get_mut("lif")
                {
                    *tau = Array::new(&[3], vec![1e-3, 2e-3, 1e-3]);
                }
            }),
            "node `lif` (LIF): `tau` differs between channels",
        ),
        (
            small_graph(|g| {
                if let Some(Node {
                    kind: Kind::Lif { tau, .. },
                    ..
                }) = g.nodes.get_mut("lif")
                {
                    *tau = arr(&[3], 1e-5);
                }
            }),
            "longer than tau",
        ),
        (
            small_graph(|g| {
                g.nodes.remove("li");
                g.edges.retain(|e| e.0 != "li" && e.1 != "li");
                g.edges.push(("fc2".into(), "out".into()));
            }),
            "node `out` (Output): it is fed by synapses",
        ),
        (
            small_graph(|g| {
                g.nodes
                    .insert("in2".into(), Node::new(Kind::Input { shape: vec![4] }));
            }),
            "2 `Input` nodes",
        ),
        (
            small_graph(|g| g.edges.push(("fc1".into(), "nowhere".into()))),
            "no node `nowhere`",
        ),
    ];
    for (g, want) in cases {
        let got = refusal(&g);
        assert!(got.contains(want), "`{got}` does not say `{want}`");
    }
}

#[test]
fn hostile_files_are_errors_not_panics() {
    let blob = std::fs::read(root().join("models/lenet-mnist-subset.snn")).unwrap();
    let graph = nir::from_model(&blob, nir::DEFAULT_DT).unwrap();
    let good = nir::graph_to_bytes(&graph).unwrap();
    assert!(nir::graph_from_bytes(b"not hdf5".to_vec()).is_err());
    for cut in [0, 8, 100, 1000, good.len() / 2, good.len() - 1] {
        assert!(
            nir::graph_from_bytes(good[..cut].to_vec()).is_err(),
            "cut at {cut}"
        );
    }
    // Flipped bytes: an error or a graph, never a panic; a graph still goes through
    // the importer's checks.
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..300 {
        let mut bad = good.clone();
        for _ in 0..4 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let i = (rng % bad.len() as u64) as usize;
            bad[i] ^= (rng >> 32) as u8 | 1;
        }
        if let Ok(g) = nir::graph_from_bytes(bad) {
            let _ = nir::to_model(&g, &ImportOptions::default());
        }
    }
}

// ---- Cross-checks against the `nir` Python package ----------------------------------

/// The Python with `nir`, `numpy` and `h5py`: `SNN_NIR_PYTHON`, else the virtual
/// environment `.ci/run` creates. `None` (with the reason printed) where absent,
/// except under CI, where it must exist.
fn python(test: &str) -> Option<PathBuf> {
    let p = std::env::var_os("SNN_NIR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/nir-venv/bin/python"));
    let ok = Command::new(&p)
        .args(["-c", "import nir, numpy, h5py"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{}: no Python with nir; .ci/run creates target/nir-venv",
        p.display()
    );
    eprintln!(
        "skipped {test}: {} has no `nir` package (python3 -m venv target/nir-venv && \
         target/nir-venv/bin/pip install nir==1.0.8, or set SNN_NIR_PYTHON)",
        p.display()
    );
    None
}

fn script(python: &Path, name: &str, args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new(python)
        .arg(root().join("tests/nir").join(name))
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Writes `values` of `shape` as an `int8` `.npy` file.
fn write_npy(path: &Path, shape: &[usize], values: &[i8]) {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    let mut header = format!(
        "{{'descr': '|i1', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    b.extend(values.iter().map(|&v| v as u8));
    std::fs::write(path, b).unwrap();
}

/// The reference's result: populations' counts (in order) and the output.
fn reference(
    python: &Path,
    graph: &Path,
    spikes: &Path,
    dt: Option<f64>,
    mode: &str,
    out: &Path,
) -> (Vec<Vec<u32>>, Vec<f64>) {
    let dt_s = dt.map(|d| d.to_string());
    let mut args: Vec<&std::ffi::OsStr> = vec![
        graph.as_os_str(),
        spikes.as_os_str(),
        "--mode".as_ref(),
        mode.as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    if let Some(d) = &dt_s {
        args.push("--dt".as_ref());
        args.push(d.as_ref());
    }
    script(python, "reference.py", &args);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    let pops = v["populations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["counts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap() as u32)
                .collect()
        })
        .collect();
    let output = v["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    (pops, output)
}

/// Compares our counts (padded to whole words) with the reference's; returns the
/// neurons that differ and the total.
fn differing(ours: &[Vec<u32>], theirs: &[Vec<u32>]) -> (usize, usize, u32) {
    assert_eq!(ours.len(), theirs.len(), "population counts differ");
    let (mut diff, mut total, mut worst) = (0, 0, 0);
    for (a, b) in ours.iter().zip(theirs) {
        total += b.len();
        for (x, y) in a.iter().zip(b) {
            if x != y {
                diff += 1;
                worst = worst.max(x.abs_diff(*y));
            }
        }
        assert!(
            a[b.len()..].iter().all(|&x| x == 0),
            "spikes past the last neuron"
        );
    }
    (diff, total, worst)
}

#[test]
fn graphs_written_by_the_nir_package_run_as_nir_says() {
    let Some(py) = python("graphs_written_by_the_nir_package_run_as_nir_says") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    script(&py, "make_graphs.py", &[dir.path().as_os_str()]);
    for name in [
        "lenet",
        "lenet_nopool",
        "dense",
        "if_only",
        "residual",
        "cuba",
    ] {
        let graph = dir.path().join(format!("{name}.nir"));
        let spikes_path = dir.path().join(format!("{name}.spikes.npy"));
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let dt = meta["dt"].as_f64().unwrap();
        let g = nir::read(&graph).unwrap();
        let imported = nir::to_model(
            &g,
            &ImportOptions {
                dt: Some(dt),
                ..Default::default()
            },
        )
        .unwrap();
        let (shape, spikes) = read_npy(&spikes_path);
        let (ours, scores) = run_engine(&imported.blob, &shape[1..], &spikes);
        // Fixed point: NIR's equations with the documented rounding, bit for bit.
        let out = dir.path().join(format!("{name}.fixed.json"));
        let (pops, output) = reference(&py, &graph, &spikes_path, Some(dt), "fixed", &out);
        let (d, n, _) = differing(&ours, &pops);
        assert_eq!(
            d, 0,
            "{name}: {d} of {n} neurons' spike counts differ from the fixed-point reference"
        );
        let want: Vec<i32> = output.iter().map(|&x| x as i32).collect();
        assert_eq!(scores, want, "{name}: output scores");
        // Float: NIR's equations as they stand. Without leak, equal; with leak, the
        // leak's rounding to U1F15 moves a few counts by a spike.
        let out = dir.path().join(format!("{name}.float.json"));
        let (pops, _) = reference(&py, &graph, &spikes_path, Some(dt), "float", &out);
        let (d, n, worst) = differing(&ours, &pops);
        eprintln!("{name}: {d} of {n} neurons' spike counts differ from NIR in float (at most by {worst})");
        if name == "if_only" || name == "dense" {
            assert_eq!(d, 0, "{name}: float and fixed point must agree");
        } else {
            assert!(
                d * 20 <= n && worst <= 2,
                "{name}: {d} of {n} differ, by up to {worst}"
            );
        }
    }
    for name in ["recurrent", "bias", "vleak", "delay"] {
        let g = nir::read(&dir.path().join(format!("{name}.nir"))).unwrap();
        let err = nir::to_model(&g, &ImportOptions::default()).unwrap_err();
        assert!(matches!(err, NirError::Unsupported { .. }), "{name}: {err}");
        eprintln!("{name}: {err}");
    }
}

#[test]
fn our_exports_read_back_in_the_nir_package_and_run_as_nir_says() {
    let Some(py) = python("our_exports_read_back_in_the_nir_package_and_run_as_nir_says") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let blob = std::fs::read(root().join("models/lenet-mnist-subset.snn")).unwrap();
    let file = dir.path().join("lenet.nir");
    nir::export_file(&root().join("models/lenet-mnist-subset.snn"), &file, 1e-3).unwrap();
    // Kinds, shapes and parameters as the nir package reads them.
    let tau = 1e-3 / (1.0 - 32440.0 / 32768.0);
    let expect = serde_json::json!({
        "nodes": {
            "input": {"type": "Input", "shapes": {"output_type": [1, 28, 28]}},
            "l0_conv": {"type": "Conv2d", "shapes": {"weight": [20, 1, 5, 5]}, "values": {"stride": 1, "padding": 2, "bias": 0.0}},
            "l0_lif": {"type": "LIF", "shapes": {"tau": [20, 28, 28]}, "values": {"tau": tau, "r": tau / 1e-3, "v_threshold": 1.0, "v_leak": 0.0, "v_reset": 0.0}},
            "l1_pool": {"type": "AvgPool2d", "values": {"kernel_size": 2, "stride": 2, "padding": 0}},
            "l1_if": {"type": "IF", "shapes": {"v_threshold": [20, 14, 14]}, "values": {"v_threshold": 0.75, "r": 1000.0}},
            "l2_conv": {"type": "Conv2d", "shapes": {"weight": [50, 20, 5, 5]}},
            "l2_lif": {"type": "LIF", "shapes": {"v_threshold": [50, 14, 14]}},
            "l3_pool": {"type": "AvgPool2d"},
            "l3_if": {"type": "IF", "shapes": {"r": [50, 7, 7]}},
            "l4_flatten": {"type": "Flatten", "values": {"start_dim": 0, "end_dim": -1}},
            "l4_fc": {"type": "Linear", "shapes": {"weight": [200, 2450]}},
            "l4_lif": {"type": "LIF", "shapes": {"tau": [200]}},
            "l5_fc": {"type": "Linear", "shapes": {"weight": [10, 200]}},
            "l5_li": {"type": "LI", "shapes": {"tau": [10]}, "values": {"tau": tau}},
            "output": {"type": "Output", "shapes": {"input_type": [10]}},
        },
        "edges": [["input", "l0_conv"], ["l0_conv", "l0_lif"], ["l0_lif", "l1_pool"], ["l1_pool", "l1_if"],
                  ["l1_if", "l2_conv"], ["l2_conv", "l2_lif"], ["l2_lif", "l3_pool"], ["l3_pool", "l3_if"],
                  ["l3_if", "l4_flatten"], ["l4_flatten", "l4_fc"], ["l4_fc", "l4_lif"], ["l4_lif", "l5_fc"],
                  ["l5_fc", "l5_li"], ["l5_li", "output"]],
        "metadata": {"dt": 1e-3},
    });
    let expect_path = dir.path().join("expect.json");
    std::fs::write(&expect_path, expect.to_string()).unwrap();
    script(
        &py,
        "check_export.py",
        &[file.as_os_str(), expect_path.as_os_str()],
    );
    // Simulated by the reference on the same spikes as our engine: equal.
    let (t, shape) = (20, [1usize, 28, 28]);
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    let spikes: Vec<i8> = (0..t * 784)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            i8::from(rng.is_multiple_of(5))
        })
        .collect();
    let spikes_path = dir.path().join("spikes.npy");
    write_npy(&spikes_path, &[t, 1, 28, 28], &spikes);
    let (ours, scores) = run_engine(&blob, &shape, &spikes);
    let (pops, output) = reference(
        &py,
        &file,
        &spikes_path,
        None,
        "fixed",
        &dir.path().join("r.json"),
    );
    let (d, n, _) = differing(&ours, &pops);
    assert_eq!(d, 0, "{d} of {n} neurons differ");
    assert_eq!(scores, output.iter().map(|&x| x as i32).collect::<Vec<_>>());
    // The snnTorch-style rewrite (no metadata, Affine, scalar parameters, no dt)
    // imports to the same network, re-quantised.
    let torch = dir.path().join("torch.nir");
    script(
        &py,
        "snntorch_style.py",
        &[file.as_os_str(), torch.as_os_str()],
    );
    let g = nir::read(&torch).unwrap();
    let back = nir::to_model(&g, &ImportOptions::default()).unwrap();
    assert_eq!(back.dt, nir::DEFAULT_DT);
    let (again, _) = run_engine(&back.blob, &shape, &spikes);
    let (d, n, _) = differing(&again, &ours);
    eprintln!("snnTorch-style rewrite: {d} of {n} neurons' counts differ from the original model");
    assert!(d * 100 <= n, "{d} of {n}");
}

/// Input(1,4,4) -> Conv2d(1->2, 3x3, p1) [-> Scale] -> LIF -> AvgPool2d(2) -> IF(th) ->
/// Flatten -> Linear -> LI -> Output.
fn conv_graph(scale: Option<[f64; 2]>, pool_threshold: f64) -> Graph {
    let mut g = Graph::default();
    let w: Vec<f64> = (0..18).map(|i| f64::from(i % 7) * 0.25 - 0.5).collect();
    let w = match scale {
        Some(_) => w,
        // The scale folded by hand: channel 0 times 2, channel 1 times 0.5.
        None => w
            .iter()
            .enumerate()
            .map(|(i, v)| v * if i < 9 { 2.0 } else { 0.5 })
            .collect(),
    };
    let mut add = |name: &str, kind: Kind| {
        g.nodes.insert(name.into(), Node::new(kind));
    };
    add(
        "in",
        Kind::Input {
            shape: vec![1, 4, 4],
        },
    );
    add(
        "conv",
        Kind::Conv2d {
            input_shape: None,
            weight: Array::new(&[2, 1, 3, 3], w),
            stride: [1, 1],
            padding: snn_train::io::nir::graph::Padding::Same,
            dilation: [1, 1],
            groups: 1,
            bias: arr(&[2], 0.0),
        },
    );
    add(
        "lif",
        Kind::Lif {
            tau: arr(&[1], 8e-4),
            r: arr(&[1], 8.0),
            v_leak: arr(&[1], 0.0),
            v_threshold: arr(&[2, 4, 4], 1.0),
            v_reset: arr(&[1], 0.0),
        },
    );
    add(
        "pool",
        Kind::Pool2d {
            average: true,
            kernel: [2, 2],
            stride: [2, 2],
            padding: [0, 0],
        },
    );
    add(
        "if",
        Kind::If {
            r: arr(&[1], 1e4),
            v_threshold: arr(&[1], pool_threshold),
            v_reset: arr(&[1], 0.0),
        },
    );
    add(
        "flat",
        Kind::Flatten {
            input_type: None,
            start_dim: 0,
            end_dim: -1,
        },
    );
    add(
        "fc",
        Kind::Linear {
            weight: Array::new(&[3, 8], (0..24).map(|i| f64::from(i % 5) - 2.0).collect()),
        },
    );
    add(
        "li",
        Kind::Li {
            tau: arr(&[3], 8e-4),
            r: arr(&[3], 8.0),
            v_leak: arr(&[3], 0.0),
        },
    );
    add("out", Kind::Output { shape: vec![3] });
    let mut chain = vec!["in", "conv", "lif", "pool", "if", "flat", "fc", "li", "out"];
    if let Some(s) = scale {
        g.nodes.insert(
            "scale".into(),
            Node::new(Kind::Scale {
                scale: Array::new(&[2, 1, 1], s.to_vec()),
            }),
        );
        chain.insert(2, "scale");
    }
    // A Scale of per-channel shape (2, 1, 1) is not a signal shape: broadcast it.
    if let Some(Node {
        kind: Kind::Scale { scale },
        ..
    }) = g.nodes.get_mut("scale")
    {
        *scale = Array::new(&[2, 4, 4], (0..32).map(|i| scale.data[i / 16]).collect());
    }
    for p in chain.windows(2) {
        g.edges.push((p[0].into(), p[1].into()));
    }
    g
}

#[test]
fn scales_fold_into_weights_and_inexact_pooling_becomes_a_convolution() {
    let opts = ImportOptions::default();
    let folded = nir::to_model(&conv_graph(None, 0.75), &opts).unwrap();
    let scaled = nir::to_model(&conv_graph(Some([2.0, 0.5]), 0.75), &opts).unwrap();
    assert!(
        scaled.blob == folded.blob,
        "a Scale node differs from its weights folded by hand"
    );
    assert!(
        folded.layers[1].contains("pooling neurons (exact)"),
        "{:?}",
        folded.layers
    );
    // 0.8 / 0.25 is not a whole number of spikes: a convolution with the pooling's
    // window, kernel 2, stride 2.
    let inexact = nir::to_model(&conv_graph(None, 0.8), &opts).unwrap();
    assert!(
        inexact.layers[1].contains("folded into a 2x2 stride-2 convolution"),
        "{:?}",
        inexact.layers
    );
    let m = snn_core::Model::from_bytes(&inexact.blob).unwrap();
    assert_eq!(m.layers().count(), 3); // conv, the folded pooling, output
}

/// An analog-input model is refused by the exporter with the input named: NIR graphs
/// carry rate-coded input only (for now).
#[test]
fn analog_models_are_refused_by_the_exporter() {
    let blob = std::fs::read(root().join("snn-core/tests/golden/analog.snn")).unwrap();
    match nir::from_model(&blob, 1e-3) {
        Err(NirError::Unsupported { node, reason, .. }) => {
            assert_eq!(node, "input");
            assert!(reason.contains("analog"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// `conv(pool(u))` in NIR's layouts (`u`: `[c][h][w]`, weights `[o][i][ky][kx]`), zero
/// padding, in f64: the reference the folded convolution must equal.
fn conv_of_pool(
    u: &[f64],
    (c, h, w): (usize, usize, usize),
    (kp, sp, pp, average): (usize, usize, usize, bool),
    wt: &[f64],
    (co, k, s, p): (usize, usize, usize, usize),
) -> Vec<f64> {
    let out = |n: usize, k: usize, s: usize, p: usize| (n + 2 * p - k) / s + 1;
    let (hp, wp) = (out(h, kp, sp, pp), out(w, kp, sp, pp));
    let f = if average { 1.0 / (kp * kp) as f64 } else { 1.0 };
    let at = |v: &[f64], (hh, ww): (usize, usize), ch: usize, y: isize, x: isize| {
        if y < 0 || x < 0 || y >= hh as isize || x >= ww as isize {
            0.0
        } else {
            v[(ch * hh + y as usize) * ww + x as usize]
        }
    };
    let mut pooled = vec![0.0; c * hp * wp];
    for ch in 0..c {
        for y in 0..hp {
            for x in 0..wp {
                let mut sum = 0.0;
                for a in 0..kp {
                    for b in 0..kp {
                        let (yy, xx) = (
                            (sp * y + a) as isize - pp as isize,
                            (sp * x + b) as isize - pp as isize,
                        );
                        sum += at(u, (h, w), ch, yy, xx);
                    }
                }
                pooled[(ch * hp + y) * wp + x] = f * sum;
            }
        }
    }
    let (ho, wo) = (out(hp, k, s, p), out(wp, k, s, p));
    let mut o = vec![0.0; co * ho * wo];
    for oc in 0..co {
        for y in 0..ho {
            for x in 0..wo {
                let mut sum = 0.0;
                for i in 0..c {
                    for ky in 0..k {
                        for kx in 0..k {
                            let (yy, xx) = (
                                (s * y + ky) as isize - p as isize,
                                (s * x + kx) as isize - p as isize,
                            );
                            sum += wt[((oc * c + i) * k + ky) * k + kx]
                                * at(&pooled, (hp, wp), i, yy, xx);
                        }
                    }
                }
                o[(oc * ho + y) * wo + x] = sum;
            }
        }
    }
    o
}

/// snnTorch's most common CNN shape, `Conv2d - LIF - AvgPool2d - Conv2d - LIF`: the
/// pooling folds into the second convolution, whose model equals the one of a graph
/// holding the folded convolution written by hand; the fold's arithmetic is checked
/// against `conv(pool(x))` on random maps; a fold that would not be exact is refused
/// with the nodes named.
#[test]
fn pooling_into_a_convolution_folds_exactly() {
    use snn_train::io::nir::graph::Padding;
    // The fold's arithmetic, with and without padding, average and sum.
    for &(h, kp, sp, pp, k, s, p, average) in &[
        (12, 2, 2, 0, 5, 1, 0, true),
        (12, 2, 2, 0, 3, 1, 1, true),
        (13, 3, 2, 1, 3, 2, 0, false),
        (8, 2, 2, 0, 3, 2, 1, false),
    ] {
        let (c, co) = (2, 3);
        let mut x = 0x2545_f491u32;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            f64::from(x % 1000) / 500.0 - 1.0
        };
        let u: Vec<f64> = (0..c * h * h).map(|_| rnd()).collect();
        let wt: Vec<f64> = (0..co * c * k * k).map(|_| rnd()).collect();
        let want = conv_of_pool(&u, (c, h, h), (kp, sp, pp, average), &wt, (co, k, s, p));
        let kk = sp * (k - 1) + kp;
        let f = if average { 1.0 / (kp * kp) as f64 } else { 1.0 };
        let mut folded = vec![0.0; co * c * kk * kk];
        for o in 0..co {
            for i in 0..c {
                for ky in 0..k {
                    for kx in 0..k {
                        for a in 0..kp {
                            for b in 0..kp {
                                folded[((o * c + i) * kk + sp * ky + a) * kk + sp * kx + b] +=
                                    f * wt[((o * c + i) * k + ky) * k + kx];
                            }
                        }
                    }
                }
            }
        }
        let got = conv_of_pool(
            &u,
            (c, h, h),
            (1, 1, 0, false),
            &folded,
            (co, kk, sp * s, sp * p + pp),
        );
        let exact = p == 0 || (kp <= sp && pp == 0 && h % sp == 0);
        if exact {
            assert_eq!(got.len(), want.len());
            for (a, b) in got.iter().zip(&want) {
                assert!(
                    (a - b).abs() < 1e-9,
                    "fold of h {h} kp {kp} sp {sp} pp {pp} k {k} s {s} p {p}: {a} vs {b}"
                );
            }
        }
    }

    // snnTorch's CNN as a NIR graph, and the same with the fold written by hand.
    let graph = |folded: bool| {
        let mut g = Graph::default();
        let mut add = |name: &str, kind: Kind| {
            g.nodes.insert(name.into(), Node::new(kind));
        };
        let lif = |shape: &[usize]| Kind::Lif {
            tau: arr(&[1], 5e-3),
            r: arr(&[1], 50.0),
            v_leak: arr(&[1], 0.0),
            v_threshold: arr(shape, 1.0),
            v_reset: arr(&[1], 0.0),
        };
        let conv = |weight: Array, stride| Kind::Conv2d {
            input_shape: None,
            bias: arr(&[weight_out(&weight)], 0.0),
            weight,
            stride: [stride, stride],
            padding: Padding::Valid,
            dilation: [1, 1],
            groups: 1,
        };
        let w1: Vec<f64> = (0..4 * 25).map(|i| f64::from(i % 9) * 0.1 - 0.3).collect();
        let w2: Vec<f64> = (0..6 * 4 * 9)
            .map(|i| f64::from(i % 11) * 0.05 - 0.25)
            .collect();
        add(
            "in",
            Kind::Input {
                shape: vec![1, 16, 16],
            },
        );
        add("conv1", conv(Array::new(&[4, 1, 5, 5], w1), 1));
        add("lif1", lif(&[4, 12, 12]));
        if folded {
            let mut f = vec![0.0; 6 * 4 * 36];
            for o in 0..6 {
                for i in 0..4 {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            for (a, b) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                                f[((o * 4 + i) * 6 + 2 * ky + a) * 6 + 2 * kx + b] +=
                                    0.25 * w2[((o * 4 + i) * 3 + ky) * 3 + kx];
                            }
                        }
                    }
                }
            }
            add("conv2", conv(Array::new(&[6, 4, 6, 6], f), 2));
        } else {
            add(
                "pool1",
                Kind::Pool2d {
                    average: true,
                    kernel: [2, 2],
                    stride: [2, 2],
                    padding: [0, 0],
                },
            );
            add("conv2", conv(Array::new(&[6, 4, 3, 3], w2), 1));
        }
        add("lif2", lif(&[6, 4, 4]));
        add(
            "flat",
            Kind::Flatten {
                input_type: None,
                start_dim: 0,
                end_dim: -1,
            },
        );
        add(
            "fc",
            Kind::Linear {
                weight: Array::new(
                    &[3, 96],
                    (0..288).map(|i| f64::from(i % 5) * 0.2 - 0.4).collect(),
                ),
            },
        );
        add(
            "li",
            Kind::Li {
                tau: arr(&[3], 5e-3),
                r: arr(&[3], 50.0),
                v_leak: arr(&[3], 0.0),
            },
        );
        add("out", Kind::Output { shape: vec![3] });
        let chain: &[&str] = if folded {
            &[
                "in", "conv1", "lif1", "conv2", "lif2", "flat", "fc", "li", "out",
            ]
        } else {
            &[
                "in", "conv1", "lif1", "pool1", "conv2", "lif2", "flat", "fc", "li", "out",
            ]
        };
        for p in chain.windows(2) {
            g.edges.push((p[0].into(), p[1].into()));
        }
        g
    };
    let opts = ImportOptions::default();
    let pooled = nir::to_model(&graph(false), &opts).unwrap();
    let by_hand = nir::to_model(&graph(true), &opts).unwrap();
    assert!(
        pooled.blob == by_hand.blob,
        "the fold differs from the folded graph"
    );
    let m = snn_core::Model::from_bytes(&pooled.blob).unwrap();
    assert_eq!(m.layers().count(), 3); // conv1, the folded conv2, the output (fc into LI)

    // A padded convolution after overlapping windows: not exact, refused by name.
    let mut g = graph(false);
    if let Some(Node {
        kind: Kind::Pool2d { kernel, .. },
        ..
    }) = g.nodes.get_mut("pool1")
    {
        *kernel = [3, 3];
    }
    if let Some(Node {
        kind: Kind::Conv2d { padding, .. },
        ..
    }) = g.nodes.get_mut("conv2")
    {
        *padding = Padding::Explicit([1, 1]);
    }
    if let Some(Node {
        kind: Kind::Lif { v_threshold, .. },
        ..
    }) = g.nodes.get_mut("lif2")
    {
        *v_threshold = arr(&[6, 5, 5], 1.0);
    }
    let msg = refusal(&g);
    assert!(msg.contains("conv2") && msg.contains("pool1"), "{msg}");
}

fn weight_out(w: &Array) -> usize {
    w.shape[0]
}

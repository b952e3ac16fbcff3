//! NIR import and export (feature `nir`): round trips of every preset and both reset
//! modes, refusals by node name, and cross-checks against the reference `nir` Python
//! package and a NumPy simulation of NIR's equations (`tests/nir/*.py`, run with the
//! virtual environment `.ci/run` creates; skipped with a message where it is absent,
//! except under CI).
#![cfg(feature = "nir")]

use std::path::{Path, PathBuf};
use std::process::Command;

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
                        kind: "CubaLIF".into(),
                    }),
                );
            }),
            "node `lif` (CubaLIF): synaptic current",
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

/// An `int8` `.npy` array: (shape, values).
fn read_npy(path: &Path) -> (Vec<usize>, Vec<i8>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..6], b"\x93NUMPY");
    let (hlen, start) = if b[6] == 1 {
        (usize::from(u16::from_le_bytes([b[8], b[9]])), 10)
    } else {
        (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12)
    };
    let header = std::str::from_utf8(&b[start..start + hlen]).unwrap();
    assert!(
        header.contains("'|i1'") && header.contains("'fortran_order': False"),
        "{header}"
    );
    let dims = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape = dims
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    (shape, b[start + hlen..].iter().map(|&v| v as i8).collect())
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

/// Runs `blob` on input spikes `(T, *shape)` in NIR's (`CHW`) order; returns every
/// population's spike counts per neuron (our `HWC` order) and the output scores.
fn run_engine(blob: &[u8], shape: &[usize], spikes: &[i8]) -> (Vec<Vec<u32>>, Vec<i32>) {
    let model = snn_core::Model::from_bytes(blob).unwrap();
    let mut state = vec![0u32; model.state_words()];
    let mut s = model.session_without_encoder(&mut state).unwrap();
    let n: usize = shape.iter().product();
    let words = n.div_ceil(32);
    let ours = |i: usize| match shape {
        [c, h, w] => (i % (h * w)) * c + i / (h * w),
        _ => i,
    };
    let mut counts: Vec<Vec<u32>> = Vec::new();
    for step in spikes.chunks(n) {
        let (mut pos, mut neg) = (vec![0u32; words], vec![0u32; words]);
        for (i, &v) in step.iter().enumerate() {
            let j = ours(i);
            match v {
                1 => pos[j / 32] |= 1 << (j % 32),
                -1 => neg[j / 32] |= 1 << (j % 32),
                _ => {}
            }
        }
        s.step_with_spikes(&pos, &neg).unwrap();
        for p in 0.. {
            let Some(bits) = s.population_spikes(p) else {
                break;
            };
            if counts.len() <= p {
                counts.push(Vec::new());
            }
            let c = &mut counts[p];
            let len = bits.len() * 32;
            c.resize(c.len().max(len), 0);
            for (k, slot) in c.iter_mut().enumerate() {
                *slot += (bits[k / 32] >> (k % 32)) & 1;
            }
        }
    }
    (counts, s.scores().to_vec())
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
    for name in ["lenet", "lenet_nopool", "dense", "if_only", "residual"] {
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
    for name in ["recurrent", "cuba", "bias", "vleak", "delay"] {
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

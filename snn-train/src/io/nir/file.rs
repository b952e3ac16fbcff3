//! NIR files: the HDF5 layout written by the `nir` Python package (`nir.write`), read
//! and written with the pure-Rust `hdf5-pure` crate (no C library).
//!
//! Layout: a `version` string at the root and a `node` group holding the graph:
//! `type = "NIRGraph"`, a `nodes` group with one group per node (a `type` string and
//! one dataset per parameter), `edges` (an `n x 2` array of strings) and an optional
//! `metadata` group. Parameters are datasets of any numeric type (often gzip
//! compressed); strings are variable-length UTF-8.

use hdf5_pure::{DType, Dataset, FileBuilder, GroupBuilder};

use super::graph::{Array, Graph, Kind, Meta, Metadata, Node, Padding};

/// The most values one dataset may hold (a hostile file cannot make the reader
/// allocate more than 2 GiB per array).
const MAX_VALUES: u64 = 1 << 28;

/// The NIR version our files declare (the layout of `nir` 1.0).
pub const NIR_VERSION: &str = "1.0.0";

/// Parses a NIR file's bytes. The error is a sentence naming the group or dataset.
pub fn graph_from_bytes(bytes: Vec<u8>) -> Result<Graph, String> {
    if !hdf5_pure::is_hdf5_bytes(&bytes) {
        return Err("not an HDF5 file".into());
    }
    let file = hdf5_pure::File::from_bytes(bytes).map_err(|e| format!("HDF5: {e}"))?;
    let root = file.root();
    let node = root
        .group("node")
        .map_err(|_| "no `node` group (not written by nir.write)".to_string())?;
    read_graph(&node, "node")
}

fn read_graph(g: &hdf5_pure::Group, at: &str) -> Result<Graph, String> {
    let kind = text(g, "type", at)?;
    if kind != "NIRGraph" {
        return Err(format!("{at}: type is `{kind}`, expected `NIRGraph`"));
    }
    let nodes_group = g
        .group("nodes")
        .map_err(|_| format!("{at}: no `nodes` group"))?;
    let mut graph = Graph::default();
    for name in nodes_group
        .groups()
        .map_err(|e| format!("{at}/nodes: {e}"))?
    {
        let sub = nodes_group
            .group(&name)
            .map_err(|e| format!("{at}/nodes/{name}: {e}"))?;
        let node = read_node(&sub, &format!("{at}/nodes/{name}"))?;
        graph.nodes.insert(name, node);
    }
    if has_dataset(g, "edges")? {
        let d = g.dataset("edges").map_err(|e| format!("{at}/edges: {e}"))?;
        let shape = checked_shape(&d, &format!("{at}/edges"))?;
        let names = d
            .read_string()
            .map_err(|e| format!("{at}/edges: not strings ({e})"))?;
        let pairs = shape.first().copied().unwrap_or(0);
        if names.len() != 2 * pairs || (pairs > 0 && shape.get(1) != Some(&2)) {
            return Err(format!("{at}/edges: shape {shape:?}, expected (n, 2)"));
        }
        graph.edges = names
            .chunks_exact(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
    }
    graph.metadata = read_metadata(g, at)?;
    Ok(graph)
}

fn has_dataset(g: &hdf5_pure::Group, key: &str) -> Result<bool, String> {
    Ok(g.datasets()
        .map_err(|e| format!("cannot list datasets: {e}"))?
        .iter()
        .any(|d| d == key))
}

fn checked_shape(d: &Dataset, at: &str) -> Result<Vec<usize>, String> {
    let shape = d.shape().map_err(|e| format!("{at}: {e}"))?;
    shape
        .iter()
        .try_fold(1u64, |a, &b| a.checked_mul(b))
        .filter(|&n| n <= MAX_VALUES)
        .ok_or_else(|| format!("{at}: shape {shape:?} is too large"))?;
    Ok(shape.iter().map(|&s| s as usize).collect())
}

fn is_text(d: &Dataset) -> bool {
    matches!(d.dtype(), Ok(DType::String | DType::VariableLengthString))
}

fn text(g: &hdf5_pure::Group, key: &str, at: &str) -> Result<String, String> {
    let d = g
        .dataset(key)
        .map_err(|_| format!("{at}: no `{key}` dataset"))?;
    let _ = checked_shape(&d, &format!("{at}/{key}"))?;
    let v = d
        .read_string()
        .map_err(|e| format!("{at}/{key}: not a string ({e})"))?;
    match v.as_slice() {
        [s] => Ok(s.clone()),
        _ => Err(format!(
            "{at}/{key}: expected one string, found {}",
            v.len()
        )),
    }
}

fn array_of(d: &Dataset, at: &str) -> Result<Array, String> {
    let shape = checked_shape(d, at)?;
    if is_text(d) {
        return Err(format!("{at}: text where numbers are expected"));
    }
    let data = d.read_f64().map_err(|e| format!("{at}: {e}"))?;
    if data.len() != shape.iter().product::<usize>() {
        return Err(format!("{at}: {} values for shape {shape:?}", data.len()));
    }
    Ok(Array { shape, data })
}

fn array(g: &hdf5_pure::Group, key: &str, at: &str) -> Result<Array, String> {
    let d = g
        .dataset(key)
        .map_err(|_| format!("{at}: no `{key}` dataset"))?;
    array_of(&d, &format!("{at}/{key}"))
}

fn opt_array(g: &hdf5_pure::Group, key: &str, at: &str) -> Result<Option<Array>, String> {
    if has_dataset(g, key)? {
        array(g, key, at).map(Some)
    } else {
        Ok(None)
    }
}

fn usizes(g: &hdf5_pure::Group, key: &str, at: &str) -> Result<Vec<usize>, String> {
    array(g, key, at)?
        .to_usizes()
        .ok_or_else(|| format!("{at}/{key}: expected non-negative integers"))
}

/// A pair `(y, x)` given as one value or two.
fn pair(g: &hdf5_pure::Group, key: &str, at: &str) -> Result<[usize; 2], String> {
    match usizes(g, key, at)?.as_slice() {
        [v] => Ok([*v, *v]),
        [a, b] => Ok([*a, *b]),
        v => Err(format!(
            "{at}/{key}: expected 1 or 2 values, found {}",
            v.len()
        )),
    }
}

fn integer(g: &hdf5_pure::Group, key: &str, at: &str) -> Result<i64, String> {
    let a = array(g, key, at)?;
    match a.data.as_slice() {
        [v] if v.fract() == 0.0 && v.abs() < 1e12 => Ok(*v as i64),
        _ => Err(format!("{at}/{key}: expected one integer")),
    }
}

fn read_metadata(g: &hdf5_pure::Group, at: &str) -> Result<Metadata, String> {
    let mut out = Metadata::new();
    let has = g
        .groups()
        .map_err(|e| format!("{at}: {e}"))?
        .iter()
        .any(|n| n == "metadata");
    if !has {
        return Ok(out);
    }
    let m = g
        .group("metadata")
        .map_err(|e| format!("{at}/metadata: {e}"))?;
    for key in m.datasets().map_err(|e| format!("{at}/metadata: {e}"))? {
        let d = m
            .dataset(&key)
            .map_err(|e| format!("{at}/metadata/{key}: {e}"))?;
        let here = format!("{at}/metadata/{key}");
        let value = if is_text(&d) {
            let _ = checked_shape(&d, &here)?;
            Meta::Text(
                d.read_string()
                    .map_err(|e| format!("{here}: {e}"))?
                    .join("\n"),
            )
        } else {
            match array_of(&d, &here) {
                Ok(a) => Meta::Array(a),
                // Metadata of a kind we do not read (booleans, compounds) is not ours.
                Err(_) => continue,
            }
        };
        out.insert(key, value);
    }
    Ok(out)
}

fn read_node(g: &hdf5_pure::Group, at: &str) -> Result<Node, String> {
    let kind_name = text(g, "type", at)?;
    let kind = match kind_name.as_str() {
        "Input" => Kind::Input {
            shape: usizes(g, "shape", at)?,
        },
        "Output" => Kind::Output {
            shape: usizes(g, "shape", at)?,
        },
        "Affine" => Kind::Affine {
            weight: array(g, "weight", at)?,
            bias: array(g, "bias", at)?,
        },
        "Linear" => Kind::Linear {
            weight: array(g, "weight", at)?,
        },
        "Conv2d" => {
            let padding = {
                let d = g
                    .dataset("padding")
                    .map_err(|_| format!("{at}: no `padding` dataset"))?;
                if is_text(&d) {
                    match text(g, "padding", at)?.as_str() {
                        "same" => Padding::Same,
                        "valid" => Padding::Valid,
                        p => return Err(format!("{at}/padding: unknown padding `{p}`")),
                    }
                } else {
                    Padding::Explicit(pair(g, "padding", at)?)
                }
            };
            let input_shape = match opt_array(g, "input_shape", at)? {
                Some(a) => match a.to_usizes().as_deref() {
                    Some([h, w]) => Some([*h, *w]),
                    _ => return Err(format!("{at}/input_shape: expected (H, W)")),
                },
                None => None,
            };
            Kind::Conv2d {
                input_shape,
                weight: array(g, "weight", at)?,
                stride: pair(g, "stride", at)?,
                padding,
                dilation: pair(g, "dilation", at)?,
                groups: usize::try_from(integer(g, "groups", at)?)
                    .map_err(|_| format!("{at}/groups: negative"))?,
                bias: array(g, "bias", at)?,
            }
        }
        "Flatten" => Kind::Flatten {
            input_type: opt_array(g, "input_type", at)?.and_then(|a| a.to_usizes()),
            start_dim: integer(g, "start_dim", at)?,
            end_dim: integer(g, "end_dim", at)?,
        },
        "AvgPool2d" | "SumPool2d" => Kind::Pool2d {
            average: kind_name == "AvgPool2d",
            kernel: pair(g, "kernel_size", at)?,
            stride: pair(g, "stride", at)?,
            padding: pair(g, "padding", at)?,
        },
        "IF" => {
            let v_threshold = array(g, "v_threshold", at)?;
            let v_reset = opt_array(g, "v_reset", at)?
                .unwrap_or_else(|| Array::full(&v_threshold.shape, 0.0));
            Kind::If {
                r: array(g, "r", at)?,
                v_threshold,
                v_reset,
            }
        }
        "LIF" => {
            let v_threshold = array(g, "v_threshold", at)?;
            let v_reset = opt_array(g, "v_reset", at)?
                .unwrap_or_else(|| Array::full(&v_threshold.shape, 0.0));
            Kind::Lif {
                tau: array(g, "tau", at)?,
                r: array(g, "r", at)?,
                v_leak: array(g, "v_leak", at)?,
                v_threshold,
                v_reset,
            }
        }
        "LI" => Kind::Li {
            tau: array(g, "tau", at)?,
            r: array(g, "r", at)?,
            v_leak: array(g, "v_leak", at)?,
        },
        "CubaLIF" | "CubaLI" => read_cuba(g, at, kind_name == "CubaLIF")?,
        "I" => Kind::I {
            r: array(g, "r", at)?,
        },
        "Scale" => Kind::Scale {
            scale: array(g, "scale", at)?,
        },
        _ => Kind::Other { kind: kind_name },
    };
    Ok(Node {
        kind,
        metadata: read_metadata(g, at)?,
    })
}

/// Serialises `graph` in `nir.write`'s layout (uncompressed).
///
/// # Errors
/// A sentence when `hdf5-pure` cannot encode the file.
pub fn graph_to_bytes(graph: &Graph) -> Result<Vec<u8>, String> {
    let mut file = FileBuilder::new();
    file.create_dataset("version")
        .with_vlen_strings(&[NIR_VERSION])
        .with_shape(&[]);
    let mut node = file.create_group("node");
    string(&mut node, "type", "NIRGraph");
    let mut nodes = node.create_group("nodes");
    for (name, n) in &graph.nodes {
        let mut g = nodes.create_group(name);
        write_node(&mut g, n);
        nodes.add_group(g.finish());
    }
    node.add_group(nodes.finish());
    let flat: Vec<&str> = graph
        .edges
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    node.create_dataset("edges")
        .with_vlen_strings(&flat)
        .with_shape(&[graph.edges.len() as u64, 2]);
    write_metadata(&mut node, &graph.metadata);
    file.add_group(node.finish());
    file.finish().map_err(|e| format!("HDF5: {e}"))
}

fn string(g: &mut GroupBuilder, key: &str, v: &str) {
    g.create_dataset(key)
        .with_vlen_strings(&[v])
        .with_shape(&[]);
}

fn shape64(shape: &[usize]) -> Vec<u64> {
    shape.iter().map(|&s| s as u64).collect()
}

/// Weights as `float32` (what PyTorch exporters write); other parameters as `float64`.
fn f32_array(g: &mut GroupBuilder, key: &str, a: &Array) {
    let v: Vec<f32> = a.data.iter().map(|&x| x as f32).collect();
    g.create_dataset(key)
        .with_f32_data(&v)
        .with_shape(&shape64(&a.shape));
}

fn f64_array(g: &mut GroupBuilder, key: &str, a: &Array) {
    g.create_dataset(key)
        .with_f64_data(&a.data)
        .with_shape(&shape64(&a.shape));
}

fn ints(g: &mut GroupBuilder, key: &str, v: &[i64], scalar: bool) {
    let d = g.create_dataset(key).with_i64_data(v);
    if scalar {
        d.with_shape(&[]);
    } else {
        d.with_shape(&[v.len() as u64]);
    }
}

fn write_metadata(g: &mut GroupBuilder, m: &Metadata) {
    if m.is_empty() {
        return;
    }
    let mut mg = g.create_group("metadata");
    for (k, v) in m {
        match v {
            Meta::Array(a) => f64_array(&mut mg, k, a),
            Meta::Text(t) => string(&mut mg, k, t),
        }
    }
    g.add_group(mg.finish());
}

fn write_node(g: &mut GroupBuilder, n: &Node) {
    string(g, "type", n.kind.name());
    let pair = |p: [usize; 2]| [p[0] as i64, p[1] as i64];
    match &n.kind {
        Kind::Input { shape } | Kind::Output { shape } => {
            let v: Vec<i64> = shape.iter().map(|&s| s as i64).collect();
            ints(g, "shape", &v, false);
        }
        Kind::Affine { weight, bias } => {
            f32_array(g, "weight", weight);
            f32_array(g, "bias", bias);
        }
        Kind::Linear { weight } => f32_array(g, "weight", weight),
        Kind::Conv2d {
            input_shape,
            weight,
            stride,
            padding,
            dilation,
            groups,
            bias,
        } => {
            if let Some(s) = input_shape {
                ints(g, "input_shape", &pair(*s), false);
            }
            f32_array(g, "weight", weight);
            ints(g, "stride", &pair(*stride), false);
            match padding {
                Padding::Explicit(p) => ints(g, "padding", &pair(*p), false),
                Padding::Same => string(g, "padding", "same"),
                Padding::Valid => string(g, "padding", "valid"),
            }
            ints(g, "dilation", &pair(*dilation), false);
            ints(g, "groups", &[*groups as i64], true);
            f32_array(g, "bias", bias);
        }
        Kind::Flatten {
            input_type,
            start_dim,
            end_dim,
        } => {
            if let Some(t) = input_type {
                let v: Vec<i64> = t.iter().map(|&s| s as i64).collect();
                ints(g, "input_type", &v, false);
            }
            ints(g, "start_dim", &[*start_dim], true);
            ints(g, "end_dim", &[*end_dim], true);
        }
        Kind::Pool2d {
            kernel,
            stride,
            padding,
            ..
        } => {
            ints(g, "kernel_size", &pair(*kernel), false);
            ints(g, "stride", &pair(*stride), false);
            ints(g, "padding", &pair(*padding), false);
        }
        Kind::If {
            r,
            v_threshold,
            v_reset,
        } => {
            f64_array(g, "r", r);
            f64_array(g, "v_threshold", v_threshold);
            f64_array(g, "v_reset", v_reset);
        }
        Kind::Lif {
            tau,
            r,
            v_leak,
            v_threshold,
            v_reset,
        } => {
            f64_array(g, "tau", tau);
            f64_array(g, "r", r);
            f64_array(g, "v_leak", v_leak);
            f64_array(g, "v_threshold", v_threshold);
            f64_array(g, "v_reset", v_reset);
        }
        Kind::Li { tau, r, v_leak } => {
            f64_array(g, "tau", tau);
            f64_array(g, "r", r);
            f64_array(g, "v_leak", v_leak);
        }
        Kind::CubaLif { .. } | Kind::CubaLi { .. } => write_cuba(g, &n.kind),
        Kind::I { r } => f64_array(g, "r", r),
        Kind::Scale { scale } => f64_array(g, "scale", scale),
        Kind::Other { .. } => {}
    }
    write_metadata(g, &n.metadata);
}

/// The parameters of a `CubaLIF` (`spiking`) or `CubaLI` node; `v_reset` defaults to 0
/// and `w_in` to 1, as in `nir`.
fn read_cuba(g: &hdf5_pure::Group, at: &str, spiking: bool) -> Result<Kind, String> {
    let tau_mem = array(g, "tau_mem", at)?;
    let w_in = opt_array(g, "w_in", at)?.unwrap_or_else(|| Array::full(&tau_mem.shape, 1.0));
    let (tau_syn, r, v_leak) = (
        array(g, "tau_syn", at)?,
        array(g, "r", at)?,
        array(g, "v_leak", at)?,
    );
    if !spiking {
        return Ok(Kind::CubaLi {
            tau_syn,
            tau_mem,
            r,
            v_leak,
            w_in,
        });
    }
    let v_threshold = array(g, "v_threshold", at)?;
    let v_reset =
        opt_array(g, "v_reset", at)?.unwrap_or_else(|| Array::full(&v_threshold.shape, 0.0));
    Ok(Kind::CubaLif {
        tau_syn,
        tau_mem,
        r,
        v_leak,
        v_threshold,
        v_reset,
        w_in,
    })
}

/// Writes the parameters of a `CubaLIF` or `CubaLI` node (`kind`; nothing for others).
fn write_cuba(g: &mut GroupBuilder, kind: &Kind) {
    let (tau_syn, tau_mem, r, v_leak, w_in, spiking) = match kind {
        Kind::CubaLif {
            tau_syn,
            tau_mem,
            r,
            v_leak,
            v_threshold,
            v_reset,
            w_in,
        } => (
            tau_syn,
            tau_mem,
            r,
            v_leak,
            w_in,
            Some((v_threshold, v_reset)),
        ),
        Kind::CubaLi {
            tau_syn,
            tau_mem,
            r,
            v_leak,
            w_in,
        } => (tau_syn, tau_mem, r, v_leak, w_in, None),
        _ => return,
    };
    f64_array(g, "tau_syn", tau_syn);
    f64_array(g, "tau_mem", tau_mem);
    f64_array(g, "r", r);
    f64_array(g, "v_leak", v_leak);
    if let Some((v_threshold, v_reset)) = spiking {
        f64_array(g, "v_threshold", v_threshold);
        f64_array(g, "v_reset", v_reset);
    }
    f64_array(g, "w_in", w_in);
}

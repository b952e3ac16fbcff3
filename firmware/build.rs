//! Build script: picks the board's memory map, passes the linker scripts, and embeds
//! the model and test vectors.
//!
//! The model and inputs come from `SNN_FW_MODEL` / `SNN_FW_INPUTS` (what
//! `cargo xtask qemu` sets), else the golden files of `snn-core`. With
//! `SNN_FW_SPIKES=FILE` the inputs are a spike stream instead (`cases x steps` bitsets
//! over the input neurons, `u32` little-endian): the vectors then hold no inputs, and
//! the firmware reads the file through semihosting at run time (`STREAM` below). The expected results
//! are computed here with `snn-core` on the host, so the firmware can check itself bit
//! for bit, and written in the vector format of `snn_embedded::contract::vectors`; the
//! state arena size (the model's `state_words()`) and the step count become constants.

use std::{env, fs, path::PathBuf};

use snn_core::{EarlyExit, Model};
use snn_embedded::contract::vectors::{Encoder, Header};
use snn_embedded::stream::{classify_stream, SliceSource};

fn var(name: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed={name}");
    env::var(name).ok().filter(|v| !v.is_empty())
}

/// The memory map of a build that names none.
fn default_memory(target: &str) -> &'static str {
    if env::var_os("CARGO_FEATURE_BOARD").is_some() {
        "memory-f429.x"
    } else if env::var_os("CARGO_FEATURE_NETDUINO").is_some() {
        "memory-f405.x"
    } else if target.starts_with("thumbv6m") {
        "memory-microbit.x"
    } else if target.starts_with("thumbv8m") {
        "memory-an505.x"
    } else {
        "memory-qemu.x"
    }
}

/// The `ORIGIN` of the `FLASH` region of a `memory.x`.
fn flash_origin(map: &str) -> Option<usize> {
    let line = map.lines().find(|l| l.trim_start().starts_with("FLASH"))?;
    let hex = line
        .split("ORIGIN")
        .nth(1)?
        .split(['=', ','])
        .nth(1)?
        .trim();
    usize::from_str_radix(hex.strip_prefix("0x")?, 16).ok()
}

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = env::var("TARGET").expect("cargo sets TARGET");
    // The memory map: `SNN_FW_MEMORY` (what `cargo xtask qemu --core` sets), else the
    // one of the board feature or of the target's QEMU machine.
    let memory = var("SNN_FW_MEMORY").unwrap_or_else(|| default_memory(&target).into());
    let map = fs::read_to_string(&memory).unwrap_or_else(|e| panic!("{memory}: {e}"));
    fs::write(out.join("memory.x"), &map).expect("write memory.x");
    fs::write(
        out.join("memory.rs"),
        format!(
            "/// Where FLASH starts in the linked memory map ({memory}).\n\
             pub const FLASH_ORIGIN: usize = {:#x};\n",
            flash_origin(&map).unwrap_or_else(|| panic!("{memory}: no FLASH ORIGIN"))
        ),
    )
    .expect("write memory.rs");
    println!("cargo:rerun-if-changed={memory}");
    // ARMv6-M (Cortex-M0): no atomic read-modify-write and no DWT cycle counter.
    println!("cargo::rustc-check-cfg=cfg(armv6m)");
    // `semihosted`: the QEMU build, whose host file I/O can stream input spikes.
    println!("cargo::rustc-check-cfg=cfg(semihosted)");
    let feature = |f: &str| env::var_os(format!("CARGO_FEATURE_{f}")).is_some();
    if feature("QEMU") && !feature("BOARD") && !feature("NETDUINO") {
        println!("cargo:rustc-cfg=semihosted");
    }
    if target.starts_with("thumbv6m") {
        println!("cargo:rustc-cfg=armv6m");
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    println!("cargo:rerun-if-changed=build.rs");

    let model_path =
        var("SNN_FW_MODEL").unwrap_or_else(|| "../snn-core/tests/golden/model.snn".into());
    let inputs_path =
        var("SNN_FW_INPUTS").unwrap_or_else(|| "../snn-core/tests/golden/inputs.bin".into());
    let steps: u32 = var("SNN_FW_STEPS").map_or(16, |v| v.parse().expect("SNN_FW_STEPS: a number"));
    let seed: u64 = var("SNN_FW_SEED").map_or(1000, |v| v.parse().expect("SNN_FW_SEED: a number"));
    let exit: EarlyExit = var("SNN_FW_EXIT").map_or(EarlyExit::Never, |v| {
        v.parse().unwrap_or_else(|e| panic!("SNN_FW_EXIT={v}: {e}"))
    });
    let limit: usize =
        var("SNN_FW_SAMPLES").map_or(usize::MAX, |v| v.parse().expect("SNN_FW_SAMPLES: a number"));
    println!("cargo:rerun-if-changed={model_path}");

    let blob = fs::read(&model_path).unwrap_or_else(|e| panic!("{model_path}: {e}"));
    let model = Model::from_bytes(&blob).unwrap_or_else(|e| panic!("{model_path}: {e}"));
    let spikes = var("SNN_FW_SPIKES");
    let bytes = match &spikes {
        Some(path) => stream_vectors(&model, path, steps, exit, limit),
        None => image_vectors(&model, &inputs_path, (steps, seed, exit), limit),
    };
    fs::write(out.join("vectors.bin"), bytes).expect("write vectors");
    fs::write(out.join("model.snn"), &blob).expect("write model");
    // The step count is a build constant too (checked against the vectors at start-up):
    // a compile-time step count lets LLVM specialise the engine's time loop, as it
    // would in a deployed firmware, and keeps the instruction counts comparable.
    fs::write(
        out.join("consts.rs"),
        format!(
            "/// State words the embedded model needs (computed by build.rs).\n\
             pub const ARENA_WORDS: usize = {};\n\
             /// Layers of the embedded model: the capacity of its descriptor, so the\n\
             /// descriptor costs the RAM of this model's layers, not of `MAX_LAYERS`.\n\
             pub const MODEL_LAYERS: usize = {layers};\n\
             /// Time steps per inference (the embedded vectors' header says the same).\n\
             pub const STEPS: u32 = {steps};\n\
             /// When an inference may stop early (`SNN_FW_EXIT`).\n\
             pub const EXIT: snn_core::EarlyExit = snn_core::EarlyExit::{exit:?};\n\
             /// The host file the input spikes stream from (`SNN_FW_SPIKES`), if any\n\
             /// (read through semihosting: QEMU builds only).\n\
             pub const STREAM: Option<&core::ffi::CStr> = {stream};\n\
             /// Words of the step buffer of a spike stream (positive and negative\n\
             /// bitsets; 0 without a stream).\n\
             pub const STREAM_BUF_WORDS: usize = {buf_words};\n",
            model.state_words(),
            layers = model.layers().len(),
            stream = match &spikes {
                Some(p) => format!("Some(c{p:?})"),
                None => "None".into(),
            },
            buf_words = if spikes.is_some() {
                2 * model.input_len().div_ceil(32)
            } else {
                0
            },
        ),
    )
    .expect("write consts.rs");
}

/// The vectors of image inputs: the expected results of `snn-core` on the host.
fn image_vectors(
    model: &Model,
    inputs_path: &str,
    (steps, seed, exit): (u32, u64, EarlyExit),
    limit: usize,
) -> Vec<u8> {
    println!("cargo:rerun-if-changed={inputs_path}");
    let inputs = fs::read(inputs_path).unwrap_or_else(|e| panic!("{inputs_path}: {e}"));
    let n_in = model.input_len();
    assert!(
        inputs.len().is_multiple_of(n_in),
        "{inputs_path}: {} bytes is not a whole number of {n_in}-pixel images",
        inputs.len()
    );
    let cases: Vec<&[u8]> = inputs.chunks(n_in).take(limit).collect();
    assert!(
        !cases.is_empty(),
        "{inputs_path}: no input image to embed (at least one test case is needed)"
    );
    // vectors.bin: the contract's vector file (snn_embedded::contract::vectors), with
    // the expected results of snn-core on the host and the seeds it defines.
    let header = Header::for_model(model, cases.len(), steps, seed)
        .unwrap_or_else(|e| panic!("test vectors: {e}"));
    let mut bytes = Vec::new();
    let mut encoder = Encoder::new(header, |b: &[u8]| bytes.extend_from_slice(b))
        .unwrap_or_else(|e| panic!("test vectors: {e}"));
    let mut state = vec![0u32; model.state_words()];
    for (i, img) in cases.iter().enumerate() {
        let r = model
            .classify_until(&mut state, img, header.case_seed(i), steps, exit)
            .unwrap_or_else(|e| panic!("{inputs_path}: case {i}: {e}"));
        encoder
            .push(img, &r)
            .unwrap_or_else(|e| panic!("test vectors: {e}"));
    }
    encoder
        .finish()
        .unwrap_or_else(|e| panic!("test vectors: {e}"));
    bytes
}

/// The vectors of a spike stream: no inputs, the results of
/// `snn_embedded::stream::classify_stream` on the host.
fn stream_vectors(model: &Model, path: &str, steps: u32, exit: EarlyExit, limit: usize) -> Vec<u8> {
    println!("cargo:rerun-if-changed={path}");
    let raw = fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let words = model.input_len().div_ceil(32);
    let case_words = words * steps as usize;
    assert!(
        raw.len().is_multiple_of(4 * case_words) && !raw.is_empty(),
        "{path}: {} bytes is not a whole number of {steps}-step streams of {words} words",
        raw.len()
    );
    let stream: Vec<u32> = raw
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let cases = (stream.len() / case_words).min(limit);
    let header =
        Header::for_stream(model, cases, steps).unwrap_or_else(|e| panic!("test vectors: {e}"));
    let mut bytes = Vec::new();
    let mut encoder = Encoder::new(header, |b: &[u8]| bytes.extend_from_slice(b))
        .unwrap_or_else(|e| panic!("test vectors: {e}"));
    let mut source = SliceSource::new(&stream);
    let (mut state, mut buf) = (vec![0u32; model.state_words()], vec![0u32; 2 * words]);
    for i in 0..cases {
        let r = classify_stream(model, &mut state, &mut source, &mut buf, steps, exit)
            .unwrap_or_else(|e| panic!("{path}: case {i}: {e}"));
        encoder
            .push(&[], &r)
            .unwrap_or_else(|e| panic!("test vectors: {e}"));
    }
    encoder
        .finish()
        .unwrap_or_else(|e| panic!("test vectors: {e}"));
    bytes
}

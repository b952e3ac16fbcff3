//! Fuzz target: arbitrary bytes into `Model::from_bytes`, and any model that loads
//! through the engine for a few steps.
//!
//! An input that starts with the magic `SNNM` is a model blob whose length and
//! checksum the harness repairs (version and flags are kept), so that mutations of
//! the seed models (`seeds/`, the golden model, the default model) reach the decoder
//! and the validator instead of failing the CRC. Any other input: its first byte
//! chooses whether the rest is taken as a whole blob (header included, mostly
//! rejected early) or as a postcard body that gets a valid header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snn_core::format::{crc32, FORMAT_VERSION, HEADER_LEN, MAGIC};
use snn_core::Model;

fn sealed(version_and_flags: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER_LEN + body.len());
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&version_and_flags);
    b.extend_from_slice(&(body.len() as u32).to_le_bytes());
    b.extend_from_slice(&crc32(body).to_le_bytes());
    b.extend_from_slice(body);
    b
}

fn current_version() -> [u8; 4] {
    let v = FORMAT_VERSION.to_le_bytes();
    [v[0], v[1], 0, 0]
}

fuzz_target!(|data: &[u8]| {
    let (blob, seed) = if data.len() >= HEADER_LEN && data.starts_with(&MAGIC) {
        let vf = [data[4], data[5], data[6], data[7]];
        (sealed(vf, &data[HEADER_LEN..]), 0)
    } else {
        let Some((&mode, rest)) = data.split_first() else { return };
        let blob = if mode & 1 == 0 { rest.to_vec() } else { sealed(current_version(), rest) };
        (blob, u64::from(mode))
    };
    let loaded = Model::from_bytes(&blob);
    if let Ok(model) = loaded {
        // Cap the state so the fuzzer does not spend its time zeroing 64 MiB.
        if model.state_words() > 1 << 20 {
            return;
        }
        let mut state = vec![0u32; model.state_words()];
        let image: Vec<u8> = (0..model.input_len()).map(|i| (i * 37) as u8).collect();
        let r = model.classify(&mut state, &image, seed, 2).expect("valid model runs");
        assert!(usize::from(r.class) < model.classes());
        assert_eq!(r.scores.len(), model.classes());
    }
});

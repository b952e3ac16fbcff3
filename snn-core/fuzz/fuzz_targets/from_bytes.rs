//! Fuzz target: arbitrary bytes into `Model::from_bytes`, and any model that loads
//! through the engine for a few steps.
//!
//! The first fuzz byte chooses whether the rest is taken as a whole blob (header
//! included, mostly rejected early) or as a postcard body that gets a valid header,
//! so that the decoder and the validator see most of the inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use snn_core::format::{crc32, FORMAT_VERSION, HEADER_LEN, MAGIC};
use snn_core::Model;

fn sealed(body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER_LEN + body.len());
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(body.len() as u32).to_le_bytes());
    b.extend_from_slice(&crc32(body).to_le_bytes());
    b.extend_from_slice(body);
    b
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let blob = if mode & 1 == 0 { rest.to_vec() } else { sealed(rest) };
    let loaded = Model::from_bytes(&blob);
    if let Ok(model) = loaded {
        // Cap the state so the fuzzer does not spend its time zeroing 64 MiB.
        if model.state_words() > 1 << 20 {
            return;
        }
        let mut state = vec![0u32; model.state_words()];
        let image: Vec<u8> = (0..model.input_len()).map(|i| (i * 37) as u8).collect();
        let r = model.classify(&mut state, &image, u64::from(mode), 2).expect("valid model runs");
        assert!(usize::from(r.class) < model.classes());
    }
});

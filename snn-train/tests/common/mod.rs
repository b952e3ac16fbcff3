//! Helpers shared by the NIR test crates (`nir.rs`, `producers.rs`): `.npy` files of
//! spikes and counts, and a model run on given input spikes.

use std::path::Path;

/// An `int8` `.npy` array: (shape, values).
pub fn read_npy(path: &Path) -> (Vec<usize>, Vec<i8>) {
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

/// Runs `blob` on input spikes `(T, *shape)` in NIR's (`CHW`) order; returns every
/// population's spike counts per neuron (our `HWC` order) and the output scores.
pub fn run_engine(blob: &[u8], shape: &[usize], spikes: &[i8]) -> (Vec<Vec<u32>>, Vec<i32>) {
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

//! The test vectors `build.rs` embeds: inputs and the host's expected results.
//!
//! Layout (little-endian `u32` words): `cases, input_len, classes, populations, steps,
//! seed_lo, seed_hi`; then per case `class, input_spikes, events_lo, events_hi,
//! scores[classes], spikes[populations]`; then every input image (`input_len` bytes
//! each). Case `i` runs with seed `seed + i`.

/// The header and the two tables.
pub struct Vectors {
    bytes: &'static [u8],
    pub cases: usize,
    pub input_len: usize,
    pub classes: usize,
    pub populations: usize,
    pub steps: u32,
    pub seed: u64,
}

/// One case's input and expected result.
pub struct Case {
    pub image: &'static [u8],
    pub seed: u64,
    pub class: u16,
    pub input_spikes: u32,
    pub events: u64,
    words: &'static [u8],
    classes: usize,
}

fn word(b: &[u8], i: usize) -> u32 {
    let w = &b[4 * i..4 * i + 4];
    u32::from_le_bytes([w[0], w[1], w[2], w[3]])
}

impl Case {
    /// Expected score `k`.
    pub fn score(&self, k: usize) -> i32 {
        word(self.words, 4 + k) as i32
    }

    /// Expected spike count of population `p`.
    pub fn spikes(&self, p: usize) -> u32 {
        word(self.words, 4 + self.classes + p)
    }
}

impl Vectors {
    /// Reads the header (the file was written by our own build script).
    pub fn parse(bytes: &'static [u8]) -> Self {
        let seed = u64::from(word(bytes, 5)) | u64::from(word(bytes, 6)) << 32;
        Self {
            bytes,
            cases: word(bytes, 0) as usize,
            input_len: word(bytes, 1) as usize,
            classes: word(bytes, 2) as usize,
            populations: word(bytes, 3) as usize,
            steps: word(bytes, 4),
            seed,
        }
    }

    fn record_words(&self) -> usize {
        4 + self.classes + self.populations
    }

    /// Case `i`.
    pub fn case(&self, i: usize) -> Case {
        let rec = 4 * self.record_words();
        let table = 4 * 7;
        let words = &self.bytes[table + i * rec..table + (i + 1) * rec];
        let images = table + self.cases * rec;
        let image = &self.bytes[images + i * self.input_len..images + (i + 1) * self.input_len];
        Case {
            image,
            seed: self.seed + i as u64,
            class: word(words, 0) as u16,
            input_spikes: word(words, 1),
            events: u64::from(word(words, 2)) | u64::from(word(words, 3)) << 32,
            words,
            classes: self.classes,
        }
    }
}

//! The input spikes of streamed test vectors: read step by step from the host file
//! named at build time (`STREAM`, from `SNN_FW_SPIKES`) through semihosting, so they
//! never sit in flash or RAM beyond one step's bitsets.

use semihosting::fs::File;
use semihosting::io::Read;
use snn_embedded::stream::SpikeSource;

/// A spike stream from a host file: `u32` little-endian words, step after step, the
/// positive bitsets only (event sensors give no negative spikes).
pub struct FileSource {
    file: File,
}

/// The stream file could not be opened or read.
#[derive(Debug, Clone, Copy, defmt::Format)]
pub struct StreamIo;

impl FileSource {
    /// Opens `path` on the host.
    ///
    /// # Errors
    /// [`StreamIo`] when the host cannot open it.
    pub fn open(path: &core::ffi::CStr) -> Result<Self, StreamIo> {
        File::open(path)
            .map(|file| Self { file })
            .map_err(|_| StreamIo)
    }
}

impl SpikeSource for FileSource {
    type Error = StreamIo;

    fn next_step(&mut self, positive: &mut [u32], negative: &mut [u32]) -> Result<(), StreamIo> {
        // 16 words per host call: few semihosting traps, a small stack buffer.
        let mut chunk = [0u8; 64];
        for words in positive.chunks_mut(16) {
            let bytes = &mut chunk[..4 * words.len()];
            self.file.read_exact(bytes).map_err(|_| StreamIo)?;
            for (w, b) in words.iter_mut().zip(bytes.chunks_exact(4)) {
                *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        negative.fill(0);
        Ok(())
    }
}

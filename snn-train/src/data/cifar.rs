//! CIFAR-10, binary version: `data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin`.
//!
//! Each record is 3073 bytes: a label byte, then 1024 red, 1024 green and 1024 blue
//! pixels (row-major, channel planes). Records are converted to the toolkit's `HWC`.

use std::path::Path;

use super::Dataset;
use crate::error::DataError;

const RECORD: usize = 1 + 3 * 32 * 32;

/// Parses the records of one batch file into `images` (`HWC`) and `labels`.
pub fn parse_batch(
    path: &Path,
    bytes: &[u8],
    images: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<(), DataError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(DataError::format(
            path,
            format!(
                "{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records (truncated or not CIFAR-10 binary)",
                bytes.len()
            ),
        ));
    }
    for (r, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(DataError::format(
                path,
                format!("record {r}: label {} outside 0..10", rec[0]),
            ));
        }
        labels.push(rec[0]);
        let planes = &rec[1..];
        for p in 0..1024 {
            images.extend_from_slice(&[planes[p], planes[1024 + p], planes[2048 + p]]);
        }
    }
    Ok(())
}

/// Loads the given batch files of a directory.
pub fn load(dir: &Path, files: &[&str]) -> Result<Dataset, DataError> {
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for f in files {
        let path = dir.join(f);
        let bytes = std::fs::read(&path).map_err(|error| DataError::Io {
            path: path.clone(),
            error,
        })?;
        parse_batch(&path, &bytes, &mut images, &mut labels)?;
    }
    Ok(Dataset {
        channels: 3,
        height: 32,
        width: 32,
        classes: 10,
        images,
        labels,
        events: None,
    })
}

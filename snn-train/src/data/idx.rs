//! IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed.
//!
//! The IDX format: a big-endian magic `00 00 08 NDIM` (unsigned bytes), `NDIM`
//! big-endian `u32` dimensions, then the bytes. Gzip is detected by its magic
//! `1f 8b`, not by the file name.

use std::io::Read;
use std::path::Path;

use crate::error::DataError;

/// Reads a whole file, un-gzipping it when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|error| DataError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::format(path, format!("corrupt gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an IDX array of unsigned bytes; returns its dimensions and data.
///
/// # Errors
/// [`DataError::Format`] for a bad magic, a non-`u8` element type, or a body whose
/// length differs from the product of the dimensions (truncated or padded files).
pub fn parse_idx(path: &Path, bytes: &[u8]) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(DataError::format(path, "not an IDX file (bad magic)"));
    }
    if bytes[2] != 0x08 {
        return Err(DataError::format(
            path,
            format!("IDX element type {:#04x}, expected 0x08 (u8)", bytes[2]),
        ));
    }
    let ndim = usize::from(bytes[3]);
    let head = 4 + 4 * ndim;
    if ndim == 0 || bytes.len() < head {
        return Err(DataError::format(path, "IDX header truncated"));
    }
    let dims: Vec<usize> = bytes[4..head]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| DataError::format(path, "IDX dimensions overflow"))?;
    let body = &bytes[head..];
    if body.len() != expected {
        return Err(DataError::format(
            path,
            format!(
                "IDX body has {} bytes, dimensions {dims:?} need {expected} (truncated or corrupt)",
                body.len()
            ),
        ));
    }
    Ok((dims, body.to_vec()))
}

/// Loads an images file (`N x H x W`) and its labels file (`N`), checking they agree.
pub fn load_pair(
    images: &Path,
    labels: &Path,
    classes: usize,
) -> Result<super::Dataset, DataError> {
    let (idims, pixels) = parse_idx(images, &read_maybe_gz(images)?)?;
    let (ldims, labels_v) = parse_idx(labels, &read_maybe_gz(labels)?)?;
    if idims.len() != 3 {
        return Err(DataError::format(
            images,
            format!("expected N x H x W images, found dimensions {idims:?}"),
        ));
    }
    if ldims.len() != 1 || ldims[0] != idims[0] {
        return Err(DataError::format(
            labels,
            format!(
                "{:?} labels for {} images in {}",
                ldims,
                idims[0],
                images.display()
            ),
        ));
    }
    if let Some(bad) = labels_v.iter().find(|&&l| usize::from(l) >= classes) {
        return Err(DataError::format(
            labels,
            format!("label {bad} outside 0..{classes}"),
        ));
    }
    Ok(super::Dataset {
        channels: 1,
        height: idims[1],
        width: idims[2],
        classes,
        images: pixels,
        labels: labels_v,
        events: None,
    })
}

/// Writes an IDX `u8` array (used by tests to make files in the official format).
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&(*d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

//! The test vectors `build.rs` embeds: inputs and the host's expected results, in the
//! format of `snn_embedded::contract::vectors` (which decodes them, bounds-checked; this
//! module only holds the bytes).

use snn_embedded::contract::vectors::{VectorError, Vectors};

use crate::STEPS;

static VECTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vectors.bin"));

/// The embedded vectors, decoded and checked, with the header's step count equal to
/// the build constant [`STEPS`].
///
/// # Errors
/// The [`VectorError`] naming the first problem (a build-script bug, or a firmware
/// built against another version of the contract).
pub fn embedded() -> Result<Vectors<'static>, VectorError> {
    let v = Vectors::decode(VECTORS)?;
    if v.header().steps != STEPS {
        return Err(VectorError::OutOfRange {
            field: "steps",
            found: u64::from(v.header().steps),
        });
    }
    Ok(v)
}

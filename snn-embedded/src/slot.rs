//! A model that lives in flash: validated in place, never copied.

use snn_core::{FormatError, Model};

/// A validated model whose weights stay in the byte slice it came from (typically a
/// `static` in flash, embedded with `include_bytes!`).
///
/// ```
/// # use snn_embedded::slot::ModelSlot;
/// let err = ModelSlot::new(&[0u8; 8]).unwrap_err();
/// assert!(matches!(err, snn_core::FormatError::Truncated { .. }));
/// ```
#[derive(Debug, Clone)]
pub struct ModelSlot<'a> {
    bytes: &'a [u8],
    model: Model<'a>,
}

impl<'a> ModelSlot<'a> {
    /// Checks magic, version, length, CRC-32 and every shape and range of `bytes`.
    ///
    /// # Errors
    /// The [`FormatError`] naming the first problem.
    pub fn new(bytes: &'a [u8]) -> Result<Self, FormatError> {
        Ok(Self {
            bytes,
            model: Model::from_bytes(bytes)?,
        })
    }

    /// The validated model.
    #[inline]
    pub fn model(&self) -> &Model<'a> {
        &self.model
    }

    /// Size of the blob in flash, in bytes.
    #[inline]
    pub fn flash_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The CRC-32 stored in the blob's header (see [`Model::header`]).
    #[inline]
    pub fn checksum(&self) -> u32 {
        self.model.header().checksum
    }
}

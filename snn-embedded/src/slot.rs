//! A model that lives in flash: validated in place, never copied.

use snn_core::{FormatError, Model};

/// A validated model whose weights stay in the byte slice it came from (typically a
/// `static` in flash, embedded with `include_bytes!`), and whose descriptor lives in
/// storage the caller provides (typically a `static` too).
///
/// The descriptor ([`Model`]) has room for [`snn_core::MAX_LAYERS`] layers, kilobytes
/// on a 32-bit core: [`ModelSlot::load`] builds it in the caller's storage with
/// [`Model::load`], so validating the model costs one layer's worth of stack and no
/// copy of it ever lands on the stack.
///
/// ```
/// # use snn_embedded::slot::ModelSlot;
/// let mut storage = None;
/// let err = ModelSlot::load(&[0u8; 8], &mut storage).unwrap_err();
/// assert!(matches!(err, snn_core::FormatError::Truncated { .. }));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ModelSlot<'a> {
    bytes: &'a [u8],
    model: &'a Model<'a>,
}

impl<'a> ModelSlot<'a> {
    /// Checks magic, version, length, CRC-32 and every shape and range of `bytes`, and
    /// builds the model in `storage` (left `None` on an error).
    ///
    /// On a device, `storage` is a `static mut STORAGE: Option<Model<'static>> = None;`
    /// inside cortex-m-rt's `#[entry]`, which hands it out as a safe `&'static mut`.
    ///
    /// # Errors
    /// The [`FormatError`] naming the first problem.
    pub fn load<'b: 'a>(
        bytes: &'b [u8],
        storage: &'a mut Option<Model<'b>>,
    ) -> Result<Self, FormatError> {
        let model = Model::load(bytes, storage)?;
        Ok(Self { bytes, model })
    }

    /// The validated model.
    #[inline]
    pub fn model(&self) -> &'a Model<'a> {
        self.model
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

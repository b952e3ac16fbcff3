//! A model that lives in flash: validated in place, never copied.

use snn_core::{FormatError, Model, MAX_LAYERS};

/// A validated model whose weights stay in the byte slice it came from (typically a
/// `static` in flash, embedded with `include_bytes!`), and whose descriptor lives in
/// storage the caller provides (typically a `static` too).
///
/// The descriptor ([`Model`]) has room for `L` layers (default [`MAX_LAYERS`]), about
/// 210 bytes each on a 32-bit core: [`ModelSlot::load`] builds it in the caller's
/// storage with [`Model::load`], so validating the model costs one layer's worth of
/// stack and no copy of it ever lands on the stack. A device built for one model sizes
/// the storage to it with [`ModelSlot::load_sized`].
///
/// ```
/// # use snn_embedded::slot::ModelSlot;
/// let mut storage = None;
/// let err = ModelSlot::load(&[0u8; 8], &mut storage).unwrap_err();
/// assert!(matches!(err, snn_core::FormatError::Truncated { .. }));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ModelSlot<'a, const L: usize = MAX_LAYERS> {
    bytes: &'a [u8],
    model: &'a Model<'a, L>,
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
        Self::load_sized(bytes, storage)
    }
}

impl<'a, const L: usize> ModelSlot<'a, L> {
    /// [`ModelSlot::load`] into storage with room for `L` layers
    /// (`static mut STORAGE: Option<Model<'static, L>> = None;`); a model with more is
    /// refused with [`FormatError::LayerCapacity`].
    ///
    /// ```
    /// # use snn_embedded::slot::ModelSlot;
    /// # let blob = include_bytes!("../../snn-core/tests/golden/model.snn");
    /// let mut storage: Option<snn_core::Model<'_, 6>> = None;
    /// let slot = ModelSlot::load_sized(blob, &mut storage)?;
    /// assert_eq!(slot.model().classes(), 5);
    /// # Ok::<(), snn_core::FormatError>(())
    /// ```
    ///
    /// # Errors
    /// The [`FormatError`] naming the first problem.
    pub fn load_sized<'b: 'a>(
        bytes: &'b [u8],
        storage: &'a mut Option<Model<'b, L>>,
    ) -> Result<Self, FormatError> {
        let model = Model::load_sized(bytes, storage)?;
        Ok(Self { bytes, model })
    }

    /// The validated model.
    #[inline]
    pub fn model(&self) -> &'a Model<'a, L> {
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

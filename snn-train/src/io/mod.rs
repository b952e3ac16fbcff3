//! Models in and out of the trainer: one quantisation for every writer and reader
//! ([`quant`]), the export to the `snn-core` format ([`export`]) and the import back to
//! float ([`import`]), conversion of older model files ([`upgrade`]), and NIR
//! ([`nir`], cargo feature `nir`). Builds on [`crate::model`] and [`crate::data`].

pub mod export;
pub mod import;
#[cfg(feature = "nir")]
pub mod nir;
pub mod quant;
pub mod upgrade;

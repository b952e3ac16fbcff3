//! The synaptic kernels the forward and backward passes spend their time in: rows of
//! weights added into membranes ([`rows`]), the scatter and backward kernels ([`ops`]),
//! and the one SIMD seam that picks their level at run time ([`simd`]). The only
//! `unsafe` of the trainer's numerics lives here, each use with its proof.

pub mod ops;
pub mod rows;
pub mod simd;

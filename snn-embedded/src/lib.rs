//! Device-side glue between `snn-core` and embedded-hal (issue 4, not built yet).
//!
//! This crate will hold model validation in flash, a runner owning a statically sized
//! state arena, SysTick / DWT stopwatches and busy / result pins. Today it exports
//! nothing; firmware uses `snn-core` directly.
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

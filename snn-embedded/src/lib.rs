#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod contract;
pub mod runner;
pub mod signal;
pub mod slot;
pub mod stopwatch;
pub mod stream;

#![doc = include_str!("../README.md")]

pub use spikeburn_core::*;

#![doc = include_str!("../README.md")]

pub use spikeburn_core::*;
/// Non-gradient learning: RLS, the Kim & Chow drive network, trials.
pub use spikeburn_plasticity as plasticity;
/// Task generators and dataset loaders.
pub use spikeburn_tasks as tasks;
/// Gradient learning: the BPTT trainer, DEEP R, regularisers.
pub use spikeburn_train as train;

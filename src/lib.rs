#![doc = include_str!("../README.md")]

pub use spikeburn_core::*;
/// The papers' reproductions as library code (configs, presets, runs, reports).
pub use spikeburn_experiments as experiments;
/// NIR export and import (files behind the `nir` feature).
pub use spikeburn_nir as nir;
/// Non-gradient learning: RLS, the Kim & Chow drive network, trials.
pub use spikeburn_plasticity as plasticity;
/// Figures as SVG and PNG.
pub use spikeburn_plot as plot;
/// Task generators and dataset loaders.
pub use spikeburn_tasks as tasks;
/// Gradient learning: the BPTT trainer, DEEP R, regularisers.
pub use spikeburn_train as train;

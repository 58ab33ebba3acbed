pub use spikeburn_core as core;

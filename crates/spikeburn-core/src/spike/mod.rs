//! Spike generation: the Heaviside step with pluggable surrogate gradients.

mod op;
mod surrogate;

pub use op::{SpikeOps, spike};
pub use surrogate::{Surrogate, SurrogateGradient};

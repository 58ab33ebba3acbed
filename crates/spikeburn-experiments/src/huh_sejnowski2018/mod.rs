//! Exact gradients through a smooth spiking network (Huh & Sejnowski 2018,
//! *Gradient descent for spiking neural networks*): [`GatedTheta`] networks
//! (theta neurons whose synapses are driven by `g(θ) θ̇`) trained by plain
//! autodiff through the discretised dynamics — no surrogate.
//!
//! - [`gradcheck`] (`gradcheck-exact`): autodiff against central finite
//!   differences in f64;
//! - [`xor`] (`xor-exact`): the delayed-memory XOR, next to a
//!   surrogate-gradient ALIF network;
//! - [`autoencode`] (`autoencode-exact`): the network reproduces its smooth
//!   2-D input at its readout through spikes (predictive coding).
//!
//! [`GatedTheta`]: spikeburn_core::layer::GatedTheta

pub mod autoencode;
pub mod gradcheck;
pub mod xor;

pub use autoencode::{AutoencodeExperiment, autoencode};
pub use gradcheck::{GradcheckExperiment, gradcheck};
pub use xor::{XorExperiment, xor};

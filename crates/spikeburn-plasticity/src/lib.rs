//! # spikeburn-plasticity
//!
//! Learning rules that need no autodiff graph and update weights directly, on
//! tensors of whatever backend the network runs on.
//!
//! - [`rls`]: recursive least squares on each neuron's plastic presynaptic
//!   weights (Kim & Chow 2018), batched over neurons, with the exact
//!   shared-`P` fast path when every neuron sees the same presynaptic set;
//!   [`HostRls`] is the same rule in host memory, the fast path on CPUs.

pub mod rls;
pub mod rls_host;

pub use rls::{Rls, RlsConfig, RlsError};
pub use rls_host::HostRls;

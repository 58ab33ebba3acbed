//! # spikeburn-core
//!
//! Spiking neuron models, spike functions with surrogate gradients, synapses
//! and spiking layers as [Burn](https://burn.dev) modules.
//!
//! - [`neuron`]: LIF, ALIF (LSNN) and QIF/theta dynamics as pure step
//!   functions ([`neuron::lif_step`], [`neuron::alif_step`],
//!   [`neuron::theta_step`]) and module wrappers.
//! - [`spike`]: the Heaviside spike as a custom autodiff op with a catalogue
//!   of surrogate derivatives and a trait for your own.
//! - [`layer`]: recurrent and feed-forward spiking layers generic over the
//!   neuron model, and a leaky readout; sequence APIs over `[T, batch, ·]`.
//! - [`synapse`]: the current-based exponential synapse.
//!
//! Library code takes a `&Device` and never names a backend: the same model
//! runs on `flex` (default CPU), `ndarray` or `wgpu`, chosen by the caller.
//!
//! The CPU kernels (fused BPTT host kernels, host RLS in
//! `spikeburn-plasticity`) share one thread pool: [`set_num_threads`], or the
//! `SPIKEBURN_THREADS` environment variable, sets its size (see [`threads`]).

// burn-ndarray is deprecated upstream; it stays selectable for users who ask for it.
#![cfg_attr(feature = "ndarray", allow(deprecated))]

pub mod error;
mod filter;
pub mod layer;
pub mod neuron;
pub mod spike;
pub mod synapse;
pub mod threads;

pub use burn;
pub use error::{Result, SpikeburnError};
pub use filter::{FilterOps, exponential_filter};
pub use threads::{num_threads, set_num_threads};

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    /// CI runs the suite a second time with `BURN_DEVICE=wgpu`: make sure that
    /// run really executes on the GPU backend rather than silently on the CPU,
    /// and that without `BURN_DEVICE` the default is Burn's documented choice
    /// for the enabled backends (a GPU backend before `flex` before `ndarray`).
    #[test]
    fn default_device_honours_burn_device() {
        let device = format!("{:?}", Device::default()).to_lowercase();
        let expected = match std::env::var("BURN_DEVICE") {
            Ok(name) => name.to_lowercase(),
            Err(_) if cfg!(feature = "wgpu") => "wgpu".into(),
            Err(_) if cfg!(feature = "flex") => "flex".into(),
            Err(_) => "ndarray".into(),
        };
        eprintln!("tests run on {device} (expected {expected})");
        assert!(
            device.contains(&expected),
            "the default device is {device}, expected {expected}"
        );
        assert_eq!(
            crate::layer::is_host_device(&Device::default()),
            expected == "flex" || expected == "ndarray",
            "{device}"
        );
    }
}

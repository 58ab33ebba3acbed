//! Current-based synapse: an exponential filter of the presynaptic drive.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::check_time_constant;

/// Exponential synapse: `i_t = d · i_{t−1} + g · u_t`, with `d = exp(−dt/τ_s)`.
///
/// `u_t` is the weighted presynaptic input of the step (`x_t W_in + z_{t−1} W_rec`).
/// With `normalised = false`, `g = 1`: each presynaptic spike adds a unit jump
/// to the current, which then decays (Kim & Chow 2018: `r ← d r + z`). With
/// `normalised = true`, `g = 1 − d`, so a constant input `u` gives a current
/// of `u` in the steady state.
#[derive(Config, Debug, PartialEq)]
pub struct ExponentialSynapseConfig {
    /// Synaptic time constant τ_s (same unit as `dt`, e.g. ms).
    pub tau_syn: f64,
    /// Integration step.
    #[config(default = 1.0)]
    pub dt: f64,
    /// Scale the input by `1 − d` (steady-state gain 1) instead of 1.
    #[config(default = false)]
    pub normalised: bool,
}

/// A validated exponential synapse (see [`ExponentialSynapseConfig`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExponentialSynapse {
    /// Per-step decay `d = exp(−dt/τ_s)`.
    pub decay: f64,
    /// Input gain `g` (1 or `1 − d`).
    pub gain: f64,
}

impl ExponentialSynapseConfig {
    /// Validates the time constants and builds the synapse.
    pub fn init(&self) -> crate::Result<ExponentialSynapse> {
        crate::error::check_dt(self.dt)?;
        check_time_constant("tau_syn", self.tau_syn, self.dt)?;
        let decay = (-self.dt / self.tau_syn).exp();
        let gain = if self.normalised { 1.0 - decay } else { 1.0 };
        Ok(ExponentialSynapse { decay, gain })
    }
}

impl ExponentialSynapse {
    /// One step of the pure dynamics: returns the new synaptic current.
    pub fn step(&self, current: Tensor<2>, input: Tensor<2>) -> Tensor<2> {
        current * self.decay + input * self.gain
    }

    /// Filters a whole `[T, B, N]` input sequence at once (one autodiff node).
    pub fn filter_sequence(&self, input: Tensor<3>) -> Tensor<3> {
        crate::exponential_filter(input * self.gain, self.decay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_jump_then_decay() {
        let syn = ExponentialSynapseConfig::new(10.0).init().unwrap();
        let dev = Device::default();
        let mut i = Tensor::<2>::zeros([1, 1], &dev);
        let spike = Tensor::<2>::ones([1, 1], &dev);
        i = syn.step(i, spike);
        i = syn.step(i, Tensor::zeros([1, 1], &dev));
        let v: f32 = i.into_scalar();
        assert!((v as f64 - (-0.1f64).exp()).abs() < 1e-6);
    }

    #[test]
    fn sequence_filter_matches_steps() {
        let syn = ExponentialSynapseConfig::new(5.0)
            .with_normalised(true)
            .init()
            .unwrap();
        let dev = Device::default();
        let x = Tensor::<3>::from_floats([[[1.0, 0.0]], [[0.0, 1.0]], [[1.0, 1.0]]], &dev);
        let whole = syn.filter_sequence(x.clone());
        let mut i = Tensor::<2>::zeros([1, 2], &dev);
        for t in 0..3 {
            let x_t: Tensor<2> = x.clone().slice(s![t..t + 1, .., ..]).squeeze_dim(0);
            i = syn.step(i, x_t);
            let w: Tensor<2> = whole.clone().slice(s![t..t + 1, .., ..]).squeeze_dim(0);
            let diff: f32 = (w - i.clone()).abs().max().into_scalar();
            assert!(diff < 1e-6);
        }
    }

    #[test]
    fn rejects_bad_time_constants() {
        assert!(ExponentialSynapseConfig::new(-5.0).init().is_err());
        let e = ExponentialSynapseConfig::new(0.5).init().unwrap_err();
        assert!(e.to_string().contains("tau_syn"));
    }
}

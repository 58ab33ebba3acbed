//! Leaky (non-spiking) readout.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;

use crate::error::{SpikeburnError, check_dt, check_shape, check_time_constant};
use crate::exponential_filter;
use crate::neuron::InputScaling;

/// Configuration of a [`LeakyReadout`].
///
/// ```text
/// y_t = κ y_{t−1} + g z_t W_out          κ = exp(−dt/τ_out), y_{−1} = 0
/// out_t = y_t + b_out
/// ```
///
/// `g = 1` ([`InputScaling::Direct`], W1 benchmark) or `1 − κ`
/// ([`InputScaling::Leaky`], the LSNN code's filtered `psp` readout).
/// Initial weights `N(0, 1)·gain/√n_input`, zero bias.
#[derive(Config, Debug)]
pub struct LeakyReadoutConfig {
    /// Presynaptic neurons.
    pub n_input: usize,
    /// Output units.
    pub n_output: usize,
    /// Readout time constant τ_out.
    #[config(default = 20.0)]
    pub tau_out: f64,
    /// Integration step.
    #[config(default = 1.0)]
    pub dt: f64,
    /// Input gain convention.
    #[config(default = "InputScaling::Leaky")]
    pub input_scaling: InputScaling,
    /// Scale of the initial weights.
    #[config(default = 1.0)]
    pub gain: f64,
}

/// Leaky integrator output units reading a spike train.
#[derive(Module, Debug)]
pub struct LeakyReadout {
    /// Weights `[n_input, n_output]`.
    pub weights: Param<Tensor<2>>,
    /// Bias `[n_output]`.
    pub bias: Param<Tensor<1>>,
    /// Decay κ per step.
    pub decay: f64,
    /// Input gain g.
    pub input_gain: f64,
}

impl LeakyReadoutConfig {
    /// Checks the configuration and builds the readout.
    pub fn init(&self, device: &Device) -> crate::Result<LeakyReadout> {
        check_dt(self.dt)?;
        check_time_constant("tau_out", self.tau_out, self.dt)?;
        if self.n_input == 0 || self.n_output == 0 {
            return Err(SpikeburnError::Empty {
                what: "n_input and n_output of LeakyReadout",
            });
        }
        let decay = (-self.dt / self.tau_out).exp();
        let w = Tensor::<2>::random(
            [self.n_input, self.n_output],
            Distribution::Normal(0.0, 1.0),
            device,
        ) * (self.gain / (self.n_input as f64).sqrt());
        Ok(LeakyReadout {
            weights: Param::from_tensor(w),
            bias: Param::from_tensor(Tensor::zeros([self.n_output], device)),
            decay,
            input_gain: self.input_scaling.gain(decay),
        })
    }
}

impl LeakyReadout {
    /// Reads spikes `[T, batch, n_input]` into outputs `[T, batch, n_output]`.
    ///
    /// The projection is one matmul over the whole sequence and the leak one
    /// [`exponential_filter`] node, so the backward pass is linear in `T`.
    pub fn try_forward_sequence(&self, spikes: Tensor<3>) -> crate::Result<Tensor<3>> {
        let [steps, batch, n] = spikes.dims();
        let [n_in, n_out] = self.weights.val().dims();
        check_shape(
            "input of LeakyReadout ([T, batch, n_input])",
            &[0, 0, n_in],
            &[steps, batch, n],
        )?;
        let projected = spikes
            .reshape([steps * batch, n])
            .matmul(self.weights.val() * self.input_gain)
            .reshape([steps, batch, n_out]);
        let bias = self.bias.val().reshape([1, 1, n_out]);
        Ok(exponential_filter(projected, self.decay) + bias)
    }

    /// Like [`try_forward_sequence`](Self::try_forward_sequence); panics with
    /// the error message on a shape mismatch.
    pub fn forward_sequence(&self, spikes: Tensor<3>) -> Tensor<3> {
        self.try_forward_sequence(spikes)
            .unwrap_or_else(|e| panic!("LeakyReadout: {e}"))
    }

    /// One step: `y_t = κ y_{t−1} + g z_t W`; returns the new `y` (without bias).
    pub fn step(&self, y: Tensor<2>, spikes: Tensor<2>) -> Tensor<2> {
        y * self.decay + spikes.matmul(self.weights.val() * self.input_gain)
    }
}

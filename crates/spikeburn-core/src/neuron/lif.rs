//! Leaky integrate-and-fire neuron.

use burn::prelude::*;

use super::{InputScaling, NeuronModel, NeuronState, Reset, emit, integrate, validate_membrane};

use crate::layer::FusedDynamics;
use crate::neuron::FusedNeuron;
use crate::spike::Surrogate;

/// Configuration of a [`Lif`] population.
///
/// Dynamics per step (`α = exp(−dt/τ_m)`, `g` from [`InputScaling`]):
///
/// ```text
/// v_t = α v_{t−1} + g I_t − ϑ · sg(z_{t−1})     (Reset::Subtract)
/// v_t = (1 − z_{t−1}) α v_{t−1} + z_{t−1} v_r + g I_t   (Reset::ToValue)
/// z_t = H((v_t − ϑ)/ϑ) · [not refractory]
/// ```
///
/// `sg` is a stop-gradient when `detach_reset` is set (the usual choice), and
/// a neuron is refractory for `refractory_steps` steps after a spike.
#[derive(Config, Debug)]
pub struct LifConfig {
    /// Membrane time constant τ_m.
    #[config(default = 20.0)]
    pub tau_mem: f64,
    /// Integration step dt.
    #[config(default = 1.0)]
    pub dt: f64,
    /// Firing threshold ϑ (> 0).
    #[config(default = 1.0)]
    pub threshold: f64,
    /// Reset rule after a spike.
    #[config(default = "Reset::Subtract")]
    pub reset: Reset,
    /// Steps during which a neuron cannot fire again after a spike.
    #[config(default = 0)]
    pub refractory_steps: usize,
    /// Whether the input is scaled by `1 − α`.
    #[config(default = "InputScaling::Direct")]
    pub input_scaling: InputScaling,
    /// Surrogate derivative used in the backward pass.
    #[config(default = "Surrogate::default()")]
    pub surrogate: Surrogate,
    /// Cut the gradient through the reset term.
    #[config(default = true)]
    pub detach_reset: bool,
}

/// Validated LIF parameters: what [`lif_step`] reads.
#[derive(Clone, Debug)]
pub struct LifParams {
    /// Membrane decay per step α.
    pub alpha: f64,
    /// Input gain g.
    pub gain: f64,
    /// Threshold ϑ.
    pub threshold: f64,
    /// Reset rule.
    pub reset: Reset,
    /// Refractory period in steps.
    pub refractory_steps: usize,
    /// Surrogate derivative.
    pub surrogate: Surrogate,
    /// Stop-gradient on the reset.
    pub detach_reset: bool,
}

/// A population of LIF neurons (a module with no trainable parameters).
#[derive(Module, Debug)]
pub struct Lif {
    /// Number of neurons.
    pub size: usize,
    /// The dynamics' constants.
    #[module(skip)]
    pub params: LifParams,
}

/// State of a LIF population.
#[derive(Clone, Debug)]
pub struct LifState {
    /// Membrane potential `v`, `[batch, neurons]`.
    pub membrane: Tensor<2>,
    /// Spikes `z` of the last step.
    pub spikes: Tensor<2>,
    /// Remaining refractory steps per neuron.
    pub refractory: Tensor<2>,
    /// The (constant) threshold ϑ, for recording.
    pub threshold: f64,
}

impl LifConfig {
    /// Validates the configuration and builds a population of `size` neurons.
    pub fn init(&self, size: usize) -> crate::Result<Lif> {
        let alpha =
            validate_membrane(self.tau_mem, self.dt, self.threshold, &self.surrogate, size)?;
        Ok(Lif {
            size,
            params: LifParams {
                alpha,
                gain: self.input_scaling.gain(alpha),
                threshold: self.threshold,
                reset: self.reset,
                refractory_steps: self.refractory_steps,
                surrogate: self.surrogate.clone(),
                detach_reset: self.detach_reset,
            },
        })
    }
}

/// One LIF step: the pure dynamics of [`LifConfig`].
pub fn lif_step(params: &LifParams, state: LifState, current: Tensor<2>) -> LifState {
    let fired = if params.detach_reset {
        state.spikes.clone().detach()
    } else {
        state.spikes.clone()
    };
    let membrane = integrate(
        state.membrane,
        current,
        params.alpha,
        params.gain,
        params.reset,
        fired,
        None,
        params.threshold,
    );
    let normalised = membrane.clone() / params.threshold - 1.0;
    let (spikes, refractory) = emit(
        normalised,
        &params.surrogate,
        &state.spikes,
        state.refractory,
        params.refractory_steps,
    );
    LifState {
        membrane,
        spikes,
        refractory,
        threshold: params.threshold,
    }
}

impl NeuronModel for Lif {
    type State = LifState;

    fn num_neurons(&self) -> usize {
        self.size
    }

    fn init_state(&self, batch: usize, device: &Device) -> LifState {
        let zeros = Tensor::<2>::zeros([batch, self.size], device);
        LifState {
            membrane: zeros.clone(),
            spikes: zeros.clone(),
            refractory: zeros,
            threshold: self.params.threshold,
        }
    }

    fn step(&self, state: LifState, current: Tensor<2>) -> LifState {
        lif_step(&self.params, state, current)
    }

    fn as_fused(&self) -> Option<&dyn FusedNeuron<State = LifState>> {
        Some(self)
    }
}

impl FusedNeuron for Lif {
    type State = LifState;

    fn fused_dynamics(&self) -> Option<FusedDynamics> {
        let p = &self.params;
        (p.reset == Reset::Subtract).then(|| FusedDynamics {
            alpha: p.alpha,
            gain: p.gain,
            threshold: p.threshold,
            adaptation: None,
            adaptive_reset: false,
            normalise_by_adaptive_threshold: false,
            surrogate: p.surrogate.clone(),
            refractory_steps: p.refractory_steps,
            detach_reset: p.detach_reset,
        })
    }

    fn state_from_fused(
        &self,
        membrane: Tensor<2>,
        spikes: Tensor<2>,
        _adaptation: Option<Tensor<2>>,
    ) -> LifState {
        LifState {
            refractory: Tensor::zeros_like(&membrane),
            membrane,
            spikes,
            threshold: self.params.threshold,
        }
    }
}

impl NeuronState for LifState {
    fn spikes(&self) -> Tensor<2> {
        self.spikes.clone()
    }
    fn membrane(&self) -> Tensor<2> {
        self.membrane.clone()
    }
    fn threshold(&self) -> Tensor<2> {
        // The LIF threshold is a constant; materialise it only when recorded.
        Tensor::ones_like(&self.membrane) * self.threshold
    }
    fn detach(self) -> Self {
        LifState {
            membrane: self.membrane.detach(),
            spikes: self.spikes.detach(),
            refractory: self.refractory,
            threshold: self.threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(neuron: &Lif, inputs: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let dev = Device::default();
        let mut state = neuron.init_state(1, &dev);
        let (mut v, mut z) = (vec![], vec![]);
        for &i in inputs {
            state = neuron.step(state, Tensor::from_floats([[i]], &dev));
            v.push(state.membrane.clone().into_scalar::<f32>());
            z.push(state.spikes.clone().into_scalar::<f32>());
        }
        (v, z)
    }

    #[test]
    fn hand_computed_trajectory_with_subtractive_reset() {
        let lif = LifConfig::new().with_tau_mem(10.0).init(1).unwrap();
        let (v, z) = run(&lif, &[0.6, 0.6, 0.6]);
        let a = (-0.1f64).exp();
        let v0 = 0.6;
        let v1 = a * v0 + 0.6; // 1.1429 > 1: spike
        let v2 = a * v1 + 0.6 - 1.0; // reset by subtraction of the threshold
        assert_eq!(z, vec![0.0, 1.0, 0.0]);
        for (got, want) in v.iter().zip([v0, v1, v2]) {
            assert!((*got as f64 - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    #[test]
    fn reset_to_value_and_leaky_input() {
        let lif = LifConfig::new()
            .with_tau_mem(10.0)
            .with_reset(Reset::ToValue { value: -0.5 })
            .with_input_scaling(InputScaling::Leaky)
            .init(1)
            .unwrap();
        let (v, z) = run(&lif, &[12.0, 0.0]);
        let a = (-0.1f64).exp();
        let v0 = (1.0 - a) * 12.0; // 1.1419: spike
        let v1 = -0.5; // reset value, no input
        assert_eq!(z, vec![1.0, 0.0]);
        assert!((v[0] as f64 - v0).abs() < 1e-5 && (v[1] as f64 - v1).abs() < 1e-6);
    }

    #[test]
    fn refractory_period_blocks_spikes() {
        let lif = LifConfig::new()
            .with_tau_mem(10.0)
            .with_refractory_steps(2)
            .init(1)
            .unwrap();
        let (_, z) = run(&lif, &[2.0, 2.0, 2.0, 2.0]);
        // Spike at 0, refractory at 1 and 2 although above threshold, free at 3.
        assert_eq!(z, vec![1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn invalid_configs_are_named() {
        let e = LifConfig::new().with_tau_mem(-20.0).init(3).unwrap_err();
        assert!(e.to_string().contains("tau_mem"), "{e}");
        let e = LifConfig::new().with_dt(20.0).init(3).unwrap_err();
        assert!(e.to_string().contains("dt = 20"), "{e}");
        let e = LifConfig::new().with_threshold(0.0).init(3).unwrap_err();
        assert!(e.to_string().contains("threshold"), "{e}");
        assert!(LifConfig::new().init(0).is_err());
        let e = LifConfig::new()
            .with_surrogate(Surrogate::Sigmoid { slope: -1.0 })
            .init(3)
            .unwrap_err();
        assert!(e.to_string().contains("slope"), "{e}");
    }
}

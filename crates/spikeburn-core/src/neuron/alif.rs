//! Adaptive leaky integrate-and-fire neuron (ALIF) of the LSNN (Bellec et al. 2018).

use burn::prelude::*;

use super::{InputScaling, NeuronModel, NeuronState, Reset, emit, integrate, validate_membrane};
use crate::error::{SpikeburnError, check_shape, check_time_constant};
use crate::layer::FusedDynamics;
use crate::neuron::FusedNeuron;
use crate::spike::Surrogate;

/// Configuration of an [`Alif`] population (LSNN neurons).
///
/// Dynamics per step, with `α = exp(−dt/τ_m)`, `ρ = exp(−dt/τ_a)` and a
/// per-neuron adaptation strength `β_j`:
///
/// ```text
/// a_t = ρ a_{t−1} + (1 − ρ) z_{t−1}            threshold adaptation
/// A_t = ϑ0 + β a_t                              adaptive threshold
/// v_t = α v_{t−1} + g I_t − A_t · sg(z_{t−1})   (reset by subtraction)
/// z_t = H((v_t − A_t) / n_t) · [not refractory]
/// ```
///
/// `n_t = A_t` when `normalise_by_adaptive_threshold` (the LSNN code, so the
/// surrogate gradient also flows into `a` through the normaliser) and `n_t = ϑ0`
/// otherwise (e-prop, the W1 benchmark). With `adaptive_reset = false` the
/// reset subtracts `ϑ0` instead of `A_t`. Gradients flow through `a` (BPTT
/// through the adaptation path). A neuron with `β = 0` is a LIF neuron, so
/// `n_lif` makes the first neurons of the population LIF, as in LSNN layers.
///
/// Differences from the LSNN code, on purpose: spikes are `{0, 1}` instead of
/// `1/dt`, and `z_t` is computed from `v_t` (the LSNN code thresholds the
/// voltage of the previous step, which delays every spike by one step).
#[derive(Config, Debug)]
pub struct AlifConfig {
    /// Membrane time constant τ_m.
    #[config(default = 20.0)]
    pub tau_mem: f64,
    /// Adaptation time constant τ_a.
    #[config(default = 200.0)]
    pub tau_adapt: f64,
    /// Integration step dt.
    #[config(default = 1.0)]
    pub dt: f64,
    /// Baseline threshold ϑ0 (> 0).
    #[config(default = 0.01)]
    pub threshold: f64,
    /// Adaptation strength β of the adaptive neurons (≥ 0).
    #[config(default = 1.6)]
    pub beta: f64,
    /// The first `n_lif` neurons get β = 0 (LIF); the rest get `beta`.
    #[config(default = 0)]
    pub n_lif: usize,
    /// Reset rule after a spike.
    #[config(default = "Reset::Subtract")]
    pub reset: Reset,
    /// Subtract the adaptive threshold `A_t` (LSNN) rather than `ϑ0` on reset.
    #[config(default = true)]
    pub adaptive_reset: bool,
    /// Normalise the surrogate's argument by `A_t` (LSNN code) instead of `ϑ0`.
    #[config(default = true)]
    pub normalise_by_adaptive_threshold: bool,
    /// Steps during which a neuron cannot fire again after a spike.
    #[config(default = 0)]
    pub refractory_steps: usize,
    /// Whether the input is scaled by `1 − α`.
    #[config(default = "InputScaling::Leaky")]
    pub input_scaling: InputScaling,
    /// Surrogate derivative used in the backward pass.
    #[config(default = "Surrogate::default()")]
    pub surrogate: Surrogate,
    /// Cut the gradient through the reset term.
    #[config(default = true)]
    pub detach_reset: bool,
}

/// Validated ALIF constants: what [`alif_step`] reads besides β.
#[derive(Clone, Debug)]
pub struct AlifParams {
    /// Membrane decay α.
    pub alpha: f64,
    /// Adaptation decay ρ.
    pub rho: f64,
    /// Input gain g.
    pub gain: f64,
    /// Baseline threshold ϑ0.
    pub threshold: f64,
    /// Reset rule.
    pub reset: Reset,
    /// Subtract `A_t` on reset.
    pub adaptive_reset: bool,
    /// Normalise the surrogate input by `A_t`.
    pub normalise_by_adaptive_threshold: bool,
    /// Refractory period in steps.
    pub refractory_steps: usize,
    /// Surrogate derivative.
    pub surrogate: Surrogate,
    /// Stop-gradient on the reset.
    pub detach_reset: bool,
}

/// A population of ALIF neurons with per-neuron adaptation strengths.
#[derive(Module, Debug)]
pub struct Alif {
    /// Adaptation strength per neuron `β`, `[neurons]` (a constant, not trained).
    pub beta: Tensor<1>,
    /// The dynamics' constants.
    #[module(skip)]
    pub params: AlifParams,
}

/// State of an ALIF population.
#[derive(Clone, Debug)]
pub struct AlifState {
    /// Membrane potential `v`.
    pub membrane: Tensor<2>,
    /// Spikes `z` of the last step.
    pub spikes: Tensor<2>,
    /// Threshold adaptation variable `a` (called `b` in the LSNN code).
    pub adaptation: Tensor<2>,
    /// Adaptive threshold `A` of the last step.
    pub threshold: Tensor<2>,
    /// Remaining refractory steps per neuron.
    pub refractory: Tensor<2>,
}

impl AlifConfig {
    /// Validates the configuration and builds `size` neurons on `device`.
    pub fn init(&self, size: usize, device: &Device) -> crate::Result<Alif> {
        let alpha =
            validate_membrane(self.tau_mem, self.dt, self.threshold, &self.surrogate, size)?;
        check_time_constant("tau_adapt", self.tau_adapt, self.dt)?;
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(SpikeburnError::InvalidValue {
                name: "beta",
                value: self.beta,
                expected: "a finite adaptation strength >= 0",
            });
        }
        if self.n_lif > size {
            return Err(SpikeburnError::InvalidValue {
                name: "n_lif",
                value: self.n_lif as f64,
                expected: "at most the population size",
            });
        }
        let beta: Vec<f32> = (0..size)
            .map(|j| {
                if j < self.n_lif {
                    0.0
                } else {
                    self.beta as f32
                }
            })
            .collect();
        Ok(Alif {
            beta: Tensor::from_floats(beta.as_slice(), device),
            params: AlifParams {
                alpha,
                rho: (-self.dt / self.tau_adapt).exp(),
                gain: self.input_scaling.gain(alpha),
                threshold: self.threshold,
                reset: self.reset,
                adaptive_reset: self.adaptive_reset,
                normalise_by_adaptive_threshold: self.normalise_by_adaptive_threshold,
                refractory_steps: self.refractory_steps,
                surrogate: self.surrogate.clone(),
                detach_reset: self.detach_reset,
            },
        })
    }
}

impl Alif {
    /// Replaces the per-neuron adaptation strengths (`[neurons]`, all ≥ 0).
    pub fn with_beta(mut self, beta: Tensor<1>) -> crate::Result<Self> {
        check_shape("ALIF beta", &self.beta.dims(), &beta.dims())?;
        let min: f32 = beta.clone().min().into_scalar();
        if min.is_nan() || min < 0.0 {
            return Err(SpikeburnError::InvalidValue {
                name: "beta",
                value: min as f64,
                expected: "adaptation strengths >= 0",
            });
        }
        self.beta = beta;
        Ok(self)
    }
}

/// One ALIF step: the pure dynamics of [`AlifConfig`]. `beta` is `[neurons]`.
pub fn alif_step(
    params: &AlifParams,
    beta: &Tensor<1>,
    state: AlifState,
    current: Tensor<2>,
) -> AlifState {
    let adaptation = state.adaptation * params.rho + state.spikes.clone() * (1.0 - params.rho);
    let threshold = adaptation.clone() * beta.clone().unsqueeze::<2>() + params.threshold;
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
        params.adaptive_reset.then(|| threshold.clone()),
        params.threshold,
    );
    let excess = membrane.clone() - threshold.clone();
    let normalised = if params.normalise_by_adaptive_threshold {
        excess / threshold.clone()
    } else {
        excess / params.threshold
    };
    let (spikes, refractory) = emit(
        normalised,
        &params.surrogate,
        &state.spikes,
        state.refractory,
        params.refractory_steps,
    );
    AlifState {
        membrane,
        spikes,
        adaptation,
        threshold,
        refractory,
    }
}

impl NeuronModel for Alif {
    type State = AlifState;

    fn num_neurons(&self) -> usize {
        self.beta.dims()[0]
    }

    fn init_state(&self, batch: usize, device: &Device) -> AlifState {
        let zeros = Tensor::<2>::zeros([batch, self.num_neurons()], device);
        AlifState {
            membrane: zeros.clone(),
            spikes: zeros.clone(),
            adaptation: zeros.clone(),
            threshold: zeros.clone() + self.params.threshold,
            refractory: zeros,
        }
    }

    fn step(&self, state: AlifState, current: Tensor<2>) -> AlifState {
        alif_step(&self.params, &self.beta, state, current)
    }

    fn as_fused(&self) -> Option<&dyn FusedNeuron<State = AlifState>> {
        Some(self)
    }
}

impl FusedNeuron for Alif {
    type State = AlifState;

    fn fused_dynamics(&self) -> Option<FusedDynamics> {
        let p = &self.params;
        (p.reset == Reset::Subtract).then(|| FusedDynamics {
            alpha: p.alpha,
            gain: p.gain,
            threshold: p.threshold,
            adaptation: Some((p.rho, self.beta.clone())),
            adaptive_reset: p.adaptive_reset,
            normalise_by_adaptive_threshold: p.normalise_by_adaptive_threshold,
            surrogate: p.surrogate.clone(),
            refractory_steps: p.refractory_steps,
            detach_reset: p.detach_reset,
        })
    }

    fn state_from_fused(
        &self,
        membrane: Tensor<2>,
        spikes: Tensor<2>,
        adaptation: Option<Tensor<2>>,
    ) -> AlifState {
        let adaptation = adaptation.unwrap_or_else(|| Tensor::zeros_like(&membrane));
        let threshold =
            adaptation.clone() * self.beta.clone().unsqueeze::<2>() + self.params.threshold;
        AlifState {
            refractory: Tensor::zeros_like(&membrane),
            membrane,
            spikes,
            adaptation,
            threshold,
        }
    }
}

impl NeuronState for AlifState {
    fn spikes(&self) -> Tensor<2> {
        self.spikes.clone()
    }
    fn membrane(&self) -> Tensor<2> {
        self.membrane.clone()
    }
    fn threshold(&self) -> Tensor<2> {
        self.threshold.clone()
    }
    fn detach(self) -> Self {
        AlifState {
            membrane: self.membrane.detach(),
            spikes: self.spikes.detach(),
            adaptation: self.adaptation.detach(),
            threshold: self.threshold.detach(),
            refractory: self.refractory,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_trajectory_with_threshold_adaptation() {
        let dev = Device::default();
        let alif = AlifConfig::new()
            .with_tau_mem(10.0)
            .with_tau_adapt(5.0)
            .with_threshold(1.0)
            .with_beta(0.5)
            .with_input_scaling(InputScaling::Direct)
            .init(1, &dev)
            .unwrap();
        let inputs = [1.5, 0.2, 1.0, 1.0];
        let mut state = alif.init_state(1, &dev);
        let (al, rho) = ((-0.1f64).exp(), (-0.2f64).exp());
        // Hand-computed reference, f64.
        let (mut v, mut z, mut a) = (0.0f64, 0.0f64, 0.0f64);
        let mut pattern = vec![];
        for i in inputs {
            state = alif.step(state, Tensor::from_floats([[i]], &dev));
            a = rho * a + (1.0 - rho) * z;
            let thr = 1.0 + 0.5 * a;
            v = al * v + i - thr * z;
            z = if v > thr { 1.0 } else { 0.0 };
            pattern.push(state.spikes.clone().into_scalar::<f32>());
            let got_v: f32 = state.membrane.clone().into_scalar();
            let got_a: f32 = state.adaptation.clone().into_scalar();
            let got_thr: f32 = state.threshold.clone().into_scalar();
            assert!((got_v as f64 - v).abs() < 1e-5, "v {got_v} vs {v}");
            assert!((got_a as f64 - a).abs() < 1e-6, "a {got_a} vs {a}");
            assert!((got_thr as f64 - thr).abs() < 1e-6, "A {got_thr} vs {thr}");
        }
        // t=3 is above the baseline threshold (1.135) but below the adapted one (1.151).
        assert_eq!(pattern, vec![1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn mixed_population_lif_part_does_not_adapt() {
        let dev = Device::default();
        let alif = AlifConfig::new()
            .with_n_lif(1)
            .with_beta(2.0)
            .init(2, &dev)
            .unwrap();
        let mut state = alif.init_state(1, &dev);
        for _ in 0..5 {
            state = alif.step(state, Tensor::from_floats([[1.0, 1.0]], &dev));
        }
        let thr = state.threshold.to_data().try_to_vec::<f32>().unwrap();
        assert!(
            (thr[0] - 0.01).abs() < 1e-7,
            "LIF neuron's threshold moved: {thr:?}"
        );
        assert!(thr[1] > 0.02, "ALIF neuron did not adapt: {thr:?}");
    }

    #[test]
    fn invalid_configs_are_named() {
        let dev = Device::default();
        let e = AlifConfig::new()
            .with_tau_adapt(0.0)
            .init(2, &dev)
            .unwrap_err();
        assert!(e.to_string().contains("tau_adapt"), "{e}");
        let e = AlifConfig::new().with_beta(-1.0).init(2, &dev).unwrap_err();
        assert!(e.to_string().contains("beta"), "{e}");
        let e = AlifConfig::new().with_n_lif(3).init(2, &dev).unwrap_err();
        assert!(e.to_string().contains("n_lif"), "{e}");
        let alif = AlifConfig::new().init(2, &dev).unwrap();
        let e = alif
            .with_beta(Tensor::from_floats([1.0, 2.0, 3.0], &dev))
            .unwrap_err();
        assert!(e.to_string().contains("shape mismatch"), "{e}");
    }
}

//! Quadratic integrate-and-fire neuron in its theta (phase) form.

use burn::prelude::*;

use super::{NeuronModel, NeuronState};
use crate::spike::{Surrogate, spike};

/// Configuration of a [`Theta`] population: the quadratic integrate-and-fire
/// neuron `τ v' = v² + I` (spike at `v = +∞`, reset to `−∞`) written in the
/// phase `θ` with `v = tan(θ/2)`, where it has no singularity:
///
/// ```text
/// τ θ' = 1 − cos θ + I (1 + cos θ)
/// ```
///
/// A spike is the phase crossing `π`; the phase then wraps to `θ − 2π`, so it
/// stays in `[−π, π)`. One step integrates the ODE with classical RK4 over
/// `dt`, holding the input `I` constant during the step (Kim & Chow 2018 do
/// the same). With constant `I > 0` the neuron fires periodically at
/// `√I / (π τ)`; with `I < 0` it rests at `θ* = −2 atan √(−I)`.
///
/// The phase advances by at most `(2 + 2 max(I, 0)) dt/τ` per step; keep that
/// well below `π` (the default `dt = 1`, `τ = 10` allows `I` up to ≈ 10).
#[derive(Config, Debug)]
pub struct ThetaConfig {
    /// Membrane time constant τ.
    #[config(default = 10.0)]
    pub tau_mem: f64,
    /// Integration step dt.
    #[config(default = 1.0)]
    pub dt: f64,
    /// Surrogate derivative of the spike with respect to `(θ_next − π)/π`,
    /// for training through [`NeuronModel`] with BPTT.
    #[config(default = "Surrogate::default()")]
    pub surrogate: Surrogate,
}

/// A population of theta neurons (no trainable parameters).
#[derive(Module, Debug)]
pub struct Theta {
    /// Number of neurons.
    pub size: usize,
    /// `dt/τ`: the step in units of the membrane time constant.
    pub step: f64,
    /// Surrogate derivative.
    #[module(skip)]
    pub surrogate: Surrogate,
}

/// State of a theta population.
#[derive(Clone, Debug)]
pub struct ThetaState {
    /// Phase `θ ∈ [−π, π)`, `[batch, neurons]`.
    pub phase: Tensor<2>,
    /// Spikes of the last step.
    pub spikes: Tensor<2>,
}

impl ThetaConfig {
    /// Validates the configuration and builds `size` neurons.
    pub fn init(&self, size: usize) -> crate::Result<Theta> {
        crate::error::check_dt(self.dt)?;
        crate::error::check_time_constant("tau_mem", self.tau_mem, self.dt)?;
        if size == 0 {
            return Err(crate::SpikeburnError::Empty {
                what: "the neuron population",
            });
        }
        self.surrogate.validate()?;
        Ok(Theta {
            size,
            step: self.dt / self.tau_mem,
            surrogate: self.surrogate.clone(),
        })
    }
}

/// `τ θ'` at phase `theta` under input `input`.
pub fn theta_velocity(theta: f64, input: f64) -> f64 {
    let c = theta.cos();
    1.0 - c + input * (1.0 + c)
}

/// One RK4 step of the theta neuron on a host scalar: returns the new phase,
/// wrapped into `[−π, π)`, and whether the neuron spiked. `step` is `dt/τ`.
pub fn theta_advance(theta: f64, input: f64, step: f64) -> (f64, bool) {
    let k1 = theta_velocity(theta, input);
    let k2 = theta_velocity(theta + 0.5 * step * k1, input);
    let k3 = theta_velocity(theta + 0.5 * step * k2, input);
    let k4 = theta_velocity(theta + step * k3, input);
    let next = theta + step * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0;
    if next >= std::f64::consts::PI {
        (next - 2.0 * std::f64::consts::PI, true)
    } else {
        (next, false)
    }
}

fn velocity(theta: Tensor<2>, input: Tensor<2>) -> Tensor<2> {
    let c = theta.cos();
    c.clone().neg() + 1.0 + input * (c + 1.0)
}

/// One theta step on tensors: the pure dynamics of [`ThetaConfig`]
/// (`step = dt/τ`). The spike is `H((θ_next − π)/π)` through `surrogate`, so
/// BPTT can train through it; the wrap `θ − 2π z` carries the spike's gradient.
pub fn theta_step(
    step: f64,
    surrogate: &Surrogate,
    state: ThetaState,
    current: Tensor<2>,
) -> ThetaState {
    let theta = state.phase;
    let k1 = velocity(theta.clone(), current.clone());
    let k2 = velocity(theta.clone() + k1.clone() * (0.5 * step), current.clone());
    let k3 = velocity(theta.clone() + k2.clone() * (0.5 * step), current.clone());
    let k4 = velocity(theta.clone() + k3.clone() * step, current);
    let next = theta + (k1 + k2 * 2.0 + k3 * 2.0 + k4) * (step / 6.0);
    let spikes = spike(next.clone() / std::f64::consts::PI - 1.0, surrogate);
    let phase = next - spikes.clone() * (2.0 * std::f64::consts::PI);
    ThetaState { phase, spikes }
}

impl NeuronModel for Theta {
    type State = ThetaState;

    fn num_neurons(&self) -> usize {
        self.size
    }

    /// `θ = 0`, i.e. `v = 0`.
    fn init_state(&self, batch: usize, device: &Device) -> ThetaState {
        ThetaState {
            phase: Tensor::zeros([batch, self.size], device),
            spikes: Tensor::zeros([batch, self.size], device),
        }
    }

    fn step(&self, state: ThetaState, current: Tensor<2>) -> ThetaState {
        theta_step(self.step, &self.surrogate, state, current)
    }
}

impl NeuronState for ThetaState {
    fn spikes(&self) -> Tensor<2> {
        self.spikes.clone()
    }
    /// The phase `θ` (the voltage is `tan(θ/2)`, infinite at a spike).
    fn membrane(&self) -> Tensor<2> {
        self.phase.clone()
    }
    /// The spike phase `π`.
    fn threshold(&self) -> Tensor<2> {
        self.phase.ones_like() * std::f64::consts::PI
    }
    fn detach(self) -> Self {
        Self {
            phase: self.phase.detach(),
            spikes: self.spikes.detach(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn firing_rate_matches_the_qif_formula() {
        // Constant I > 0: period π τ / √I. Count spikes over 2 s at dt = 0.1 ms.
        for input in [0.25, 1.0, 4.0] {
            let (step, steps) = (0.1 / 10.0, 20_000);
            let (mut theta, mut spikes) = (0.0, 0);
            for _ in 0..steps {
                let (next, fired) = theta_advance(theta, input, step);
                theta = next;
                spikes += usize::from(fired);
            }
            let rate_hz = spikes as f64 / 2.0;
            let expected = input.sqrt() / (PI * 10e-3);
            assert!(
                (rate_hz - expected).abs() <= 1.0,
                "I = {input}: {rate_hz} Hz, QIF formula {expected} Hz"
            );
        }
    }

    #[test]
    fn negative_input_rests_at_the_stable_fixed_point() {
        let (mut theta, input) = (0.5, -1.0);
        for _ in 0..2000 {
            let (next, fired) = theta_advance(theta, input, 0.1);
            assert!(!fired);
            theta = next;
        }
        // 1 − cos θ = −I (1 + cos θ) at θ* = −2 atan √(−I) = −π/2.
        assert!((theta + PI / 2.0).abs() < 1e-6, "rest phase {theta}");
    }

    #[test]
    fn rk4_step_matches_a_hand_computation() {
        // θ = 0, I = 1: θ' = 2 everywhere (1 − cos + 1 + cos), so θ = 2 h exactly.
        let (theta, fired) = theta_advance(0.0, 1.0, 0.1);
        assert!((theta - 0.2).abs() < 1e-12 && !fired);
        // Crossing π wraps by 2π and reports a spike.
        let (theta, fired) = theta_advance(PI - 0.05, 1.0, 0.1);
        assert!(
            fired && (theta - (PI + 0.15 - 2.0 * PI)).abs() < 1e-12,
            "{theta}"
        );
    }

    #[test]
    fn tensor_step_agrees_with_the_host_step() {
        let device = Device::default();
        let theta = ThetaConfig::new().init(4).unwrap();
        let phases = [-2.0f32, 0.3, 2.9, 3.1];
        let inputs = [0.5f32, -0.4, 1.2, 3.0];
        let mut state = ThetaState {
            phase: Tensor::<1>::from_floats(phases, &device).reshape([1, 4]),
            spikes: Tensor::zeros([1, 4], &device),
        };
        let current = Tensor::<1>::from_floats(inputs, &device).reshape([1, 4]);
        let (mut host, mut host_spikes) = (phases.map(f64::from), [false; 4]);
        for _ in 0..30 {
            state = theta.step(state, current.clone());
            for i in 0..4 {
                let (next, fired) = theta_advance(host[i], inputs[i] as f64, theta.step);
                host[i] = next;
                host_spikes[i] = fired;
            }
            let got = state.phase.to_data().try_to_vec::<f32>().unwrap();
            let z = state.spikes.to_data().try_to_vec::<f32>().unwrap();
            for i in 0..4 {
                assert!(
                    (got[i] as f64 - host[i]).abs() < 1e-4,
                    "{got:?} vs {host:?}"
                );
                assert_eq!(z[i] == 1.0, host_spikes[i]);
            }
        }
    }

    #[test]
    fn invalid_configs_are_refused() {
        assert!(ThetaConfig::new().with_tau_mem(-1.0).init(3).is_err());
        assert!(ThetaConfig::new().with_dt(20.0).init(3).is_err());
        assert!(ThetaConfig::new().init(0).is_err());
    }
}

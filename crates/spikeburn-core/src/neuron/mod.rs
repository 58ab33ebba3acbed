//! Spiking neuron models: pure step functions over a state, and thin module
//! wrappers that a layer is generic over.
//!
//! Conventions shared by all models (time in the unit of `dt`, typically ms):
//! spikes `z ∈ {0, 1}` (the LSNN code's `1/dt` amplitude is folded into the
//! weights), row-vector tensors `[batch, neurons]`, and one call of `step`
//! advancing the state by `dt`.

mod alif;
mod lif;
mod theta;

pub use alif::{Alif, AlifConfig, AlifState, alif_step};
pub use lif::{Lif, LifConfig, LifState, lif_step};
pub use theta::{Theta, ThetaConfig, ThetaState, theta_advance, theta_step, theta_velocity};

use burn::module::{Module, ModuleDisplay};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::layer::FusedDynamics;
use crate::spike::{Surrogate, spike};

/// What happens to the membrane potential after a spike.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reset {
    /// Subtract the threshold (the baseline `thr0`, or for ALIF optionally the
    /// adaptive threshold `A`): keeps the excess charge.
    #[default]
    Subtract,
    /// Set the membrane to a fixed value, then integrate the step's input.
    ToValue {
        /// The reset potential.
        value: f64,
    },
    /// No reset (for analysis; the neuron keeps firing while above threshold).
    None,
}

/// How the input current enters the membrane equation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InputScaling {
    /// `v ← α v + I` (snnTorch, Norse-style discrete form; W1 benchmark).
    #[default]
    Direct,
    /// `v ← α v + (1 − α) I` (LSNN code: `I` is in units of voltage at steady state).
    Leaky,
}

impl InputScaling {
    /// The input gain for a membrane decay `alpha`.
    pub fn gain(self, alpha: f64) -> f64 {
        match self {
            Self::Direct => 1.0,
            Self::Leaky => 1.0 - alpha,
        }
    }
}

/// A neuron model a spiking layer can be generic over.
///
/// `step` maps (state, input current) to the next state, whose `spikes` are
/// the step's output. Implementations wrap pure functions (`lif_step`,
/// `alif_step`) so tests and custom loops can call those directly.
pub trait NeuronModel: Module + ModuleDisplay + Clone + core::fmt::Debug {
    /// Per-neuron state carried from step to step.
    type State: NeuronState;
    /// Number of neurons.
    fn num_neurons(&self) -> usize;
    /// Resting state: `v = z = a = 0`.
    fn init_state(&self, batch: usize, device: &Device) -> Self::State;
    /// Advances one step given the total input current `[batch, neurons]`.
    fn step(&self, state: Self::State, current: Tensor<2>) -> Self::State;
    /// This model's view for the fused whole-sequence BPTT path of
    /// [`RecurrentSpiking`](crate::layer::RecurrentSpiking), when it has one
    /// (LIF and ALIF return `Some(self)`); `None`, the default, keeps every
    /// sequence on the per-step path.
    fn as_fused(&self) -> Option<&dyn FusedNeuron<State = Self::State>> {
        None
    }
}

/// A neuron model that the fused whole-sequence BPTT path can run: its
/// dynamics reduce to the constants of [`FusedDynamics`] (LIF and ALIF with
/// reset by subtraction).
///
/// Kept apart from [`NeuronModel`] so that a model without a fused form
/// implements nothing it cannot honour; a model opts in through
/// [`NeuronModel::as_fused`].
pub trait FusedNeuron {
    /// The state the per-step path carries (the same as
    /// [`NeuronModel::State`]).
    type State;
    /// The constants of the fused path, or `None` when this configuration is
    /// not one the path covers (e.g. reset to a value).
    fn fused_dynamics(&self) -> Option<FusedDynamics>;
    /// Rebuilds a state from the fused path's last step: membrane, spikes
    /// and (ALIF) adaptation, `[batch, neurons]` each.
    fn state_from_fused(
        &self,
        membrane: Tensor<2>,
        spikes: Tensor<2>,
        adaptation: Option<Tensor<2>>,
    ) -> Self::State;
}

/// Read access to what a layer may record of a neuron state.
pub trait NeuronState: Clone + core::fmt::Debug {
    /// Spikes emitted in the last step, `[batch, neurons]`, values in {0, 1}.
    fn spikes(&self) -> Tensor<2>;
    /// Membrane potential after the last step.
    fn membrane(&self) -> Tensor<2>;
    /// Firing threshold in force at the last step.
    fn threshold(&self) -> Tensor<2>;
    /// The same state cut from the autodiff graph (truncated BPTT).
    fn detach(self) -> Self;
}

/// Membrane update shared by LIF and ALIF:
/// `v_t = α v_{t−1} + g I_t − reset(z_{t−1})`.
///
/// `fired` is `z_{t−1}` (already detached when the reset carries no
/// gradient); [`Reset::Subtract`] subtracts `fired ⊙ threshold`, where
/// `threshold` is the adaptive one when given and the scalar `baseline` otherwise.
#[allow(clippy::too_many_arguments)]
pub(crate) fn integrate(
    membrane: Tensor<2>,
    current: Tensor<2>,
    alpha: f64,
    gain: f64,
    reset: Reset,
    fired: Tensor<2>,
    threshold: Option<Tensor<2>>,
    baseline: f64,
) -> Tensor<2> {
    let leak = membrane * alpha;
    let input = if gain == 1.0 { current } else { current * gain };
    match reset {
        Reset::Subtract => match threshold {
            Some(a) => leak + input - fired * a,
            None => leak + input - fired * baseline,
        },
        Reset::ToValue { value } => leak * (fired.clone().neg() + 1.0) + fired * value + input,
        Reset::None => leak + input,
    }
}

/// Refractory bookkeeping and spike emission shared by LIF and ALIF.
///
/// `counter` holds how many more steps each neuron stays refractory; a spike
/// at `t−1` sets it to `n_ref`. Spikes are `H(x)` masked to 0 where the
/// counter is positive. Returns `(spikes, new_counter)`.
pub(crate) fn emit(
    normalised: Tensor<2>,
    surrogate: &Surrogate,
    previous_spikes: &Tensor<2>,
    counter: Tensor<2>,
    refractory_steps: usize,
) -> (Tensor<2>, Tensor<2>) {
    let z = spike(normalised, surrogate);
    if refractory_steps == 0 {
        return (z, counter);
    }
    let fired = previous_spikes.clone().detach();
    let counter = (counter - 1.0).clamp_min(0.0) * (fired.clone().neg() + 1.0)
        + fired * refractory_steps as f64;
    let free = counter.clone().lower_equal_elem(0.0).float();
    (z * free, counter)
}

/// Checks the parameters LIF and ALIF share; returns `α = exp(−dt/τ_m)`.
pub(crate) fn validate_membrane(
    tau_mem: f64,
    dt: f64,
    threshold: f64,
    surrogate: &Surrogate,
    n: usize,
) -> crate::Result<f64> {
    crate::error::check_dt(dt)?;
    crate::error::check_time_constant("tau_mem", tau_mem, dt)?;
    if !(threshold.is_finite() && threshold > 0.0) {
        return Err(crate::SpikeburnError::InvalidValue {
            name: "threshold",
            value: threshold,
            expected: "a finite threshold > 0",
        });
    }
    if n == 0 {
        return Err(crate::SpikeburnError::Empty {
            what: "the neuron population",
        });
    }
    surrogate.validate()?;
    Ok((-dt / tau_mem).exp())
}

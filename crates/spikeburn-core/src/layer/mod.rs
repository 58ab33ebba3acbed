//! Spiking layers: recurrent, feed-forward, a leaky (non-spiking) readout, and
//! the gated-synapse theta network trained by exact gradients.
//!
//! Sequences are time-major: inputs `[T, batch, features]`, outputs
//! `[T, batch, neurons]`. Layers project the input one step at a time rather
//! than slicing a precomputed `[T, B, N]` projection: the backward of a slice
//! writes into a zero tensor of the full size, which would make BPTT `O(T²)`.

mod feedforward;
mod fused;
mod fused_host;
mod gated;
mod lsnn;
mod readout;
mod recurrent;

pub use feedforward::{SpikingLinear, SpikingLinearConfig};
pub use fused::{FusedDynamics, is_host_device};
pub use gated::{
    Gate, GatedConstants, GatedOutput, GatedPhase, GatedRun, GatedTheta, GatedThetaConfig,
    GatedWeights, GradientCheck, check_gradient, gate, gated_sequence,
};
pub use lsnn::{Lsnn, LsnnConfig, LsnnOutput};
pub use readout::{LeakyReadout, LeakyReadoutConfig};
pub use recurrent::{DelayedProjections, RecurrentSpiking, RecurrentSpikingConfig};

use burn::prelude::*;

use crate::error::{SpikeburnError, check_shape};
use crate::neuron::{NeuronModel, NeuronState};
use crate::synapse::ExponentialSynapse;

/// Which traces a sequence call keeps besides the spikes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Membrane potentials `[T, B, N]`.
    pub membrane: bool,
    /// Firing thresholds `[T, B, N]` (adaptive for ALIF).
    pub threshold: bool,
    /// Synaptic currents `[T, B, N]` (layers with a synapse only).
    pub synaptic: bool,
}

impl Record {
    /// Spikes only.
    pub fn spikes() -> Self {
        Self::default()
    }
    /// Every trace the layer has.
    pub fn all() -> Self {
        Self {
            membrane: true,
            threshold: true,
            synaptic: true,
        }
    }
}

/// State of a spiking layer between steps (and between sequence chunks).
#[derive(Clone, Debug)]
pub struct LayerState<S> {
    /// The neurons' state.
    pub neuron: S,
    /// Synaptic current, when the layer has an exponential synapse.
    pub synaptic: Option<Tensor<2>>,
    /// Layers with synaptic delays: the drive already on its way
    /// (`pending[0]` is due at the next step, `pending[k]` `k` steps after
    /// it), `[B, N]` each.
    pub pending: Option<Vec<Tensor<2>>>,
}

impl<S: NeuronState> LayerState<S> {
    /// Cuts the state from the autodiff graph (truncated BPTT between chunks).
    pub fn detach(self) -> Self {
        Self {
            neuron: self.neuron.detach(),
            synaptic: self.synaptic.map(Tensor::detach),
            pending: self
                .pending
                .map(|p| p.into_iter().map(Tensor::detach).collect()),
        }
    }
}

/// Which implementation ran a sequence call (see
/// [`RecurrentSpiking::try_forward_sequence`]): lets tests and benchmarks
/// check that the fused path ran where they expect it, instead of a silent
/// fallback to the per-step loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequencePath {
    /// The per-step reference loop (one autodiff node per operation and step).
    PerStep,
    /// The fused whole-sequence op with host-memory kernels (CPU backends).
    FusedHost,
    /// The fused whole-sequence op in Burn tensor operations (GPU backends).
    FusedTensorOps,
}

impl SequencePath {
    /// Whether one of the fused implementations ran.
    pub fn is_fused(self) -> bool {
        self != Self::PerStep
    }
}

/// What a sequence call returns.
#[derive(Clone, Debug)]
pub struct SpikeTrace<S> {
    /// Spikes `[T, B, N]`.
    pub spikes: Tensor<3>,
    /// Membrane potentials, when recorded.
    pub membrane: Option<Tensor<3>>,
    /// Thresholds, when recorded.
    pub threshold: Option<Tensor<3>>,
    /// Synaptic currents, when recorded and present.
    pub synaptic: Option<Tensor<3>>,
    /// State after the last step, to continue the sequence.
    pub final_state: LayerState<S>,
    /// Which implementation computed this trace.
    pub path: SequencePath,
}

/// One step from the weighted drive `u_t`: through the synapse (if any), then the neurons.
pub(crate) fn advance<N: NeuronModel>(
    neuron: &N,
    synapse: Option<ExponentialSynapse>,
    drive: Tensor<2>,
    mut state: LayerState<N::State>,
) -> LayerState<N::State> {
    let current = match (synapse, state.synaptic.take()) {
        (Some(syn), Some(i)) => {
            let i = syn.step(i, drive);
            state.synaptic = Some(i.clone());
            i
        }
        _ => drive,
    };
    state.neuron = neuron.step(state.neuron, current);
    state
}

#[allow(clippy::too_many_arguments)]
/// Runs `neuron` over `input` (`[T, B, n_in]`): per step
/// `u_t = x_t W_in (+ z_{t−1} W_rec)`, optionally filtered by `synapse`, is
/// the neurons' input current.
pub(crate) fn run_sequence<N: NeuronModel>(
    neuron: &N,
    synapse: Option<ExponentialSynapse>,
    input_weights: Tensor<2>,
    recurrent_weights: Option<Tensor<2>>,
    input: Tensor<3>,
    state: Option<LayerState<N::State>>,
    record: Record,
    what: &'static str,
    delays: Option<&DelayedProjections>,
) -> crate::Result<SpikeTrace<N::State>> {
    let [steps, batch, features] = input.dims();
    let [n_in, _] = input_weights.dims();
    check_shape(what, &[0, 0, n_in], &[steps, batch, features])?;
    if steps == 0 || batch == 0 {
        return Err(SpikeburnError::Empty {
            what: "the input sequence (T and batch)",
        });
    }
    let device = input.device();
    let mut state = match state {
        Some(s) => {
            check_shape(
                "the initial state's spikes",
                &[batch, neuron.num_neurons()],
                &s.neuron.spikes().dims(),
            )?;
            if let Some(d) = delays
                && s.pending.as_ref().map(Vec::len) != Some(d.max_delay)
            {
                return Err(SpikeburnError::ShapeMismatch {
                    what: "the initial state's pending delayed drive (steps)",
                    expected: vec![d.max_delay],
                    got: vec![s.pending.as_ref().map_or(0, Vec::len)],
                });
            }
            s
        }
        None => LayerState {
            neuron: neuron.init_state(batch, &device),
            synaptic: synapse.map(|_| Tensor::<2>::zeros([batch, neuron.num_neurons()], &device)),
            pending: delays.map(|d| d.empty_pending(batch, &device)),
        },
    };
    let mut spikes = Vec::with_capacity(steps);
    let mut membrane = Vec::with_capacity(if record.membrane { steps } else { 0 });
    let mut threshold = Vec::with_capacity(if record.threshold { steps } else { 0 });
    let mut synaptic = Vec::new();
    for x_t in input.iter_dim(0) {
        let x_t: Tensor<2> = x_t.squeeze_dim(0);
        let drive = match &delays {
            None => {
                let mut drive = x_t.matmul(input_weights.clone());
                if let Some(w_rec) = &recurrent_weights {
                    drive = drive + state.neuron.spikes().matmul(w_rec.clone());
                }
                drive
            }
            Some(d) => d.drive(x_t, &mut state),
        };
        state = advance(neuron, synapse, drive, state);
        if let Some(d) = &delays {
            d.send_spikes(&mut state);
        }
        spikes.push(state.neuron.spikes());
        if record.membrane {
            membrane.push(state.neuron.membrane());
        }
        if record.threshold {
            threshold.push(state.neuron.threshold());
        }
        if record.synaptic
            && let Some(i) = &state.synaptic
        {
            synaptic.push(i.clone());
        }
    }
    let stack = |v: Vec<Tensor<2>>| (!v.is_empty()).then(|| Tensor::stack::<3>(v, 0));
    Ok(SpikeTrace {
        spikes: Tensor::stack(spikes, 0),
        membrane: stack(membrane),
        threshold: stack(threshold),
        synaptic: stack(synaptic),
        final_state: state,
        path: SequencePath::PerStep,
    })
}

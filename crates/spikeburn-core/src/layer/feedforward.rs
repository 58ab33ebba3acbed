//! Feed-forward spiking layer, generic over the neuron model.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;

use super::{LayerState, Record, SpikeTrace, advance, run_sequence};
use crate::error::SpikeburnError;
use crate::neuron::NeuronModel;
use crate::synapse::{ExponentialSynapse, ExponentialSynapseConfig};

/// Configuration of a [`SpikingLinear`] layer: `I_t = x_t W` (optionally
/// through an exponential synapse), `z_t = neuron.step(I_t)`.
///
/// Initial weights: `N(0, 1)·gain/√n_input`.
#[derive(Config, Debug)]
pub struct SpikingLinearConfig {
    /// Input features per step.
    pub n_input: usize,
    /// Neurons in the layer.
    pub n_neurons: usize,
    /// Scale of the initial weights.
    #[config(default = 1.0)]
    pub gain: f64,
    /// Optional current-based synapse.
    #[config(default = "None")]
    pub synapse: Option<ExponentialSynapseConfig>,
}

/// A feed-forward layer of spiking neurons.
#[derive(Module, Debug)]
pub struct SpikingLinear<N: NeuronModel> {
    /// Weights `[n_input, n_neurons]`.
    pub weights: Param<Tensor<2>>,
    /// The neuron population.
    pub neuron: N,
    /// Optional exponential synapse.
    #[module(skip)]
    pub synapse: Option<ExponentialSynapse>,
}

impl SpikingLinearConfig {
    /// Checks the configuration and builds the layer around `neuron`.
    pub fn init<N: NeuronModel>(
        &self,
        neuron: N,
        device: &Device,
    ) -> crate::Result<SpikingLinear<N>> {
        if self.n_input == 0 || self.n_neurons == 0 {
            return Err(SpikeburnError::Empty {
                what: "n_input and n_neurons",
            });
        }
        if neuron.num_neurons() != self.n_neurons {
            return Err(SpikeburnError::ShapeMismatch {
                what: "neuron population of SpikingLinear",
                expected: vec![self.n_neurons],
                got: vec![neuron.num_neurons()],
            });
        }
        let synapse = self.synapse.as_ref().map(|s| s.init()).transpose()?;
        let w = Tensor::<2>::random(
            [self.n_input, self.n_neurons],
            Distribution::Normal(0.0, 1.0),
            device,
        ) * (self.gain / (self.n_input as f64).sqrt());
        Ok(SpikingLinear {
            weights: Param::from_tensor(w),
            neuron,
            synapse,
        })
    }
}

impl<N: NeuronModel> SpikingLinear<N> {
    /// Resting state for `batch` sequences.
    pub fn init_state(&self, batch: usize, device: &Device) -> LayerState<N::State> {
        LayerState {
            neuron: self.neuron.init_state(batch, device),
            synaptic: self
                .synapse
                .map(|_| Tensor::zeros([batch, self.neuron.num_neurons()], device)),
            pending: None,
        }
    }

    /// One step with input `x_t` (`[batch, n_input]`).
    pub fn step(&self, x_t: Tensor<2>, state: LayerState<N::State>) -> LayerState<N::State> {
        advance(
            &self.neuron,
            self.synapse,
            x_t.matmul(self.weights.val()),
            state,
        )
    }

    /// Runs `input` (`[T, batch, n_input]`) from `state` (rest when `None`).
    ///
    /// Feeding the tracked output of another spiking layer here slices a
    /// tracked tensor per step (quadratic backward in `T`); interleave the
    /// layers' `step`s in one loop instead.
    pub fn try_forward_sequence(
        &self,
        input: Tensor<3>,
        state: Option<LayerState<N::State>>,
        record: Record,
    ) -> crate::Result<SpikeTrace<N::State>> {
        run_sequence(
            &self.neuron,
            self.synapse,
            self.weights.val(),
            None,
            input,
            state,
            record,
            "input of SpikingLinear ([T, batch, n_input])",
            None,
        )
    }

    /// Like [`try_forward_sequence`](Self::try_forward_sequence) from rest;
    /// panics with the error message on a shape mismatch.
    pub fn forward_sequence(&self, input: Tensor<3>, record: Record) -> SpikeTrace<N::State> {
        self.try_forward_sequence(input, None, record)
            .unwrap_or_else(|e| panic!("SpikingLinear: {e}"))
    }
}

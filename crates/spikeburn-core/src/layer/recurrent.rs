//! Recurrent spiking layer, generic over the neuron model.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::relu;

use super::fused::run_fused;
use super::{LayerState, Record, SpikeTrace, advance, run_sequence};
use crate::error::{SpikeburnError, check_shape};
use crate::neuron::{NeuronModel, NeuronState};
use crate::synapse::{ExponentialSynapse, ExponentialSynapseConfig};

/// Configuration of a [`RecurrentSpiking`] layer.
///
/// Per step (row vectors, `[batch, ·]`):
///
/// ```text
/// u_t = x_t W_in + z_{t−1} W_rec          W_rec[i][j]: from neuron i to neuron j
/// I_t = u_t, or d I_{t−1} + g u_t with an exponential synapse
/// z_t = neuron.step(I_t)
/// ```
///
/// Initial weights are Gaussian, `N(0, 1)·input_gain/√n_input` and
/// `N(0, 1)·recurrent_gain/√n_neurons` (the LSNN code's initialisation), drawn
/// from the device's random stream (seed it with `device.seed(..)`).
///
/// `W_rec` is used through a fixed mask: the diagonal is zero unless
/// `autapses`, and with `connectivity < 1` only that fraction of the
/// off-diagonal entries exists. With `excitatory_fraction = Some(f)` the layer
/// obeys Dale's law: the first `round(f·n)` neurons are excitatory, the others
/// inhibitory, and the effective weight is `sign_i · relu(θ_ij)`: the
/// parameter holds magnitudes, and a connection whose magnitude is driven
/// below zero goes silent instead of changing sign.
#[derive(Config, Debug)]
pub struct RecurrentSpikingConfig {
    /// Input features per step.
    pub n_input: usize,
    /// Neurons in the layer (must equal the neuron model's size).
    pub n_neurons: usize,
    /// Allow self-connections.
    #[config(default = false)]
    pub autapses: bool,
    /// Fraction of possible recurrent connections that exist (fixed mask).
    #[config(default = 1.0)]
    pub connectivity: f64,
    /// Dale's law: fraction of excitatory neurons (`None`: unconstrained signs).
    #[config(default = "None")]
    pub excitatory_fraction: Option<f64>,
    /// Scale of the initial input weights.
    #[config(default = 1.0)]
    pub input_gain: f64,
    /// Scale of the initial recurrent weights.
    #[config(default = 1.0)]
    pub recurrent_gain: f64,
    /// Optional current-based synapse between the weights and the neurons.
    #[config(default = "None")]
    pub synapse: Option<ExponentialSynapseConfig>,
    /// Use the fused whole-sequence BPTT path where it applies (see
    /// [`RecurrentSpiking::try_forward_sequence`]).
    #[config(default = true)]
    pub fused: bool,
    /// Largest synaptic delay `D` in steps (LSNN's `n_delay`). With `D > 1`
    /// every recurrent synapse gets a delay drawn uniformly from `1..=D` and
    /// every input synapse one from `0..D` (the LSNN code's `1..=D` in its
    /// convention, where inputs are also one step late), so
    /// `I_t = Σ x_{t−e} W_in + Σ z_{t−d} W_rec` over each synapse's own
    /// delay. `D = 1`: no delays. On CPU backends the fused path runs
    /// delays too (host kernels over the non-zero synapses); elsewhere
    /// delayed layers take the per-step path.
    #[config(default = 1)]
    pub max_delay: usize,
}

/// A recurrent layer of spiking neurons (see [`RecurrentSpikingConfig`]).
///
/// The weights are plain [`Param`]s, so gradient optimizers train them and
/// non-gradient rules (RLS, local plasticity) can rewrite them through
/// `Module::map`.
#[derive(Module, Debug)]
pub struct RecurrentSpiking<N: NeuronModel> {
    /// Input weights `W_in`, `[n_input, n_neurons]`.
    pub input_weights: Param<Tensor<2>>,
    /// Recurrent weight parameters `[n_neurons, n_neurons]` (magnitudes under Dale's law).
    pub recurrent_weights: Param<Tensor<2>>,
    /// Fixed 0/1 mask of existing recurrent connections.
    pub recurrent_mask: Tensor<2>,
    /// Presynaptic sign per row, `[n_neurons, 1]` (all +1 without Dale's law).
    pub presynaptic_sign: Tensor<2>,
    /// Whether Dale's law is enforced.
    pub dale: bool,
    /// The neuron population.
    pub neuron: N,
    /// Optional exponential synapse.
    #[module(skip)]
    pub synapse: Option<ExponentialSynapse>,
    /// Whether the fused BPTT path may be used.
    pub fused: bool,
    /// One-hot synaptic delays of the recurrent weights, `[D, N, N]`
    /// (`[d−1, i, j] = 1` when synapse `i → j` has delay `d`); `None`: 1 step.
    pub recurrent_delay: Option<Tensor<3>>,
    /// One-hot delays of the input weights, `[D, n_input, N]` (`[e, i, j]`
    /// for delay `e` in `0..D`); `None`: no delay.
    pub input_delay: Option<Tensor<3>>,
}

/// Per-delay stacked weights of a layer with synaptic delays: one matmul
/// per step sends each input and each spike to the step it arrives at.
#[derive(Clone, Debug)]
pub struct DelayedProjections {
    /// `D`.
    pub max_delay: usize,
    /// `[n_input, D·N]`: block `e` holds the input weights of delay `e`.
    input: Tensor<2>,
    /// `[N, D·N]`: block `d − 1` holds the recurrent weights of delay `d`.
    recurrent: Tensor<2>,
    neurons: usize,
}

impl DelayedProjections {
    /// No drive in flight.
    pub fn empty_pending(&self, batch: usize, device: &Device) -> Vec<Tensor<2>> {
        vec![Tensor::zeros([batch, self.neurons], device); self.max_delay]
    }

    fn scatter(&self, projected: Tensor<2>, pending: &mut [Tensor<2>]) {
        let batch = projected.dims()[0];
        let blocks = projected.reshape([batch, self.max_delay, self.neurons]);
        for (d, slot) in pending.iter_mut().enumerate() {
            let block: Tensor<2> = blocks
                .clone()
                .slice(s![.., d..d + 1, ..])
                .reshape([batch, self.neurons]);
            *slot = slot.clone() + block;
        }
    }

    /// Step `t`'s drive: the input `x_t` is sent out by delay, then the
    /// drive due now is taken from the queue.
    pub(crate) fn drive<S>(&self, x_t: Tensor<2>, state: &mut LayerState<S>) -> Tensor<2> {
        let pending = state
            .pending
            .as_mut()
            .expect("a delayed layer's state carries its pending drive");
        self.scatter(x_t.matmul(self.input.clone()), pending);
        let now = pending.remove(0);
        pending.push(now.zeros_like());
        now
    }

    /// Sends the step's spikes to the steps they arrive at (delay `d` lands
    /// `d` steps later: slot `d − 1` of the queue).
    pub(crate) fn send_spikes<S: NeuronState>(&self, state: &mut LayerState<S>) {
        let z = state.neuron.spikes();
        let pending = state
            .pending
            .as_mut()
            .expect("a delayed layer's state carries its pending drive");
        self.scatter(z.matmul(self.recurrent.clone()), pending);
    }
}

/// `[D, rows, cols]` one-hot masks from per-synapse delays in `offset..offset + D`.
fn one_hot_delays(
    delays: &[usize],
    shape: [usize; 2],
    max_delay: usize,
    offset: usize,
    device: &Device,
) -> Tensor<3> {
    let mut data = vec![0f32; max_delay * shape[0] * shape[1]];
    let plane = shape[0] * shape[1];
    for (k, d) in delays.iter().enumerate() {
        data[(d - offset) * plane + k] = 1.0;
    }
    Tensor::<1>::from_floats(data.as_slice(), device).reshape([max_delay, shape[0], shape[1]])
}

/// Stacks `w ⊙ mask_d` for every delay into `[rows, D·cols]`.
fn stack_by_delay(w: Tensor<2>, masks: &Tensor<3>) -> Tensor<2> {
    let [d, rows, cols] = masks.dims();
    (w.unsqueeze_dim::<3>(0) * masks.clone())
        .swap_dims(0, 1)
        .reshape([rows, d * cols])
}

impl RecurrentSpikingConfig {
    /// Checks the configuration and builds the layer around `neuron`.
    pub fn init<N: NeuronModel>(
        &self,
        neuron: N,
        device: &Device,
    ) -> crate::Result<RecurrentSpiking<N>> {
        let n = self.n_neurons;
        if n == 0 || self.n_input == 0 {
            return Err(SpikeburnError::Empty {
                what: "n_input and n_neurons",
            });
        }
        if neuron.num_neurons() != n {
            return Err(SpikeburnError::ShapeMismatch {
                what: "neuron population of RecurrentSpiking",
                expected: vec![n],
                got: vec![neuron.num_neurons()],
            });
        }
        if !(self.connectivity > 0.0 && self.connectivity <= 1.0) {
            return Err(SpikeburnError::InvalidValue {
                name: "connectivity",
                value: self.connectivity,
                expected: "a fraction in (0, 1]",
            });
        }
        let synapse = self.synapse.as_ref().map(|s| s.init()).transpose()?;
        let input_weights =
            Tensor::<2>::random([self.n_input, n], Distribution::Normal(0.0, 1.0), device)
                * (self.input_gain / (self.n_input as f64).sqrt());
        let mut recurrent = Tensor::<2>::random([n, n], Distribution::Normal(0.0, 1.0), device)
            * (self.recurrent_gain / (n as f64).sqrt());
        let mut mask = Tensor::<2>::ones([n, n], device);
        if self.connectivity < 1.0 {
            mask = Tensor::<2>::random([n, n], Distribution::Default, device)
                .lower_elem(self.connectivity)
                .float();
        }
        if !self.autapses {
            mask = mask * (Tensor::<2>::eye(n, device).neg() + 1.0);
        }
        let mut sign = Tensor::<2>::ones([n, 1], device);
        if let Some(f) = self.excitatory_fraction {
            if !(0.0..=1.0).contains(&f) {
                return Err(SpikeburnError::InvalidValue {
                    name: "excitatory_fraction",
                    value: f,
                    expected: "a fraction in [0, 1]",
                });
            }
            let n_exc = (f * n as f64).round() as usize;
            let signs: Vec<f32> = (0..n).map(|i| if i < n_exc { 1.0 } else { -1.0 }).collect();
            sign = Tensor::<1>::from_floats(signs.as_slice(), device).reshape([n, 1]);
            recurrent = recurrent.abs();
        }
        if self.max_delay == 0 {
            return Err(SpikeburnError::InvalidValue {
                name: "max_delay",
                value: 0.0,
                expected: "a delay of at least 1 step",
            });
        }
        let (recurrent_delay, input_delay) = if self.max_delay > 1 {
            let d = self.max_delay;
            let draw = |rows: usize, cols: usize, offset: usize| -> Vec<usize> {
                let u = Tensor::<2>::random([rows, cols], Distribution::Default, device)
                    .into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .unwrap_or_default();
                u.iter()
                    .map(|v| offset + ((*v as f64 * d as f64) as usize).min(d - 1))
                    .collect()
            };
            let rec = draw(n, n, 1);
            let inp = draw(self.n_input, n, 0);
            (
                Some(one_hot_delays(&rec, [n, n], d, 1, device)),
                Some(one_hot_delays(&inp, [self.n_input, n], d, 0, device)),
            )
        } else {
            (None, None)
        };
        Ok(RecurrentSpiking {
            recurrent_delay,
            input_delay,
            input_weights: Param::from_tensor(input_weights),
            recurrent_weights: Param::from_tensor(recurrent),
            recurrent_mask: mask,
            presynaptic_sign: sign,
            dale: self.excitatory_fraction.is_some(),
            neuron,
            synapse,
            fused: self.fused,
        })
    }
}

impl<N: NeuronModel> RecurrentSpiking<N> {
    /// Number of neurons.
    pub fn num_neurons(&self) -> usize {
        self.neuron.num_neurons()
    }

    /// The recurrent weights as used in the dynamics: masked, and
    /// `sign ⊙ relu(θ)` under Dale's law.
    pub fn effective_recurrent_weights(&self) -> Tensor<2> {
        let w = self.recurrent_weights.val();
        let w = if self.dale {
            relu(w) * self.presynaptic_sign.clone()
        } else {
            w
        };
        w * self.recurrent_mask.clone()
    }

    /// Replaces the recurrent weights with `w`; checks its shape.
    pub fn with_recurrent_weights(mut self, w: Tensor<2>) -> crate::Result<Self> {
        check_shape(
            "recurrent weights",
            &self.recurrent_weights.val().dims(),
            &w.dims(),
        )?;
        self.recurrent_weights = Param::from_tensor(w);
        Ok(self)
    }

    /// Resting state for `batch` sequences.
    pub fn init_state(&self, batch: usize, device: &Device) -> LayerState<N::State> {
        LayerState {
            neuron: self.neuron.init_state(batch, device),
            synaptic: self
                .synapse
                .map(|_| Tensor::zeros([batch, self.num_neurons()], device)),
            pending: self
                .delayed_projections()
                .map(|d| d.empty_pending(batch, device)),
        }
    }

    /// One step: `x_t` is `[batch, n_input]`. For custom loops that interleave
    /// several layers; `forward_sequence` is the faster whole-sequence call.
    pub fn step(&self, x_t: Tensor<2>, mut state: LayerState<N::State>) -> LayerState<N::State> {
        if let Some(d) = self.delayed_projections() {
            let drive = d.drive(x_t, &mut state);
            let mut state = advance(&self.neuron, self.synapse, drive, state);
            d.send_spikes(&mut state);
            return state;
        }
        let drive = x_t.matmul(self.input_weights.val())
            + state
                .neuron
                .spikes()
                .matmul(self.effective_recurrent_weights());
        advance(&self.neuron, self.synapse, drive, state)
    }

    /// The per-delay stacked weights, when the layer has delays.
    pub fn delayed_projections(&self) -> Option<DelayedProjections> {
        let (rec, inp) = (self.recurrent_delay.as_ref()?, self.input_delay.as_ref()?);
        Some(DelayedProjections {
            max_delay: rec.dims()[0],
            input: stack_by_delay(self.input_weights.val(), inp),
            recurrent: stack_by_delay(self.effective_recurrent_weights(), rec),
            neurons: self.num_neurons(),
        })
    }

    /// Sets every synapse's delay: `recurrent[i*N + j]` in `1..=D` for
    /// `i → j`, `input[i*N + j]` in `0..D` for input `i → j`.
    pub fn with_delays(
        mut self,
        max_delay: usize,
        recurrent: &[usize],
        input: &[usize],
    ) -> crate::Result<Self> {
        let [n_in, n] = self.input_weights.val().dims();
        check_shape("recurrent delays", &[n * n], &[recurrent.len()])?;
        check_shape("input delays", &[n_in * n], &[input.len()])?;
        let bad = |v: usize, lo: usize, hi: usize| v < lo || v > hi;
        if max_delay == 0
            || recurrent.iter().any(|d| bad(*d, 1, max_delay))
            || input.iter().any(|e| bad(*e, 0, max_delay - 1))
        {
            return Err(SpikeburnError::InvalidValue {
                name: "synaptic delay",
                value: max_delay as f64,
                expected: "recurrent delays in 1..=max_delay and input delays in 0..max_delay",
            });
        }
        let device = self.input_weights.val().device();
        self.recurrent_delay = Some(one_hot_delays(recurrent, [n, n], max_delay, 1, &device));
        self.input_delay = Some(one_hot_delays(input, [n_in, n], max_delay, 0, &device));
        Ok(self)
    }

    /// Runs `input` (`[T, batch, n_input]`) from `state` (rest when `None`).
    ///
    /// When training (weights or input tracked by autodiff) from rest, with
    /// a neuron model that has a fused form ([`NeuronModel::as_fused`]: LIF
    /// and ALIF with reset by subtraction), no synapse and `fused` enabled,
    /// this runs the fused path: the same dynamics and gradients as the
    /// per-step path, with one autodiff node for the whole sequence. On CPU
    /// backends (flex, ndarray) its host kernels cover every such
    /// configuration: refractory periods, synaptic delays and the reset with
    /// or without its gradient (`detach_reset`). On GPU backends the fused
    /// op runs in tensor operations for a detached reset without refractory
    /// period or delays; a layer with an undetached reset, a refractory
    /// period or delays takes the per-step path there.
    /// [`SpikeTrace::path`] says which path ran.
    ///
    /// The fused path is taken only when just the spikes are recorded; its
    /// final state carries no gradient (truncated BPTT at chunk
    /// boundaries), and its refractory counters restart at zero.
    pub fn try_forward_sequence(
        &self,
        input: Tensor<3>,
        state: Option<LayerState<N::State>>,
        record: Record,
    ) -> crate::Result<SpikeTrace<N::State>> {
        let w_in = self.input_weights.val();
        let training = w_in.is_tracked() || input.is_tracked();
        // Recorded membranes/thresholds would carry no gradient on the fused
        // path, so a call that asks for them takes the per-step path.
        let spikes_only = !record.membrane && !record.threshold;
        if self.fused
            && training
            && spikes_only
            && state.is_none()
            && self.synapse.is_none()
            && let Some(fused) = self.neuron.as_fused()
            && let Some(dynamics) = fused.fused_dynamics()
        {
            let [steps, batch, features] = input.dims();
            check_shape(
                "input of RecurrentSpiking ([T, batch, n_input])",
                &[0, 0, w_in.dims()[0]],
                &[steps, batch, features],
            )?;
            if steps == 0 || batch == 0 {
                return Err(SpikeburnError::Empty {
                    what: "the input sequence (T and batch)",
                });
            }
            let lifted = if input.is_autodiff() {
                input.clone()
            } else {
                Tensor::from_inner(input.clone())
            };
            if let Some(out) = run_fused(
                &dynamics,
                lifted,
                w_in.clone(),
                self.effective_recurrent_weights(),
                self.recurrent_delay.as_ref().zip(self.input_delay.as_ref()),
            ) {
                let last_spikes: Tensor<2> = out
                    .spikes
                    .clone()
                    .detach()
                    .slice(s![steps - 1..steps, .., ..])
                    .squeeze_dim(0);
                let neuron =
                    fused.state_from_fused(out.last_membrane, last_spikes, out.last_adaptation);
                return Ok(SpikeTrace {
                    spikes: out.spikes,
                    membrane: None,
                    threshold: None,
                    synaptic: None,
                    final_state: LayerState {
                        neuron,
                        synaptic: None,
                        pending: out.pending,
                    },
                    path: out.path,
                });
            }
        }
        run_sequence(
            &self.neuron,
            self.synapse,
            w_in,
            Some(self.effective_recurrent_weights()),
            input,
            state,
            record,
            "input of RecurrentSpiking ([T, batch, n_input])",
            self.delayed_projections().as_ref(),
        )
    }

    /// Like [`try_forward_sequence`](Self::try_forward_sequence) from rest;
    /// panics with the error message on a shape mismatch.
    pub fn forward_sequence(&self, input: Tensor<3>, record: Record) -> SpikeTrace<N::State> {
        self.try_forward_sequence(input, None, record)
            .unwrap_or_else(|e| panic!("RecurrentSpiking: {e}"))
    }
}

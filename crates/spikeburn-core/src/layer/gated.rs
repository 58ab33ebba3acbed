//! A recurrent network of theta neurons with gated synapses: a smooth
//! spiking network trained by exact gradients (Huh & Sejnowski 2018).
//!
//! Each neuron is a quadratic integrate-and-fire neuron in its phase form,
//! and its synaptic current is driven by the phase velocity through a gate
//! `g` of unit area around the spike phase `π`:
//!
//! ```text
//! τ θ̇   = 1 − cos θ + (1 + cos θ) I,     I = W_inᵀ x + W_recᵀ s + b
//! τ_s ṡ = −s + g(θ) θ̇                   (the synapse)
//! o     = W_outᵀ s                        (linear readout of the currents)
//! ```
//!
//! The gate acts on the **phase** θ (not on `v = tan(θ/2)`, which is
//! infinite at the spike): `g(θ) = G(φ)`, `φ = θ − π` wrapped to
//! `[−π, π)`, with `G` zero outside the active zone `|φ| < Δ/2` and
//! `∫ G dφ = 1`: [`Gate::Box`] `G = 1/Δ` (piecewise smooth) or
//! [`Gate::Smooth`] `G = (8 / 3Δ) cos⁴(π φ / Δ)` (three times continuously
//! differentiable). Every crossing of the zone, however fast, delivers
//! `∫ s dt = ∫ g dθ = 1`; a phase that stops inside the zone delivers part
//! of it. As `Δ → 0` the synapse becomes the delta synapse
//! `τ_s ṡ = −s + Σ_k δ(t − t_k)` of an ordinary spiking network.
//!
//! ## Discretisation and why its gradient is exact
//!
//! One step of `dt` (forward Euler, the gate at the midpoint):
//!
//! ```text
//! Δθ = (dt/τ)(1 − cos θ + (1 + cos θ) I)
//! s ← s + (dt/τ_s)(−s) + g(θ + Δθ/2) Δθ / τ_s
//! θ ← θ + Δθ            (θ is not wrapped: cos and g are periodic)
//! ```
//!
//! Every operation is a smooth function of the parameters and the state,
//! except the wrap of `φ` (piecewise constant, and it jumps only at
//! `φ = ±π`, where `g` is zero) and, for the box gate, the zone's edges.
//! So with the smooth gate the loss of the **discretised** network is a
//! smooth function of every weight and of the initial state, and plain
//! autodiff through the steps computes its gradient exactly (to rounding) —
//! there is no surrogate anywhere on this path. What changes as `dt`
//! shrinks is only the discretisation: the discrete system converges to
//! the ODE at first order, and so does its gradient to the adjoint
//! (Pontryagin) gradient of the continuous network. The step must resolve
//! the gate: near the spike `θ̇ ≈ 2/τ` whatever the input (`1 + cos θ`
//! vanishes at `π`), so [`GatedThetaConfig::init`] requires
//! `2 dt / τ ≤ Δ / 4`, and [`GatedTheta::try_forward_sequence`] refuses a
//! run in which a phase advanced more than `Δ/2` in one step inside the
//! zone ([`SpikeburnError::GateUnresolved`]).

use burn::module::Param;
use burn::prelude::*;

use super::{LayerState, Record, SequencePath, SpikeTrace};
use crate::error::{SpikeburnError, check_shape, check_time_constant};
use crate::neuron::NeuronState;

/// The gate's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gate {
    /// `1/Δ` inside the zone (piecewise smooth: its gradient exists almost
    /// everywhere, but finite differences across an edge do not converge).
    Box,
    /// `(8/3Δ) cos⁴(πφ/Δ)` inside the zone (C³).
    Smooth,
}

/// Configuration of a [`GatedTheta`] network.
#[derive(Config, Debug)]
pub struct GatedThetaConfig {
    /// Inputs.
    pub n_input: usize,
    /// Neurons.
    pub n_neurons: usize,
    /// Readout dimensions.
    pub n_output: usize,
    /// Membrane time constant τ (ms).
    #[config(default = 10.0)]
    pub tau_mem: f64,
    /// Synaptic time constant τ_s (ms).
    #[config(default = 10.0)]
    pub tau_syn: f64,
    /// Step dt (ms).
    #[config(default = 0.1)]
    pub dt: f64,
    /// Width Δ of the active zone in radians, in (0, π].
    #[config(default = 0.5)]
    pub zone_width: f64,
    /// The gate's shape.
    #[config(default = "Gate::Smooth")]
    pub gate: Gate,
    /// Scale of the initial input weights (`N(0, 1) · gain / √n_input`).
    #[config(default = 1.0)]
    pub input_gain: f64,
    /// Scale of the initial recurrent weights (`N(0, 1) · gain / √n`).
    #[config(default = 1.0)]
    pub recurrent_gain: f64,
    /// Initial bias current (a theta neuron fires tonically for `I > 0`).
    #[config(default = 0.0)]
    pub bias: f64,
}

/// The network's phase state.
#[derive(Clone, Debug)]
pub struct GatedPhase {
    /// Phases θ `[batch, neurons]` (unwrapped).
    pub phase: Tensor<2>,
}

impl NeuronState for GatedPhase {
    fn spikes(&self) -> Tensor<2> {
        // No spike output: the synapse reads the phase. Zero of the right shape.
        self.phase.zeros_like()
    }
    fn membrane(&self) -> Tensor<2> {
        self.phase.clone()
    }
    fn threshold(&self) -> Tensor<2> {
        self.phase.ones_like() * std::f64::consts::PI
    }
    fn detach(self) -> Self {
        Self {
            phase: self.phase.detach(),
        }
    }
}

/// Theta neurons with gated synapses, recurrent and input weights, a
/// linear readout of the synaptic currents. Weights are `[pre, post]`.
#[derive(Module, Debug)]
pub struct GatedTheta {
    /// `W_in` `[n_input, n]`.
    pub input_weights: Param<Tensor<2>>,
    /// `W_rec` `[n, n]`.
    pub recurrent_weights: Param<Tensor<2>>,
    /// `b` `[n]`.
    pub bias: Param<Tensor<1>>,
    /// `W_out` `[n, n_output]`.
    pub output_weights: Param<Tensor<2>>,
    /// `dt/τ`.
    pub step: f64,
    /// `dt` (ms).
    pub dt: f64,
    /// `τ_s` (ms).
    pub tau_syn: f64,
    /// Δ.
    pub zone_width: f64,
    /// The gate.
    #[module(skip)]
    pub gate: Gate,
}

/// What a sequence call returns: the readout and the layer's trace.
#[derive(Clone, Debug)]
pub struct GatedOutput {
    /// Readout `o` `[T, batch, n_output]`.
    pub output: Tensor<3>,
    /// `spikes`: 1 where a phase crossed `π` in that step (a count, no
    /// gradient); `membrane`: the phases; `synaptic`: the currents `s`.
    pub trace: SpikeTrace<GatedPhase>,
}

impl GatedThetaConfig {
    /// Checks the constants: time constants above `dt`, `0 < Δ ≤ π`, and a
    /// step that resolves the gate (`2 dt/τ ≤ Δ/4`).
    pub fn validate(&self) -> crate::Result<()> {
        crate::error::check_dt(self.dt)?;
        check_time_constant("tau_mem", self.tau_mem, self.dt)?;
        check_time_constant("tau_syn", self.tau_syn, self.dt)?;
        if !(self.zone_width.is_finite()
            && self.zone_width > 0.0
            && self.zone_width <= std::f64::consts::PI)
        {
            return Err(SpikeburnError::InvalidValue {
                name: "zone_width",
                value: self.zone_width,
                expected: "a width in (0, π] radians: positive and at most half the spike cycle",
            });
        }
        let advance = 2.0 * self.dt / self.tau_mem;
        if advance > self.zone_width / 4.0 {
            return Err(SpikeburnError::InvalidValue {
                name: "dt",
                value: self.dt,
                expected: "a step in which the phase crosses at most a quarter of the gate's zone at the spike (2 dt / tau_mem <= zone_width / 4)",
            });
        }
        for (name, n) in [
            ("n_input", self.n_input),
            ("n_neurons", self.n_neurons),
            ("n_output", self.n_output),
        ] {
            if n == 0 {
                return Err(SpikeburnError::InvalidValue {
                    name,
                    value: 0.0,
                    expected: "at least 1",
                });
            }
        }
        Ok(())
    }

    /// Builds the network with Gaussian weights (`seed`-free: Burn's device
    /// generator, seed it with `device.seed`), zero readout.
    pub fn init(&self, device: &Device) -> crate::Result<GatedTheta> {
        self.validate()?;
        let n = self.n_neurons;
        let normal = |rows: usize, cols: usize, scale: f64| {
            Tensor::<2>::random(
                [rows, cols],
                burn::tensor::Distribution::Normal(0.0, scale),
                device,
            )
        };
        let w_in = normal(
            self.n_input,
            n,
            self.input_gain / (self.n_input as f64).sqrt(),
        );
        let w_rec = normal(n, n, self.recurrent_gain / (n as f64).sqrt());
        Ok(GatedTheta {
            input_weights: Param::from_tensor(w_in),
            recurrent_weights: Param::from_tensor(w_rec),
            bias: Param::from_tensor(Tensor::<1>::full([n], self.bias, device)),
            output_weights: Param::from_tensor(Tensor::<2>::zeros([n, self.n_output], device)),
            step: self.dt / self.tau_mem,
            dt: self.dt,
            tau_syn: self.tau_syn,
            zone_width: self.zone_width,
            gate: self.gate,
        })
    }
}

/// The weights of one run, as plain tensors (any dtype, e.g. f64 for a
/// gradient check).
#[derive(Clone, Debug)]
pub struct GatedWeights {
    /// `W_in` `[n_input, n]`.
    pub input: Tensor<2>,
    /// `W_rec` `[n, n]`.
    pub recurrent: Tensor<2>,
    /// `b` `[n]`.
    pub bias: Tensor<1>,
    /// `W_out` `[n, n_output]`.
    pub output: Tensor<2>,
}

/// The constants of one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GatedConstants {
    /// `dt/τ`.
    pub step: f64,
    /// `dt` (ms).
    pub dt: f64,
    /// `τ_s` (ms).
    pub tau_syn: f64,
    /// `Δ`.
    pub zone_width: f64,
    /// The gate.
    pub gate: Gate,
}

/// The gate `g(θ)` elementwise.
pub fn gate(theta: Tensor<2>, kind: Gate, width: f64) -> Tensor<2> {
    let pi = std::f64::consts::PI;
    let shifted = theta - pi;
    // φ = θ − π wrapped to [−π, π): the rounding is piecewise constant.
    let turns = (shifted.clone() / (2.0 * pi)).round().detach();
    let phi = shifted - turns * (2.0 * pi);
    // Masks keep the tensor's dtype (f32 or f64) and pass the gradient of
    // the unmasked entries.
    let outside = phi.clone().abs().greater_equal_elem(width / 2.0);
    match kind {
        Gate::Box => phi
            .zeros_like()
            .add_scalar(1.0 / width)
            .mask_fill(outside, 0.0),
        Gate::Smooth => {
            let c = (phi * (pi / width)).cos();
            let c2 = c.clone() * c;
            (c2.clone() * c2 * (8.0 / (3.0 * width))).mask_fill(outside, 0.0)
        }
    }
}

/// What [`gated_sequence`] computes.
#[derive(Clone, Debug)]
pub struct GatedRun {
    /// Readout `[T, batch, n_output]`.
    pub output: Tensor<3>,
    /// Phases `[T, batch, n]`, when recorded.
    pub phases: Option<Tensor<3>>,
    /// Synaptic currents `[T, batch, n]`, when recorded.
    pub currents: Option<Tensor<3>>,
    /// Crossings of `π` per step `[T, batch, n]` (no gradient).
    pub crossings: Tensor<3>,
    /// Final phases and currents `[batch, n]`.
    pub final_state: (Tensor<2>, Tensor<2>),
    /// Largest in-zone phase advance per step `[T]`.
    pub advances: Tensor<1>,
    /// Where it was (flat `row · n + neuron`) per step `[T]`.
    pub fastest: Tensor<1, Int>,
}

/// Runs the network of `weights` over `input` (`[T, batch, n_input]`) from
/// `(phase, synaptic)` (`[batch, n]` each): the pure sequence function the
/// module calls, differentiable with respect to every argument.
pub fn gated_sequence(
    weights: &GatedWeights,
    input: Tensor<3>,
    phase: Tensor<2>,
    synaptic: Tensor<2>,
    constants: GatedConstants,
    record: Record,
) -> GatedRun {
    let GatedConstants {
        step,
        dt,
        tau_syn,
        zone_width: width,
        gate: kind,
    } = constants;
    let syn_step = dt / tau_syn;
    let [steps, _, _] = input.dims();
    let [batch, n] = phase.dims();
    let pi = std::f64::consts::PI;
    let bias = weights.bias.clone().unsqueeze_dim(0);
    let (mut theta, mut s) = (phase, synaptic);
    let mut outputs = Vec::with_capacity(steps);
    let mut phases = Vec::new();
    let mut currents = Vec::new();
    let mut crossings = Vec::with_capacity(steps);
    let mut advances = Vec::with_capacity(steps);
    let mut fastest = Vec::with_capacity(steps);
    for t in 0..steps {
        let x = input
            .clone()
            .slice(s![t..t + 1, .., ..])
            .squeeze_dim::<2>(0);
        let current = x.matmul(weights.input.clone())
            + s.clone().matmul(weights.recurrent.clone())
            + bias.clone();
        let cos = theta.clone().cos();
        let delta = ((cos.clone().neg() + 1.0) + (cos + 1.0) * current) * step;
        let mid = theta.clone() + delta.clone() * 0.5;
        let g = gate(mid, kind, width);
        let off = g.clone().detach().lower_equal_elem(0.0);
        let in_zone = delta
            .clone()
            .detach()
            .abs()
            .mask_fill(off, 0.0)
            .reshape([batch * n]);
        advances.push(in_zone.clone().max().reshape([1]));
        fastest.push(in_zone.argmax(0));
        s = s.clone() - s * syn_step + g * delta.clone() * (1.0 / tau_syn);
        let next = theta.clone() + delta;
        let before = ((theta.detach() - pi) / (2.0 * pi)).floor();
        let after = ((next.clone().detach() - pi) / (2.0 * pi)).floor();
        crossings.push((after - before).clamp_min(0.0).unsqueeze_dim(0));
        theta = next;
        outputs.push(s.clone().matmul(weights.output.clone()).unsqueeze_dim(0));
        if record.membrane {
            phases.push(theta.clone().unsqueeze_dim(0));
        }
        if record.synaptic {
            currents.push(s.clone().unsqueeze_dim(0));
        }
    }
    GatedRun {
        output: Tensor::cat(outputs, 0),
        phases: record.membrane.then(|| Tensor::cat(phases, 0)),
        currents: record.synaptic.then(|| Tensor::cat(currents, 0)),
        crossings: Tensor::cat(crossings, 0),
        final_state: (theta, s),
        advances: Tensor::cat(advances, 0),
        fastest: Tensor::cat(fastest, 0),
    }
}

impl GatedTheta {
    /// Neurons.
    pub fn num_neurons(&self) -> usize {
        self.recurrent_weights.dims()[0]
    }

    /// The constants of a run.
    pub fn constants(&self) -> GatedConstants {
        GatedConstants {
            step: self.step,
            dt: self.dt,
            tau_syn: self.tau_syn,
            zone_width: self.zone_width,
            gate: self.gate,
        }
    }

    /// The weights as tensors.
    pub fn weights(&self) -> GatedWeights {
        GatedWeights {
            input: self.input_weights.val(),
            recurrent: self.recurrent_weights.val(),
            bias: self.bias.val(),
            output: self.output_weights.val(),
        }
    }

    /// The state at rest: every phase at `θ₀ = −π/2` (mid-cycle, away from
    /// the gate), no current.
    pub fn init_state(&self, batch: usize, device: &Device) -> LayerState<GatedPhase> {
        let n = self.num_neurons();
        LayerState {
            neuron: GatedPhase {
                phase: Tensor::full([batch, n], -std::f64::consts::FRAC_PI_2, device),
            },
            synaptic: Some(Tensor::zeros([batch, n], device)),
            pending: None,
        }
    }

    /// Runs `input` (`[T, batch, n_input]`) from `state` (or rest), keeping
    /// the traces `record` asks for (`membrane`: the phases; `synaptic`:
    /// the currents). Refuses a run in which a phase advanced more than
    /// half the zone in one step inside it.
    pub fn try_forward_sequence(
        &self,
        input: Tensor<3>,
        state: Option<LayerState<GatedPhase>>,
        record: Record,
    ) -> crate::Result<GatedOutput> {
        let [steps, batch, features] = input.dims();
        check_shape(
            "input of GatedTheta ([T, batch, n_input])",
            &[0, 0, self.input_weights.dims()[0]],
            &[steps, batch, features],
        )?;
        if steps == 0 || batch == 0 {
            return Err(SpikeburnError::Empty {
                what: "the input sequence (T and batch)",
            });
        }
        let state = state.unwrap_or_else(|| self.init_state(batch, &input.device()));
        let synaptic = state
            .synaptic
            .unwrap_or_else(|| state.neuron.phase.zeros_like());
        let run = gated_sequence(
            &self.weights(),
            input,
            state.neuron.phase,
            synaptic,
            self.constants(),
            record,
        );
        check_resolution(
            &run.advances,
            &run.fastest,
            self.num_neurons(),
            self.zone_width,
        )?;
        let (theta, s) = run.final_state;
        Ok(GatedOutput {
            output: run.output,
            trace: SpikeTrace {
                spikes: run.crossings,
                membrane: run.phases,
                threshold: None,
                synaptic: run.currents,
                final_state: LayerState {
                    neuron: GatedPhase { phase: theta },
                    synaptic: Some(s),
                    pending: None,
                },
                path: SequencePath::PerStep,
            },
        })
    }
}

/// The run-time half of the resolution check: one read of the per-step
/// maximum in-zone advance; on a violation, one more of where it was.
fn check_resolution(
    advances: &Tensor<1>,
    fastest: &Tensor<1, Int>,
    neurons: usize,
    width: f64,
) -> crate::Result<()> {
    let values: Vec<f64> = advances
        .clone()
        .into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .map_err(|_| SpikeburnError::NonFinite {
            what: "the gate's phase advances (unreadable)",
        })?;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(SpikeburnError::NonFinite {
            what: "the phase of a gated theta neuron",
        });
    }
    if let Some((step, &advance)) = values.iter().enumerate().find(|(_, a)| **a > width / 2.0) {
        let flat: Vec<i64> = fastest
            .clone()
            .slice(s![step..step + 1])
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .unwrap_or_default();
        let hit = flat.first().copied().unwrap_or(0).max(0) as usize;
        return Err(SpikeburnError::GateUnresolved {
            step,
            row: hit / neurons,
            neuron: hit % neurons,
            advance,
            zone_width: width,
        });
    }
    Ok(())
}

/// Random directions per parameter tensor in [`check_gradient`].
const DIRECTIONS: usize = 3;

/// The result of [`check_gradient`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GradientCheck {
    /// Normwise relative error `‖a − n‖ / ‖n‖` over the directional
    /// derivatives along 3 random directions (autodiff `a`, central
    /// differences `n`), for the input, recurrent and readout weights, the
    /// bias and the initial phases, in that order.
    pub rel_errors: Vec<f64>,
    /// Their maximum.
    pub max_rel_error: f64,
    /// Phase crossings of `π` in the run (spikes through the gates).
    pub crossings: f64,
    /// The loss.
    pub loss: f64,
}

/// Checks the autodiff gradient of a gated network against central finite
/// differences, in f64 on `device` (flex supports f64; the check casts
/// every tensor): `cfg` with the smooth gate, Gaussian weights of `cfg`'s
/// scales (readout `N(0, 1)`), inputs, targets and initial phases, all from
/// one host stream seeded by `seed`; loss the mean squared error of the
/// readout over `steps` steps of `batch` sequences; three random
/// directions per parameter tensor, step `eps`.
///
/// Tolerance: with `eps = 1e-5` the differences agree to 3·10⁻⁸–1.3·10⁻⁶
/// over a 2 000-step run (6 neurons, 31 crossings; the bias direction,
/// which moves every neuron at once, is the worst); the error grows as `1/eps`
/// below that (1.5·10⁻⁶ at 10⁻⁶, 8·10⁻⁶ at 10⁻⁷): rounding of the long
/// loss dominates, and the truncation error (∝ eps²) is smaller still. A
/// wrong term (a missing gate derivative) changes a gradient at O(1).
pub fn check_gradient(
    cfg: &GatedThetaConfig,
    batch: usize,
    steps: usize,
    eps: f64,
    seed: u64,
    device: &Device,
) -> crate::Result<GradientCheck> {
    use burn::tensor::{FloatDType, TensorData};
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal, Uniform};
    cfg.validate()?;
    let device = device.clone().autodiff();
    let (n_in, n, n_out) = (cfg.n_input, cfg.n_neurons, cfg.n_output);
    // Every number from one host stream: the check is the same whatever
    // else uses the device's generator.
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut gauss = |len: usize, scale: f64| -> Vec<f32> {
        (0..len)
            .map(|_| {
                let z: f64 = StandardNormal.sample(&mut rng);
                (scale * z) as f32
            })
            .collect()
    };
    let t2 = |v: Vec<f32>, dims: [usize; 2]| {
        Tensor::<2>::from_data(TensorData::new(v, dims), &device).cast(FloatDType::F64)
    };
    let t3 = |v: Vec<f32>, dims: [usize; 3]| {
        Tensor::<3>::from_data(TensorData::new(v, dims), &device).cast(FloatDType::F64)
    };
    let w = GatedWeights {
        input: t2(
            gauss(n_in * n, cfg.input_gain / (n_in as f64).sqrt()),
            [n_in, n],
        ),
        recurrent: t2(gauss(n * n, cfg.recurrent_gain / (n as f64).sqrt()), [n, n]),
        bias: Tensor::<1>::full([n], cfg.bias, &device).cast(FloatDType::F64),
        output: t2(gauss(n * n_out, 1.0), [n, n_out]),
    };
    let x = t3(gauss(steps * batch * n_in, 1.0), [steps, batch, n_in]);
    let target = t3(gauss(steps * batch * n_out, 1.0), [steps, batch, n_out]);
    let directions: Vec<Vec<Vec<f32>>> = [n_in * n, n * n, n * n_out, n, batch * n]
        .iter()
        .map(|&len| (0..DIRECTIONS).map(|_| gauss(len, 1.0)).collect())
        .collect();
    let uniform = Uniform::new(-3.0f32, 3.0).expect("a valid range");
    let phase0 = t2(
        (0..batch * n).map(|_| uniform.sample(&mut rng)).collect(),
        [batch, n],
    );
    let constants = GatedConstants {
        step: cfg.dt / cfg.tau_mem,
        dt: cfg.dt,
        tau_syn: cfg.tau_syn,
        zone_width: cfg.zone_width,
        gate: Gate::Smooth,
    };
    let loss = |w: &GatedWeights, phase: Tensor<2>| {
        let run = gated_sequence(
            w,
            x.clone(),
            phase.clone(),
            phase.zeros_like(),
            constants,
            Record::spikes(),
        );
        (
            (run.output - target.clone()).powf_scalar(2.0).mean(),
            run.crossings,
        )
    };
    let tracked = GatedWeights {
        input: w.input.clone().require_grad(),
        recurrent: w.recurrent.clone().require_grad(),
        bias: w.bias.clone().require_grad(),
        output: w.output.clone().require_grad(),
    };
    let p0 = phase0.clone().require_grad();
    let (l, c) = loss(&tracked, p0.clone());
    let crossings: f64 = c.sum().into_scalar::<f64>();
    let loss_value: f64 = l.clone().into_scalar::<f64>();
    let grads = l.backward();
    let directional = |g: &Option<Tensor<2>>, d: &Tensor<2>| -> f64 {
        g.as_ref()
            .map_or(0.0, |g| (g.clone() * d.clone()).sum().into_scalar::<f64>())
    };
    let gradients = [
        tracked.input.grad(&grads),
        tracked.recurrent.grad(&grads),
        tracked.output.grad(&grads),
        tracked.bias.grad(&grads).map(|g| g.unsqueeze_dim(0)),
        p0.grad(&grads),
    ];
    let shapes = [[n_in, n], [n, n], [n, n_out], [1, n], [batch, n]];
    let mut rel_errors = Vec::with_capacity(5);
    for which in 0..5 {
        let (mut diff, mut norm) = (0.0, 0.0);
        for values in &directions[which] {
            let d = t2(values.clone(), shapes[which]);
            let analytic = directional(&gradients[which], &d);
            let shifted = |sign: f64| -> f64 {
                let step = d.clone() * (sign * eps);
                let mut w2 = w.clone();
                let mut p = phase0.clone();
                match which {
                    0 => w2.input = w.input.clone() + step,
                    1 => w2.recurrent = w.recurrent.clone() + step,
                    2 => w2.output = w.output.clone() + step,
                    3 => w2.bias = w.bias.clone() + step.squeeze_dim(0),
                    _ => p = phase0.clone() + step,
                }
                loss(&w2, p).0.into_scalar::<f64>()
            };
            let numeric = (shifted(1.0) - shifted(-1.0)) / (2.0 * eps);
            diff += (analytic - numeric).powi(2);
            norm += numeric.powi(2);
        }
        rel_errors.push((diff / norm.max(1e-300)).sqrt());
    }
    let max_rel_error = rel_errors.iter().copied().fold(0.0, f64::max);
    Ok(GradientCheck {
        rel_errors,
        max_rel_error,
        crossings,
        loss: loss_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(width: f64, gate: Gate) -> GatedThetaConfig {
        GatedThetaConfig::new(1, 1, 1)
            .with_zone_width(width)
            .with_gate(gate)
            .with_dt(0.01)
    }

    /// One tonically firing neuron (no recurrence): total charge over the
    /// crossings, for a gate of width Δ. On the host backend: 20 000 steps of
    /// a few ops each are seconds on flex and many minutes on a software GPU
    /// (the wgpu CI run covers the layer with the short run-time check test).
    fn charge_per_spike(width: f64, gate: Gate) -> (f64, f64, Vec<f32>) {
        let device = Device::flex();
        let mut net = config(width, gate).with_bias(0.5).init(&device).unwrap();
        net.recurrent_weights = Param::from_tensor(Tensor::zeros([1, 1], &device));
        net.input_weights = Param::from_tensor(Tensor::zeros([1, 1], &device));
        let steps = 20_000; // 200 ms: several cycles at I = 0.5
        let x = Tensor::<3>::zeros([steps, 1, 1], &device);
        let out = net
            .try_forward_sequence(
                x,
                None,
                Record {
                    membrane: false,
                    threshold: false,
                    synaptic: true,
                },
            )
            .unwrap();
        let s: Vec<f32> = out
            .trace
            .synaptic
            .unwrap()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        let crossings: f32 = out.trace.spikes.sum().into_scalar();
        // ∫ s dt in ms, plus what is still to come (τ_s s at the end).
        // Σ s dt + τ_s s_end: the charge delivered and still to come.
        let charge =
            s.iter().map(|v| *v as f64 * 0.01).sum::<f64>() + 10.0 * *s.last().unwrap() as f64;
        (charge, crossings as f64, s)
    }

    #[test]
    fn every_crossing_delivers_unit_charge_whatever_the_width() {
        for gate in [Gate::Box, Gate::Smooth] {
            for width in [1.0, 0.3, 0.1] {
                let (charge, crossings, _) = charge_per_spike(width, gate);
                assert!(crossings >= 3.0, "{crossings} crossings");
                // The last crossing may be partial: charge within a crossing of the count.
                let per = charge / crossings;
                assert!(
                    (per - 1.0).abs() < 0.02,
                    "{gate:?} Δ {width}: {per} per crossing"
                );
            }
        }
    }

    /// As Δ shrinks the current approaches the delta synapse's
    /// `s ← s (1 − dt/τ_s) + [crossing]/τ_s`.
    #[test]
    fn narrow_gates_approach_the_delta_synapse() {
        let mut errors = vec![];
        for width in [1.0, 0.3, 0.1] {
            let (_, _, s) = charge_per_spike(width, Gate::Smooth);
            // The delta synapse driven by the same neuron's crossings
            // (the phase does not depend on s here).
            let device = Device::flex();
            let mut net = config(width, Gate::Smooth)
                .with_bias(0.5)
                .init(&device)
                .unwrap();
            net.recurrent_weights = Param::from_tensor(Tensor::zeros([1, 1], &device));
            net.input_weights = Param::from_tensor(Tensor::zeros([1, 1], &device));
            let out = net
                .try_forward_sequence(
                    Tensor::<3>::zeros([20_000, 1, 1], &device),
                    None,
                    Record::spikes(),
                )
                .unwrap();
            let c: Vec<f32> = out
                .trace
                .spikes
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap();
            let mut d = 0.0f64;
            let delta: Vec<f64> = c
                .iter()
                .map(|k| {
                    d = d * (1.0 - 0.001) + *k as f64 / 10.0;
                    d
                })
                .collect();
            let err = s
                .iter()
                .zip(&delta)
                .map(|(a, b)| (*a as f64 - b).abs())
                .sum::<f64>()
                / delta.iter().map(|b| b.abs()).sum::<f64>();
            errors.push(err);
        }
        assert!(errors[0] > errors[1] && errors[1] > errors[2], "{errors:?}");
        assert!(errors[2] < 0.05, "{errors:?}");
    }

    #[test]
    fn bad_widths_and_steps_are_refused_by_name() {
        let device = Device::default();
        for w in [0.0, -1.0, 4.0] {
            let e = config(w, Gate::Box).init(&device).unwrap_err().to_string();
            assert!(e.contains("zone_width"), "{e}");
        }
        let e = config(0.1, Gate::Box)
            .with_dt(0.2)
            .init(&device)
            .unwrap_err()
            .to_string();
        assert!(e.contains("dt") && e.contains("zone_width"), "{e}");
    }

    /// A drive strong enough to push the phase through the zone faster
    /// than the step resolves is refused at run time, naming the crossing.
    #[test]
    fn an_unresolved_crossing_is_refused_at_run_time() {
        let device = Device::default();
        let mut net = GatedThetaConfig::new(1, 2, 1)
            .with_zone_width(0.2)
            .with_dt(0.2)
            .init(&device)
            .unwrap();
        net.input_weights = Param::from_tensor(Tensor::full([1, 2], 1.0, &device));
        // I = 4000 near θ = π − Δ/2 gives Δθ ≈ (dt/τ)(1 + cos θ) I ≫ Δ/2.
        let x = Tensor::<3>::full([100, 1, 1], 4000.0, &device);
        let e = net
            .try_forward_sequence(x, None, Record::spikes())
            .unwrap_err();
        assert!(matches!(e, SpikeburnError::GateUnresolved { .. }), "{e}");
        assert!(e.to_string().contains("step"), "{e}");
    }

    /// The gradient of a run in f64 through the smooth gate equals central
    /// finite differences along random directions (the full check is
    /// `spikeburn run gradcheck-exact`).
    #[test]
    fn autodiff_gradient_matches_central_differences() {
        let cfg = GatedThetaConfig::new(2, 6, 2)
            .with_dt(0.05)
            .with_zone_width(0.6)
            .with_bias(0.6);
        let check = check_gradient(&cfg, 2, 2000, 1e-5, 3, &Device::flex()).unwrap();
        eprintln!("gradcheck: {check:?}");
        assert!(
            check.crossings >= 20.0,
            "only {} spikes passed the gates",
            check.crossings
        );
        // See `check_gradient` for the tolerance.
        assert!(check.max_rel_error < 1e-5, "{check:?}");
    }
}

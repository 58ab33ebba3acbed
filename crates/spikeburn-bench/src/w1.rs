//! W1: BPTT through a recurrent spiking layer (`shared/bench/WORKLOADS.md`).
//!
//! `N` LIF or ALIF neurons, 80 Bernoulli input channels, a leaky readout of 10
//! classes, cross-entropy on the time-averaged readout, full BPTT and one
//! Adam step per iteration, always on the same fixed batch. Data and initial
//! weights come from the SplitMix64 stream, so `loss_first` and
//! `spike_rate_first` can be checked against the reference implementation.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;
use serde::Serialize;
use spikeburn_core::layer::{
    LeakyReadout, LeakyReadoutConfig, Record, RecurrentSpiking, RecurrentSpikingConfig,
    SequencePath,
};
use spikeburn_core::neuron::{AlifConfig, InputScaling, LifConfig, NeuronModel, Reset};
use spikeburn_core::spike::Surrogate;
use std::time::Instant;

use crate::splitmix::{uniform, uniform_weights};

/// Which neuron W1 uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum W1Neuron {
    /// W1-LIF.
    Lif,
    /// W1-ALIF (every neuron adaptive, β = 1.8).
    Alif,
}

/// The knobs of W1 (defaults: the spec's small size).
#[derive(Clone, Debug, Serialize)]
pub struct W1Options {
    /// LIF or ALIF.
    pub neuron: W1Neuron,
    /// Recurrent neurons N.
    pub n: usize,
    /// Time steps T.
    pub t: usize,
    /// Batch B.
    pub batch: usize,
    /// Timed iterations.
    pub iters: usize,
    /// Untimed warm-up iterations.
    pub warmup: usize,
    /// SplitMix64 seed.
    pub seed: u64,
    /// Use the fused whole-sequence BPTT path (else the per-step reference).
    pub fused: bool,
}

impl W1Options {
    /// The spec's defaults for `neuron`: N = 256, T = 500, B = 32, 2 + 5 iterations.
    pub fn new(neuron: W1Neuron) -> Self {
        Self {
            neuron,
            n: 256,
            t: 500,
            batch: 32,
            iters: 5,
            warmup: 2,
            seed: 1234,
            fused: true,
        }
    }
}

const N_IN: usize = 80;
const N_OUT: usize = 10;

/// What one W1 run reports (the spec's fields).
#[derive(Clone, Debug, Serialize)]
pub struct W1Result {
    /// `w1-lif` or `w1-alif`.
    pub workload: String,
    /// Always `spikeburn`.
    pub implementation: String,
    /// Which sequence path ran (`fused` or `per-step`), as the layer reported
    /// it: `fused` asked for but not taken shows as `per-step`.
    pub path: String,
    /// Options used.
    pub n: usize,
    /// Time steps.
    pub t: usize,
    /// Batch.
    pub batch: usize,
    /// Timed iterations.
    pub iters: usize,
    /// Warm-up iterations.
    pub warmup: usize,
    /// Seed.
    pub seed: u64,
    /// Median wall time of a timed iteration.
    pub sec_per_iter_median: f64,
    /// Every timed iteration's wall time.
    pub sec_per_iter_all: Vec<f64>,
    /// Loss of the first iteration (initial weights).
    pub loss_first: f64,
    /// Loss of the last timed iteration (before its Adam step).
    pub loss_last: f64,
    /// Mean spike of the first iteration over T, B, N.
    pub spike_rate_first: f64,
    /// Every iteration's loss.
    pub losses: Vec<f64>,
}

#[derive(Module, Debug)]
struct W1Net<N: NeuronModel> {
    recurrent: RecurrentSpiking<N>,
    readout: LeakyReadout,
}

impl<N: NeuronModel> W1Net<N> {
    fn forward(&self, x: Tensor<3>) -> (Tensor<2>, Tensor<3>, SequencePath) {
        let trace = self.recurrent.forward_sequence(x, Record::spikes());
        let spikes = trace.spikes;
        let logits = self
            .readout
            .forward_sequence(spikes.clone())
            .mean_dim(0)
            .squeeze_dim(0);
        (logits, spikes, trace.path)
    }
}

fn tensor2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// The input spikes `[T, B, 80]` and one-hot labels `[B, 10]` of the spec.
pub fn data(opts: &W1Options, device: &Device) -> (Tensor<3>, Tensor<2>, Vec<usize>) {
    let len = opts.t * opts.batch * N_IN;
    let x: Vec<f32> = (0..len as u64)
        .map(|i| (uniform(opts.seed, 1, i) < 0.05) as u8 as f32)
        .collect();
    let labels: Vec<usize> = (0..opts.batch as u64)
        .map(|i| (uniform(opts.seed, 2, i) * N_OUT as f64).floor() as usize)
        .collect();
    let mut one_hot = vec![0f32; opts.batch * N_OUT];
    for (b, &l) in labels.iter().enumerate() {
        one_hot[b * N_OUT + l] = 1.0;
    }
    (
        Tensor::from_data(TensorData::new(x, [opts.t, opts.batch, N_IN]), device),
        tensor2(one_hot, [opts.batch, N_OUT], device),
        labels,
    )
}

fn build<N: NeuronModel>(neuron: N, opts: &W1Options, device: &Device) -> W1Net<N> {
    let n = opts.n;
    let mut recurrent = RecurrentSpikingConfig::new(N_IN, n)
        .with_fused(opts.fused)
        .init(neuron, device)
        .expect("W1 layer config is valid");
    recurrent.input_weights = Param::from_tensor(tensor2(
        uniform_weights(opts.seed, 3, N_IN * n, 0.15),
        [N_IN, n],
        device,
    ));
    let sigma_rec = 1.0 / (n as f64).sqrt();
    recurrent.recurrent_weights = Param::from_tensor(tensor2(
        uniform_weights(opts.seed, 4, n * n, sigma_rec),
        [n, n],
        device,
    ));
    let mut readout = LeakyReadoutConfig::new(n, N_OUT)
        .with_tau_out(20.0)
        .with_input_scaling(InputScaling::Direct)
        .init(device)
        .expect("W1 readout config is valid");
    readout.weights = Param::from_tensor(tensor2(
        uniform_weights(opts.seed, 5, n * N_OUT, 0.3 * sigma_rec),
        [n, N_OUT],
        device,
    ));
    W1Net { recurrent, readout }
}

/// Runs W1 on `device` (an autodiff device is made from it).
pub fn run(opts: &W1Options, device: &Device) -> W1Result {
    let device = device.clone().autodiff();
    let surrogate = Surrogate::PiecewiseLinear {
        dampening: 0.3,
        width: 1.0,
    };
    match opts.neuron {
        W1Neuron::Lif => {
            let lif = LifConfig::new()
                .with_tau_mem(20.0)
                .with_threshold(1.0)
                .with_reset(Reset::Subtract)
                .with_input_scaling(InputScaling::Direct)
                .with_surrogate(surrogate)
                .init(opts.n)
                .expect("W1 LIF config is valid");
            train(build(lif, opts, &device), opts, &device)
        }
        W1Neuron::Alif => {
            let alif = AlifConfig::new()
                .with_tau_mem(20.0)
                .with_tau_adapt(200.0)
                .with_threshold(1.0)
                .with_beta(1.8)
                .with_reset(Reset::Subtract)
                .with_adaptive_reset(false)
                .with_normalise_by_adaptive_threshold(false)
                .with_input_scaling(InputScaling::Direct)
                .with_surrogate(surrogate)
                .init(opts.n, &device)
                .expect("W1 ALIF config is valid");
            train(build(alif, opts, &device), opts, &device)
        }
    }
}

fn train<N: NeuronModel>(mut model: W1Net<N>, opts: &W1Options, device: &Device) -> W1Result {
    let (x, one_hot, _) = data(opts, device);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let (mut losses, mut times) = (vec![], vec![]);
    let mut spike_rate_first = f64::NAN;
    let mut path = SequencePath::PerStep;
    for it in 0..opts.warmup + opts.iters {
        let start = Instant::now();
        let (logits, spikes, taken) = model.forward(x.clone());
        path = taken;
        let loss = (log_softmax(logits, 1) * one_hot.clone())
            .sum_dim(1)
            .mean()
            .neg();
        let grads = GradientsParams::from_grads(loss.clone().backward(), &model);
        model = optim.step(1e-3, model, grads);
        // Reading the loss waits for the whole iteration (GPU backends are asynchronous).
        let loss_value = loss.into_scalar::<f32>() as f64;
        let elapsed = start.elapsed().as_secs_f64();
        if it == 0 {
            spike_rate_first = spikes.mean().into_scalar::<f32>() as f64;
        }
        losses.push(loss_value);
        if it >= opts.warmup {
            times.push(elapsed);
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.is_empty() {
        f64::NAN
    } else if sorted.len() % 2 == 1 {
        sorted[sorted.len() / 2]
    } else {
        (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
    };
    W1Result {
        workload: match opts.neuron {
            W1Neuron::Lif => "w1-lif".into(),
            W1Neuron::Alif => "w1-alif".into(),
        },
        implementation: "spikeburn".into(),
        path: if path.is_fused() { "fused" } else { "per-step" }.into(),
        n: opts.n,
        t: opts.t,
        batch: opts.batch,
        iters: opts.iters,
        warmup: opts.warmup,
        seed: opts.seed,
        sec_per_iter_median: median,
        sec_per_iter_all: times,
        loss_first: losses[0],
        loss_last: *losses.last().unwrap(),
        spike_rate_first,
        losses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's reference values (torch-manual, seed 1234, N = 256, T = 500):
    /// one untimed iteration must compute the same loss and spike rate.
    #[test]
    fn first_iteration_matches_the_reference_implementation() {
        for (neuron, fused, loss_ref, rate_ref) in [
            (W1Neuron::Lif, true, 2.315110, 0.03480),
            (W1Neuron::Alif, true, 2.312166, 0.03282),
            (W1Neuron::Lif, false, 2.315110, 0.03480),
        ] {
            let mut opts = W1Options::new(neuron);
            opts.fused = fused;
            opts.warmup = 0;
            opts.iters = 1;
            let r = run(&opts, &Device::default());
            assert!(
                (r.loss_first - loss_ref).abs() <= 1e-4 * loss_ref,
                "{neuron:?}: loss_first {} vs reference {loss_ref}",
                r.loss_first
            );
            assert!(
                (r.spike_rate_first - rate_ref).abs() <= 1e-4,
                "{neuron:?}: spike_rate_first {} vs reference {rate_ref}",
                r.spike_rate_first
            );
            assert_eq!(r.sec_per_iter_all.len(), 1);
            assert_eq!(r.path, if fused { "fused" } else { "per-step" });
        }
    }
}

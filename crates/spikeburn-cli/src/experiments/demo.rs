//! `demo`: a recurrent LSNN (LIF + ALIF) learns to classify noisy spike patterns.
//!
//! Each class is a frozen random spike pattern over `n_input` channels and
//! `steps` ms; a sample is its class's pattern with spikes deleted at random
//! and noise spikes added. The network (recurrent LIF/ALIF layer + leaky
//! readout) is trained by BPTT with Adam on the time-averaged readout, and
//! tested on fresh samples. Chance level is `1 / classes`.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use spikeburn_core::layer::{
    LeakyReadout, LeakyReadoutConfig, Record, RecurrentSpiking, RecurrentSpikingConfig,
};
use spikeburn_core::neuron::{Alif, AlifConfig, InputScaling};

use super::RunOptions;
use super::classification::{accuracy, cross_entropy};
use crate::plot::{Series, line_chart};
use crate::report::Report;

/// Everything the demo can be configured with (`--config FILE.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Input channels.
    pub n_input: usize,
    /// LIF neurons (β = 0).
    pub n_lif: usize,
    /// ALIF neurons.
    pub n_alif: usize,
    /// Pattern classes.
    pub classes: usize,
    /// Time steps (ms) per sample.
    pub steps: usize,
    /// Samples per batch.
    pub batch: usize,
    /// Training iterations (one fresh batch each).
    pub iterations: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Spike probability per channel and step in a class pattern.
    pub pattern_rate: f64,
    /// Probability that a pattern spike is deleted in a sample.
    pub deletion: f64,
    /// Probability of a noise spike per channel and step.
    pub noise_rate: f64,
    /// Held-out test samples.
    pub test_samples: usize,
    /// Scale of the initial input weights (`N(0,1)·gain/√n_input`).
    pub input_gain: f64,
    /// Scale of the initial recurrent weights.
    pub recurrent_gain: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            n_input: 40,
            n_lif: 50,
            n_alif: 50,
            classes: 8,
            steps: 100,
            batch: 64,
            iterations: 400,
            learning_rate: 0.003,
            pattern_rate: 0.05,
            deletion: 0.2,
            noise_rate: 0.02,
            test_samples: 512,
            input_gain: 1.0,
            recurrent_gain: 0.5,
        }
    }
}

impl DemoConfig {
    /// The reduced version used by `--quick` and CI: 4 classes, a smaller
    /// network, smaller batches and fewer iterations.
    pub fn quick() -> Self {
        Self {
            n_lif: 30,
            n_alif: 30,
            classes: 4,
            batch: 32,
            iterations: 100,
            test_samples: 256,
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<(), String> {
        let positive = [
            ("n_input", self.n_input),
            ("n_lif + n_alif", self.n_lif + self.n_alif),
            ("steps", self.steps),
            ("batch", self.batch),
            ("iterations", self.iterations),
            ("test_samples", self.test_samples),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("`{name}` = 0 is invalid: expected at least 1"));
            }
        }
        if self.classes < 2 {
            return Err(format!(
                "`classes` = {} is invalid: expected at least 2",
                self.classes
            ));
        }
        for (name, p) in [
            ("pattern_rate", self.pattern_rate),
            ("deletion", self.deletion),
            ("noise_rate", self.noise_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "`{name}` = {p} is invalid: expected a probability in [0, 1]"
                ));
            }
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(format!(
                "`learning_rate` = {} is invalid: expected > 0",
                self.learning_rate
            ));
        }
        Ok(())
    }
}

/// Recurrent LSNN layer + leaky readout.
#[derive(Module, Debug)]
pub struct DemoNet {
    recurrent: RecurrentSpiking<Alif>,
    readout: LeakyReadout,
}

impl DemoNet {
    fn new(cfg: &DemoConfig, device: &Device) -> Result<Self, String> {
        let n = cfg.n_lif + cfg.n_alif;
        let neuron = AlifConfig::new()
            .with_threshold(1.0)
            .with_beta(1.0)
            .with_tau_adapt(100.0)
            .with_n_lif(cfg.n_lif)
            .with_input_scaling(InputScaling::Direct)
            .with_adaptive_reset(false)
            .with_normalise_by_adaptive_threshold(false)
            .init(n, device)
            .map_err(|e| e.to_string())?;
        let recurrent = RecurrentSpikingConfig::new(cfg.n_input, n)
            .with_input_gain(cfg.input_gain)
            .with_recurrent_gain(cfg.recurrent_gain)
            .init(neuron, device)
            .map_err(|e| e.to_string())?;
        let readout = LeakyReadoutConfig::new(n, cfg.classes)
            .with_input_scaling(InputScaling::Direct)
            .init(device)
            .map_err(|e| e.to_string())?;
        Ok(Self { recurrent, readout })
    }

    /// Logits `[batch, classes]` (time-averaged readout) and spikes.
    fn forward(&self, x: Tensor<3>) -> (Tensor<2>, Tensor<3>) {
        let trace = self.recurrent.forward_sequence(x, Record::spikes());
        let out = self.readout.forward_sequence(trace.spikes.clone());
        (out.mean_dim(0).squeeze_dim(0), trace.spikes)
    }
}

/// Frozen class patterns and the noisy samples drawn from them.
struct PatternTask {
    patterns: Vec<Vec<bool>>,
    cfg: DemoConfig,
}

impl PatternTask {
    fn new(cfg: &DemoConfig, rng: &mut StdRng) -> Self {
        let size = cfg.steps * cfg.n_input;
        let patterns = (0..cfg.classes)
            .map(|_| {
                (0..size)
                    .map(|_| rng.random_bool(cfg.pattern_rate))
                    .collect()
            })
            .collect();
        Self {
            patterns,
            cfg: cfg.clone(),
        }
    }

    /// `[T, batch, n_input]` spikes and the labels.
    fn batch(&self, batch: usize, rng: &mut StdRng, device: &Device) -> (Tensor<3>, Vec<usize>) {
        let (t, c) = (self.cfg.steps, self.cfg.n_input);
        let labels: Vec<usize> = (0..batch)
            .map(|_| rng.random_range(0..self.cfg.classes))
            .collect();
        let mut x = vec![0f32; t * batch * c];
        for (b, &label) in labels.iter().enumerate() {
            for step in 0..t {
                for ch in 0..c {
                    let on = if self.patterns[label][step * c + ch] {
                        !rng.random_bool(self.cfg.deletion)
                    } else {
                        rng.random_bool(self.cfg.noise_rate)
                    };
                    x[(step * batch + b) * c + ch] = on as u8 as f32;
                }
            }
        }
        (
            Tensor::from_data(TensorData::new(x, [t, batch, c]), device),
            labels,
        )
    }
}

/// Runs the demo and returns the final JSON line.
pub fn run(opts: &RunOptions) -> Result<String, String> {
    let base = if opts.quick {
        DemoConfig::quick()
    } else {
        DemoConfig::default()
    };
    let cfg = super::load_config(base, opts.config.as_deref())?;
    cfg.validate()?;
    let mut report = Report::new("demo", &opts.backend, opts.seed, opts.quick, &opts.out_dir)?;
    report.write_json("config.json", &cfg)?;

    let device = opts.device.clone().autodiff();
    device.seed(opts.seed);
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let task = PatternTask::new(&cfg, &mut rng);
    let mut model = DemoNet::new(&cfg, &device)?;
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();

    let progress = super::progress_bar(cfg.iterations as u64, "demo");
    let mut losses = Vec::with_capacity(cfg.iterations);
    let mut rates = Vec::with_capacity(cfg.iterations);
    let mut curve = String::new();
    for it in 0..cfg.iterations {
        let (x, labels) = task.batch(cfg.batch, &mut rng, &device);
        let (logits, spikes) = model.forward(x);
        let loss = cross_entropy(logits.clone(), &labels);
        let loss_value: f64 = loss.clone().into_scalar::<f32>() as f64;
        if !loss_value.is_finite() {
            return Err(format!(
                "training diverged: loss became {loss_value} at iteration {it}"
            ));
        }
        let rate_hz = spikes.mean().into_scalar::<f32>() as f64 * 1000.0;
        let acc = accuracy(logits, &labels);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(cfg.learning_rate, model, grads);
        losses.push(loss_value);
        rates.push(rate_hz);
        curve.push_str(&format!(
            "{{\"iteration\":{it},\"loss\":{loss_value:.6},\"batch_accuracy\":{acc:.4},\"rate_hz\":{rate_hz:.3}}}\n"
        ));
        progress.set_message(format!(
            "loss {loss_value:.3} acc {acc:.2} rate {rate_hz:.1} Hz"
        ));
        progress.inc(1);
    }
    progress.finish_and_clear();
    std::fs::write(report.out_dir().join("metrics.jsonl"), curve).map_err(|e| e.to_string())?;

    // Held-out evaluation without the autodiff graph.
    let eval = model.valid();
    let (mut hits, mut seen, mut test_loss) = (0.0, 0usize, 0.0);
    while seen < cfg.test_samples {
        let b = cfg.batch.min(cfg.test_samples - seen);
        let (x, labels) = task.batch(b, &mut rng, &opts.device);
        let (logits, _) = eval.forward(x);
        test_loss += cross_entropy(logits.clone(), &labels).into_scalar::<f32>() as f64 * b as f64;
        hits += accuracy(logits, &labels) * b as f64;
        seen += b;
    }
    let test_accuracy = hits / seen as f64;

    let points = |v: &[f64]| v.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect();
    let svg = line_chart(
        "demo: training loss",
        "iteration",
        "cross-entropy",
        &[Series {
            label: "train loss",
            points: points(&losses),
        }],
    );
    std::fs::write(report.out_dir().join("learning_curve.svg"), svg).map_err(|e| e.to_string())?;
    model
        .save_file(report.out_dir().join("model.bpk"))
        .map_err(|e| format!("cannot save the model: {e}"))?;

    report.metric("test_accuracy", round(test_accuracy));
    report.metric("test_loss", round(test_loss / seen as f64));
    report.metric("chance_accuracy", round(1.0 / cfg.classes as f64));
    report.metric("loss_first", round(losses[0]));
    report.metric("loss_last", round(*losses.last().unwrap()));
    report.metric(
        "rate_hz",
        round(rates.iter().sum::<f64>() / rates.len() as f64),
    );
    report.metric("iterations", cfg.iterations);
    Ok(report.finish())
}

fn round(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

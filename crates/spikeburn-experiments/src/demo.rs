//! `demo`: a recurrent LSNN (LIF + ALIF) learns to classify noisy spike patterns.
//!
//! Each class is a frozen random spike pattern over `n_input` channels and
//! `steps` ms; a sample is its class's pattern with spikes deleted at random
//! and noise spikes added. The network ([`Lsnn`]: recurrent LIF/ALIF layer +
//! leaky readout) is trained by BPTT with Adam on the time-averaged readout,
//! and tested on fresh samples. Chance level is `1 / classes`.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use spikeburn_core::layer::{Lsnn, LsnnConfig};
use spikeburn_core::neuron::{AlifConfig, InputScaling, Reset};
use spikeburn_plot::{Figure, LineChart, Series};
use spikeburn_train::{
    AdamStep, BpttTrainer, GradientClipping, StepDecay, StepOutput, Task, TrainerConfig, accuracy,
    cross_entropy,
};

use crate::error::Result;
use crate::report::Report;
use crate::run::RunContext;
use crate::validation::{self as v, Validate};

/// Everything the demo can be configured with (`--config FILE.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Input channels (1 ..= 10 000).
    pub n_input: usize,
    /// LIF neurons (β = 0).
    pub n_lif: usize,
    /// ALIF neurons (`n_lif + n_alif` in 1 ..= 10 000).
    pub n_alif: usize,
    /// Pattern classes (2 ..= 1 000).
    pub classes: usize,
    /// Time steps (ms) per sample (1 ..= 100 000).
    pub steps: usize,
    /// Samples per batch (1 ..= 4 096).
    pub batch: usize,
    /// Training iterations (one fresh batch each).
    pub iterations: usize,
    /// Adam learning rate, in (0, 1].
    pub learning_rate: f64,
    /// Spike probability per channel and step in a class pattern.
    pub pattern_rate: f64,
    /// Probability that a pattern spike is deleted in a sample.
    pub deletion: f64,
    /// Probability of a noise spike per channel and step.
    pub noise_rate: f64,
    /// Held-out test samples (1 ..= 1 000 000).
    pub test_samples: usize,
    /// Scale of the initial input weights (`N(0,1)·gain/√n_input`), in
    /// (0, 100].
    pub input_gain: f64,
    /// Scale of the initial recurrent weights, in [0, 100].
    pub recurrent_gain: f64,
    /// Save a checkpoint every this many iterations (0: only at the end).
    pub checkpoint_every: usize,
    /// Reset after a spike: by subtraction (default, the LSNN's) or to a
    /// value (`{"kind": "to_value", "value": 0.0}`; with `n_alif` 0 this is
    /// the configuration NIR can express, see `spikeburn export-nir`).
    pub reset: Reset,
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
            checkpoint_every: 50,
            reset: Reset::Subtract,
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
            checkpoint_every: 25,
            ..Self::default()
        }
    }

    fn trainer(&self) -> TrainerConfig {
        TrainerConfig {
            iterations: self.iterations,
            schedule: StepDecay::constant(self.learning_rate),
            checkpoint_every: self.checkpoint_every,
            eval_every: 0,
        }
    }

    /// The network: `n_lif` LIF + `n_alif` ALIF neurons (threshold 1,
    /// β = 1, τ_a = 100 ms, direct input and readout scaling).
    pub fn network(&self, device: &Device) -> Result<Lsnn> {
        let neuron = AlifConfig::new()
            .with_threshold(1.0)
            .with_beta(1.0)
            .with_tau_adapt(100.0)
            .with_input_scaling(InputScaling::Direct)
            .with_adaptive_reset(false)
            .with_reset(self.reset)
            .with_normalise_by_adaptive_threshold(false);
        let mut cfg =
            LsnnConfig::with_sizes(self.n_input, self.n_lif, self.n_alif, self.classes, neuron);
        cfg.layer = cfg
            .layer
            .with_input_gain(self.input_gain)
            .with_recurrent_gain(self.recurrent_gain);
        cfg.readout = cfg.readout.with_input_scaling(InputScaling::Direct);
        Ok(cfg.init(device)?)
    }
}

impl Validate for DemoConfig {
    fn validate(&self) -> Result<()> {
        v::count("n_input", self.n_input, 1, 10_000)?;
        v::count("n_lif", self.n_lif, 0, 10_000)?;
        v::count("n_alif", self.n_alif, 0, 10_000)?;
        v::count("n_lif + n_alif", self.n_lif + self.n_alif, 1, 10_000)?;
        v::count("classes", self.classes, 2, 1_000)?;
        v::count("steps", self.steps, 1, 100_000)?;
        v::count("batch", self.batch, 1, 4_096)?;
        v::count("test_samples", self.test_samples, 1, 1_000_000)?;
        v::count("checkpoint_every", self.checkpoint_every, 0, usize::MAX)?;
        v::positive("learning_rate", self.learning_rate, 0.0, 1.0)?;
        v::probability("pattern_rate", self.pattern_rate)?;
        v::probability("deletion", self.deletion)?;
        v::probability("noise_rate", self.noise_rate)?;
        v::positive("input_gain", self.input_gain, 0.0, 100.0)?;
        v::real("recurrent_gain", self.recurrent_gain, 0.0, 100.0)?;
        let n = (self.n_lif + self.n_alif) as f64;
        // BPTT keeps about ten [T, batch, n] tensors per step, the input and
        // the patterns.
        let bytes = 4.0
            * self.steps as f64
            * (self.batch as f64 * (10.0 * n + self.n_input as f64)
                + (self.classes * self.n_input) as f64);
        v::memory("steps × batch × (n_lif + n_alif)", bytes)?;
        self.trainer().validate()?;
        Ok(())
    }
}

/// Where a demo run keeps its trained network (under `--out`).
pub const MODEL_FILE: &str = "model.bpk";

/// The configuration and trained network of the demo run in `dir`
/// (its `config.json` and [`MODEL_FILE`]), on `device`.
pub fn load_trained(dir: &std::path::Path, device: &Device) -> Result<(DemoConfig, Lsnn)> {
    let path = dir.join("config.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| crate::ExperimentError::io("read", &path, e))?;
    let cfg: DemoConfig =
        serde_json::from_str(&text).map_err(|e| crate::ExperimentError::Load {
            what: "a demo configuration",
            path: path.clone(),
            reason: e.to_string(),
        })?;
    cfg.validate()?;
    let model = dir.join(MODEL_FILE);
    let lsnn =
        cfg.network(device)?
            .try_load_file(&model)
            .map_err(|e| crate::ExperimentError::Load {
                what: "the trained demo network",
                path: model.clone(),
                reason: e.to_string(),
            })?;
    Ok((cfg, lsnn))
}

/// Frozen class patterns and the noisy samples drawn from them.
pub struct PatternTask {
    patterns: Vec<Vec<bool>>,
    cfg: DemoConfig,
}

impl PatternTask {
    /// The class patterns of `cfg`, drawn from `seed`.
    pub fn new(cfg: &DemoConfig, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
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

    /// `[T, batch, n_input]` spikes and the labels, drawn from `rng`.
    pub fn batch(
        &self,
        batch: usize,
        rng: &mut StdRng,
        device: &Device,
    ) -> (Tensor<3>, Vec<usize>) {
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

/// Logits `[batch, classes]`: the time-averaged readout.
fn logits(model: &Lsnn, x: Tensor<3>) -> Result<(Tensor<2>, Tensor<3>)> {
    let out = model.try_forward(x)?;
    Ok((out.output.mean_dim(0).squeeze_dim(0), out.spikes))
}

struct DemoTask<'a> {
    patterns: &'a PatternTask,
    cfg: &'a DemoConfig,
    seed: u64,
    device: Device,
}

impl Task<Lsnn> for DemoTask<'_> {
    fn train_step(
        &mut self,
        model: &Lsnn,
        it: usize,
    ) -> spikeburn_train::error::Result<StepOutput> {
        let mut rng = crate::run::batch_rng(self.seed, it);
        let (x, labels) = self.patterns.batch(self.cfg.batch, &mut rng, &self.device);
        let (logits, spikes) = logits(model, x)?;
        let rate_hz = spikes.mean().into_scalar::<f32>() as f64 * 1000.0;
        let acc = accuracy(logits.clone(), &labels)?;
        let loss = cross_entropy(logits, &labels)?;
        Ok((
            loss,
            vec![("batch_accuracy".into(), acc), ("rate_hz".into(), rate_hz)],
        ))
    }
}

/// Trains the demo network and tests it on fresh samples.
///
/// Writes `config.json`, `metrics.jsonl`, `checkpoint/` and the trained
/// `model.bpk` into `ctx.out_dir`; resumes from the checkpoint with
/// `ctx.resume`. Metrics: `test_accuracy`, `test_loss`, `chance_accuracy`,
/// `loss_first`, `loss_last`, `rate_hz` (mean over training), `iterations`.
pub fn run(cfg: &DemoConfig, device: &Device, ctx: &RunContext) -> Result<Report> {
    cfg.validate()?;
    ctx.prepare(cfg)?;
    let mut report = Report::new("demo", ctx);
    let train_device = device.clone().autodiff();
    train_device.seed(ctx.seed);
    let patterns = PatternTask::new(cfg, ctx.seed);
    let model = cfg.network(&train_device)?;
    let trainer = BpttTrainer::new(cfg.trainer())?
        .with_checkpoints(ctx.path("checkpoint"))
        .with_metrics_log(ctx.path("metrics.jsonl"));
    let mut task = DemoTask {
        patterns: &patterns,
        cfg,
        seed: ctx.seed,
        device: train_device.clone(),
    };
    let mut adam = AdamStep::new(GradientClipping::None)?;
    ctx.observer.start("demo", cfg.iterations as u64);
    let fitted = trainer.fit(model, &mut adam, &mut task, ctx.seed, ctx.resume, |r| {
        ctx.observer.advance(&format!(
            "loss {:.3} acc {:.2} rate {:.1} Hz",
            r.loss,
            r.get("batch_accuracy").unwrap_or(f64::NAN),
            r.get("rate_hz").unwrap_or(f64::NAN)
        ));
    })?;
    ctx.observer.finish();
    let model = fitted.model;

    // Held-out evaluation without the autodiff graph, on its own stream.
    let eval = model.valid();
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ 0x7E57_5A3D);
    let (mut hits, mut seen, mut test_loss) = (0.0, 0usize, 0.0);
    while seen < cfg.test_samples {
        let b = cfg.batch.min(cfg.test_samples - seen);
        let (x, labels) = patterns.batch(b, &mut rng, device);
        let (logits, _) = logits(&eval, x)?;
        test_loss += cross_entropy(logits.clone(), &labels)?.into_scalar::<f32>() as f64 * b as f64;
        hits += accuracy(logits, &labels)? * b as f64;
        seen += b;
    }
    let path = ctx.path(MODEL_FILE);
    model
        .save_file(&path)
        .map_err(|e| crate::ExperimentError::Save {
            what: "the trained model",
            path: path.clone(),
            reason: e.to_string(),
        })?;

    let losses: Vec<f64> = fitted.history.iter().map(|r| r.loss).collect();
    let rates: Vec<f64> = fitted
        .history
        .iter()
        .filter_map(|r| r.get("rate_hz"))
        .collect();
    report.metric("test_accuracy", hits / seen as f64)?;
    report.metric("test_loss", test_loss / seen as f64)?;
    report.metric("chance_accuracy", 1.0 / cfg.classes as f64)?;
    report.metric("loss_first", losses[0])?;
    report.metric("loss_last", losses[losses.len() - 1])?;
    report.metric("rate_hz", rates.iter().sum::<f64>() / rates.len() as f64)?;
    report.count("iterations", cfg.iterations);
    report.figure(
        "learning_curve",
        Figure::Line(LineChart::new(
            "demo: training loss",
            "iteration",
            "cross-entropy",
            vec![Series::new(
                "train loss",
                losses
                    .iter()
                    .enumerate()
                    .map(|(i, &y)| (i as f64, y))
                    .collect(),
            )],
        )),
    );
    Ok(report.finish())
}

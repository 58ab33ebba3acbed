//! `store-recall`: the LSNN store-recall task (Bellec et al. 2018, tutorial).
//!
//! 10 LIF + 10 ALIF neurons receive 4 groups of Poisson inputs (bit 0, bit 1,
//! store, recall; 200 ms per symbol) and must report, during each recall
//! period, the bit shown at the last store — across delays of several
//! seconds, longer than any membrane time constant, so only the slow
//! threshold adaptation of the ALIF neurons can hold the bit. The same
//! network with β = 0 (LIF only) is trained as the ablation.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::{Int, TensorData};
use serde::{Deserialize, Serialize};
use spikeburn_core::layer::{
    LeakyReadout, LeakyReadoutConfig, Record, RecurrentSpiking, RecurrentSpikingConfig,
};
use spikeburn_core::neuron::{Alif, AlifConfig, InputScaling};
use spikeburn_tasks::store_recall::{StoreRecallBatch, StoreRecallConfig};
use spikeburn_train::{
    BpttTrainer, StepDecay, StepOutput, Task, TrainerConfig, firing_rate_regulariser,
};

use super::RunOptions;
use super::classification::{accuracy, cross_entropy};
use crate::plot::{Series, line_chart};
use crate::report::Report;

/// Configuration of the experiment (`--config FILE.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreRecallExperiment {
    /// The task.
    pub task: StoreRecallConfig,
    /// LIF neurons.
    pub n_lif: usize,
    /// ALIF neurons.
    pub n_alif: usize,
    /// Membrane time constant (ms).
    pub tau_mem: f64,
    /// Adaptation time constant (ms).
    pub tau_adapt: f64,
    /// Adaptation strength β of the ALIF neurons.
    pub beta: f64,
    /// Baseline threshold.
    pub threshold: f64,
    /// Refractory period (steps).
    pub refractory_steps: usize,
    /// Largest synaptic delay in steps (LSNN `n_delay`: 10 in the paper's
    /// code); 1 = no delays.
    pub n_delay: usize,
    /// Batch size.
    pub batch: usize,
    /// Training iterations per network.
    pub iterations: usize,
    /// Learning-rate schedule.
    pub schedule: StepDecay,
    /// Weight of the firing-rate regulariser.
    pub rate_reg: f64,
    /// Its target rate (Hz).
    pub target_rate_hz: f64,
    /// Sequences in the held-out evaluation.
    pub test_sequences: usize,
    /// Also train the LIF-only ablation (β = 0).
    pub lif_only_ablation: bool,
}

impl Default for StoreRecallExperiment {
    fn default() -> Self {
        Self {
            task: StoreRecallConfig::default(),
            n_lif: 10,
            n_alif: 10,
            tau_mem: 20.0,
            tau_adapt: 1200.0,
            beta: 1.7,
            threshold: 0.01,
            refractory_steps: 3,
            n_delay: 1,
            batch: 128,
            // The tutorial's 200 iterations (decay every 100) gave 9 % recall
            // error here; 400 reach the tutorial's < 5 % stopping criterion.
            iterations: 400,
            schedule: StepDecay {
                initial: 0.01,
                factor: 0.3,
                every: 200,
            },
            rate_reg: 0.01,
            target_rate_hz: 10.0,
            test_sequences: 256,
            lif_only_ablation: true,
        }
    }
}

impl StoreRecallExperiment {
    /// `--quick`: 100 ms symbols (so adaptation τ_a = 600 ms), batches of 64,
    /// 200 iterations.
    pub fn quick() -> Self {
        let d = Self::default();
        Self {
            task: StoreRecallConfig {
                symbol_ms: 100,
                ..d.task.clone()
            },
            tau_adapt: 600.0,
            batch: 64,
            iterations: 200,
            schedule: StepDecay {
                initial: 0.01,
                factor: 0.3,
                every: 100,
            },
            test_sequences: 128,
            ..d
        }
    }
}

/// LSNN layer + 2-unit leaky readout.
#[derive(Module, Debug)]
pub struct StoreRecallNet {
    recurrent: RecurrentSpiking<Alif>,
    readout: LeakyReadout,
}

impl StoreRecallNet {
    fn new(cfg: &StoreRecallExperiment, beta: f64, device: &Device) -> Result<Self, String> {
        let n = cfg.n_lif + cfg.n_alif;
        let neuron = AlifConfig::new()
            .with_tau_mem(cfg.tau_mem)
            .with_tau_adapt(cfg.tau_adapt)
            .with_threshold(cfg.threshold)
            .with_beta(beta)
            .with_n_lif(cfg.n_lif)
            .with_refractory_steps(cfg.refractory_steps)
            .with_input_scaling(InputScaling::Leaky)
            .init(n, device)
            .map_err(|e| e.to_string())?;
        let recurrent = RecurrentSpikingConfig::new(cfg.task.channels(), n)
            .with_max_delay(cfg.n_delay)
            .init(neuron, device)
            .map_err(|e| e.to_string())?;
        let readout = LeakyReadoutConfig::new(n, 2)
            .with_input_scaling(InputScaling::Direct)
            .init(device)
            .map_err(|e| e.to_string())?;
        Ok(Self { recurrent, readout })
    }

    /// Recall-period logits `[events, 2]`, the targets, and the spikes.
    fn forward(
        &self,
        batch: &StoreRecallBatch,
        cfg: &StoreRecallConfig,
        device: &Device,
    ) -> (Tensor<2>, Vec<usize>, Tensor<3>) {
        let s = &batch.spikes;
        let x = Tensor::<3>::from_data(
            TensorData::new(s.input.clone(), [s.steps, s.batch, s.channels]),
            device,
        );
        let spikes = self.recurrent.forward_sequence(x, Record::spikes()).spikes;
        let out = self.readout.forward_sequence(spikes.clone());
        // Mean output per period: [symbols, ms, B, 2] -> [symbols · B, 2].
        let per_period = out
            .reshape([cfg.symbols, cfg.symbol_ms, s.batch, 2])
            .mean_dim(1)
            .reshape([cfg.symbols * s.batch, 2]);
        let rows: Vec<i64> = batch
            .recalls
            .iter()
            .map(|r| (r.period * s.batch + r.sequence) as i64)
            .collect();
        let index =
            Tensor::<1, Int>::from_data(TensorData::new(rows.clone(), [rows.len()]), device);
        let logits = per_period.select(0, index);
        (
            logits,
            batch.recalls.iter().map(|r| r.bit).collect(),
            spikes,
        )
    }
}

/// Store-recall as a [`Task`]: a fresh batch per iteration (seeded by the
/// iteration, so resumed runs see the same data) and a fixed held-out set.
struct StoreRecallTask<'a> {
    cfg: &'a StoreRecallExperiment,
    seed: u64,
    device: Device,
    eval_device: Device,
    test: StoreRecallBatch,
    test_error: f64,
    rate_hz: f64,
}

impl Task<StoreRecallNet> for StoreRecallTask<'_> {
    fn train_step(&mut self, m: &StoreRecallNet, it: usize) -> StepOutput {
        let (cfg, task) = (self.cfg, &self.cfg.task);
        let batch = task.generate(
            cfg.batch,
            self.seed.wrapping_mul(1_000_003).wrapping_add(it as u64),
        );
        let (logits, targets, spikes) = m.forward(&batch, task, &self.device);
        let err = 1.0 - accuracy(logits.clone(), &targets);
        let reg = firing_rate_regulariser(spikes.clone(), cfg.target_rate_hz, task.dt_ms);
        let rate = spikes.mean().into_scalar::<f32>() as f64 * 1000.0 / task.dt_ms;
        let loss = cross_entropy(logits, &targets) + reg * cfg.rate_reg;
        (
            loss,
            vec![("recall_error".into(), err), ("rate_hz".into(), rate)],
        )
    }

    fn evaluate(&mut self, m: &StoreRecallNet, _: usize) -> Vec<(String, f64)> {
        let task = &self.cfg.task;
        let valid = m.valid();
        let (logits, targets, spikes) = valid.forward(&self.test, task, &self.eval_device);
        self.test_error = 1.0 - accuracy(logits, &targets);
        self.rate_hz = spikes.mean().into_scalar::<f32>() as f64 * 1000.0 / task.dt_ms;
        vec![("test_recall_error".into(), self.test_error)]
    }
}

/// What training one network produced.
struct Outcome {
    /// Recall error on the held-out sequences.
    test_error: f64,
    /// Training recall error per iteration.
    curve: Vec<(f64, f64)>,
    /// Mean firing rate on the held-out sequences (Hz).
    rate_hz: f64,
    /// The trained network.
    model: StoreRecallNet,
}

/// Trains one network with adaptation strength `beta`.
fn train_one(
    cfg: &StoreRecallExperiment,
    beta: f64,
    label: &str,
    opts: &RunOptions,
    report: &Report,
) -> Result<Outcome, String> {
    let device = opts.device.clone().autodiff();
    device.seed(opts.seed);
    let model = StoreRecallNet::new(cfg, beta, &device)?;
    let trainer = BpttTrainer::new(TrainerConfig {
        iterations: cfg.iterations,
        schedule: cfg.schedule,
        grad_clip_norm: None,
        checkpoint_every: 25,
        eval_every: 0,
    })?
    .with_checkpoints(report.out_dir().join(format!("checkpoint-{label}")))
    .with_metrics_log(report.out_dir().join(format!("metrics-{label}.jsonl")));
    let progress = super::progress_bar(cfg.iterations as u64, &format!("store-recall {label}"));
    let mut task = StoreRecallTask {
        cfg,
        seed: opts.seed,
        device: device.clone(),
        eval_device: opts.device.clone(),
        test: cfg
            .task
            .generate(cfg.test_sequences, opts.seed ^ 0x5EED_7E57),
        test_error: f64::NAN,
        rate_hz: f64::NAN,
    };
    let mut curve = vec![];
    let (model, _) = trainer.fit_task(model, opts.seed, opts.resume, &mut task, |r| {
        let metric = |k: &str| {
            r.metrics
                .get(k)
                .and_then(|v| v.as_f64())
                .unwrap_or(f64::NAN)
        };
        let (err, rate) = (metric("recall_error"), metric("rate_hz"));
        curve.push((r.iteration as f64, err));
        progress.set_message(format!(
            "loss {:.3} recall error {err:.3} rate {rate:.1} Hz",
            r.loss
        ));
        progress.inc(1);
    })?;
    let (test_error, rate_hz) = (task.test_error, task.rate_hz);
    progress.finish_and_clear();
    Ok(Outcome {
        test_error,
        curve,
        rate_hz,
        model,
    })
}

/// Runs the experiment and returns the final JSON line.
pub fn run(opts: &RunOptions) -> Result<String, String> {
    let base = if opts.quick {
        StoreRecallExperiment::quick()
    } else {
        StoreRecallExperiment::default()
    };
    let cfg = super::load_config(base, opts.config.as_deref())?;
    cfg.task.validate()?;
    if cfg.batch == 0 || cfg.iterations == 0 || cfg.test_sequences == 0 {
        return Err("`batch`, `iterations` and `test_sequences` must be at least 1".into());
    }
    let mut report = Report::new(
        "store-recall",
        &opts.backend,
        opts.seed,
        opts.quick,
        &opts.out_dir,
    )?;
    report.write_json("config.json", &cfg)?;
    let lsnn = train_one(&cfg, cfg.beta, "lsnn", opts, &report)?;
    report.metric("recall_error", round(lsnn.test_error));
    report.metric("rate_hz", round(lsnn.rate_hz));
    report.metric("iterations_to_5pct", iterations_to(&lsnn.curve, 0.05));
    write_raster(&lsnn.model, &cfg, opts, &report)?;
    let mut series = vec![Series {
        label: "LSNN (LIF + ALIF)",
        points: lsnn.curve,
    }];
    if cfg.lif_only_ablation {
        let lif = train_one(&cfg, 0.0, "lif-only", opts, &report)?;
        report.metric("recall_error_lif_only", round(lif.test_error));
        report.metric("rate_hz_lif_only", round(lif.rate_hz));
        report.metric(
            "iterations_to_5pct_lif_only",
            iterations_to(&lif.curve, 0.05),
        );
        series.push(Series {
            label: "LIF only (β = 0)",
            points: lif.curve,
        });
    }
    report.metric("iterations", cfg.iterations);
    report.paper(
        "recall_error",
        "< 0.05 (LSNN tutorial stops training there)",
    );
    let svg = line_chart(
        "store-recall: training recall error",
        "iteration",
        "recall error",
        &series,
    );
    std::fs::write(report.out_dir().join("learning_curve.svg"), svg).map_err(|e| e.to_string())?;
    Ok(report.finish())
}

/// Spike raster of the trained network on one held-out sequence, with its
/// store and recall periods shaded: `raster.svg`.
fn write_raster(
    model: &StoreRecallNet,
    cfg: &StoreRecallExperiment,
    opts: &RunOptions,
    report: &Report,
) -> Result<(), String> {
    let task = &cfg.task;
    let sample = task.generate(1, opts.seed ^ 0xA5A5);
    let s = &sample.spikes;
    let x = Tensor::<3>::from_data(
        TensorData::new(s.input.clone(), [s.steps, 1, s.channels]),
        &opts.device,
    );
    let valid = model.valid();
    let spikes = valid.recurrent.forward_sequence(x, Record::spikes()).spikes;
    let rows = super::raster_rows(spikes)?;
    let c = task.channels();
    let group_active = |k: usize, g: usize| {
        (k * task.symbol_ms..(k + 1) * task.symbol_ms).any(|t| {
            s.input[t * c + g * task.neurons_per_group..t * c + (g + 1) * task.neurons_per_group]
                .contains(&1.0)
        })
    };
    let mut bands = vec![];
    for k in 0..task.symbols {
        let span = (k * task.symbol_ms, (k + 1) * task.symbol_ms);
        if group_active(k, 2) {
            bands.push((span.0, span.1, "store"));
        }
        if group_active(k, 3) {
            bands.push((span.0, span.1, "recall"));
        }
    }
    let svg = crate::plot::raster(
        &format!(
            "store-recall: trained LSNN ({} LIF, then {} ALIF neurons)",
            cfg.n_lif, cfg.n_alif
        ),
        &rows,
        task.dt_ms,
        &bands,
    );
    std::fs::write(report.out_dir().join("raster.svg"), svg).map_err(|e| e.to_string())
}

/// First iteration at which the training recall error, averaged over the
/// last 20 iterations, is below `threshold` (`None`: never).
fn iterations_to(curve: &[(f64, f64)], threshold: f64) -> Option<usize> {
    const WINDOW: usize = 20;
    (WINDOW..=curve.len()).find(|&i| {
        curve[i - WINDOW..i].iter().map(|p| p.1).sum::<f64>() / (WINDOW as f64) < threshold
    })
}

fn round(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

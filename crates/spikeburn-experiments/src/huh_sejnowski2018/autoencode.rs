//! `autoencode-exact`: predictive coding — a [`GatedTheta`] network
//! receives a smooth 2-D signal `x(t)` ([`SmoothSignals`]) and must
//! reproduce it at its linear readout, `o(t) ≈ x(t)`, through its spikes.
//! The readout sees only the synaptic currents `s`, which lag the spikes by
//! `τ_s`, so a good code fires ahead of the signal, at the right moments:
//! this is the task of Huh & Sejnowski 2018 that needs precise spike timing.
//!
//! Loss: `mean_{t ≥ warmup} ‖ρ W_outᵀ s(t) − x(t)‖²` (`ρ` the readout
//! scale), trained by exact gradients (BPTT by plain autodiff through every
//! step) on a fresh batch of signals per iteration. The error reported is
//! that MSE over the signal's variance, on held-out signals.
//!
//! Before training the readout is zero (error 1 by construction), so the
//! error "before" is that of the **untrained network with its best linear
//! readout** (ridge regression of `x` on `s`, fitted on other signals): what
//! a reservoir of the random network gives. After training the error is
//! that of the trained network as trained, and again with a refitted
//! readout, so a reader sees how much of the gain is in the spikes rather
//! than in the readout.
//!
//! [`GatedTheta`]: spikeburn_core::layer::GatedTheta

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use spikeburn_core::layer::{Gate, GatedTheta, GatedThetaConfig, Record};
use spikeburn_plot::{Figure, LineChart, Raster, Series};
use spikeburn_tasks::smooth_signal::SmoothSignals;
use spikeburn_train::{
    AdamStep, BpttTrainer, GradientClipping, StepDecay, StepOutput, Task, TrainerConfig,
};

use crate::error::Result;
use crate::report::{Report, host_values, sequence_rows};
use crate::run::RunContext;
use crate::validation::{self as v, Validate};

/// The network, the signals and the training.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoencodeExperiment {
    /// The signals (their `dims` are the network's inputs and outputs).
    pub signal: SmoothSignals,
    /// Neurons.
    pub neurons: usize,
    /// Step (ms).
    pub dt_ms: f64,
    /// Gate zone width (rad).
    pub zone_width: f64,
    /// Input weight scale.
    pub input_gain: f64,
    /// Recurrent weight scale.
    pub recurrent_gain: f64,
    /// Bias current (a theta neuron fires tonically for > 0).
    pub bias: f64,
    /// Synaptic time constant (ms).
    pub tau_syn_ms: f64,
    /// The output is this times `W_outᵀ s` (the currents are about the rate
    /// in 1/ms, so small).
    pub readout_scale: f64,
    /// Time excluded from loss and error at the start of each signal (ms).
    pub warmup_ms: f64,
    /// Signals per batch.
    pub batch: usize,
    /// Training iterations (a fresh batch each).
    pub iterations: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Learning rate × 0.8 every this many iterations (0: constant).
    pub decay_every: usize,
    /// Gradients are clipped to this global norm (exact gradients through
    /// spike times have rare, very large values: a phase that barely
    /// crosses the gate).
    pub max_grad_norm: f64,
    /// Held-out signals (and as many for fitting the ridge readouts).
    pub test_signals: usize,
    /// Ridge penalty of the fitted readouts, relative to the mean diagonal
    /// of the currents' Gram matrix.
    pub ridge: f64,
    /// Checkpoint every this many iterations.
    pub checkpoint_every: usize,
}

impl Default for AutoencodeExperiment {
    fn default() -> Self {
        Self {
            signal: SmoothSignals::default(),
            neurons: 30,
            dt_ms: 0.25,
            zone_width: 0.6,
            input_gain: 3.0,
            recurrent_gain: 1.0,
            bias: 0.0,
            tau_syn_ms: 10.0,
            readout_scale: 20.0,
            warmup_ms: 50.0,
            batch: 16,
            iterations: 2000,
            learning_rate: 0.01,
            decay_every: 500,
            max_grad_norm: 0.3,
            test_signals: 64,
            ridge: 1e-3,
            checkpoint_every: 50,
        }
    }
}

impl AutoencodeExperiment {
    /// The reduced preset: 200-ms signals at 0.5-ms steps, 20 neurons,
    /// 300 iterations at a constant rate (about 20 s).
    pub fn quick() -> Self {
        Self {
            signal: SmoothSignals {
                duration_ms: 200.0,
                ..SmoothSignals::default()
            },
            neurons: 20,
            dt_ms: 0.5,
            iterations: 300,
            decay_every: 0,
            test_signals: 32,
            ..Self::default()
        }
    }

    fn network(&self) -> GatedThetaConfig {
        GatedThetaConfig::new(self.signal.dims, self.neurons, self.signal.dims)
            .with_dt(self.dt_ms)
            .with_zone_width(self.zone_width)
            .with_gate(Gate::Smooth)
            .with_input_gain(self.input_gain)
            .with_recurrent_gain(self.recurrent_gain)
            .with_bias(self.bias)
            .with_tau_syn(self.tau_syn_ms)
    }

    fn trainer(&self) -> TrainerConfig {
        TrainerConfig {
            iterations: self.iterations,
            schedule: StepDecay::decaying(self.learning_rate, 0.8, self.decay_every),
            checkpoint_every: self.checkpoint_every,
            eval_every: 0,
        }
    }

    fn warmup_steps(&self) -> usize {
        (self.warmup_ms / self.dt_ms).round() as usize
    }

    fn signals(&self, batch: usize, rng: &mut StdRng, device: &Device) -> Tensor<3> {
        let x = self.signal.batch(batch, self.dt_ms, rng);
        let steps = self.signal.steps(self.dt_ms);
        Tensor::from_data(TensorData::new(x, [steps, batch, self.signal.dims]), device)
    }
}

impl Validate for AutoencodeExperiment {
    fn validate(&self) -> Result<()> {
        self.signal.validate(self.dt_ms)?;
        v::count("neurons", self.neurons, 1, 2_000)?;
        v::count("batch", self.batch, 1, 1_024)?;
        v::count("iterations", self.iterations, 1, 1_000_000)?;
        v::count("test_signals", self.test_signals, 1, 100_000)?;
        v::count("checkpoint_every", self.checkpoint_every, 0, usize::MAX)?;
        v::count("decay_every", self.decay_every, 0, usize::MAX)?;
        v::positive("learning_rate", self.learning_rate, 0.0, 1.0)?;
        v::real("input_gain", self.input_gain, 0.0, 1e3)?;
        v::real("recurrent_gain", self.recurrent_gain, 0.0, 1e3)?;
        v::real("bias", self.bias, -100.0, 100.0)?;
        v::positive("readout_scale", self.readout_scale, 0.0, 1e4)?;
        v::positive("max_grad_norm", self.max_grad_norm, 0.0, 1e6)?;
        v::positive("ridge", self.ridge, 0.0, 1e3)?;
        // At least 10 steps must be scored.
        v::real(
            "warmup_ms",
            self.warmup_ms,
            0.0,
            self.signal.duration_ms - 10.0 * self.dt_ms,
        )?;
        self.network().validate()?;
        let steps = self.signal.steps(self.dt_ms) as f64;
        v::memory(
            "signal steps × batch × neurons",
            4.0 * 30.0 * steps * (self.batch * self.neurons) as f64,
        )?;
        self.trainer().validate()?;
        Ok(())
    }
}

/// `Σ (ŷ − x)²` and `Σ (x − x̄)²` over the scored steps of one batch
/// (host values): the error is their ratio.
fn squared_errors(prediction: Tensor<3>, target: Tensor<3>) -> (f64, f64) {
    let err: f32 = (prediction - target.clone())
        .powf_scalar(2.0)
        .sum()
        .into_scalar();
    let mean = target.clone().mean().into_scalar::<f32>();
    let var: f32 = (target - mean).powf_scalar(2.0).sum().into_scalar();
    (err as f64, var as f64)
}

struct AutoencodeTask<'a> {
    exp: &'a AutoencodeExperiment,
    seed: u64,
    device: Device,
}

impl Task<GatedTheta> for AutoencodeTask<'_> {
    fn train_step(
        &mut self,
        model: &GatedTheta,
        it: usize,
    ) -> spikeburn_train::error::Result<StepOutput> {
        let exp = self.exp;
        let mut rng = crate::run::batch_rng(self.seed, it);
        let x = exp.signals(exp.batch, &mut rng, &self.device);
        let out = model.try_forward_sequence(x.clone(), None, Record::spikes())?;
        let w = exp.warmup_steps();
        let prediction = out.output.slice(s![w.., .., ..]) * exp.readout_scale;
        let target = x.slice(s![w.., .., ..]);
        let (err, var) = squared_errors(prediction.clone().detach(), target.clone());
        let loss = (prediction - target).powf_scalar(2.0).mean();
        let rate = out.trace.spikes.mean().into_scalar::<f32>() as f64 * 1000.0 / exp.dt_ms;
        Ok((
            loss,
            vec![
                ("reconstruction_error".into(), err / var),
                ("rate_hz".into(), rate),
            ],
        ))
    }
}

/// A network scored on a set of signals.
struct Scored {
    /// MSE over the signals' variance (scored steps).
    error: f64,
    /// Mean spikes per neuron per second.
    rate_hz: f64,
    /// First signal: input, output and spikes `[T, 1, ·]`.
    example: (Tensor<3>, Tensor<3>, Tensor<3>),
}

fn score(model: &GatedTheta, exp: &AutoencodeExperiment, signals: &[Tensor<3>]) -> Result<Scored> {
    let w = exp.warmup_steps();
    let (mut err, mut var, mut rate, mut sequences) = (0.0, 0.0, 0.0, 0usize);
    let mut example = None;
    for x in signals {
        let out = model.try_forward_sequence(x.clone(), None, Record::spikes())?;
        let output = out.output * exp.readout_scale;
        let (e, v) = squared_errors(
            output.clone().slice(s![w.., .., ..]),
            x.clone().slice(s![w.., .., ..]),
        );
        err += e;
        var += v;
        let b = x.dims()[1];
        rate += out.trace.spikes.clone().mean().into_scalar::<f32>() as f64 * b as f64;
        sequences += b;
        if example.is_none() {
            example = Some((
                x.clone().slice(s![.., 0..1, ..]),
                output.slice(s![.., 0..1, ..]),
                out.trace.spikes.slice(s![.., 0..1, ..]),
            ));
        }
    }
    Ok(Scored {
        error: err / var,
        rate_hz: rate / sequences as f64 * 1000.0 / exp.dt_ms,
        example: example.expect("at least one batch of signals (validated)"),
    })
}

/// `model` with the ridge-regression readout of the signals on its
/// synaptic currents (scored steps of `signals`).
fn with_fitted_readout(
    model: &GatedTheta,
    exp: &AutoencodeExperiment,
    signals: &[Tensor<3>],
) -> Result<GatedTheta> {
    let (n, dims, w) = (exp.neurons, exp.signal.dims, exp.warmup_steps());
    let device = signals[0].device();
    let mut gram = Tensor::<2>::zeros([n, n], &device);
    let mut cross = Tensor::<2>::zeros([n, dims], &device);
    let record = Record {
        synaptic: true,
        ..Record::default()
    };
    for x in signals {
        let out = model.try_forward_sequence(x.clone(), None, record)?;
        let currents = out
            .trace
            .synaptic
            .expect("the currents were recorded")
            .slice(s![w.., .., ..]);
        let rows = currents.dims()[0] * currents.dims()[1];
        let s2 = currents.reshape([rows, n]);
        let x2 = x.clone().slice(s![w.., .., ..]).reshape([rows, dims]);
        gram = gram + s2.clone().transpose().matmul(s2.clone());
        cross = cross + s2.transpose().matmul(x2);
    }
    let weights = crate::ridge::ridge_solve(
        host_values(gram, "Gram matrix of the currents")?,
        host_values(cross, "currents × signals")?,
        n,
        dims,
        exp.ridge,
    )?;
    let scaled: Vec<f32> = weights
        .iter()
        .map(|w| (w / exp.readout_scale) as f32)
        .collect();
    let mut fitted = model.clone();
    fitted.output_weights = Param::from_tensor(Tensor::from_data(
        TensorData::new(scaled, [n, dims]),
        &device,
    ));
    Ok(fitted)
}

/// Trains the network and scores it on held-out signals. Metrics:
/// `reconstruction_error_before` (untrained network, ridge readout),
/// `reconstruction_error_after` (trained network as trained),
/// `reconstruction_error_after_refit` (trained network, ridge readout),
/// `rate_hz_before`, `rate_hz` (after), `sec_per_iter`, `iterations`.
/// Resumes from `checkpoint/` with `--resume`.
pub fn autoencode(exp: &AutoencodeExperiment, device: &Device, ctx: &RunContext) -> Result<Report> {
    exp.validate()?;
    ctx.prepare(exp)?;
    let mut report = Report::new("autoencode-exact", ctx);
    let train_device = device.clone().autodiff();
    train_device.seed(ctx.seed);
    let initial = exp.network().init(&train_device)?;
    let base = device.clone().without_autodiff();
    let batches = |salt: u64| -> Vec<Tensor<3>> {
        let mut rng = StdRng::seed_from_u64(ctx.seed ^ salt);
        let mut left = exp.test_signals;
        let mut out = vec![];
        while left > 0 {
            let b = exp.batch.min(left);
            out.push(exp.signals(b, &mut rng, &base));
            left -= b;
        }
        out
    };
    let (fit_signals, test_signals) = (batches(0xF17_5EED), batches(0x7E57_5A3D));

    let untrained = with_fitted_readout(&initial.valid(), exp, &fit_signals)?;
    let before = score(&untrained, exp, &test_signals)?;

    let dir = ctx.path("checkpoint");
    let trainer = BpttTrainer::new(exp.trainer())?
        .with_checkpoints(dir)
        .with_metrics_log(ctx.path("metrics.jsonl"));
    let mut task = AutoencodeTask {
        exp,
        seed: ctx.seed,
        device: train_device.clone(),
    };
    let mut adam = AdamStep::new(GradientClipping::GlobalNorm {
        max_norm: exp.max_grad_norm,
    })?;
    ctx.observer
        .start("autoencode-exact", exp.iterations as u64);
    let fitted = trainer.fit(initial, &mut adam, &mut task, ctx.seed, ctx.resume, |r| {
        ctx.observer.advance(&format!(
            "loss {:.3} error {:.3} rate {:.1} Hz",
            r.loss,
            r.get("reconstruction_error").unwrap_or(f64::NAN),
            r.get("rate_hz").unwrap_or(f64::NAN)
        ));
    })?;
    ctx.observer.finish();
    let sec_per_iter = crate::run::timed(&fitted, &mut task)?;
    let trained = fitted.model.valid();
    let after = score(&trained, exp, &test_signals)?;
    let refit = score(
        &with_fitted_readout(&trained, exp, &fit_signals)?,
        exp,
        &test_signals,
    )?;

    report.metric("reconstruction_error_before", before.error)?;
    report.metric("reconstruction_error_after", after.error)?;
    report.metric("reconstruction_error_after_refit", refit.error)?;
    report.metric("rate_hz_before", before.rate_hz)?;
    report.metric("rate_hz", after.rate_hz)?;
    report.metric("sec_per_iter", sec_per_iter)?;
    report.count("iterations", exp.iterations);

    let curve: Vec<(f64, f64)> = fitted
        .history
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.get("reconstruction_error").map(|e| (i as f64, e)))
        .collect();
    report.figure(
        "learning_curve",
        Figure::Line(
            LineChart::new(
                "auto-encoding: training-batch error (MSE / variance)",
                "iteration",
                "error",
                vec![Series::new("exact gradients (gated theta)", curve)],
            )
            .with_log_y(),
        ),
    );
    let trace = |t: &Tensor<3>, d: usize| -> Result<Vec<(f64, f64)>> {
        Ok(sequence_rows(t.clone())?
            .iter()
            .enumerate()
            .map(|(i, row)| ((i as f64 + 0.5) * exp.dt_ms, row[d] as f64))
            .collect())
    };
    for d in 0..exp.signal.dims.min(2) {
        report.figure(
            format!("reconstruction_dim{d}"),
            Figure::Line(LineChart::new(
                format!("held-out signal, dimension {d}: input and readout"),
                "time (ms)",
                "value",
                vec![
                    Series::new("input x", trace(&after.example.0, d)?),
                    Series::new("readout after training", trace(&after.example.1, d)?),
                    Series::new(
                        "untrained network, ridge readout",
                        trace(&before.example.1, d)?,
                    ),
                ],
            )),
        );
    }
    for (stem, scored, when) in [
        ("raster_before", &before, "untrained"),
        ("raster_after", &after, "trained"),
    ] {
        report.figure(
            stem,
            Figure::Raster(Raster::new(
                format!("{when} network: spikes on a held-out signal"),
                sequence_rows(scored.example.2.clone())?,
                exp.dt_ms,
            )),
        );
    }
    report.paper(
        "task",
        "auto-encoding of a smooth input through precisely timed spikes; no error given",
    );
    Ok(report.finish())
}

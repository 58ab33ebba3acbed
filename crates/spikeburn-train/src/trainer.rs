//! The BPTT training loop.

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;

use crate::checkpoint::{Checkpoint, TrainState};
use crate::schedule::StepDecay;

/// How a [`BpttTrainer`] trains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerConfig {
    /// Total iterations (one batch each).
    pub iterations: usize,
    /// Learning-rate schedule for Adam.
    pub schedule: StepDecay,
    /// Clip the global gradient norm to this value.
    pub grad_clip_norm: Option<f32>,
    /// Save a checkpoint every this many iterations (0: only at the end).
    pub checkpoint_every: usize,
    /// Call the evaluation every this many iterations (0: only at the end).
    pub eval_every: usize,
}

/// What one training iteration reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IterationReport {
    /// Iteration index (0-based).
    pub iteration: usize,
    /// Training loss (before this iteration's update).
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Experiment metrics of the step (and of the evaluation, when it ran).
    pub metrics: serde_json::Map<String, serde_json::Value>,
}

/// BPTT with Adam (ε = 1e-8), schedules, clipping, metrics and checkpoints.
///
/// The caller supplies the loss of one iteration as a closure of the model and
/// the iteration index. Deriving each batch from `(seed, iteration)` makes a
/// resumed run see exactly the data the uninterrupted run would have seen.
pub struct BpttTrainer {
    config: TrainerConfig,
    checkpoint: Option<Checkpoint>,
    metrics_log: Option<PathBuf>,
}

/// The loss of one iteration and the metrics to log with it.
pub type StepOutput = (Tensor<1>, Vec<(String, f64)>);

/// A task the trainer iterates over: the loss of each iteration's training
/// batch, and held-out evaluation.
///
/// `train_step` should derive its batch from `iteration` (e.g. seed the
/// generator with it), so that a resumed run sees the same data as an
/// uninterrupted one.
pub trait Task<M> {
    /// Loss (scalar, on the autodiff device) and metrics of iteration
    /// `iteration`.
    fn train_step(&mut self, model: &M, iteration: usize) -> StepOutput;
    /// Held-out metrics; run every `eval_every` iterations and at the end.
    fn evaluate(&mut self, model: &M, iteration: usize) -> Vec<(String, f64)> {
        let _ = (model, iteration);
        vec![]
    }
}

impl BpttTrainer {
    /// A trainer; checks the configuration.
    pub fn new(config: TrainerConfig) -> Result<Self, String> {
        config.schedule.validate()?;
        if config.iterations == 0 {
            return Err("`iterations` = 0 is invalid: expected at least 1".into());
        }
        if let Some(c) = config.grad_clip_norm
            && !(c.is_finite() && c > 0.0)
        {
            return Err(format!("`grad_clip_norm` = {c} is invalid: expected > 0"));
        }
        Ok(Self {
            config,
            checkpoint: None,
            metrics_log: None,
        })
    }

    /// Saves checkpoints in `dir` (and resumes from there with `resume`).
    pub fn with_checkpoints(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(Checkpoint::new(dir.into()));
        self
    }

    /// Appends one JSON line per iteration to `path`.
    pub fn with_metrics_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.metrics_log = Some(path.into());
        self
    }

    /// Trains `model` on `task` (see [`fit`](Self::fit)).
    pub fn fit_task<M, T, P>(
        &self,
        model: M,
        seed: u64,
        resume: bool,
        task: &mut T,
        on_iteration: P,
    ) -> Result<(M, Vec<IterationReport>), String>
    where
        M: Module,
        T: Task<M>,
        P: FnMut(&IterationReport),
    {
        let task = std::cell::RefCell::new(task);
        self.fit(
            model,
            seed,
            resume,
            |m, it| task.borrow_mut().train_step(m, it),
            |m, it| task.borrow_mut().evaluate(m, it),
            on_iteration,
        )
    }

    /// Trains `model`. With `resume` and an existing checkpoint, training
    /// continues from it. `step` returns the iteration's loss; `eval` runs every
    /// `eval_every` iterations and at the end; `on_iteration` sees every report
    /// (progress bars). Returns the trained model and the reports of this call.
    pub fn fit<M, S, E, P>(
        &self,
        mut model: M,
        seed: u64,
        resume: bool,
        mut step: S,
        mut eval: E,
        mut on_iteration: P,
    ) -> Result<(M, Vec<IterationReport>), String>
    where
        M: Module,
        S: FnMut(&M, usize) -> StepOutput,
        E: FnMut(&M, usize) -> Vec<(String, f64)>,
        P: FnMut(&IterationReport),
    {
        let cfg = &self.config;
        let mut adam = AdamConfig::new().with_epsilon(1e-8);
        if let Some(c) = cfg.grad_clip_norm {
            adam = adam.with_grad_clipping(Some(GradientClippingConfig::Norm(c)));
        }
        let mut optim = adam.init();
        let mut start = 0;
        if resume && let Some(ck) = self.checkpoint.as_ref().filter(|c| c.exists()) {
            let (m, o, state) = ck.load(model, optim)?;
            if state.seed != seed {
                return Err(format!(
                    "the checkpoint was made with seed {} but this run has seed {seed}: \
                     resume with the same --seed",
                    state.seed
                ));
            }
            (model, optim, start) = (m, o, state.iteration);
        }
        let mut log = match &self.metrics_log {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(resume)
                    .write(true)
                    .truncate(!resume)
                    .open(path)
                    .map_err(|e| format!("cannot open {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let mut reports = vec![];
        for it in start..cfg.iterations {
            let lr = cfg.schedule.at(it);
            let (loss, metrics) = step(&model, it);
            let loss_value = loss.clone().into_scalar::<f32>() as f64;
            if !loss_value.is_finite() {
                return Err(format!(
                    "training diverged: the loss became {loss_value} at iteration {it} \
                     (lower the learning rate or enable gradient clipping)"
                ));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            let mut report = IterationReport {
                iteration: it,
                loss: loss_value,
                lr,
                metrics: metrics
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::json!(v)))
                    .collect(),
            };
            let last = it + 1 == cfg.iterations;
            if last || (cfg.eval_every > 0 && (it + 1) % cfg.eval_every == 0) {
                for (k, v) in eval(&model, it) {
                    report.metrics.insert(k, serde_json::json!(v));
                }
            }
            if let Some(f) = log.as_mut() {
                let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
                writeln!(f, "{line}").map_err(|e| e.to_string())?;
            }
            if let Some(ck) = &self.checkpoint
                && (last || (cfg.checkpoint_every > 0 && (it + 1) % cfg.checkpoint_every == 0))
            {
                let state = TrainState {
                    iteration: it + 1,
                    seed,
                    extra: serde_json::Value::Null,
                };
                ck.save(&model, &optim, &state)?;
            }
            on_iteration(&report);
            reports.push(report);
        }
        Ok((model, reports))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;

    #[derive(Module, Debug)]
    struct Linear1 {
        w: Param<Tensor<1>>,
    }

    fn quadratic_step(m: &Linear1, it: usize) -> StepOutput {
        // Targets change with the iteration so data order matters on resume.
        let device = m.w.val().device();
        let target = Tensor::<1>::from_floats([1.0 + it as f32 * 0.01, -2.0], &device);
        ((m.w.val() - target).powi_scalar(2).sum(), vec![])
    }

    fn config(iterations: usize) -> TrainerConfig {
        TrainerConfig {
            iterations,
            schedule: StepDecay {
                initial: 0.1,
                factor: 0.5,
                every: 4,
            },
            grad_clip_norm: Some(10.0),
            checkpoint_every: 3,
            eval_every: 0,
        }
    }

    fn fresh(device: &Device) -> Linear1 {
        Linear1 {
            w: Param::from_tensor(Tensor::from_floats([0.0, 0.0], device)),
        }
    }

    #[test]
    fn resumed_run_equals_the_uninterrupted_one() {
        let device = Device::default().autodiff();
        let dir = std::env::temp_dir().join(format!("spikeburn-resume-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (full, reports) = BpttTrainer::new(config(10))
            .unwrap()
            .fit(
                fresh(&device),
                1,
                false,
                quadratic_step,
                |_, _| vec![],
                |_| {},
            )
            .unwrap();
        assert!(reports.last().unwrap().loss < reports[0].loss);
        // "Kill" after 6 iterations (checkpoint at 6), then resume to 10.
        let trainer = BpttTrainer::new(config(6)).unwrap().with_checkpoints(&dir);
        trainer
            .fit(
                fresh(&device),
                1,
                false,
                quadratic_step,
                |_, _| vec![],
                |_| {},
            )
            .unwrap();
        let trainer = BpttTrainer::new(config(10)).unwrap().with_checkpoints(&dir);
        let (resumed, reports) = trainer
            .fit(
                fresh(&device),
                1,
                true,
                quadratic_step,
                |_, _| vec![],
                |_| {},
            )
            .unwrap();
        assert_eq!(reports.first().unwrap().iteration, 6);
        let a = full.w.val().into_data().try_to_vec::<f32>().unwrap();
        let b = resumed.w.val().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(a, b, "resumed weights differ from the uninterrupted run");
        // A different seed is refused rather than silently mixing runs.
        let e = trainer
            .fit(
                fresh(&device),
                2,
                true,
                quadratic_step,
                |_, _| vec![],
                |_| {},
            )
            .err()
            .unwrap();
        assert!(e.contains("seed"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }

    /// The quadratic problem as a [`Task`] that also counts its evaluations.
    struct Quadratic {
        evaluations: usize,
    }

    impl Task<Linear1> for Quadratic {
        fn train_step(&mut self, model: &Linear1, iteration: usize) -> StepOutput {
            quadratic_step(model, iteration)
        }
        fn evaluate(&mut self, model: &Linear1, _: usize) -> Vec<(String, f64)> {
            self.evaluations += 1;
            vec![(
                "w0".into(),
                model.w.val().into_data().try_to_vec::<f32>().unwrap()[0] as f64,
            )]
        }
    }

    #[test]
    fn a_task_trains_like_the_closures_and_is_evaluated_on_schedule() {
        let device = Device::default().autodiff();
        let (a, _) = BpttTrainer::new(config(8))
            .unwrap()
            .fit(
                fresh(&device),
                1,
                false,
                quadratic_step,
                |_, _| vec![],
                |_| {},
            )
            .unwrap();
        let mut task = Quadratic { evaluations: 0 };
        let trainer = BpttTrainer::new(TrainerConfig {
            eval_every: 3,
            ..config(8)
        })
        .unwrap();
        let (b, reports) = trainer
            .fit_task(fresh(&device), 1, false, &mut task, |_| {})
            .unwrap();
        assert_eq!(
            a.w.val().into_data().try_to_vec::<f32>().unwrap(),
            b.w.val().into_data().try_to_vec::<f32>().unwrap()
        );
        // Iterations 3 and 6, and the end.
        assert_eq!(task.evaluations, 3);
        assert!(reports.last().unwrap().metrics.contains_key("w0"));
    }

    #[test]
    fn divergence_is_reported() {
        let device = Device::default().autodiff();
        let e = BpttTrainer::new(config(3))
            .unwrap()
            .fit(
                fresh(&device),
                0,
                false,
                |m: &Linear1, _| (m.w.val().sum() / 0.0, vec![]),
                |_, _| vec![],
                |_| {},
            )
            .err()
            .unwrap();
        assert!(e.contains("diverged") && e.contains("iteration 0"), "{e}");
    }
}

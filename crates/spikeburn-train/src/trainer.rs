//! The BPTT training loop, with a pluggable optimizer step.
//!
//! [`BpttTrainer::fit`] runs `iterations` steps of: the [`Task`]'s loss on
//! the iteration's batch → `loss.backward()` → the [`OptimizerStep`]'s update
//! ([`AdamStep`]: Burn's Adam; [`crate::DeepRStep`]: DEEP R rewiring). It
//! logs one JSON line per iteration, evaluates on schedule, checkpoints
//! atomically ([`Checkpoint`]) and, with `resume`, continues from the newest
//! checkpoint so that the run ends exactly as an uninterrupted one would.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Gradients;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::checkpoint::{Checkpoint, TrainState};
use crate::error::{Result, TrainError};
use crate::interrupt;
use crate::schedule::StepDecay;

/// How a [`BpttTrainer`] trains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerConfig {
    /// Total iterations (one batch each).
    pub iterations: usize,
    /// Learning-rate schedule.
    pub schedule: StepDecay,
    /// Save a checkpoint every this many iterations (0: only at the end).
    pub checkpoint_every: usize,
    /// Call [`Task::evaluate`] every this many iterations (0: never; the
    /// caller evaluates the returned model).
    pub eval_every: usize,
}

impl TrainerConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        self.schedule.validate()?;
        if self.iterations == 0 || self.iterations > MAX_ITERATIONS {
            return Err(TrainError::invalid(
                "iterations",
                self.iterations,
                format!("1 ..= {MAX_ITERATIONS}"),
            ));
        }
        Ok(())
    }
}

/// The most iterations a run may ask for (a typo guard: 10⁷ sMNIST
/// iterations would be years on a CPU).
pub const MAX_ITERATIONS: usize = 10_000_000;

/// What one training iteration reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IterationReport {
    /// Iteration index (0-based).
    pub iteration: usize,
    /// Training loss (before this iteration's update).
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// The task's and the optimizer's metrics of the step (and the
    /// evaluation's, when it ran).
    pub metrics: serde_json::Map<String, serde_json::Value>,
}

impl IterationReport {
    /// A metric as a number, if it was logged.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).and_then(serde_json::Value::as_f64)
    }
}

/// The loss of one iteration (a scalar on the autodiff device) and the
/// metrics to log with it.
pub type StepOutput = (Tensor<1>, Vec<(String, f64)>);

/// A task the trainer iterates over: the loss of each iteration's training
/// batch, and held-out evaluation.
///
/// `train_step` should derive its batch from `iteration` (e.g. seed the
/// generator with it), so that a resumed run sees the same data as an
/// uninterrupted one.
pub trait Task<M> {
    /// Loss and metrics of iteration `iteration`.
    fn train_step(&mut self, model: &M, iteration: usize) -> Result<StepOutput>;
    /// Held-out metrics; run every `eval_every` iterations.
    fn evaluate(&mut self, model: &M, iteration: usize) -> Result<Vec<(String, f64)>> {
        let _ = (model, iteration);
        Ok(vec![])
    }
}

/// One parameter update from the gradients of a loss: the part of training
/// that differs between Adam and DEEP R.
pub trait OptimizerStep<M> {
    /// Called once before training (fresh or resumed): puts the optimizer's
    /// view of the parameters into the model (DEEP R's signed weights).
    fn attach(&mut self, model: M) -> Result<M> {
        Ok(model)
    }
    /// Updates `model` from `grads` with learning rate `lr`; returns the new
    /// model and metrics of the step (gradient norm, rewired connections...).
    fn step(
        &mut self,
        model: M,
        grads: Gradients,
        lr: f64,
        iteration: usize,
    ) -> Result<(M, Vec<(String, f64)>)>;
    /// Writes the optimizer's state into a checkpoint folder.
    fn save(&self, dir: &Path) -> Result<()>;
    /// Reads the state [`save`](Self::save) wrote.
    fn load(&mut self, dir: &Path) -> Result<()>;
}

/// How gradients are clipped before an Adam step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GradientClipping {
    /// No clipping.
    #[default]
    None,
    /// The joint Euclidean norm of all gradients together is scaled down to
    /// at most `max_norm` (directions kept; PyTorch's `clip_grad_norm_`).
    GlobalNorm {
        /// Largest joint norm.
        max_norm: f64,
    },
    /// Each parameter's gradient is scaled down to norm `max_norm` on its
    /// own (Burn's `GradientClipping::Norm`; changes the joint direction).
    PerTensorNorm {
        /// Largest norm per parameter.
        max_norm: f64,
    },
}

impl GradientClipping {
    /// Checks the bound.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::None => Ok(()),
            Self::GlobalNorm { max_norm } | Self::PerTensorNorm { max_norm } => {
                if max_norm > 0.0 && max_norm.is_finite() {
                    Ok(())
                } else {
                    Err(TrainError::invalid(
                        "clipping.max_norm",
                        max_norm,
                        "a finite norm > 0",
                    ))
                }
            }
        }
    }
}

/// Burn's Adam (ε = 1e-8, PyTorch's default, not Burn's 1e-5) as an
/// [`OptimizerStep`], with optional gradient clipping. Reports the global
/// gradient norm before clipping (`grad_norm`).
pub struct AdamStep {
    optim: Option<ModuleOptimizer>,
    clipping: GradientClipping,
}

impl AdamStep {
    /// Adam with the given clipping.
    pub fn new(clipping: GradientClipping) -> Result<Self> {
        clipping.validate()?;
        let mut adam = AdamConfig::new().with_epsilon(1e-8);
        if let GradientClipping::PerTensorNorm { max_norm } = clipping {
            adam = adam.with_grad_clipping(Some(
                burn::grad_clipping::GradientClippingConfig::Norm(max_norm as f32),
            ));
        }
        Ok(Self {
            optim: Some(adam.init()),
            clipping,
        })
    }
}

const ADAM_FILE: &str = "optimizer.bpk";

impl<M: Module> OptimizerStep<M> for AdamStep {
    fn step(
        &mut self,
        model: M,
        grads: Gradients,
        lr: f64,
        _iteration: usize,
    ) -> Result<(M, Vec<(String, f64)>)> {
        let mut grads = GradientsParams::from_grads(grads, &model);
        let norm = global_norm(&model, &grads);
        if let GradientClipping::GlobalNorm { max_norm } = self.clipping
            && norm > max_norm
        {
            scale_gradients(&model, &mut grads, max_norm / norm);
        }
        let optim = self
            .optim
            .as_mut()
            .expect("AdamStep always holds its optimizer");
        Ok((
            optim.step(lr, model, grads),
            vec![("grad_norm".into(), norm)],
        ))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(ADAM_FILE);
        let optim = self
            .optim
            .as_ref()
            .expect("AdamStep always holds its optimizer");
        optim.save(&path).map_err(|e| TrainError::Checkpoint {
            path,
            reason: format!("cannot save the optimizer: {e}"),
        })
    }

    fn load(&mut self, dir: &Path) -> Result<()> {
        let path = dir.join(ADAM_FILE);
        let optim = self
            .optim
            .take()
            .expect("AdamStep always holds its optimizer");
        let loaded = optim.load(&path).map_err(|e| TrainError::Checkpoint {
            path,
            reason: format!("cannot load the optimizer: {e}"),
        })?;
        self.optim = Some(loaded);
        Ok(())
    }
}

/// Joint Euclidean norm of the gradients of `model`'s float parameters.
pub fn global_norm<M: Module>(model: &M, grads: &GradientsParams) -> f64 {
    struct Norm<'a> {
        grads: &'a GradientsParams,
        sum: f64,
    }
    impl ModuleVisitor for Norm<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.sum += g.powi_scalar(2).sum().into_scalar::<f32>() as f64;
            }
        }
    }
    let mut v = Norm { grads, sum: 0.0 };
    model.visit(&mut v);
    v.sum.sqrt()
}

fn scale_gradients<M: Module>(model: &M, grads: &mut GradientsParams, factor: f64) {
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                self.grads.register(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    model.visit(&mut Scale { grads, factor });
}

/// What [`BpttTrainer::fit`] returns.
pub struct Fitted<M> {
    /// The trained model.
    pub model: M,
    /// Reports of every iteration of the run, including those done before a
    /// resume (read back from the metrics log).
    pub history: Vec<IterationReport>,
    /// The iteration this call started at (0, or the checkpoint's).
    pub resumed_at: usize,
}

impl<M> Fitted<M> {
    /// Mean wall time of a training iteration (forward, backward, update),
    /// over every logged iteration that recorded it (`iteration_s`, written
    /// by [`BpttTrainer::fit`]) — a resumed run's earlier ones included, so
    /// a run that was already finished still reports it; `None` if none did.
    pub fn sec_per_iter(&self) -> Option<f64> {
        let times: Vec<f64> = self
            .history
            .iter()
            .filter_map(|r| r.get("iteration_s"))
            .collect();
        (!times.is_empty()).then(|| times.iter().sum::<f64>() / times.len() as f64)
    }
}

/// BPTT over a [`Task`] with an [`OptimizerStep`]: schedules, metrics,
/// atomic checkpoints and exact resumption.
pub struct BpttTrainer {
    config: TrainerConfig,
    checkpoint: Option<Checkpoint>,
    metrics_log: Option<PathBuf>,
    stop: Option<Arc<AtomicBool>>,
}

/// The model's file (a Burn record) in each checkpoint folder.
pub const MODEL_FILE: &str = "model.bpk";

impl BpttTrainer {
    /// A trainer; checks the configuration.
    pub fn new(config: TrainerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            checkpoint: None,
            metrics_log: None,
            stop: None,
        })
    }

    /// Saves checkpoints under `dir` (and resumes from there with `resume`).
    pub fn with_checkpoints(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(Checkpoint::new(dir.into()));
        self
    }

    /// Writes one JSON line per iteration to `path`.
    pub fn with_metrics_log(mut self, path: impl Into<PathBuf>) -> Self {
        self.metrics_log = Some(path.into());
        self
    }

    /// Stops (as on [`interrupt::request_stop`]) when `flag` is set, instead
    /// of on the process-wide request: for callers that manage their own.
    pub fn with_stop_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    /// Trains `model` on `task` with `optimizer`. With `resume` and a
    /// checkpoint under the checkpoint folder, training continues from it
    /// (model, optimizer state, iteration; the metrics log is cut back to
    /// the checkpoint's iteration); a run that had already finished returns
    /// at once with its model and history. `on_iteration` sees every new
    /// report (progress bars). With checkpoints, a stop request
    /// ([`interrupt`]) ends the run after the iteration in progress with a
    /// checkpoint there and [`TrainError::Interrupted`].
    pub fn fit<M, T, O, P>(
        &self,
        mut model: M,
        optimizer: &mut O,
        task: &mut T,
        seed: u64,
        resume: bool,
        mut on_iteration: P,
    ) -> Result<Fitted<M>>
    where
        M: Module,
        T: Task<M>,
        O: OptimizerStep<M>,
        P: FnMut(&IterationReport),
    {
        let cfg = &self.config;
        let mut start = 0;
        if resume
            && let Some(ck) = &self.checkpoint
            && let Some(dir) = ck.latest()?
        {
            let state = crate::checkpoint::read_state(&dir)?;
            if state.seed != seed {
                return Err(TrainError::SeedMismatch {
                    path: dir,
                    saved: state.seed,
                    requested: seed,
                });
            }
            if state.iteration > cfg.iterations {
                return Err(TrainError::Checkpoint {
                    path: dir,
                    reason: format!(
                        "it is at iteration {} but this run has only {} iterations",
                        state.iteration, cfg.iterations
                    ),
                });
            }
            let path = dir.join(MODEL_FILE);
            model = model
                .try_load_file(&path)
                .map_err(|e| TrainError::Checkpoint {
                    path: path.clone(),
                    reason: format!("cannot load the model: {e}"),
                })?;
            optimizer.load(&dir)?;
            start = state.iteration;
        }
        model = optimizer.attach(model)?;
        let mut history = match &self.metrics_log {
            Some(path) => restart_log(path, start)?,
            None => vec![],
        };
        let mut log = match &self.metrics_log {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map_err(|e| TrainError::io("open", path, e))?,
            ),
            None => None,
        };
        let _listening = self.checkpoint.is_some().then(interrupt::Listening::start);
        let stop_requested = || {
            self.stop
                .as_ref()
                .map_or_else(interrupt::stop_requested, |f| f.load(Ordering::SeqCst))
        };
        for it in start..cfg.iterations {
            let started = std::time::Instant::now();
            let lr = cfg.schedule.at(it);
            let (loss, metrics) = task.train_step(&model, it)?;
            let loss_value = loss.clone().into_scalar::<f32>() as f64;
            if !loss_value.is_finite() {
                return Err(TrainError::Diverged {
                    iteration: it,
                    what: "loss".into(),
                    value: loss_value,
                });
            }
            let (m, step_metrics) = optimizer.step(model, loss.backward(), lr, it)?;
            model = m;
            let mut report = IterationReport {
                iteration: it,
                loss: loss_value,
                lr,
                metrics: metrics
                    .into_iter()
                    .chain(step_metrics)
                    .chain([("iteration_s".to_string(), started.elapsed().as_secs_f64())])
                    .map(|(k, v)| (k, serde_json::json!(v)))
                    .collect(),
            };
            if let Some(norm) = report.get("grad_norm")
                && !norm.is_finite()
            {
                return Err(TrainError::Diverged {
                    iteration: it,
                    what: "gradient norm".into(),
                    value: norm,
                });
            }
            let done = it + 1;
            if cfg.eval_every > 0 && done % cfg.eval_every == 0 {
                for (k, v) in task.evaluate(&model, it)? {
                    report.metrics.insert(k, serde_json::json!(v));
                }
            }
            if let (Some(f), Some(path)) = (log.as_mut(), &self.metrics_log) {
                let line = serde_json::to_string(&report).expect("reports serialise");
                writeln!(f, "{line}").map_err(|e| TrainError::io("write", path, e))?;
            }
            let stop = self.checkpoint.is_some() && done < cfg.iterations && stop_requested();
            if let Some(ck) = &self.checkpoint
                && (done == cfg.iterations
                    || stop
                    || (cfg.checkpoint_every > 0 && done % cfg.checkpoint_every == 0))
            {
                let state = TrainState {
                    iteration: done,
                    seed,
                    extra: serde_json::Value::Null,
                };
                let saved = ck.save(&state, |dir| {
                    let path = dir.join(MODEL_FILE);
                    model
                        .clone()
                        .save_file(&path)
                        .map_err(|e| TrainError::Checkpoint {
                            path,
                            reason: format!("cannot save the model: {e}"),
                        })?;
                    optimizer.save(dir)
                })?;
                if stop {
                    on_iteration(&report);
                    return Err(TrainError::Interrupted {
                        iteration: done,
                        checkpoint: saved,
                    });
                }
            }
            on_iteration(&report);
            history.push(report);
        }
        Ok(Fitted {
            model,
            history,
            resumed_at: start,
        })
    }
}

/// Keeps the lines of the metrics log at `path` with an iteration below
/// `start` (a killed run may have logged iterations past its checkpoint,
/// and may have been killed mid-line), rewrites the file with them (through
/// a rename) and returns them.
fn restart_log(path: &Path, start: usize) -> Result<Vec<IterationReport>> {
    let kept: Vec<IterationReport> = if start == 0 {
        vec![]
    } else {
        match std::fs::read_to_string(path) {
            Ok(text) => text
                .lines()
                .filter_map(|l| serde_json::from_str::<IterationReport>(l).ok())
                .filter(|r| r.iteration < start)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
            Err(e) => return Err(TrainError::io("read", path, e)),
        }
    };
    if start > 0 && kept.len() != start {
        return Err(TrainError::Checkpoint {
            path: path.into(),
            reason: format!(
                "the metrics log holds {} of the {start} iterations the checkpoint covers",
                kept.len()
            ),
        });
    }
    let mut text = String::new();
    for r in &kept {
        text.push_str(&serde_json::to_string(r).expect("reports serialise"));
        text.push('\n');
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| TrainError::io("create", parent, e))?;
    }
    let tmp = path.with_extension("jsonl.tmp");
    std::fs::write(&tmp, text).map_err(|e| TrainError::io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::io("rename", &tmp, e))?;
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Module, Debug)]
    struct Linear1 {
        w: Param<Tensor<1>>,
    }

    /// Targets change with the iteration, so data order matters on resume.
    struct Quadratic {
        evaluations: usize,
        nan_at: Option<usize>,
        fail_at: Option<usize>,
    }

    impl Task<Linear1> for Quadratic {
        fn train_step(&mut self, m: &Linear1, it: usize) -> Result<StepOutput> {
            if self.fail_at == Some(it) {
                return Err(TrainError::mismatch("test", "killed"));
            }
            let device = m.w.val().device();
            let target = Tensor::<1>::from_floats([1.0 + it as f32 * 0.01, -2.0], &device);
            let mut loss = (m.w.val() - target).powi_scalar(2).sum();
            if self.nan_at == Some(it) {
                loss = loss / 0.0;
            }
            Ok((loss, vec![("it".into(), it as f64)]))
        }
        fn evaluate(&mut self, m: &Linear1, _: usize) -> Result<Vec<(String, f64)>> {
            self.evaluations += 1;
            let w0 = m.w.val().into_data().try_to_vec::<f32>().unwrap()[0];
            Ok(vec![("w0".into(), w0 as f64)])
        }
    }

    fn task() -> Quadratic {
        Quadratic {
            evaluations: 0,
            nan_at: None,
            fail_at: None,
        }
    }

    fn config(iterations: usize) -> TrainerConfig {
        TrainerConfig {
            iterations,
            schedule: StepDecay {
                initial: 0.1,
                factor: 0.5,
                every: 4,
            },
            checkpoint_every: 3,
            eval_every: 0,
        }
    }

    fn fresh(device: &Device) -> Linear1 {
        Linear1 {
            w: Param::from_tensor(Tensor::from_floats([0.0, 0.0], device)),
        }
    }

    fn weights(m: &Linear1) -> Vec<f32> {
        m.w.val().into_data().try_to_vec::<f32>().unwrap()
    }

    fn adam() -> AdamStep {
        AdamStep::new(GradientClipping::GlobalNorm { max_norm: 10.0 }).unwrap()
    }

    #[test]
    fn resumed_run_equals_the_uninterrupted_one() {
        let device = Device::default().autodiff();
        let dir = std::env::temp_dir().join(format!("spikeburn-resume-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let full = BpttTrainer::new(config(10))
            .unwrap()
            .fit(fresh(&device), &mut adam(), &mut task(), 1, false, |_| {})
            .unwrap();
        assert!(full.history.last().unwrap().loss < full.history[0].loss);
        // "Killed" in iteration 7: the last checkpoint is at 6, and the log
        // has a line for iteration 6 that the resumed run must replace.
        let log = dir.join("metrics.jsonl");
        let trainer = |n| {
            BpttTrainer::new(config(n))
                .unwrap()
                .with_checkpoints(dir.join("ck"))
                .with_metrics_log(&log)
        };
        let mut killed = Quadratic {
            fail_at: Some(7),
            ..task()
        };
        assert!(
            trainer(10)
                .fit(fresh(&device), &mut adam(), &mut killed, 1, false, |_| {})
                .is_err()
        );
        assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 7);
        let resumed = trainer(10)
            .fit(fresh(&device), &mut adam(), &mut task(), 1, true, |_| {})
            .unwrap();
        assert_eq!(resumed.resumed_at, 6);
        assert_eq!(weights(&full.model), weights(&resumed.model));
        assert_eq!(resumed.history.len(), 10);
        assert_eq!(
            resumed
                .history
                .iter()
                .map(|r| r.iteration)
                .collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        let lines = std::fs::read_to_string(&log).unwrap().lines().count();
        assert_eq!(lines, 10, "the log has one line per iteration");
        // A finished run resumed returns its model and history again.
        let again = trainer(10)
            .fit(fresh(&device), &mut adam(), &mut task(), 1, true, |_| {})
            .unwrap();
        assert_eq!(again.resumed_at, 10);
        assert_eq!(weights(&again.model), weights(&full.model));
        assert_eq!(again.history.len(), 10);
        // A different seed is refused rather than silently mixing runs.
        let e = trainer(10)
            .fit(fresh(&device), &mut adam(), &mut task(), 2, true, |_| {})
            .err()
            .unwrap();
        assert!(
            matches!(e, TrainError::SeedMismatch { saved: 1, .. }),
            "{e}"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_stop_request_checkpoints_the_iteration_reached() {
        let device = Device::default().autodiff();
        let dir = std::env::temp_dir().join(format!("spikeburn-stop-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let full = BpttTrainer::new(config(10))
            .unwrap()
            .fit(fresh(&device), &mut adam(), &mut task(), 1, false, |_| {})
            .unwrap();
        let flag = Arc::new(AtomicBool::new(false));
        let trainer = BpttTrainer::new(config(10))
            .unwrap()
            .with_checkpoints(dir.join("ck"))
            .with_metrics_log(dir.join("metrics.jsonl"))
            .with_stop_flag(flag.clone());
        // Requested as iteration 3 is reported: the run stops after the
        // next one, at 5 iterations — between the checkpoints every 3.
        let e = trainer
            .fit(fresh(&device), &mut adam(), &mut task(), 1, false, |r| {
                if r.iteration == 3 {
                    flag.store(true, Ordering::SeqCst);
                }
            })
            .err()
            .unwrap();
        let TrainError::Interrupted {
            iteration,
            checkpoint,
        } = &e
        else {
            panic!("expected an interruption, got {e}");
        };
        assert_eq!(*iteration, 5);
        assert!(checkpoint.ends_with("iter-00000005"), "{e}");
        assert!(e.to_string().contains("--resume"), "{e}");
        flag.store(false, Ordering::SeqCst);
        let resumed = trainer
            .fit(fresh(&device), &mut adam(), &mut task(), 1, true, |_| {})
            .unwrap();
        assert_eq!(resumed.resumed_at, 5);
        assert_eq!(weights(&full.model), weights(&resumed.model));
        assert_eq!(resumed.history.len(), 10);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn evaluates_on_schedule_and_logs_every_metric() {
        let device = Device::default().autodiff();
        let mut t = task();
        let trainer = BpttTrainer::new(TrainerConfig {
            eval_every: 3,
            ..config(8)
        })
        .unwrap();
        let fitted = trainer
            .fit(fresh(&device), &mut adam(), &mut t, 1, false, |_| {})
            .unwrap();
        // Iterations 3 and 6.
        assert_eq!(t.evaluations, 2);
        assert!(fitted.history[2].get("w0").is_some());
        assert!(fitted.history[3].get("w0").is_none());
        assert!(fitted.history[0].get("grad_norm").unwrap() > 0.0);
        assert_eq!(fitted.history[5].get("it"), Some(5.0));
    }

    #[test]
    fn global_clipping_bounds_the_joint_norm_and_per_tensor_differs() {
        let device = Device::default().autodiff();
        // One step from w = 0: the gradient is 2(w − target) = (−2, 4),
        // norm √20; Adam's first step is lr · sign(g) whatever the scale, so
        // compare the clipped gradients directly instead.
        let m = fresh(&device);
        let loss = (m.w.val() - Tensor::<1>::from_floats([1.0, -2.0], &device))
            .powi_scalar(2)
            .sum();
        let mut grads = GradientsParams::from_grads(loss.backward(), &m);
        let norm = global_norm(&m, &grads);
        assert!((norm - 20f64.sqrt()).abs() < 1e-5, "{norm}");
        scale_gradients(&m, &mut grads, 0.5 / norm);
        assert!((global_norm(&m, &grads) - 0.5).abs() < 1e-6);
        assert!(AdamStep::new(GradientClipping::GlobalNorm { max_norm: 0.0 }).is_err());
        assert!(AdamStep::new(GradientClipping::PerTensorNorm { max_norm: f64::NAN }).is_err());
    }

    #[test]
    fn divergence_names_the_iteration_and_keeps_the_last_checkpoint() {
        let device = Device::default().autodiff();
        let dir = std::env::temp_dir().join(format!("spikeburn-nan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut t = Quadratic {
            nan_at: Some(4),
            ..task()
        };
        let e = BpttTrainer::new(config(8))
            .unwrap()
            .with_checkpoints(&dir)
            .fit(fresh(&device), &mut adam(), &mut t, 0, false, |_| {})
            .err()
            .unwrap();
        assert!(
            matches!(e, TrainError::Diverged { iteration: 4, .. }),
            "{e}"
        );
        let state = Checkpoint::new(&dir).latest_state().unwrap().unwrap();
        assert_eq!(state.iteration, 3);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn bad_configs_are_refused() {
        for (cfg, field) in [
            (config(0), "iterations"),
            (
                TrainerConfig {
                    schedule: StepDecay {
                        initial: -1.0,
                        factor: 1.0,
                        every: 0,
                    },
                    ..config(3)
                },
                "schedule.initial",
            ),
            (
                TrainerConfig {
                    schedule: StepDecay {
                        initial: 0.1,
                        factor: 0.5,
                        every: 0,
                    },
                    ..config(3)
                },
                "schedule.every",
            ),
        ] {
            let e = BpttTrainer::new(cfg).err().unwrap();
            assert!(
                matches!(&e, TrainError::InvalidConfig { field: f, .. } if f == field),
                "{e}"
            );
        }
    }
}

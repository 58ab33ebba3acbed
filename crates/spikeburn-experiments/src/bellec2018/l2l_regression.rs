//! Learning to learn, supervised (Bellec et al. 2018): an LSNN meta-trained
//! on a family of functions learns each new function within an episode,
//! with its weights fixed.
//!
//! The family ([`RandomNetworkFamily`]): random two-layer networks (2
//! inputs, 10 sigmoidal hidden units, Gaussian weights), each normalised to
//! zero mean and unit variance over the input square. An episode shows one
//! function's examples one after another (20 ms each): the network receives
//! `x_k` and the previous target `y_{k−1}` as Poisson population codes, and
//! answers `y_k` with its readout averaged over the example's last 10 ms.
//! The outer loop ([`MetaTask`]) trains by BPTT through whole episodes, a
//! fresh batch of functions per iteration; the within-episode curve
//! ([`episode_curve`]) is the error against the number of examples seen,
//! on functions never seen in meta-training.
//!
//! Compared, on the same held-out episodes: the meta-trained LSNN, the same
//! network before meta-training, a LIF-only network (`β = 0`) meta-trained
//! the same way, a meta-trained LSTM, the LSNN with its feedback channels
//! silenced, and two predictors computed from the examples seen so far in
//! the episode: their mean, and the mean of the `knn` nearest neighbours'
//! targets.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use spikeburn_core::layer::{Lsnn, LsnnConfig, Record};
use spikeburn_core::neuron::{AlifConfig, InputScaling};
use spikeburn_plot::{Figure, Heatmap, LineChart, Panel, Series};
use spikeburn_tasks::function_family::{EpisodeBatch, RandomNetworkFamily, TargetFunction};
use spikeburn_train::meta::{RatePenalty, answers};
use spikeburn_train::{
    AdamStep, BpttTrainer, EpisodeLearner, Episodes, GradientClipping, LstmLearnerConfig, MetaTask,
    StepDecay, TaskFamily, TrainerConfig, episode_curve,
};

use crate::error::{ExperimentError, Result};
use crate::report::{Report, host_values};
use crate::run::RunContext;
use crate::validation::{self as v, Validate};

/// The family, the networks and the outer loop.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct L2lRegressionExperiment {
    /// The functions and the episodes.
    pub family: RandomNetworkFamily,
    /// LIF neurons of the LSNN.
    pub n_lif: usize,
    /// ALIF neurons of the LSNN.
    pub n_alif: usize,
    /// Membrane time constant (ms).
    pub tau_mem: f64,
    /// Adaptation time constant (ms): of the order of an episode, so the
    /// thresholds can hold what the episode has shown.
    pub tau_adapt: f64,
    /// Adaptation strength of the ALIF neurons.
    pub beta: f64,
    /// Base threshold.
    pub threshold: f64,
    /// Refractory steps.
    pub refractory_steps: usize,
    /// LSTM units of the comparison network.
    pub lstm_hidden: usize,
    /// Functions (episodes) per meta-iteration.
    pub tasks_per_batch: usize,
    /// Meta-iterations of the spiking learners.
    pub iterations: usize,
    /// Meta-iterations of the LSTM (Burn's LSTM costs about 7× an LSNN
    /// iteration on the fused path here).
    pub iterations_lstm: usize,
    /// Adam learning rate and its decay.
    pub schedule: StepDecay,
    /// Weight of the firing-rate regulariser.
    pub rate_reg: f64,
    /// Its target rate (Hz).
    pub target_rate_hz: f64,
    /// Held-out functions for the curves.
    pub test_tasks: usize,
    /// "First" and "last" examples: this many at each end of an episode.
    pub first_last: usize,
    /// Neighbours of the k-nearest-neighbour predictor.
    pub knn: usize,
    /// Also meta-train the LIF-only network.
    pub lif_only: bool,
    /// Also meta-train the LSTM.
    pub lstm: bool,
    /// Checkpoint every this many iterations.
    pub checkpoint_every: usize,
}

impl Default for L2lRegressionExperiment {
    fn default() -> Self {
        Self {
            family: RandomNetworkFamily::default(),
            n_lif: 100,
            n_alif: 100,
            tau_mem: 20.0,
            tau_adapt: 500.0,
            beta: 1.8,
            threshold: 0.01,
            refractory_steps: 2,
            lstm_hidden: 64,
            tasks_per_batch: 32,
            iterations: 10_000,
            iterations_lstm: 10_000,
            schedule: StepDecay {
                initial: 0.003,
                factor: 0.8,
                every: 2500,
            },
            rate_reg: 0.1,
            target_rate_hz: 20.0,
            test_tasks: 256,
            first_last: 5,
            knn: 3,
            lif_only: true,
            lstm: true,
            checkpoint_every: 100,
        }
    }
}

impl L2lRegressionExperiment {
    /// The reduced preset: 20-example episodes, 30 + 30 neurons, 2 500
    /// iterations at a constant 0.003 (with 0.01 the LSNN had not started
    /// learning after 3 000), an LSTM of 24 units for 300 iterations only.
    pub fn quick() -> Self {
        Self {
            family: RandomNetworkFamily {
                examples: 20,
                ..RandomNetworkFamily::default()
            },
            n_lif: 30,
            n_alif: 30,
            lstm_hidden: 24,
            iterations: 2500,
            iterations_lstm: 300,
            schedule: StepDecay::constant(0.003),
            test_tasks: 128,
            checkpoint_every: 100,
            ..Self::default()
        }
    }

    /// The LSNN (`beta` 0: LIF-only), Burn's device generator seeded by
    /// the caller.
    pub fn network(&self, beta: f64, device: &Device) -> Result<Lsnn> {
        let neuron = AlifConfig::new()
            .with_tau_mem(self.tau_mem)
            .with_tau_adapt(self.tau_adapt)
            .with_threshold(self.threshold)
            .with_beta(beta)
            .with_refractory_steps(self.refractory_steps)
            .with_input_scaling(InputScaling::Leaky);
        let cfg =
            LsnnConfig::with_sizes(self.family.channels(), self.n_lif, self.n_alif, 1, neuron);
        let mut cfg = cfg;
        cfg.readout = cfg.readout.with_input_scaling(InputScaling::Direct);
        Ok(cfg.init(device)?)
    }

    fn trainer(&self, iterations: usize) -> TrainerConfig {
        TrainerConfig {
            iterations,
            schedule: self.schedule,
            checkpoint_every: self.checkpoint_every,
            eval_every: 0,
        }
    }
}

impl Validate for L2lRegressionExperiment {
    fn validate(&self) -> Result<()> {
        self.family.validate()?;
        v::count("n_lif", self.n_lif, 0, 5_000)?;
        v::count("n_alif", self.n_alif, 0, 5_000)?;
        v::count("n_lif + n_alif", self.n_lif + self.n_alif, 1, 5_000)?;
        v::positive("tau_mem", self.tau_mem, 0.0, 1e5)?;
        v::positive("tau_adapt", self.tau_adapt, 0.0, 1e6)?;
        v::real("beta", self.beta, 0.0, 100.0)?;
        v::positive("threshold", self.threshold, 0.0, 100.0)?;
        v::count("lstm_hidden", self.lstm_hidden, 1, 5_000)?;
        v::count("tasks_per_batch", self.tasks_per_batch, 1, 4_096)?;
        v::count("iterations", self.iterations, 1, 10_000_000)?;
        v::count("iterations_lstm", self.iterations_lstm, 1, 10_000_000)?;
        v::real("rate_reg", self.rate_reg, 0.0, 1e6)?;
        v::real("target_rate_hz", self.target_rate_hz, 0.0, 1000.0)?;
        v::count("test_tasks", self.test_tasks, 1, 100_000)?;
        v::count("first_last", self.first_last, 1, self.family.examples)?;
        v::count("knn", self.knn, 1, 1_000)?;
        v::count("checkpoint_every", self.checkpoint_every, 0, usize::MAX)?;
        let n = (self.n_lif + self.n_alif) as f64;
        v::memory(
            "episode steps × tasks_per_batch × neurons",
            4.0 * 12.0 * self.family.steps() as f64 * self.tasks_per_batch as f64 * n,
        )?;
        self.trainer(self.iterations).validate()?;
        self.trainer(self.iterations_lstm).validate()?;
        Ok(())
    }
}

/// The family as the outer loop sees it.
struct Family<'a>(&'a RandomNetworkFamily);

impl Family<'_> {
    fn to_episodes(&self, batch: &EpisodeBatch, device: &Device) -> Episodes {
        let fam = self.0;
        let (examples, b) = (batch.examples, batch.batch);
        let steps = examples * fam.steps_per_example;
        Episodes {
            input: Tensor::from_data(
                TensorData::new(batch.spikes.clone(), [steps, b, fam.channels()]),
                device,
            ),
            target: Tensor::from_data(
                TensorData::new(
                    batch.y.iter().map(|&y| y as f32).collect::<Vec<f32>>(),
                    [examples, b, 1],
                ),
                device,
            ),
            answer_windows: (0..examples).map(|k| fam.answer_window(k)).collect(),
            feedback_channels: fam.feedback_channels(),
        }
    }
}

impl TaskFamily for Family<'_> {
    fn episodes(
        &self,
        batch: usize,
        rng: &mut StdRng,
        device: &Device,
    ) -> spikeburn_train::error::Result<Episodes> {
        let functions: Vec<TargetFunction> = (0..batch).map(|_| self.0.sample(rng)).collect();
        Ok(self.to_episodes(&self.0.episodes(&functions, rng), device))
    }
}

/// The answers of a (trained) learner to episodes of `functions` — any
/// functions, a user's own included — with inputs and spikes drawn from
/// `rng`: the episodes (inputs, targets) and the answers `[examples][batch]`.
pub fn answer_functions<M: EpisodeLearner>(
    model: &M,
    family: &RandomNetworkFamily,
    functions: &[TargetFunction],
    rng: &mut StdRng,
    device: &Device,
) -> Result<(EpisodeBatch, Vec<f32>)> {
    family.validate()?;
    let batch = family.episodes(functions, rng);
    let episodes = Family(family).to_episodes(&batch, device);
    let response = model.run_episode(episodes.input.clone())?;
    let predicted: Vec<f32> = host_values(
        answers(response.output, &episodes.answer_windows),
        "answers",
    )?;
    Ok((batch, predicted))
}

/// Where a run keeps its meta-trained LSNN (under `--out`), as a Burn record.
pub const MODEL_FILE: &str = "lsnn/model.bpk";

fn save_model(model: &Lsnn, path: &std::path::Path) -> Result<()> {
    let tmp = path.with_extension("tmp.bpk");
    model
        .clone()
        .save_file(&tmp)
        .map_err(|e| ExperimentError::Save {
            what: "the meta-trained LSNN",
            path: tmp.clone(),
            reason: e.to_string(),
        })?;
    std::fs::rename(&tmp, path).map_err(|e| ExperimentError::io("rename", &tmp, e))
}

/// The meta-trained LSNN of a run of `exp` saved at `path` (the run's
/// [`MODEL_FILE`]), on `device`: run it on any function of the family's
/// form, a user's own included, with [`answer_functions`].
pub fn load_lsnn(
    exp: &L2lRegressionExperiment,
    path: &std::path::Path,
    device: &Device,
) -> Result<Lsnn> {
    exp.validate()?;
    exp.network(exp.beta, device)?
        .try_load_file(path)
        .map_err(|e| ExperimentError::Load {
            what: "the meta-trained LSNN",
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// A function and a learner's answers over a lattice of the input square:
/// rows along `x_2` (bottom first), columns along `x_1`.
struct Surface {
    target: Vec<Vec<f64>>,
    answer: Vec<Vec<f64>>,
}

/// What `model` answers at the end of an episode of `f`, over a
/// `grid` × `grid` lattice of the input square (cell centres), next to
/// `f` there.
fn answer_surface<M: EpisodeLearner>(
    model: &M,
    fam: &RandomNetworkFamily,
    f: &TargetFunction,
    grid: usize,
    rng: &mut StdRng,
    device: &Device,
) -> Result<Surface> {
    let at = |i: usize| fam.range * (-1.0 + (2 * i + 1) as f64 / grid as f64);
    let probes: Vec<[f64; 2]> = (0..grid)
        .flat_map(|r| (0..grid).map(move |c| (c, r)))
        .map(|(c, r)| [at(c), at(r)])
        .collect();
    let batch = fam.probe_episodes(f, &probes, rng);
    let episodes = Family(fam).to_episodes(&batch, device);
    let last = episodes
        .answer_windows
        .last()
        .cloned()
        .expect("at least one example (validated)");
    let response = model.run_episode(episodes.input.clone())?;
    let values: Vec<f64> = host_values(answers(response.output, &[last]), "answer surface")?;
    // The probe is the episode's last example: its targets are `f` there.
    let probed = &batch.y[(batch.examples - 1) * batch.batch..];
    Ok(Surface {
        target: probed.chunks(grid).map(<[f64]>::to_vec).collect(),
        answer: values.chunks(grid).map(<[f64]>::to_vec).collect(),
    })
}

/// A within-episode curve as a line: error against the examples seen.
fn curve_series(label: &str, curve: &[f64]) -> Series {
    Series::new(
        label,
        curve
            .iter()
            .enumerate()
            .map(|(i, &m)| (i as f64, m))
            .collect(),
    )
}

/// The predictors that see only the episode's examples so far: the mean
/// of the targets seen, and the mean target of the `k` nearest inputs
/// seen (0 before the first target). Squared error per example index,
/// averaged over the episodes of `batches`.
fn baselines(batches: &[EpisodeBatch], examples: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut mean_err, mut knn_err) = (vec![0.0; examples], vec![0.0; examples]);
    let mut episodes = 0usize;
    for b in batches {
        for e in 0..b.batch {
            let x = |i: usize| [b.x[(i * b.batch + e) * 2], b.x[(i * b.batch + e) * 2 + 1]];
            let y = |i: usize| b.y[i * b.batch + e];
            for i in 0..examples {
                let (mean, near) = if i == 0 {
                    (0.0, 0.0)
                } else {
                    let mean = (0..i).map(y).sum::<f64>() / i as f64;
                    let xi = x(i);
                    let mut d: Vec<(f64, usize)> = (0..i)
                        .map(|j| {
                            let xj = x(j);
                            ((xi[0] - xj[0]).powi(2) + (xi[1] - xj[1]).powi(2), j)
                        })
                        .collect();
                    d.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let n = k.min(i);
                    (
                        mean,
                        d[..n].iter().map(|&(_, j)| y(j)).sum::<f64>() / n as f64,
                    )
                };
                mean_err[i] += (mean - y(i)).powi(2);
                knn_err[i] += (near - y(i)).powi(2);
            }
            episodes += 1;
        }
    }
    let scale = |v: Vec<f64>| v.into_iter().map(|s| s / episodes as f64).collect();
    (scale(mean_err), scale(knn_err))
}

/// Mean of the first and of the last `n` entries.
fn ends(curve: &[f64], n: usize) -> (f64, f64) {
    let n = n.min(curve.len()).max(1);
    let first = curve[..n].iter().sum::<f64>() / n as f64;
    let last = curve[curve.len() - n..].iter().sum::<f64>() / n as f64;
    (first, last)
}

/// What meta-training one learner gave.
struct Trained<M> {
    model: M,
    sec_per_iter: f64,
    curve: Vec<(f64, f64)>,
}

fn meta_train<M>(
    exp: &L2lRegressionExperiment,
    model: M,
    (name, iterations): (&str, usize),
    spiking: bool,
    device: &Device,
    ctx: &RunContext,
) -> Result<Trained<M>>
where
    M: Module + EpisodeLearner,
{
    let trainer = BpttTrainer::new(exp.trainer(iterations))?
        .with_checkpoints(ctx.path(&format!("{name}/checkpoint")))
        .with_metrics_log(ctx.path(&format!("{name}/metrics.jsonl")));
    let dir = ctx.path(name);
    std::fs::create_dir_all(&dir).map_err(|e| ExperimentError::io("create", &dir, e))?;
    let family = Family(&exp.family);
    let mut task = MetaTask {
        family: &family,
        tasks_per_batch: exp.tasks_per_batch,
        last_examples: exp.first_last,
        seed: ctx.seed,
        device: device.clone(),
        rate_penalty: (spiking && exp.rate_reg > 0.0).then_some(RatePenalty {
            weight: exp.rate_reg,
            target_hz: exp.target_rate_hz,
            dt_ms: 1.0,
        }),
    };
    let mut adam = AdamStep::new(GradientClipping::GlobalNorm { max_norm: 1.0 })?;
    ctx.observer
        .start(&format!("l2l-regression ({name})"), iterations as u64);
    let fitted = trainer.fit(model, &mut adam, &mut task, ctx.seed, ctx.resume, |r| {
        ctx.observer.advance(&format!(
            "mse {:.3} last {:.3}",
            r.get("mse").unwrap_or(f64::NAN),
            r.get("mse_last").unwrap_or(f64::NAN),
        ));
    })?;
    ctx.observer.finish();
    Ok(Trained {
        sec_per_iter: crate::run::timed(&fitted, &mut task)?,
        model: fitted.model,
        curve: fitted
            .history
            .iter()
            .filter_map(|r| r.get("mse").map(|m| (r.iteration as f64, m)))
            .collect(),
    })
}

/// Meta-trains and scores the learners. Metrics (MSE of the answers,
/// over the held-out functions; "first"/"last": the first and last
/// `first_last` examples of an episode): `mse_{first,last}_examples_{before,
/// after}`, `mse_last_examples_{lif_only, lstm, knn, mean_predictor,
/// no_feedback}`, `sec_per_iter` (LSNN), `sec_per_iter_{lif_only, lstm}`,
/// `lsnn_parameters`, `lstm_parameters`; `surface_mse_after`: the LSNN's
/// answers at the end of an episode of one held-out function over a 16 × 16
/// grid of the input square, against the function (figure `surface`). Resumes each learner from its
/// folder with `--resume`.
pub fn run(exp: &L2lRegressionExperiment, device: &Device, ctx: &RunContext) -> Result<Report> {
    exp.validate()?;
    ctx.prepare(exp)?;
    let mut report = Report::new("l2l-regression", ctx);
    let fam = &exp.family;
    let base = device.clone().without_autodiff();
    let train_device = device.clone().autodiff();

    // Held-out episodes: the same for every learner and baseline.
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ 0x7E57_F00D);
    let mut test_host = vec![];
    let mut left = exp.test_tasks;
    while left > 0 {
        let b = exp.tasks_per_batch.min(left);
        let functions: Vec<TargetFunction> = (0..b).map(|_| fam.sample(&mut rng)).collect();
        test_host.push(fam.episodes(&functions, &mut rng));
        left -= b;
    }
    let test: Vec<Episodes> = test_host
        .iter()
        .map(|b| Family(fam).to_episodes(b, &base))
        .collect();

    let mut curves: Vec<Series> = vec![];
    let mut training: Vec<Series> = vec![];
    let add = |report: &mut Report,
               curves: &mut Vec<Series>,
               label: &str,
               key: &str,
               c: &[f64]|
     -> Result<(f64, f64)> {
        let (first, last) = ends(c, exp.first_last);
        report.metric(&format!("mse_last_examples_{key}"), last)?;
        curves.push(curve_series(label, c));
        Ok((first, last))
    };

    train_device.seed(ctx.seed);
    let lsnn = exp.network(exp.beta, &train_device)?;
    let before = episode_curve(&lsnn.valid(), &test, true)?;
    let (first_before, last_before) = ends(&before, exp.first_last);
    report.metric("mse_first_examples_before", first_before)?;
    report.metric("mse_last_examples_before", last_before)?;
    curves.push(curve_series("LSNN before meta-training", &before));
    report.count("lsnn_parameters", lsnn.num_params());
    let trained = meta_train(
        exp,
        lsnn,
        ("lsnn", exp.iterations),
        true,
        &train_device,
        ctx,
    )?;
    // The path meta-training took (the fused op runs only with gradients).
    let probe = Tensor::<3>::zeros([2, 1, fam.channels()], &train_device);
    let path = trained
        .model
        .recurrent
        .try_forward_sequence(probe, None, Record::spikes())?
        .path;
    report.note("training_path", &format!("{path:?}"));
    let lsnn = trained.model.valid();
    save_model(&lsnn, &ctx.path(MODEL_FILE))?;
    report.note("model", MODEL_FILE);
    let after = episode_curve(&lsnn, &test, true)?;
    let (first_after, last_after) = ends(&after, exp.first_last);
    report.metric("mse_first_examples_after", first_after)?;
    report.metric("mse_last_examples_after", last_after)?;
    report.metric("sec_per_iter", trained.sec_per_iter)?;
    curves.push(curve_series("LSNN meta-trained", &after));
    training.push(Series::new("LSNN", trained.curve));
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ 0x5_0F4CE);
    let f = fam.sample(&mut rng);
    let grid = 16;
    let Surface { target, answer } = answer_surface(&lsnn, fam, &f, grid, &mut rng, &base)?;
    let surface_mse = answer
        .iter()
        .flatten()
        .zip(target.iter().flatten())
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / (grid * grid) as f64;
    report.metric("surface_mse_after", surface_mse)?;
    report.figure(
        "surface",
        Figure::Heatmap(Heatmap::new(
            format!(
                "a held-out function: target and the meta-trained LSNN's answer after {} examples",
                fam.examples
            ),
            "x1",
            "x2",
            (-fam.range, fam.range),
            (-fam.range, fam.range),
            vec![
                Panel::new("target y(x)", target),
                Panel::new("LSNN answer", answer),
            ],
        )),
    );
    let silent = episode_curve(&lsnn, &test, false)?;
    add(
        &mut report,
        &mut curves,
        "LSNN, feedback silenced",
        "no_feedback",
        &silent,
    )?;
    let (mean, knn) = baselines(&test_host, fam.examples, exp.knn);
    add(
        &mut report,
        &mut curves,
        "mean of the targets seen",
        "mean_predictor",
        &mean,
    )?;
    add(
        &mut report,
        &mut curves,
        &format!("{}-nearest neighbours", exp.knn),
        "knn",
        &knn,
    )?;

    if exp.lif_only {
        train_device.seed(ctx.seed);
        let lif = exp.network(0.0, &train_device)?;
        let t = meta_train(
            exp,
            lif,
            ("lif_only", exp.iterations),
            true,
            &train_device,
            ctx,
        )?;
        let c = episode_curve(&t.model.valid(), &test, true)?;
        add(
            &mut report,
            &mut curves,
            "LIF-only meta-trained",
            "lif_only",
            &c,
        )?;
        report.metric("sec_per_iter_lif_only", t.sec_per_iter)?;
        training.push(Series::new("LIF only", t.curve));
    }
    if exp.lstm {
        train_device.seed(ctx.seed);
        let lstm =
            LstmLearnerConfig::new(fam.channels(), exp.lstm_hidden, 1).init(&train_device)?;
        report.count("lstm_parameters", lstm.num_params());
        let t = meta_train(
            exp,
            lstm,
            ("lstm", exp.iterations_lstm),
            false,
            &train_device,
            ctx,
        )?;
        let c = episode_curve(&t.model.valid(), &test, true)?;
        add(&mut report, &mut curves, "LSTM meta-trained", "lstm", &c)?;
        report.metric("sec_per_iter_lstm", t.sec_per_iter)?;
        training.push(Series::new("LSTM", t.curve));
    }
    report.count("iterations", exp.iterations);
    report.count("iterations_lstm", exp.iterations_lstm);
    report.count("tasks_per_batch", exp.tasks_per_batch);
    report.count("examples_per_episode", fam.examples);
    report.figure(
        "episode_curves",
        Figure::Line(
            LineChart::new(
                "within-episode learning: held-out functions",
                "examples seen",
                "squared error of the answer (target variance 1)",
                curves,
            )
            .with_log_y(),
        ),
    );
    report.figure(
        "meta_training",
        Figure::Line(LineChart::new(
            "meta-training: mean squared error per episode",
            "iteration",
            "MSE",
            training,
        )),
    );
    report.paper(
        "claim",
        "an LSNN learns new functions of the family within an episode, approaching an LSTM (no numbers here)",
    );
    Ok(report.finish())
}

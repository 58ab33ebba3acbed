//! Learning to learn (Bellec et al. 2018): an outer loop over a family of
//! tasks, in which a network learns each new task inside its own dynamics.
//!
//! A [`TaskFamily`] draws a batch of tasks and one episode of each: the
//! inputs (with the feedback the network receives about its earlier
//! answers, e.g. the previous target), the targets of the episode's
//! examples, and which steps of the episode answer each example. A
//! [`MetaTask`] turns the family into a [`Task`] for [`BpttTrainer`]: every
//! iteration is one batch of fresh tasks, the loss is the mean squared
//! error of all answers of the episode, and BPTT runs through the whole
//! episode. The weights change only between iterations (the trainer's
//! optimizer step), never inside an episode: whatever the network gets
//! better at within an episode — the [`episode_curve`] of its error against
//! the number of examples seen — it does with fixed weights, in its
//! activity and its neurons' adaptation.
//!
//! The learner is any [`EpisodeLearner`]: the LSNN ([`Lsnn`], on its fused
//! BPTT path where it applies; LIF-only with `β = 0`) or the non-spiking
//! [`LstmLearner`] of comparison.
//!
//! [`BpttTrainer`]: crate::BpttTrainer

use burn::nn::{Linear, LinearConfig, Lstm, LstmConfig};
use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use spikeburn_core::layer::Lsnn;

use crate::error::{Result, TrainError};
use crate::trainer::{StepOutput, Task};

/// A batch of episodes on a device.
#[derive(Clone, Debug)]
pub struct Episodes {
    /// Inputs `[steps, batch, channels]`, feedback included.
    pub input: Tensor<3>,
    /// Targets of the examples `[examples, batch, outputs]`.
    pub target: Tensor<3>,
    /// For each example, the steps whose readout (averaged) is its answer.
    pub answer_windows: Vec<std::ops::Range<usize>>,
    /// The input channels that carry the feedback.
    pub feedback_channels: std::ops::Range<usize>,
}

impl Episodes {
    /// Checks that the windows lie inside the episode, that there is one
    /// per example, and that the feedback channels exist.
    pub fn check(&self) -> Result<()> {
        let [steps, batch, channels] = self.input.dims();
        let [examples, tbatch, _] = self.target.dims();
        if tbatch != batch || examples != self.answer_windows.len() {
            return Err(TrainError::mismatch(
                "episodes",
                format!(
                    "{batch} episodes of input, {tbatch} of targets; {examples} targets per \
                     episode, {} answer windows",
                    self.answer_windows.len()
                ),
            ));
        }
        if let Some(w) = self
            .answer_windows
            .iter()
            .find(|w| w.is_empty() || w.end > steps)
        {
            return Err(TrainError::mismatch(
                "answer window",
                format!("{w:?} is empty or past the episode's {steps} steps"),
            ));
        }
        if self.feedback_channels.end > channels {
            return Err(TrainError::mismatch(
                "feedback channels",
                format!(
                    "{:?} past the input's {channels} channels",
                    self.feedback_channels
                ),
            ));
        }
        Ok(())
    }

    /// The same episodes with the feedback channels silenced (the ablation
    /// that tells learning from feedback apart from learning the family's
    /// average task).
    pub fn without_feedback(&self) -> Self {
        let [steps, batch, _] = self.input.dims();
        let f = self.feedback_channels.clone();
        let zeros = Tensor::<3>::zeros([steps, batch, f.len()], &self.input.device());
        Self {
            input: self.input.clone().slice_assign(s![.., .., f], zeros),
            ..self.clone()
        }
    }
}

/// A family of tasks to learn to learn.
pub trait TaskFamily {
    /// Draws `batch` tasks and one episode of each, from `rng`, on `device`.
    fn episodes(&self, batch: usize, rng: &mut StdRng, device: &Device) -> Result<Episodes>;
}

/// What a learner produces over an episode.
#[derive(Clone, Debug)]
pub struct EpisodeResponse {
    /// Readout `[steps, batch, outputs]`.
    pub output: Tensor<3>,
    /// Spikes `[steps, batch, neurons]` of a spiking learner.
    pub spikes: Option<Tensor<3>>,
}

/// A network that runs a whole episode with fixed weights.
pub trait EpisodeLearner {
    /// Runs `input` `[steps, batch, channels]` from rest.
    fn run_episode(&self, input: Tensor<3>) -> Result<EpisodeResponse>;
}

impl EpisodeLearner for Lsnn {
    fn run_episode(&self, input: Tensor<3>) -> Result<EpisodeResponse> {
        let out = self.try_forward(input)?;
        Ok(EpisodeResponse {
            output: out.output,
            spikes: Some(out.spikes),
        })
    }
}

/// Builds an [`LstmLearner`].
#[derive(Config, Debug)]
pub struct LstmLearnerConfig {
    /// Input channels.
    pub n_input: usize,
    /// LSTM units.
    pub hidden: usize,
    /// Outputs.
    pub n_output: usize,
}

impl LstmLearnerConfig {
    /// Burn's [`Lstm`] (time-major) and a linear readout of its hidden
    /// state.
    pub fn init(&self, device: &Device) -> Result<LstmLearner> {
        for (name, v) in [
            ("n_input", self.n_input),
            ("hidden", self.hidden),
            ("n_output", self.n_output),
        ] {
            if v == 0 {
                return Err(TrainError::invalid(
                    format!("LstmLearnerConfig.{name}"),
                    v,
                    "at least 1",
                ));
            }
        }
        Ok(LstmLearner {
            lstm: LstmConfig::new(self.n_input, self.hidden, true)
                .with_batch_first(false)
                .init(device),
            readout: LinearConfig::new(self.hidden, self.n_output).init(device),
        })
    }
}

/// The non-spiking comparison: an LSTM and a linear readout.
#[derive(Module, Debug)]
pub struct LstmLearner {
    /// The recurrent layer.
    pub lstm: Lstm,
    /// Readout of the hidden state.
    pub readout: Linear,
}

impl LstmLearner {
    /// Trainable parameters.
    pub fn parameters(&self) -> usize {
        self.num_params()
    }
}

impl EpisodeLearner for LstmLearner {
    fn run_episode(&self, input: Tensor<3>) -> Result<EpisodeResponse> {
        let [_, _, channels] = input.dims();
        let expected = self.lstm.input_gate.input_transform.weight.dims()[0];
        if channels != expected {
            return Err(TrainError::mismatch(
                "input of the LSTM learner",
                format!("{channels} channels, expected {expected}"),
            ));
        }
        let (hidden, _) = self.lstm.forward(input, None);
        Ok(EpisodeResponse {
            output: self.readout.forward(hidden),
            spikes: None,
        })
    }
}

/// The answers `[examples, batch, outputs]`: `output` `[steps, batch,
/// outputs]` averaged over each window.
pub fn answers(output: Tensor<3>, windows: &[std::ops::Range<usize>]) -> Tensor<3> {
    Tensor::cat(
        windows
            .iter()
            .map(|w| output.clone().slice(s![w.clone(), .., ..]).mean_dim(0))
            .collect(),
        0,
    )
}

/// Squared error of each example's answer, averaged over episodes and
/// outputs: `[examples]`.
pub fn example_errors(response: &EpisodeResponse, episodes: &Episodes) -> Tensor<1> {
    let [examples, ..] = episodes.target.dims();
    let predicted = answers(response.output.clone(), &episodes.answer_windows);
    (predicted - episodes.target.clone())
        .powi_scalar(2)
        .mean_dim(2)
        .mean_dim(1)
        .reshape([examples])
}

/// The firing-rate regulariser of a spiking learner (see
/// [`firing_rate_regulariser`](crate::firing_rate_regulariser)).
#[derive(Clone, Copy, Debug)]
pub struct RatePenalty {
    /// Weight.
    pub weight: f64,
    /// Target rate (Hz).
    pub target_hz: f64,
    /// Step (ms).
    pub dt_ms: f64,
}

/// A [`TaskFamily`] as a [`Task`] for the BPTT trainer: one batch of
/// `tasks_per_batch` fresh tasks per iteration (from a stream determined by
/// the seed and the iteration, so a resumed run sees the same tasks), loss =
/// mean squared error over all answers of the episodes (+ the rate
/// penalty). Metrics: `mse`, `mse_last` (the last `last_examples`
/// examples), `rate_hz` for spiking learners.
pub struct MetaTask<'a, F> {
    /// The family.
    pub family: &'a F,
    /// Tasks per iteration.
    pub tasks_per_batch: usize,
    /// How many of the episode's last examples `mse_last` averages.
    pub last_examples: usize,
    /// Seed of the task stream.
    pub seed: u64,
    /// Where the episodes are made.
    pub device: Device,
    /// Rate regulariser of spiking learners.
    pub rate_penalty: Option<RatePenalty>,
}

/// The task stream of iteration `iteration` of a run seeded `seed`.
pub fn iteration_rng(seed: u64, iteration: usize) -> StdRng {
    StdRng::seed_from_u64(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(iteration as u64 + 1),
    )
}

impl<F: TaskFamily, M: EpisodeLearner> Task<M> for MetaTask<'_, F> {
    fn train_step(&mut self, model: &M, iteration: usize) -> Result<StepOutput> {
        if self.tasks_per_batch == 0 {
            return Err(TrainError::invalid("tasks_per_batch", 0, "at least 1"));
        }
        let mut rng = iteration_rng(self.seed, iteration);
        let episodes = self
            .family
            .episodes(self.tasks_per_batch, &mut rng, &self.device)?;
        episodes.check()?;
        let response = model.run_episode(episodes.input.clone())?;
        let errors = example_errors(&response, &episodes);
        let [examples] = errors.dims();
        let last = self.last_examples.clamp(1, examples);
        let mse_last: f32 = errors
            .clone()
            .slice(s![examples - last..])
            .mean()
            .into_scalar();
        let mut loss = errors.mean();
        let mse: f32 = loss.clone().into_scalar();
        let mut metrics = vec![
            ("mse".to_string(), mse as f64),
            ("mse_last".to_string(), mse_last as f64),
        ];
        if let Some(spikes) = response.spikes {
            if let Some(p) = self.rate_penalty {
                loss = loss
                    + crate::firing_rate_regulariser(spikes.clone(), p.target_hz, p.dt_ms)
                        * p.weight;
            }
            let dt = self.rate_penalty.map_or(1.0, |p| p.dt_ms);
            let rate = spikes.mean().into_scalar::<f32>() as f64 * 1000.0 / dt;
            metrics.push(("rate_hz".to_string(), rate));
        }
        Ok((loss, metrics))
    }
}

/// The within-episode learning curve: the squared error of each example's
/// answer, averaged over all episodes of `batches` (held-out tasks), as a
/// function of the example's index; with `feedback` false, the same with
/// the feedback channels silenced.
pub fn episode_curve<M: EpisodeLearner>(
    model: &M,
    batches: &[Episodes],
    feedback: bool,
) -> Result<Vec<f64>> {
    let mut sum: Option<Vec<f64>> = None;
    let mut episodes = 0usize;
    for batch in batches {
        batch.check()?;
        let batch = if feedback {
            batch.clone()
        } else {
            batch.without_feedback()
        };
        let response = model.run_episode(batch.input.clone())?;
        let n = batch.input.dims()[1];
        let errors: Vec<f64> = example_errors(&response, &batch)
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .map_err(|e| TrainError::mismatch("example errors", format!("{e:?}")))?;
        let acc = sum.get_or_insert_with(|| vec![0.0; errors.len()]);
        if acc.len() != errors.len() {
            return Err(TrainError::mismatch(
                "episode batches",
                format!("{} and {} examples", acc.len(), errors.len()),
            ));
        }
        for (a, e) in acc.iter_mut().zip(errors) {
            *a += e * n as f64;
        }
        episodes += n;
    }
    let sum = sum.ok_or_else(|| TrainError::invalid("batches", 0, "at least one batch"))?;
    Ok(sum.into_iter().map(|s| s / episodes as f64).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A family whose target is the previous example's target fed back on
    /// channel 1, with the current input on channel 0.
    struct Echo {
        examples: usize,
        steps: usize,
    }

    impl TaskFamily for Echo {
        fn episodes(&self, batch: usize, rng: &mut StdRng, device: &Device) -> Result<Episodes> {
            use rand::RngExt;
            let t = self.examples * self.steps;
            let mut x = vec![0f32; t * batch * 2];
            let mut y = vec![0f32; self.examples * batch];
            for b in 0..batch {
                let mut prev = 0.0;
                for e in 0..self.examples {
                    let v = rng.random::<f32>();
                    y[e * batch + b] = v;
                    for s in 0..self.steps {
                        let i = ((e * self.steps + s) * batch + b) * 2;
                        x[i] = v;
                        x[i + 1] = prev;
                    }
                    prev = v;
                }
            }
            Ok(Episodes {
                input: Tensor::from_data(TensorData::new(x, [t, batch, 2]), device),
                target: Tensor::from_data(TensorData::new(y, [self.examples, batch, 1]), device),
                answer_windows: (0..self.examples)
                    .map(|e| e * self.steps + self.steps / 2..(e + 1) * self.steps)
                    .collect(),
                feedback_channels: 1..2,
            })
        }
    }

    /// A learner that answers with input channel `c`.
    struct Copy(usize);

    impl EpisodeLearner for Copy {
        fn run_episode(&self, input: Tensor<3>) -> Result<EpisodeResponse> {
            Ok(EpisodeResponse {
                output: input.slice(s![.., .., self.0..self.0 + 1]),
                spikes: None,
            })
        }
    }

    #[test]
    fn curves_score_answers_over_their_windows_and_the_ablation_silences_feedback() {
        let device = Device::default();
        let fam = Echo {
            examples: 6,
            steps: 4,
        };
        let mut rng = StdRng::seed_from_u64(5);
        let batches = vec![
            fam.episodes(8, &mut rng, &device).unwrap(),
            fam.episodes(4, &mut rng, &device).unwrap(),
        ];
        // Copying the current input is exact.
        let exact = episode_curve(&Copy(0), &batches, true).unwrap();
        assert_eq!(exact.len(), 6);
        assert!(exact.iter().all(|e| *e < 1e-12), "{exact:?}");
        // Copying the feedback errs by (y_k − y_{k−1})², E = 1/6 for
        // uniform draws (1/3 at k = 0 where the feedback is 0).
        let lag = episode_curve(&Copy(1), &batches, true).unwrap();
        assert!(lag.iter().all(|e| *e > 0.02), "{lag:?}");
        // Without feedback, the copy of channel 1 answers 0: E = y² (1/3).
        let silent = episode_curve(&Copy(1), &batches, false).unwrap();
        let direct: Vec<f64> = {
            let mut s = vec![0.0; 6];
            for b in &batches {
                let y: Vec<f32> = b.target.clone().into_data().try_to_vec().unwrap();
                let n = b.target.dims()[1];
                for (i, v) in y.iter().enumerate() {
                    s[i / n] += (*v as f64).powi(2);
                }
            }
            s.into_iter().map(|v| v / 12.0).collect()
        };
        for (a, b) in silent.iter().zip(&direct) {
            assert!((a - b).abs() < 1e-6, "{silent:?} vs {direct:?}");
        }
    }

    #[test]
    fn the_meta_task_is_deterministic_per_iteration_and_reports_its_metrics() {
        let device = Device::default();
        let fam = Echo {
            examples: 5,
            steps: 2,
        };
        let mut task = MetaTask {
            family: &fam,
            tasks_per_batch: 3,
            last_examples: 2,
            seed: 9,
            device: device.clone(),
            rate_penalty: None,
        };
        let (a, m) = task.train_step(&Copy(1), 4).unwrap();
        let (b, _) = task.train_step(&Copy(1), 4).unwrap();
        let (c, _) = task.train_step(&Copy(1), 5).unwrap();
        let (a, b, c) = (
            a.into_scalar::<f32>(),
            b.into_scalar::<f32>(),
            c.into_scalar::<f32>(),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(m.iter().any(|(k, _)| k == "mse_last"));
        task.tasks_per_batch = 0;
        let e = task.train_step(&Copy(1), 0).unwrap_err().to_string();
        assert!(e.contains("tasks_per_batch"), "{e}");
    }

    #[test]
    fn the_lstm_learner_runs_an_episode_and_refuses_a_wrong_input() {
        let device = Device::default();
        let net = LstmLearnerConfig::new(3, 8, 1).init(&device).unwrap();
        let out = net
            .run_episode(Tensor::<3>::ones([7, 2, 3], &device))
            .unwrap();
        assert_eq!(out.output.dims(), [7, 2, 1]);
        assert!(net.parameters() > 4 * 8 * (3 + 8));
        assert!(
            net.run_episode(Tensor::<3>::ones([7, 2, 4], &device))
                .is_err()
        );
        let e = LstmLearnerConfig::new(3, 0, 1).init(&device).unwrap_err();
        assert!(e.to_string().contains("hidden"));
    }
}

//! Meta-reinforcement learning (Bellec et al. 2018): an LSNN agent in a
//! 2-D arena ([`Arena`]) searches for a hidden goal; after it finds it and
//! is put back at a random place, it can run straight back on the later
//! trials of the episode — with its weights fixed, if its activity and
//! adaptation hold where the goal was.
//!
//! The agent ([`NavigationAgent`]): a recurrent LIF + ALIF layer, and one
//! linear readout of its rates during a move giving the policy's logits
//! (four moves) and the value. A move lasts `ms_per_move` network steps
//! (1 ms), during which the observation (place cells, last reward, last
//! action) arrives as Poisson spikes; the readout of the move's mean rates
//! decides the next action.
//!
//! The outer loop: A2C with GAE ([`a2c_loss`]) on a batch of fresh
//! episodes (goals) per iteration, BPTT through the whole episode. The
//! rollout is closed-loop, move by move, and runs on the autodiff device:
//! the gradient pass differentiates exactly the network the rollout ran
//! (the same steps, the same spikes). It runs on the layer's per-step path
//! — the fused op runs a whole sequence from rest, and the rollout must
//! stop after every move to choose the next action.
//!
//! Scores, on held-out episodes: the length (moves) of the first trial and
//! the mean length of the later ones, an unfinished trial counting with its
//! censored length ([`trial_lengths`]); the fraction of trials that reached
//! the goal; reward per episode. Every agent — before meta-training,
//! LIF-only, a random walk — is scored the same way on the same goals.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::softmax;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use spikeburn_core::layer::{LayerState, Record, RecurrentSpiking, RecurrentSpikingConfig};
use spikeburn_core::neuron::{Alif, AlifConfig, AlifState, InputScaling};
use spikeburn_plot::{Figure, LineChart, Series};
use spikeburn_tasks::navigation::{Arena, Environment, trial_lengths};
use spikeburn_train::{
    A2cConfig, AdamStep, BpttTrainer, GradientClipping, StepDecay, StepOutput, Task, TrainerConfig,
    a2c_loss, firing_rate_regulariser,
};

use crate::error::{ExperimentError, Result};
use crate::report::{Report, host_values};
use crate::run::RunContext;
use crate::validation::{self as v, Validate};

/// The arena, the agent and the outer loop.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NavigationExperiment {
    /// The arena: [`Arena::default`], whose place cells peak at 1 000 Hz
    /// (up to a spike per 1-ms step) rather than 200. With 200 Hz the
    /// `--quick` preset learned nothing in 400 iterations (first trial 45
    /// moves, 44 before meta-training), with 1 000 Hz it cut the random
    /// walk's time to the goal by a third (30 against 44); and no agent at
    /// 200 Hz held the goal in its activity (goal decoding R² ≤ 0.03 after
    /// 15 000 iterations), where at 1 000 Hz one holds and uses it.
    pub arena: Arena,
    /// Moves per episode.
    pub moves: usize,
    /// Network steps (ms) per move.
    pub ms_per_move: usize,
    /// LIF neurons.
    pub n_lif: usize,
    /// ALIF neurons.
    pub n_alif: usize,
    /// Membrane time constant (ms).
    pub tau_mem: f64,
    /// Adaptation time constant (ms), of the order of an episode.
    pub tau_adapt: f64,
    /// Adaptation strength.
    pub beta: f64,
    /// Base threshold.
    pub threshold: f64,
    /// The A2C loss.
    pub a2c: A2cConfig,
    /// Weight of the LSNN code's firing-rate regulariser (0 by default:
    /// with 0.1 towards 20 Hz the rates fell from 230 to 60–70 Hz but the
    /// search learned 4× slower — 0.9 goals per episode after 1 500
    /// iterations against 3.3 without).
    pub rate_reg: f64,
    /// Its target rate (Hz).
    pub target_rate_hz: f64,
    /// Weight of an auxiliary outer-loop loss (not in the paper): two more
    /// readouts of the move's rates guess the goal's position on every
    /// move after the episode's first goal, scored by their squared error
    /// over the variance of a goal coordinate. The agent's inputs are
    /// unchanged (it never sees the goal), and neither is its policy; only
    /// the meta-training gradient knows where the goal was, pushing the
    /// network to hold it. 0.1 by default: under the joint gradient clip at
    /// 1 its gradient is about as large as the A2C loss's (with 1.0 it is
    /// ~20× larger and the policy learned to search but not to use the
    /// goal it held; with 0 no agent held the goal — see the README).
    pub goal_memory_weight: f64,
    /// Episodes per iteration.
    pub batch: usize,
    /// Meta-iterations.
    pub iterations: usize,
    /// Adam learning rate and its decay.
    pub schedule: StepDecay,
    /// Held-out episodes for the scores.
    pub test_episodes: usize,
    /// Also meta-train a LIF-only agent.
    pub lif_only: bool,
    /// Checkpoint every this many iterations.
    pub checkpoint_every: usize,
}

impl Default for NavigationExperiment {
    fn default() -> Self {
        Self {
            arena: Arena::default(),
            moves: 100,
            ms_per_move: 10,
            n_lif: 50,
            n_alif: 50,
            tau_mem: 20.0,
            tau_adapt: 1000.0,
            beta: 1.8,
            threshold: 0.01,
            a2c: A2cConfig::default(),
            rate_reg: 0.0,
            target_rate_hz: 20.0,
            goal_memory_weight: 0.1,
            batch: 32,
            iterations: 5000,
            schedule: StepDecay::constant(0.003),
            test_episodes: 128,
            lif_only: true,
            checkpoint_every: 50,
        }
    }
}

impl NavigationExperiment {
    /// The reduced preset: 60 moves, 20 + 20 neurons, 400 iterations
    /// (about a minute, LIF-only included: the agent has learned to search
    /// — first trials 30 moves against a random walk's 44 — not yet to
    /// remember).
    pub fn quick() -> Self {
        Self {
            moves: 60,
            n_lif: 20,
            n_alif: 20,
            batch: 16,
            iterations: 400,
            test_episodes: 64,
            checkpoint_every: 20,
            ..Self::default()
        }
    }

    /// Readouts guessing the goal's position (x, y): only with the
    /// auxiliary loss, so agents meta-trained without it keep their shape.
    fn goal_guesses(&self) -> usize {
        if self.goal_memory_weight > 0.0 { 2 } else { 0 }
    }

    fn trainer(&self) -> TrainerConfig {
        TrainerConfig {
            iterations: self.iterations,
            schedule: self.schedule,
            checkpoint_every: self.checkpoint_every,
            eval_every: 0,
        }
    }

    /// The agent (`beta` 0: LIF-only); Burn's device generator seeded by the
    /// caller.
    pub fn agent(&self, beta: f64, device: &Device) -> Result<NavigationAgent> {
        let n = self.n_lif + self.n_alif;
        let neuron = AlifConfig::new()
            .with_tau_mem(self.tau_mem)
            .with_tau_adapt(self.tau_adapt)
            .with_threshold(self.threshold)
            .with_beta(beta)
            .with_n_lif(self.n_lif)
            .with_input_scaling(InputScaling::Leaky)
            .init(n, device)?;
        Ok(NavigationAgent {
            network: RecurrentSpikingConfig::new(self.arena.channels(), n).init(neuron, device)?,
            heads: LinearConfig::new(n, ACTIONS + 1 + self.goal_guesses()).init(device),
        })
    }
}

const ACTIONS: usize = 4;

/// Iterations averaged per point of the meta-training curve: one batch's
/// reward is too noisy to read two agents' curves on one chart.
const CURVE_WINDOW: std::num::NonZeroUsize = std::num::NonZeroUsize::new(50).unwrap();

impl Validate for NavigationExperiment {
    fn validate(&self) -> Result<()> {
        self.arena.validate()?;
        v::count("moves", self.moves, 1, 100_000)?;
        v::count("ms_per_move", self.ms_per_move, 1, 1_000)?;
        v::count("n_lif + n_alif", self.n_lif + self.n_alif, 1, 5_000)?;
        v::positive("tau_mem", self.tau_mem, 0.0, 1e5)?;
        v::positive("tau_adapt", self.tau_adapt, 0.0, 1e7)?;
        v::real("beta", self.beta, 0.0, 100.0)?;
        v::positive("threshold", self.threshold, 0.0, 100.0)?;
        self.a2c.validate()?;
        v::real("rate_reg", self.rate_reg, 0.0, 1e6)?;
        v::real("target_rate_hz", self.target_rate_hz, 0.0, 1000.0)?;
        v::real("goal_memory_weight", self.goal_memory_weight, 0.0, 1e6)?;
        v::count("batch", self.batch, 1, 4_096)?;
        v::count("iterations", self.iterations, 1, 10_000_000)?;
        v::count("test_episodes", self.test_episodes, 1, 100_000)?;
        v::count("checkpoint_every", self.checkpoint_every, 0, usize::MAX)?;
        let n = (self.n_lif + self.n_alif) as f64;
        v::memory(
            "moves × ms_per_move × batch × neurons",
            4.0 * 30.0 * (self.moves * self.ms_per_move * self.batch) as f64 * n,
        )?;
        self.trainer().validate()?;
        Ok(())
    }
}

/// The agent: a recurrent LIF + ALIF layer and a linear readout of its
/// rates (policy logits and value).
#[derive(Module, Debug)]
pub struct NavigationAgent {
    /// The recurrent spiking layer.
    pub network: RecurrentSpiking<Alif>,
    /// `[n] → [4 logits, value]`, and the goal's `(x, y)` with the
    /// auxiliary loss.
    pub heads: Linear,
}

/// One batch of episodes as the agent lived them.
struct Rollout {
    /// `[moves, batch, 4]`.
    logits: Option<Tensor<3>>,
    /// `[moves, batch]`.
    values: Option<Tensor<2>>,
    /// `[moves, batch, 2]`: the goal-guessing readouts, if the agent has
    /// them.
    goal_guesses: Option<Tensor<3>>,
    /// `[moves][batch]`.
    actions: Vec<usize>,
    rewards: Vec<f32>,
    ended: Vec<bool>,
    /// Mean rate (Hz).
    rate_hz: f64,
    /// Each move's mean spikes per step `[moves, batch, n]` (for the rate
    /// regulariser).
    move_rates: Option<Tensor<3>>,
    /// The first episode's trials: the positions of each, from its start
    /// to where it entered the goal (or the episode ended).
    path: Vec<Vec<[f64; 2]>>,
    goal: [f64; 2],
    /// Every episode's goal.
    goals: Vec<[f64; 2]>,
    /// `[moves][batch]`: where each episode's agent was while it chose
    /// each move (what its place cells showed).
    seen: Vec<[f64; 2]>,
}

/// Poisson spikes `[steps, batch, channels]` of `rates` (Hz) at 1-ms steps.
fn poisson(
    rates: &[f32],
    steps: usize,
    batch: usize,
    rng: &mut StdRng,
    device: &Device,
) -> Tensor<3> {
    let c = rates.len() / batch;
    let mut z = vec![0f32; steps * rates.len()];
    for t in 0..steps {
        for (i, r) in rates.iter().enumerate() {
            z[t * batch * c + i] = (rng.random::<f32>() < r * 1e-3) as u8 as f32;
        }
    }
    Tensor::from_data(TensorData::new(z, [steps, batch, c]), device)
}

/// Who acts: the agent, the agent whose network state is wiped back to
/// rest whenever it reaches the goal (so no trial can use what an earlier
/// one found: the control for memory), or a uniform random walk.
enum Actor<'a> {
    Agent(&'a NavigationAgent),
    Wiped(&'a NavigationAgent),
    RandomWalk,
}

/// `state` with the rows of the episodes in `ended` put back at rest.
fn wipe(state: LayerState<AlifState>, ended: &[bool], threshold: f64) -> LayerState<AlifState> {
    let device = state.neuron.membrane.device();
    let keep: Vec<f32> = ended.iter().map(|&e| if e { 0.0 } else { 1.0 }).collect();
    let keep = Tensor::<2>::from_data(TensorData::new(keep, [ended.len(), 1]), &device);
    let rest = keep.clone().neg() + 1.0;
    let n = state.neuron;
    LayerState {
        neuron: AlifState {
            membrane: n.membrane * keep.clone(),
            spikes: n.spikes * keep.clone(),
            adaptation: n.adaptation * keep.clone(),
            threshold: n.threshold * keep.clone() + rest * threshold,
            refractory: n.refractory * keep,
        },
        synaptic: state.synaptic,
        pending: state.pending,
    }
}

fn rollout(
    exp: &NavigationExperiment,
    actor: Actor,
    batch: usize,
    rng: &mut StdRng,
    device: &Device,
) -> Result<Rollout> {
    let mut env = exp.arena.episodes(batch)?;
    let mut obs = env.reset(rng);
    let mut state = None;
    let (mut logits, mut values, mut move_rates) = (vec![], vec![], vec![]);
    let mut guesses = vec![];
    let mut out = Rollout {
        logits: None,
        values: None,
        goal_guesses: None,
        actions: Vec::with_capacity(exp.moves * batch),
        rewards: Vec::with_capacity(exp.moves * batch),
        ended: Vec::with_capacity(exp.moves * batch),
        rate_hz: 0.0,
        move_rates: None,
        path: vec![vec![env.position[0]]],
        goal: env.goal[0],
        goals: env.goal.clone(),
        seen: Vec::with_capacity(exp.moves * batch),
    };
    let mut spikes_sum = 0.0;
    let mut carried = vec![false; batch];
    for _ in 0..exp.moves {
        let actions: Vec<usize> = match &actor {
            Actor::RandomWalk => (0..batch).map(|_| rng.random_range(0..ACTIONS)).collect(),
            Actor::Agent(agent) | Actor::Wiped(agent) => {
                let x = poisson(&obs, exp.ms_per_move, batch, rng, device);
                let trace =
                    agent
                        .network
                        .try_forward_sequence(x, state.take(), Record::spikes())?;
                state = Some(trace.final_state);
                let rates = trace.spikes.mean_dim(0).squeeze_dim::<2>(0);
                spikes_sum += rates.clone().mean().into_scalar::<f32>() as f64;
                move_rates.push(rates.clone().unsqueeze_dim::<3>(0));
                let y = agent.heads.forward(rates);
                let l = y.clone().slice(s![.., 0..ACTIONS]);
                let v = y
                    .clone()
                    .slice(s![.., ACTIONS..ACTIONS + 1])
                    .reshape([batch]);
                if exp.goal_guesses() > 0 {
                    let g = y.slice(s![.., ACTIONS + 1..ACTIONS + 1 + exp.goal_guesses()]);
                    guesses.push(g.unsqueeze_dim::<3>(0));
                }
                let p: Vec<f32> = host_values(softmax(l.clone().detach(), 1), "policy")?;
                logits.push(l.unsqueeze_dim::<3>(0));
                values.push(v.unsqueeze_dim::<2>(0));
                p.chunks(ACTIONS)
                    .map(|pb| {
                        let u = rng.random::<f32>();
                        let mut acc = 0.0;
                        pb.iter()
                            .position(|&q| {
                                acc += q;
                                u < acc
                            })
                            .unwrap_or(ACTIONS - 1)
                    })
                    .collect()
            }
        };
        out.seen.extend(&env.position);
        let t = env.step(&actions, rng)?;
        // The wiped agent forgets when it is carried away from the goal
        // (the move after the goal): what it saw there dies with the trial.
        // (Only its state is touched: the others carry theirs across moves.)
        if let Actor::Wiped(_) = actor
            && let Some(st) = state.take()
        {
            state = Some(wipe(st, &carried, exp.threshold));
        }
        carried.clone_from(&t.trial_ended);
        if let Some(trial) = out.path.last_mut() {
            trial.push(env.arrival[0]);
        }
        if t.trial_ended[0] {
            out.path.push(vec![]);
        }
        out.actions.extend(&actions);
        out.rewards.extend(&t.reward);
        out.ended.extend(&t.trial_ended);
        obs = t.observation;
    }
    if !logits.is_empty() {
        out.logits = Some(Tensor::cat(logits, 0));
        out.values = Some(Tensor::cat(values, 0));
        out.move_rates = Some(Tensor::cat(move_rates, 0));
        if !guesses.is_empty() {
            out.goal_guesses = Some(Tensor::cat(guesses, 0));
        }
        out.rate_hz = spikes_sum / exp.moves as f64 * 1000.0;
    }
    Ok(out)
}

/// How a set of episodes went.
#[derive(Clone, Copy, Debug)]
struct Scores {
    /// Mean length (moves) of the first trial, censored.
    first: f64,
    /// Mean length of the later trials (over the episodes that have any),
    /// censored.
    later: f64,
    /// Completed trials over all trials.
    reached: f64,
    /// Goals reached per episode.
    reward: f64,
}

/// The scores of episodes from their per-move `trial_ended` flags
/// `[moves][batch]`.
fn scores(ended: &[bool], moves: usize, batch: usize) -> Scores {
    let (mut first, mut later, mut n_later) = (0.0, 0.0, 0usize);
    let (mut reached, mut trials, mut reward) = (0usize, 0usize, 0.0);
    for b in 0..batch {
        let flags: Vec<bool> = (0..moves).map(|t| ended[t * batch + b]).collect();
        let (lengths, completed) = trial_lengths(&flags);
        first += lengths[0] as f64;
        if lengths.len() > 1 {
            later += lengths[1..].iter().sum::<usize>() as f64 / (lengths.len() - 1) as f64;
            n_later += 1;
        }
        reached += completed;
        trials += lengths.len();
        reward += completed as f64;
    }
    Scores {
        first: first / batch as f64,
        later: if n_later > 0 {
            later / n_later as f64
        } else {
            moves as f64
        },
        reached: reached as f64 / trials as f64,
        reward: reward / batch as f64,
    }
}

struct NavigationTask<'a> {
    exp: &'a NavigationExperiment,
    seed: u64,
    device: Device,
}

impl Task<NavigationAgent> for NavigationTask<'_> {
    fn train_step(
        &mut self,
        agent: &NavigationAgent,
        it: usize,
    ) -> spikeburn_train::error::Result<StepOutput> {
        let exp = self.exp;
        let mut rng = crate::run::batch_rng(self.seed, it);
        let r = rollout(exp, Actor::Agent(agent), exp.batch, &mut rng, &self.device)?;
        let (logits, values) = (
            r.logits.expect("the agent acted"),
            r.values.expect("the agent acted"),
        );
        let (mut loss, mut parts) = a2c_loss(logits, values, &r.actions, &r.rewards, &exp.a2c)?;
        if exp.rate_reg > 0.0 {
            let rates = r.move_rates.expect("the agent acted");
            // Entries are spikes per 1-ms step, as the regulariser expects.
            loss = loss + firing_rate_regulariser(rates, exp.target_rate_hz, 1.0) * exp.rate_reg;
        }
        if let Some(guesses) = r.goal_guesses {
            let (memory, error) = goal_memory_loss(guesses, &r.ended, &r.goals, exp, &self.device)?;
            loss = loss + memory * exp.goal_memory_weight;
            parts.push(("goal_memory_error".to_string(), error));
        }
        let sc = scores(&r.ended, exp.moves, exp.batch);
        parts.extend([
            ("reward_per_episode".to_string(), sc.reward),
            ("steps_first_trial".to_string(), sc.first),
            ("steps_later_trials".to_string(), sc.later),
            ("goal_reached_fraction".to_string(), sc.reached),
            ("rate_hz".to_string(), r.rate_hz),
        ]);
        Ok((loss, parts))
    }
}

/// The auxiliary goal-memory loss: on every move after an episode's first
/// goal (from the stay at the goal on), the squared error of the guessed
/// goal position, in arena-side units centred on the arena,
///
///   L = Σ_{t,b} m_{tb} ‖ĝ_{tb} − (g_b / side − ½)‖² / (2 σ² Σ m),
///
/// with σ² = (1 − 2 r / side)² / 12 the variance of a goal coordinate
/// (goals are uniform at least a radius `r` from the walls): 1 for a guess
/// at the centre, 0 for a perfect memory. Also returns its value.
fn goal_memory_loss(
    guesses: Tensor<3>,
    ended: &[bool],
    goals: &[[f64; 2]],
    exp: &NavigationExperiment,
    device: &Device,
) -> Result<(Tensor<1>, f64)> {
    let [moves, batch, _] = guesses.dims();
    let side = exp.arena.side;
    let mut mask = vec![0f32; moves * batch];
    let mut target = vec![0f32; moves * batch * 2];
    for b in 0..batch {
        let Some(hit) = (0..moves).find(|&t| ended[t * batch + b]) else {
            continue;
        };
        for t in hit + 1..moves {
            mask[t * batch + b] = 1.0;
            for k in 0..2 {
                target[(t * batch + b) * 2 + k] = (goals[b][k] / side - 0.5) as f32;
            }
        }
    }
    let count: f32 = mask.iter().sum();
    let spread = 1.0 - 2.0 * exp.arena.goal_radius / side;
    let variance = spread * spread / 12.0;
    let mask = Tensor::<3>::from_data(TensorData::new(mask, [moves, batch, 1]), device);
    let target = Tensor::<3>::from_data(TensorData::new(target, [moves, batch, 2]), device);
    let loss =
        ((guesses - target).powi_scalar(2) * mask).sum() / (2.0 * variance * count.max(1.0) as f64);
    let value = loss.clone().into_scalar::<f32>() as f64;
    Ok((loss, value))
}

/// An agent on the held-out episodes: its scores, the first episode's
/// path and goal, and how well its activity tells where the goal is.
struct Evaluation {
    scores: Scores,
    path: Vec<Vec<[f64; 2]>>,
    goal: [f64; 2],
    decoding: Option<GoalDecoding>,
}

/// Cross-validated R² of a linear decoder of the goal's position from the
/// agent's rates in the first moves of a trial (after the carry away from
/// the goal, or from the episode's start): if the network remembers the
/// goal, its activity there must tell where it was.
#[derive(Clone, Copy, Debug)]
struct GoalDecoding {
    /// Later trials (the goal was found before).
    later: f64,
    /// First trials (nothing to remember yet: a chance baseline).
    first: f64,
    /// The agent's own position from the same later-trial rates: the
    /// decoder's positive control.
    position: f64,
}

/// Moves decoded per trial: the first [`DECODED_MOVES`] after the agent
/// sees where it starts, when its position says nothing about the goal.
const DECODED_MOVES: usize = 3;

fn goal_decoding(r: &Rollout, moves: usize, batch: usize) -> Result<Option<GoalDecoding>> {
    let Some(rates) = r.move_rates.clone() else {
        return Ok(None);
    };
    let n = rates.dims()[2];
    let rates: Vec<f64> = host_values(rates, "move rates")?;
    // Rows (move, episode) of each kind: the moves after a start.
    let (mut later, mut first) = (vec![], vec![]);
    for b in 0..batch {
        // The first trial starts at move 0; a later one two moves after a
        // goal (the stay, then the carry): its first observation of the
        // new place comes at move t + 2.
        for t in 0..DECODED_MOVES.min(moves) {
            if (0..t).all(|k| !r.ended[k * batch + b]) {
                first.push((t, b));
            }
        }
        for t in 0..moves {
            if r.ended[t * batch + b] {
                for k in t + 2..(t + 2 + DECODED_MOVES).min(moves) {
                    if (t + 2..k).all(|j| !r.ended[j * batch + b]) {
                        later.push((k, b));
                    }
                }
            }
        }
    }
    let fit = |rows: &[(usize, usize)], target: &dyn Fn(usize, usize) -> [f64; 2]| -> Result<f64> {
        let x: Vec<f64> = rows
            .iter()
            .flat_map(|&(t, b)| rates[(t * batch + b) * n..(t * batch + b + 1) * n].to_vec())
            .collect();
        let y: Vec<f64> = rows.iter().flat_map(|&(t, b)| target(t, b)).collect();
        // Train on the first half of the episodes, test on the rest.
        let (train, test): (Vec<usize>, Vec<usize>) =
            (0..rows.len()).partition(|&i| rows[i].1 < batch / 2);
        if train.len() < 2 || test.len() < 2 {
            return Err(ExperimentError::NonFinite {
                what: format!(
                    "goal decoding: too few trial starts ({} to fit, {} to test)",
                    train.len(),
                    test.len()
                ),
                value: rows.len() as f64,
            });
        }
        // Ridge λ = the mean variance of a neuron's rate: few trial starts
        // per neuron, so a strong prior towards small weights.
        crate::ridge::decoding_r2(&x, &y, n, 2, &train, &test, 1.0)
    };
    let goal = |_: usize, b: usize| r.goals[b];
    Ok(Some(GoalDecoding {
        later: fit(&later, &goal)?,
        first: fit(&first, &goal)?,
        position: fit(&later, &|t, b| r.seen[t * batch + b])?,
    }))
}

/// Scores of `actor` on the held-out episodes (goals from `seed`).
fn evaluate(
    exp: &NavigationExperiment,
    actor: Actor,
    seed: u64,
    device: &Device,
) -> Result<Evaluation> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7E57_60A1);
    let r = rollout(exp, actor, exp.test_episodes, &mut rng, device)?;
    Ok(Evaluation {
        scores: scores(&r.ended, exp.moves, exp.test_episodes),
        decoding: goal_decoding(&r, exp.moves, exp.test_episodes)?,
        path: r.path,
        goal: r.goal,
    })
}

fn put(report: &mut Report, suffix: &str, s: Scores) -> Result<()> {
    report.metric(&format!("steps_to_goal_first_trial{suffix}"), s.first)?;
    report.metric(&format!("steps_to_goal_later_trials{suffix}"), s.later)?;
    report.metric(&format!("goal_reached_fraction{suffix}"), s.reached)?;
    report.metric(&format!("reward_per_episode{suffix}"), s.reward)
}

/// A meta-trained agent, its seconds per iteration, its reward curve.
struct Trained {
    agent: NavigationAgent,
    sec_per_iter: f64,
    curve: Vec<(f64, f64)>,
}

fn train(
    exp: &NavigationExperiment,
    agent: NavigationAgent,
    name: &str,
    device: &Device,
    ctx: &RunContext,
) -> Result<Trained> {
    let dir = ctx.path(name);
    std::fs::create_dir_all(&dir).map_err(|e| ExperimentError::io("create", &dir, e))?;
    let trainer = BpttTrainer::new(exp.trainer())?
        .with_checkpoints(dir.join("checkpoint"))
        .with_metrics_log(dir.join("metrics.jsonl"));
    let mut task = NavigationTask {
        exp,
        seed: ctx.seed,
        device: device.clone(),
    };
    let mut adam = AdamStep::new(GradientClipping::GlobalNorm { max_norm: 1.0 })?;
    ctx.observer
        .start(&format!("l2l-navigation ({name})"), exp.iterations as u64);
    let fitted = trainer.fit(agent, &mut adam, &mut task, ctx.seed, ctx.resume, |r| {
        ctx.observer.advance(&format!(
            "reward {:.2} first {:.1} later {:.1}",
            r.get("reward_per_episode").unwrap_or(f64::NAN),
            r.get("steps_first_trial").unwrap_or(f64::NAN),
            r.get("steps_later_trials").unwrap_or(f64::NAN),
        ));
    })?;
    ctx.observer.finish();
    let curve = fitted
        .history
        .iter()
        .filter_map(|r| r.get("reward_per_episode").map(|v| (r.iteration as f64, v)))
        .collect();
    Ok(Trained {
        sec_per_iter: crate::run::timed(&fitted, &mut task)?,
        agent: fitted.model,
        curve,
    })
}

/// Meta-trains the agent (and the LIF-only one) and scores every agent on
/// the same held-out goals. Metrics: `steps_to_goal_first_trial`,
/// `steps_to_goal_later_trials`, `goal_reached_fraction`,
/// `reward_per_episode` (meta-trained LSNN), the same with `_before`,
/// `_lif_only`, `_random_walk`, and `_memory_wiped` (the meta-trained
/// agent with its network state put back at rest after every goal: later
/// trials shorter than this agent's are what memory buys, beyond the
/// censoring that shortens every agent's later trials); `goal_decoding_r2`
/// (and `_memory_wiped`): R² of a linear decoder of the goal's position
/// from the rates of the first moves of later trials, cross-validated over
/// episodes (`goal_decoding_r2_first_trial`: the same on first trials,
/// where there is nothing to remember — the chance level;
/// `position_decoding_r2`: the agent's own position from the same rates,
/// the decoder's positive control); `sec_per_iter`.
/// Resumes with `--resume`.
pub fn run(exp: &NavigationExperiment, device: &Device, ctx: &RunContext) -> Result<Report> {
    exp.validate()?;
    ctx.prepare(exp)?;
    let mut report = Report::new("l2l-navigation", ctx);
    let base = device.clone().without_autodiff();
    let train_device = device.clone().autodiff();

    put(
        &mut report,
        "_random_walk",
        evaluate(exp, Actor::RandomWalk, ctx.seed, &base)?.scores,
    )?;
    train_device.seed(ctx.seed);
    let agent = exp.agent(exp.beta, &train_device)?;
    put(
        &mut report,
        "_before",
        evaluate(exp, Actor::Agent(&agent.valid()), ctx.seed, &base)?.scores,
    )?;
    let trained = train(exp, agent, "lsnn", &train_device, ctx)?;
    let Evaluation {
        scores: after,
        path,
        goal,
        decoding,
    } = evaluate(exp, Actor::Agent(&trained.agent.valid()), ctx.seed, &base)?;
    put(&mut report, "", after)?;
    let wiped = evaluate(exp, Actor::Wiped(&trained.agent.valid()), ctx.seed, &base)?;
    put(&mut report, "_memory_wiped", wiped.scores)?;
    for (suffix, d) in [("", decoding), ("_memory_wiped", wiped.decoding)] {
        let d = d.expect("the agent acted");
        report.metric(&format!("goal_decoding_r2{suffix}"), d.later)?;
        report.metric(&format!("goal_decoding_r2_first_trial{suffix}"), d.first)?;
        report.metric(&format!("position_decoding_r2{suffix}"), d.position)?;
    }
    report.metric("sec_per_iter", trained.sec_per_iter)?;
    report.count("iterations", exp.iterations);
    report.count("episodes_per_iteration", exp.batch);
    let mut training = vec![Series::new("LSNN", trained.curve).windowed_mean(CURVE_WINDOW)];
    if exp.lif_only {
        train_device.seed(ctx.seed);
        let lif = exp.agent(0.0, &train_device)?;
        let lif = train(exp, lif, "lif_only", &train_device, ctx)?;
        put(
            &mut report,
            "_lif_only",
            evaluate(exp, Actor::Agent(&lif.agent.valid()), ctx.seed, &base)?.scores,
        )?;
        training.push(Series::new("LIF only", lif.curve).windowed_mean(CURVE_WINDOW));
    }
    report.figure(
        "meta_training",
        Figure::Line(LineChart::new(
            format!(
                "meta-training: goals reached per episode (means of {CURVE_WINDOW} iterations)"
            ),
            "iteration",
            "reward per episode",
            training,
        )),
    );
    // The first held-out episode's trials, the goal's outline and the walls.
    let trials = path.len();
    let mut series: Vec<Series> = path
        .into_iter()
        .enumerate()
        .filter(|(_, t)| t.len() > 1)
        .take(6)
        .map(|(k, t)| {
            let label = if k + 1 == trials {
                format!("trial {} (unfinished)", k + 1)
            } else {
                format!("trial {}", k + 1)
            };
            Series::new(label, t.into_iter().map(|p| (p[0], p[1])).collect())
        })
        .collect();
    let side = exp.arena.side;
    series.push(Series::new(
        "walls",
        vec![
            (0.0, 0.0),
            (side, 0.0),
            (side, side),
            (0.0, side),
            (0.0, 0.0),
        ],
    ));
    let r = exp.arena.goal_radius;
    series.push(Series::new(
        "goal",
        (0..=32)
            .map(|k| {
                let a = std::f64::consts::TAU * k as f64 / 32.0;
                (goal[0] + r * a.cos(), goal[1] + r * a.sin())
            })
            .collect(),
    ));
    report.figure(
        "trajectories",
        Figure::Line(
            LineChart::new(
                "a held-out episode: the meta-trained agent's trials",
                "x",
                "y",
                series,
            )
            .with_equal_aspect(),
        ),
    );
    report.paper(
        "claim",
        "after meta-training, later trials go straight to the remembered goal (exploration, then exploitation)",
    );
    Ok(report.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two episodes of four moves; the first reaches its goal at move 1,
    /// the second never does.
    fn loss_of(guess: [f32; 2]) -> f64 {
        let device = Device::default();
        let exp = NavigationExperiment::default();
        let (moves, batch) = (4, 2);
        let mut ended = vec![false; moves * batch];
        ended[batch] = true;
        let goals = [[0.8, 0.3], [0.2, 0.2]];
        let g: Vec<f32> = (0..moves * batch).flat_map(|_| guess).collect();
        let guesses = Tensor::<3>::from_data(TensorData::new(g, [moves, batch, 2]), &device);
        goal_memory_loss(guesses, &ended, &goals, &exp, &device)
            .expect("a loss")
            .1
    }

    #[test]
    fn goal_memory_loss_counts_only_moves_after_the_first_goal() {
        // The first episode's goal, centred: (0.3, −0.2). Moves 2 and 3
        // count; the second episode (no goal reached) never does, so its
        // own goal does not matter.
        assert!(loss_of([0.3, -0.2]) < 1e-9);
        // A guess at the centre: 0.13 / (2 σ²), σ² = 0.7² / 12.
        let expected = (0.09 + 0.04) / (2.0 * 0.49 / 12.0);
        let got = loss_of([0.0, 0.0]);
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    }
}

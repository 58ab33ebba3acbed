//! `ebn-nonlinear`: an efficient balanced network learns nonlinear dynamics
//! through basis-function slow connections and a local rule (Alemi,
//! Machens, Denève & Slotine 2018, *Learning nonlinear dynamics in
//! efficient, balanced spiking networks using local plasticity rules*).
//!
//! The network is [`HostEbn`] with the hand-derived fast connections
//! (`−(FFᵀ + μI)`, fixed: this paper learns the slow ones), linear slow
//! connections `Ω_lin r` and nonlinear ones `Ω_s Ψ(r)`, `Ψ = φ(M r + θ)`
//! ([`BasisConnections::over_readout`]: `M = G D`, so the basis reads the
//! represented state). The target is `ẋ = h(x) + c(t)`; the network needs
//! the current `F (h(x̂) + λ_d x̂)`, linear part and all. Both slow sets
//! learn by the error-driven Hebbian rule of the linear paper
//! ([`SlowHebbian`], here the adaptive-control law `Ω̇_s = η (K F e) Ψᵀ`):
//! postsynaptic feedback current times presynaptic activity (the rate
//! `r_j`, or the basis unit's `Ψ_p`). The feedback gain `K` is annealed in
//! steps to 0 (`feedback_schedule`), after which the network runs alone.
//!
//! Tests of the learned network (autonomous: no feedback; no input for the
//! oscillator, a fresh drive for the pendulum, the same for the network and
//! the true system: `pendulum_test_drive`), each
//! from an initial state into which the network is first pulled by the
//! feedback for `clamp_ms` with the target held at that state:
//!
//! - `autonomous_error`: from states on the training trajectory;
//! - `autonomous_error_unseen_initial_states`: from states at least
//!   `unseen_distance` (in units of the system's size, the largest `|x_i|`
//!   the training visited) from every state the training trajectory
//!   visited, in the box of that size widened by the same distance, whose
//!   true run (under its test input) stays in that box over the score
//!   window;
//! - each error is the MSE of the readout against the true system over one
//!   period (`score_seconds`), divided by the variance of that true
//!   trajectory, averaged over the initial states (over about one period:
//!   a limit cycle with a small phase drift would score like noise over a
//!   long horizon);
//! - the oscillator's limit cycle: amplitude and frequency of a long free
//!   run against the true system's (relative errors);
//! - robustness: 10 % and 20 % of the neurons silenced after learning
//!   (`loss_draws` random draws each), and `noise_factor` times the voltage
//!   noise;
//! - controls: the same network without basis functions (a linear EBN,
//!   same budget), and the rate-level learner of the same equations
//!   (`x̂̇ = −λ_d x̂ + L x̂ + W ψ(x̂) + c + K e`, `L̇ = η K e x̂ᵀ`, `Ẇ = η K e ψᵀ`,
//!   the same basis, schedule and input).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use spikeburn_plasticity::{
    BasisConnections, BasisFunction, Drive, EbnConfig, EbnWeights, Frozen, HostEbn, SlowHebbian,
    spread_encoder,
};
use spikeburn_plot::{Figure, LineChart, Raster, Series};
use spikeburn_tasks::linear_system::smoothed_noise;
use spikeburn_tasks::nonlinear_system::{NonlinearSystem, cycle_amplitude_frequency};

use burn::prelude::Device;

use crate::bourdoukan_deneve2015::{EbnNetwork, isi_cv, normalised_error};
use crate::error::{ExperimentError, Result};
use crate::report::Report;
use crate::run::RunContext;
use crate::validation::{self as v, Validate};

/// Everything `ebn-nonlinear` can be configured with.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EbnNonlinearExperiment {
    /// The network's constants; `network.feedback_gain` must equal the
    /// schedule's first `K` (the schedule sets the gain). Default: the
    /// linear experiment's network with half its encoder norm (`‖F_i‖` 0.1:
    /// a neuron fires once the error along `F_i` exceeds about 0.05, half
    /// the dead zone of 0.2) and the voltage noise scaled with the
    /// threshold (`∝ ‖F_i‖²`, 0.005); measured (seeds 0–3), the one-period
    /// errors fall from 0.42–0.46 to 0.06–0.12 on the pendulum.
    pub network: EbnNetwork,
    /// Neurons.
    pub neurons: usize,
    /// Basis functions `P` (the linear control runs without them).
    pub basis_units: usize,
    /// `φ`.
    pub basis_function: BasisFunction,
    /// Standard deviation of `G` (`M = G D`).
    pub basis_gain: f64,
    /// `θ ~ U[−basis_bias, basis_bias]`.
    pub basis_bias: f64,
    /// `basis_gain` for the pendulum (its swings reach about twice the
    /// oscillator's state, so its basis is spread over a wider range).
    pub pendulum_basis_gain: f64,
    /// `basis_bias` for the pendulum.
    pub pendulum_basis_bias: f64,
    /// Learning rate of the basis connections, per second.
    pub basis_learning_rate: f64,
    /// Learning rate of the linear slow connections, per second.
    pub linear_learning_rate: f64,
    /// Start the linear slow connections at `λ_d F Fᵀ`, the current that
    /// cancels the readout's own leak (the paper writes the target as
    /// `ẋ = −λ x + f(x) + c` with the network's leak `λ`, and learns `f`):
    /// the untrained network integrates its input, and learning has only
    /// `h(x) + λ_d x − λ_d x = h(x)` to find. `false` starts from zero, so
    /// the rule must also learn the leak's compensation from spiking
    /// regressors, which it underestimates (over-damped networks).
    pub leak_compensated: bool,
    /// The oscillator (primary system; `null` to skip).
    pub oscillator: Option<NonlinearSystem>,
    /// The second system (`_pendulum` metrics); `null` to skip.
    pub pendulum: Option<NonlinearSystem>,
    /// Input standard deviation per dimension while the oscillator learns.
    pub input_amplitude: f64,
    /// The same for the pendulum. Its default, 0.7, keeps the driven
    /// pendulum below its separatrix (swings up to about 2 rad, far into
    /// the nonlinear range of `sin`); at 1.0 half the seeds' drives push it
    /// over the top, and a rotating pendulum's angle grows without bound.
    pub pendulum_input_amplitude: f64,
    /// Drive amplitude of the pendulum's tests: every test run (both the
    /// true system and the network, no feedback) receives a fresh drive of
    /// the training's statistics, so the pendulum keeps swinging through
    /// its nonlinear range (a driven pendulum); 0 tests its free decay,
    /// which ends in the network's dead zone (`|x| ≲ ‖F_i‖/2`, below which
    /// no neuron fires). The oscillator is tested without input.
    pub pendulum_test_drive: f64,
    /// Input smoothing in ms.
    pub input_smoothing_ms: f64,
    /// Seconds of learning.
    pub learning_seconds: f64,
    /// `[fraction of learning_seconds, K]` steps, starting at 0; the last
    /// must set `K = 0` (the network must end autonomous).
    pub feedback_schedule: Vec<[f64; 2]>,
    /// Initial states per test set.
    pub initial_states: usize,
    /// Feedback clamp before each test, ms.
    pub clamp_ms: f64,
    /// Score window (about one period), seconds.
    pub score_seconds: f64,
    /// Minimum distance of an unseen initial state from the training
    /// trajectory, as a fraction of the system's size; also how far the
    /// box they are drawn from extends beyond the trained range.
    pub unseen_distance: f64,
    /// Length of the free run measuring the limit cycle, seconds.
    pub cycle_seconds: f64,
    /// Random draws per neuron-loss level.
    pub loss_draws: usize,
    /// Voltage-noise multiplier of the noise test.
    pub noise_factor: f64,
}

impl Default for EbnNonlinearExperiment {
    fn default() -> Self {
        Self {
            network: EbnNetwork {
                encoder_scale: 0.1,
                voltage_noise: 0.005,
                ..EbnNetwork::default()
            },
            neurons: 40,
            basis_units: 50,
            basis_function: BasisFunction::Tanh,
            basis_gain: 1.5,
            basis_bias: 1.0,
            pendulum_basis_gain: 0.5,
            pendulum_basis_bias: 0.5,
            basis_learning_rate: 0.1,
            linear_learning_rate: 0.03,
            leak_compensated: true,
            oscillator: Some(NonlinearSystem::VanDerPol {
                mu: 1.0,
                omega: std::f64::consts::PI,
                scale: 0.5,
            }),
            pendulum: Some(NonlinearSystem::Pendulum {
                omega: std::f64::consts::PI,
                damping: 0.3,
            }),
            input_amplitude: 0.7,
            pendulum_input_amplitude: 0.7,
            pendulum_test_drive: 0.7,
            input_smoothing_ms: 30.0,
            learning_seconds: 600.0,
            feedback_schedule: vec![
                [0.0, 100.0],
                [0.5, 50.0],
                [0.75, 20.0],
                [0.9, 10.0],
                [0.98, 0.0],
            ],
            initial_states: 8,
            clamp_ms: 100.0,
            score_seconds: 2.0,
            unseen_distance: 0.15,
            cycle_seconds: 40.0,
            loss_draws: 3,
            noise_factor: 5.0,
        }
    }
}

impl EbnNonlinearExperiment {
    /// The reduced preset (CI): 150 s of learning at 3× the learning rates
    /// (the full preset's rates leave the cycle 16 % slow after 150 s), 4
    /// initial states, 2 loss draws, a 20-s cycle run.
    pub fn quick() -> Self {
        Self {
            learning_seconds: 150.0,
            basis_learning_rate: 0.3,
            linear_learning_rate: 0.1,
            initial_states: 4,
            loss_draws: 2,
            cycle_seconds: 20.0,
            ..Self::default()
        }
    }

    fn ebn(&self) -> EbnConfig {
        let first_gain = self.feedback_schedule.first().map_or(0.0, |s| s[1]);
        self.network.config(self.neurons, 2, first_gain)
    }

    fn gain_at(&self, fraction: f64) -> f64 {
        self.feedback_schedule
            .iter()
            .rev()
            .find(|s| s[0] <= fraction)
            .map_or(0.0, |s| s[1])
    }
}

impl Validate for EbnNonlinearExperiment {
    fn validate(&self) -> Result<()> {
        v::count("neurons", self.neurons, 4, 5_000)?;
        v::count("basis_units", self.basis_units, 1, 10_000)?;
        v::real("basis_gain", self.basis_gain, 0.0, 1e3)?;
        v::real("basis_bias", self.basis_bias, 0.0, 1e3)?;
        v::real("pendulum_basis_gain", self.pendulum_basis_gain, 0.0, 1e3)?;
        v::real("pendulum_basis_bias", self.pendulum_basis_bias, 0.0, 1e3)?;
        v::real("basis_learning_rate", self.basis_learning_rate, 0.0, 1e3)?;
        v::real("linear_learning_rate", self.linear_learning_rate, 0.0, 1e3)?;
        v::real("input_amplitude", self.input_amplitude, 0.0, 1e4)?;
        v::real(
            "pendulum_input_amplitude",
            self.pendulum_input_amplitude,
            0.0,
            1e4,
        )?;
        v::real("pendulum_test_drive", self.pendulum_test_drive, 0.0, 1e4)?;
        v::positive(
            "input_smoothing_ms",
            self.input_smoothing_ms,
            self.network.dt_ms,
            1e5,
        )?;
        v::positive("learning_seconds", self.learning_seconds, 0.0, 1e5)?;
        v::count("initial_states", self.initial_states, 1, 1_000)?;
        v::real("clamp_ms", self.clamp_ms, 0.0, 1e5)?;
        v::positive("score_seconds", self.score_seconds, 0.0, 1e4)?;
        v::real("unseen_distance", self.unseen_distance, 0.0, 10.0)?;
        v::positive("cycle_seconds", self.cycle_seconds, 0.0, 1e4)?;
        v::count("loss_draws", self.loss_draws, 1, 100)?;
        v::real("noise_factor", self.noise_factor, 0.0, 1e3)?;
        if self.oscillator.is_none() && self.pendulum.is_none() {
            return Err(ExperimentError::InvalidConfig {
                field: "oscillator, pendulum".into(),
                value: "null, null".into(),
                expected: "at least one system".into(),
            });
        }
        for p in self.oscillator.iter().chain(&self.pendulum) {
            p.validate()?;
        }
        let schedule = &self.feedback_schedule;
        let bad = |why: &str| ExperimentError::InvalidConfig {
            field: "feedback_schedule".into(),
            value: format!("{schedule:?}"),
            expected: why.into(),
        };
        if schedule.first().is_none_or(|s| s[0] != 0.0) {
            return Err(bad("steps [fraction, K] starting at fraction 0"));
        }
        if schedule.windows(2).any(|w| w[1][0] <= w[0][0])
            || schedule.iter().any(|s| !(0.0..1.0).contains(&s[0]))
        {
            return Err(bad("increasing fractions in [0, 1)"));
        }
        if schedule.iter().any(|s| !(s[1].is_finite() && s[1] >= 0.0)) {
            return Err(bad("gains K >= 0"));
        }
        if let Some(first) = schedule.first()
            && first[1] != self.network.feedback_gain
        {
            return Err(ExperimentError::InvalidConfig {
                field: "network.feedback_gain".into(),
                value: self.network.feedback_gain.to_string(),
                expected: format!(
                    "the feedback_schedule's first K ({}): ebn-nonlinear sets the gain by the schedule",
                    first[1]
                ),
            });
        }
        if schedule.last().is_some_and(|s| s[1] != 0.0) {
            return Err(bad(
                "a last step with K = 0: autonomous_error needs the network to end without feedback",
            ));
        }
        let mut cfg = self.ebn();
        cfg.feedback_gain = 0.0;
        cfg.validate()?;
        let n = self.neurons as f64;
        v::memory(
            "neurons × (neurons + basis_units)",
            16.0 * n * (n + self.basis_units as f64),
        )?;
        Ok(())
    }
}

/// `G`'s standard deviation and `θ`'s range for one system.
#[derive(Clone, Copy)]
struct BasisSpread {
    gain: f64,
    bias: f64,
}

/// The network that learns: spread encoder, optimal fast weights, no slow
/// weights, `basis_units` basis functions (none for the linear control).
fn network(
    exp: &EbnNonlinearExperiment,
    basis: BasisSpread,
    basis_units: usize,
    seed: u64,
) -> Result<HostEbn> {
    let cfg = exp.ebn();
    let encoder = spread_encoder(exp.neurons, 2, exp.network.encoder_scale, seed);
    let mut w = EbnWeights::optimal(encoder, &[0.0; 4], &cfg)?;
    if !exp.leak_compensated {
        w.slow.fill(0.0);
    }
    let decoder = w.decoder.clone();
    let net = HostEbn::new(&cfg, w, seed ^ 0x1EA2)?;
    if basis_units == 0 {
        return Ok(net);
    }
    let basis = BasisConnections::over_readout(
        basis_units,
        &decoder,
        2,
        basis.gain,
        basis.bias,
        exp.basis_function,
        seed ^ 0xBA5E,
    )?;
    Ok(net.with_basis(basis)?)
}

/// The rate-level learner of the same equations: `x` itself instead of the
/// spiking readout, its linear part started like the network's
/// (`λ_d I` when `leak_compensated`, else 0).
#[derive(Clone)]
struct RateLearner {
    x: [f64; 2],
    linear: [f64; 4],
    weights: Vec<f64>, // [P][2]
    g: Vec<f64>,       // [P][2]
    bias: Vec<f64>,
    function: BasisFunction,
    lambda: f64,
}

impl RateLearner {
    fn new(basis: &BasisConnections, decoder: &[f32], lambda: f64, compensated: bool) -> Self {
        // Recover G from M = G Dᵀ by least squares over the neurons (D has
        // rank 2): G = M D (Dᵀ D)⁻¹ — the same basis as the spiking network.
        let n = decoder.len() / 2;
        let p = basis.units();
        let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let (d0, d1) = (decoder[2 * i] as f64, decoder[2 * i + 1] as f64);
            a += d0 * d0;
            b += d0 * d1;
            c += d1 * d1;
        }
        let det = a * c - b * b;
        let inv = [c / det, -b / det, -b / det, a / det];
        let mut g = vec![0.0; 2 * p];
        for q in 0..p {
            let (mut m0, mut m1) = (0.0, 0.0);
            for i in 0..n {
                let m = basis.input[q * n + i] as f64;
                m0 += m * decoder[2 * i] as f64;
                m1 += m * decoder[2 * i + 1] as f64;
            }
            g[2 * q] = m0 * inv[0] + m1 * inv[2];
            g[2 * q + 1] = m0 * inv[1] + m1 * inv[3];
        }
        Self {
            x: [0.0; 2],
            linear: if compensated {
                [lambda, 0.0, 0.0, lambda]
            } else {
                [0.0; 4]
            },
            weights: vec![0.0; 2 * p],
            g,
            bias: basis.bias.iter().map(|b| *b as f64).collect(),
            function: basis.function,
            lambda,
        }
    }

    fn step(
        &mut self,
        c: [f64; 2],
        target: Option<[f64; 2]>,
        gain: f64,
        eta_lin: f64,
        eta_basis: f64,
        dt: f64,
    ) {
        let psi: Vec<f64> = (0..self.bias.len())
            .map(|q| {
                let h = self.g[2 * q] * self.x[0] + self.g[2 * q + 1] * self.x[1] + self.bias[q];
                match self.function {
                    BasisFunction::Tanh => h.tanh(),
                    BasisFunction::Relu => h.max(0.0),
                }
            })
            .collect();
        let mut dx = [0.0; 2];
        for a in 0..2 {
            dx[a] = -self.lambda * self.x[a]
                + c[a]
                + self.linear[2 * a] * self.x[0]
                + self.linear[2 * a + 1] * self.x[1];
            for (q, p) in psi.iter().enumerate() {
                dx[a] += self.weights[2 * q + a] * p;
            }
        }
        if let Some(t) = target {
            let e = [t[0] - self.x[0], t[1] - self.x[1]];
            for a in 0..2 {
                dx[a] += gain * e[a];
                for b in 0..2 {
                    self.linear[2 * a + b] += eta_lin * dt * gain * e[a] * self.x[b];
                }
                for (q, p) in psi.iter().enumerate() {
                    self.weights[2 * q + a] += eta_basis * dt * gain * e[a] * p;
                }
            }
        }
        self.x = [self.x[0] + dt * dx[0], self.x[1] + dt * dx[1]];
    }
}

/// What learning one system produced.
struct Learned {
    net: HostEbn,
    rate: Option<RateLearner>,
    learning_curve: Vec<(f64, f64)>,
    learning_error_final: f64,
    /// Training states every 10 ms (for the unseen test states).
    visited: Vec<[f64; 2]>,
}

/// Trains `net` (and the rate learner alongside, if given) on `system`.
#[allow(clippy::too_many_arguments)]
fn learn(
    exp: &EbnNonlinearExperiment,
    system: &NonlinearSystem,
    amplitude: f64,
    mut net: HostEbn,
    mut rate: Option<RateLearner>,
    seed: u64,
    ctx: &RunContext,
    label: &str,
) -> Result<Learned> {
    let cfg = net.config().clone();
    let dt = cfg.dt();
    let total = (exp.learning_seconds / dt).round() as usize;
    let segment = (10.0 / dt).round() as usize;
    let window = (2.0 / dt).round() as usize;
    let lin = SlowHebbian {
        learning_rate: exp.linear_learning_rate as f32,
        decay: 0.0,
    };
    let basis_rule = SlowHebbian {
        learning_rate: exp.basis_learning_rate as f32,
        decay: 0.0,
    };
    let mut x = [0.0f64; 2];
    let (mut win_t, mut win_r) = (vec![], vec![]);
    let mut curve = vec![];
    let mut visited = vec![];
    let mut tail: (Vec<f64>, Vec<f64>) = (vec![], vec![]);
    // Learning ends where K reaches 0 (the validated schedule's last step).
    let zero_from = exp
        .feedback_schedule
        .iter()
        .find(|s| s[1] == 0.0)
        .map_or(total, |s| (s[0] * total as f64) as usize);
    let tail_steps = (10.0 / dt).round() as usize;
    let mut y = vec![0f32; 2];
    let mut t = 0usize;
    let segments = total.div_ceil(segment);
    ctx.observer
        .start(&format!("ebn-nonlinear{label}"), segments as u64);
    for seg in 0..segments {
        let input = smoothed_noise(
            segment,
            2,
            dt,
            exp.input_smoothing_ms * 1e-3,
            amplitude,
            seed.wrapping_mul(1_000_003).wrapping_add(seg as u64 + 1),
        )?;
        let target = system.trajectory(&input, dt, x)?;
        x = [target[2 * segment - 2], target[2 * segment - 1]];
        for k in 0..segment {
            if t >= total {
                break;
            }
            let gain = exp.gain_at(t as f64 / total as f64);
            net.set_feedback_gain(gain)?;
            let c = [input[2 * k] as f32, input[2 * k + 1] as f32];
            let xt = [target[2 * k] as f32, target[2 * k + 1] as f32];
            let drive = Drive {
                input: &c,
                target: (gain > 0.0).then_some(&xt[..]),
            };
            net.step_with_basis(drive, &Frozen, &lin, &basis_rule)?;
            if let Some(r) = rate.as_mut() {
                r.step(
                    [input[2 * k], input[2 * k + 1]],
                    (gain > 0.0).then_some([target[2 * k], target[2 * k + 1]]),
                    gain,
                    exp.linear_learning_rate,
                    exp.basis_learning_rate,
                    dt,
                );
            }
            net.readout_into(&mut y);
            win_t.extend_from_slice(&target[2 * k..2 * k + 2]);
            win_r.extend(y.iter().map(|v| *v as f64));
            if t < zero_from && t + tail_steps >= zero_from {
                tail.0.extend_from_slice(&target[2 * k..2 * k + 2]);
                tail.1.extend(y.iter().map(|v| *v as f64));
            }
            if t.is_multiple_of(100) {
                visited.push([target[2 * k], target[2 * k + 1]]);
            }
            t += 1;
            if win_t.len() == 2 * window {
                curve.push((t as f64 * dt, normalised_error(&win_t, &win_r, 2)));
                win_t.clear();
                win_r.clear();
            }
        }
        ctx.observer.advance(&format!(
            "{:.0} s, K {:.0}, error {:.4}",
            t as f64 * dt,
            exp.gain_at(t as f64 / total as f64),
            curve.last().map_or(f64::NAN, |p| p.1)
        ));
    }
    ctx.observer.finish();
    let learning_error_final = if tail.0.is_empty() {
        f64::NAN
    } else {
        normalised_error(&tail.0, &tail.1, 2)
    };
    Ok(Learned {
        net,
        rate,
        learning_curve: curve,
        learning_error_final,
        visited,
    })
}

/// A copy of the learned network for a test: same weights and basis, new
/// noise stream, feedback off, `silenced` neurons removed, noise scaled.
fn test_network(
    learned: &HostEbn,
    seed: u64,
    silenced: &[usize],
    noise_factor: f64,
) -> Result<HostEbn> {
    let mut cfg = learned.config().clone();
    cfg.voltage_noise *= noise_factor;
    let mut net = HostEbn::new(&cfg, learned.weights.clone(), seed)?;
    if let Some(b) = &learned.basis {
        net = net.with_basis(b.clone())?;
    }
    net.silence(silenced)?;
    Ok(net)
}

/// Run without feedback from `x0` after the clamp, under `input`
/// (`[steps, 2]`; zeros for an autonomous run): the readout `[steps, 2]`
/// and each neuron's spike steps.
fn free_run(
    mut net: HostEbn,
    x0: [f64; 2],
    clamp_steps: usize,
    input: &[f64],
) -> Result<(Vec<f64>, Vec<Vec<usize>>)> {
    let steps = input.len() / 2;
    let n = net.config().neurons;
    let hold = [x0[0] as f32, x0[1] as f32];
    let zero = [0f32; 2];
    let gain = net.config().feedback_gain.max(100.0);
    net.set_feedback_gain(gain)?;
    for _ in 0..clamp_steps {
        net.step(
            Drive {
                input: &zero,
                target: Some(&hold),
            },
            &Frozen,
            &Frozen,
        )?;
    }
    net.set_feedback_gain(0.0)?;
    let mut out = Vec::with_capacity(2 * steps);
    let mut y = vec![0f32; 2];
    let mut spikes = vec![vec![]; n];
    for t in 0..steps {
        let c = [input[2 * t] as f32, input[2 * t + 1] as f32];
        net.step(
            Drive {
                input: &c,
                target: None,
            },
            &Frozen,
            &Frozen,
        )?;
        net.readout_into(&mut y);
        out.extend(y.iter().map(|v| *v as f64));
        for &i in net.spikes() {
            spikes[i].push(t);
        }
    }
    Ok((out, spikes))
}

/// Spikes of the scored free runs: the firing statistics of the network
/// while it runs the dynamics (a damped system's long free run decays to
/// rest, where an efficient network falls silent).
struct Activity {
    spikes: usize,
    neuron_seconds: f64,
    /// Inter-spike intervals per neuron, pooled over the runs.
    intervals: Vec<Vec<f64>>,
}

/// The input of test run `k` (`[steps, 2]`): zeros for an autonomous
/// test, else a drive of the training's statistics from its own seed (the
/// same for every network tested from that state).
fn test_input(
    exp: &EbnNonlinearExperiment,
    setup: &SystemSetup,
    k: usize,
    steps: usize,
    dt: f64,
) -> Result<Vec<f64>> {
    if setup.test_drive == 0.0 {
        return Ok(vec![0.0; 2 * steps]);
    }
    Ok(smoothed_noise(
        steps,
        2,
        dt,
        exp.input_smoothing_ms * 1e-3,
        setup.test_drive,
        setup.seed ^ 0xD21E ^ ((k as u64 + 1) << 20),
    )?)
}

/// Mean one-period error of `learned` over `states`, and the spikes of
/// those runs.
fn score(
    exp: &EbnNonlinearExperiment,
    setup: &SystemSetup,
    learned: &HostEbn,
    states: &[[f64; 2]],
    seed: u64,
    silenced: &[usize],
    noise_factor: f64,
) -> Result<(f64, Activity)> {
    let dt = learned.config().dt();
    let clamp = (exp.clamp_ms * 1e-3 / dt).round() as usize;
    let steps = (exp.score_seconds / dt).round() as usize;
    let n = learned.config().neurons;
    let mut activity = Activity {
        spikes: 0,
        neuron_seconds: 0.0,
        intervals: vec![vec![]; n],
    };
    let mut total = 0.0;
    for (k, &x0) in states.iter().enumerate() {
        let net = test_network(learned, seed.wrapping_add(k as u64), silenced, noise_factor)?;
        let input = test_input(exp, setup, k, steps, dt)?;
        let (y, spikes) = free_run(net, x0, clamp, &input)?;
        let truth = setup.system.trajectory(&input, dt, x0)?;
        total += normalised_error(&truth, &y, 2);
        for (i, s) in spikes.iter().enumerate() {
            activity.spikes += s.len();
            activity.intervals[i].extend(s.windows(2).map(|w| (w[1] - w[0]) as f64));
        }
        activity.neuron_seconds += (n - silenced.len()) as f64 * steps as f64 * dt;
    }
    Ok((total / states.len() as f64, activity))
}

/// Whether the true system's run from `x0` under test `k`'s input stays
/// inside the box `|x_i| ≤ size` for `steps`: an unseen test state must
/// not leave the range the network was trained to represent (a pendulum
/// pushed over its separatrix rotates, its angle growing without bound).
fn stays_within(
    exp: &EbnNonlinearExperiment,
    setup: &SystemSetup,
    x0: [f64; 2],
    k: usize,
    size: f64,
    steps: usize,
    dt: f64,
) -> Result<bool> {
    let input = test_input(exp, setup, k, steps, dt)?;
    Ok(setup
        .system
        .trajectory(&input, dt, x0)?
        .iter()
        .all(|v| v.abs() <= size))
}

fn rate_score(
    exp: &EbnNonlinearExperiment,
    setup: &SystemSetup,
    rate: &RateLearner,
    states: &[[f64; 2]],
    dt: f64,
) -> Result<f64> {
    let steps = (exp.score_seconds / dt).round() as usize;
    let mut total = 0.0;
    for (k, &x0) in states.iter().enumerate() {
        let mut r = RateLearner {
            x: x0,
            ..rate.clone()
        };
        let input = test_input(exp, setup, k, steps, dt)?;
        let mut y = Vec::with_capacity(2 * steps);
        for c in input.chunks_exact(2) {
            r.step([c[0], c[1]], None, 0.0, 0.0, 0.0, dt);
            y.extend_from_slice(&r.x);
        }
        let truth = setup.system.trajectory(&input, dt, x0)?;
        total += normalised_error(&truth, &y, 2);
    }
    Ok(total / states.len() as f64)
}

/// One system's run: what it learns, with which input and basis, and how
/// its metrics and figures are named.
struct SystemSetup<'a> {
    system: NonlinearSystem,
    amplitude: f64,
    /// Drive amplitude of the tests (0: autonomous, input-free tests).
    test_drive: f64,
    basis: BasisSpread,
    seed: u64,
    suffix: &'a str,
    name: &'a str,
}

fn run_system(
    exp: &EbnNonlinearExperiment,
    setup: &SystemSetup,
    ctx: &RunContext,
    report: &mut Report,
) -> Result<()> {
    let SystemSetup {
        system,
        amplitude,
        basis,
        seed,
        suffix,
        name,
        ..
    } = *setup;
    let system = &system;
    let cfg = exp.ebn();
    let dt = cfg.dt();
    let untrained = network(exp, basis, exp.basis_units, seed)?;
    let rate = untrained.basis.as_ref().map(|b| {
        RateLearner::new(
            b,
            &untrained.weights.decoder,
            cfg.lambda_readout(),
            exp.leak_compensated,
        )
    });
    let learned = learn(exp, system, amplitude, untrained, rate, seed, ctx, suffix)?;
    let linear = learn(
        exp,
        system,
        amplitude,
        network(exp, basis, 0, seed)?,
        None,
        seed,
        ctx,
        &format!("{suffix} (linear control)"),
    )?;

    let mut rng = StdRng::seed_from_u64(seed ^ 0x57A7E);
    let seen: Vec<[f64; 2]> = (0..exp.initial_states)
        .map(|_| {
            learned.visited[rng.random_range(learned.visited.len() / 2..learned.visited.len())]
        })
        .collect();
    // The system's size: the largest |x_i| the training visited. Unseen
    // states are drawn from that box widened by the unseen distance.
    let size = learned
        .visited
        .iter()
        .flat_map(|v| v.iter().map(|x| x.abs()))
        .fold(0.0f64, f64::max);
    let far = exp.unseen_distance * size;
    let reach = size + far;
    let score_steps = (exp.score_seconds / dt).round() as usize;
    let mut unseen = vec![];
    for _ in 0..100_000 {
        if unseen.len() == exp.initial_states {
            break;
        }
        let x = [
            rng.random_range(-reach..reach),
            rng.random_range(-reach..reach),
        ];
        if learned
            .visited
            .iter()
            .all(|v| (v[0] - x[0]).powi(2) + (v[1] - x[1]).powi(2) > far * far)
            && stays_within(exp, setup, x, unseen.len(), reach, score_steps, dt)?
        {
            unseen.push(x);
        }
    }
    if unseen.is_empty() {
        return Err(ExperimentError::InvalidConfig {
            field: "unseen_distance".into(),
            value: exp.unseen_distance.to_string(),
            expected: "a distance that leaves states the training trajectory did not visit".into(),
        });
    }

    let test_seed = seed ^ 0x7E57;
    let fresh = network(exp, basis, exp.basis_units, seed)?;
    let untrained_error = score(exp, setup, &fresh, &seen, test_seed, &[], 1.0)?.0;
    let (autonomous, activity) = score(exp, setup, &learned.net, &seen, test_seed, &[], 1.0)?;
    let unseen_error = score(exp, setup, &learned.net, &unseen, test_seed, &[], 1.0)?.0;
    let linear_error = score(exp, setup, &linear.net, &seen, test_seed, &[], 1.0)?.0;
    let noise_error = score(
        exp,
        setup,
        &learned.net,
        &seen,
        test_seed,
        &[],
        exp.noise_factor,
    )?
    .0;
    let mut loss = vec![];
    for fraction in [0.1, 0.2] {
        let count = (fraction * exp.neurons as f64).round() as usize;
        let mut errors = vec![];
        for draw in 0..exp.loss_draws {
            let mut ids: Vec<usize> = (0..exp.neurons).collect();
            ids.shuffle(&mut StdRng::seed_from_u64(
                seed ^ ((0x1055 + draw as u64 + count as u64) << 8),
            ));
            errors.push(
                score(
                    exp,
                    setup,
                    &learned.net,
                    &seen,
                    test_seed,
                    &ids[..count],
                    1.0,
                )?
                .0,
            );
        }
        loss.push(errors.iter().sum::<f64>() / errors.len() as f64);
    }
    let m = |k: &str| format!("{k}{suffix}");
    report.metric(&m("untrained_error"), untrained_error)?;
    report.metric(&m("learning_error_final"), learned.learning_error_final)?;
    report.metric(&m("autonomous_error"), autonomous)?;
    report.metric(&m("autonomous_error_unseen_initial_states"), unseen_error)?;
    report.metric(&m("autonomous_error_linear_ebn"), linear_error)?;
    report.metric(&m("neuron_loss_error_10pct"), loss[0])?;
    report.metric(&m("neuron_loss_error_20pct"), loss[1])?;
    report.metric(&m("noise_error"), noise_error)?;
    if let Some(rate) = &learned.rate {
        report.metric(
            &m("rate_network_error"),
            rate_score(exp, setup, rate, &seen, dt)?,
        )?;
    }

    // Long free run from a seen state: limit cycle, ISI CV, rate, plots.
    let cycle_steps = (exp.cycle_seconds / dt).round() as usize;
    let clamp = (exp.clamp_ms * 1e-3 / dt).round() as usize;
    let x0 = seen[0];
    let long_input = test_input(exp, setup, 0, cycle_steps, dt)?;
    let (y, spikes) = free_run(
        test_network(&learned.net, test_seed, &[], 1.0)?,
        x0,
        clamp,
        &long_input,
    )?;
    let truth = system.trajectory(&long_input, dt, x0)?;
    let (y_lin, _) = free_run(
        test_network(&linear.net, test_seed, &[], 1.0)?,
        x0,
        clamp,
        &long_input,
    )?;
    // Firing over the scored free runs from the seen states.
    report.metric(
        &m("rate_hz"),
        activity.spikes as f64 / activity.neuron_seconds,
    )?;
    report.metric(&m("isi_cv"), isi_cv(&activity.intervals))?;
    if matches!(system, NonlinearSystem::VanDerPol { .. }) {
        let (a_true, f_true) =
            cycle_amplitude_frequency(&truth, dt).ok_or_else(|| ExperimentError::NonFinite {
                what: "the true system's limit cycle (fewer than 3 cycles in cycle_seconds)".into(),
                value: f64::NAN,
            })?;
        let (a, f) =
            cycle_amplitude_frequency(&y, dt).ok_or_else(|| ExperimentError::NonFinite {
                what:
                    "the learned network's limit cycle: it does not oscillate (fewer than 3 cycles)"
                        .into(),
                value: f64::NAN,
            })?;
        report.metric(
            &m("limit_cycle_amplitude_error"),
            (a - a_true).abs() / a_true,
        )?;
        report.metric(
            &m("limit_cycle_frequency_error"),
            (f - f_true).abs() / f_true,
        )?;
        report.metric(&m("limit_cycle_amplitude"), a)?;
        report.metric(&m("limit_cycle_amplitude_true"), a_true)?;
        report.metric(&m("limit_cycle_frequency_hz"), f)?;
        report.metric(&m("limit_cycle_frequency_hz_true"), f_true)?;
    }
    report.metric(&m("system_size"), size)?;

    let stem = |s: &str| format!("{s}{suffix}");
    let every = (cycle_steps / 3000).max(1);
    let phase = |v: &[f64]| -> Vec<(f64, f64)> {
        (0..v.len() / 2)
            .step_by(every)
            .map(|t| (v[2 * t], v[2 * t + 1]))
            .collect()
    };
    report.figure(
        stem("phase_portrait"),
        Figure::Line(LineChart::new(
            if setup.test_drive == 0.0 {
                format!("{name}: free run after learning (no feedback, no input)")
            } else {
                format!("{name}: run after learning, no feedback, the same drive for all")
            },
            "x1",
            "x2",
            vec![
                Series::new("true system", phase(&truth)),
                Series::new("learned network", phase(&y)),
                Series::new("linear EBN, same budget", phase(&y_lin)),
            ],
        )),
    );
    let shown = cycle_steps.min((3.0 * exp.score_seconds / dt) as usize);
    let trace = |v: &[f64]| -> Vec<(f64, f64)> {
        (0..shown)
            .step_by(every)
            .map(|t| (t as f64 * dt, v[2 * t]))
            .collect()
    };
    report.figure(
        stem("trajectory"),
        Figure::Line(LineChart::new(
            format!("{name}: x1 from the same initial state"),
            "time (s)",
            "x1",
            vec![
                Series::new("true system", trace(&truth)),
                Series::new("learned network", trace(&y)),
                Series::new("linear EBN", trace(&y_lin)),
            ],
        )),
    );
    report.figure(
        stem("learning_error"),
        Figure::Line(
            LineChart::new(
                format!("{name}: error during learning (2-s windows; K annealed)"),
                "time (s)",
                "MSE / variance",
                vec![
                    Series::new("basis network", learned.learning_curve.clone()),
                    Series::new("linear EBN", linear.learning_curve.clone()),
                ],
            )
            .with_log_y(),
        ),
    );
    let raster_steps = cycle_steps.min((1.0 / dt) as usize);
    let mut raster = vec![vec![0f32; exp.neurons]; raster_steps];
    for (i, s) in spikes.iter().enumerate() {
        for &t in s.iter().take_while(|&&t| t < raster_steps) {
            raster[t][i] = 1.0;
        }
    }
    report.figure(
        stem("raster"),
        Figure::Raster(Raster::new(
            format!("{name}: spikes, first second of the free run"),
            raster,
            cfg.dt_ms,
        )),
    );
    let unseen_count = unseen.len();
    report.count(&m("unseen_initial_states"), unseen_count);
    Ok(())
}

/// Runs both systems. Metrics: see the module docs; unsuffixed for the Van
/// der Pol oscillator, `_pendulum` for the pendulum.
pub fn run(exp: &EbnNonlinearExperiment, _device: &Device, ctx: &RunContext) -> Result<Report> {
    exp.validate()?;
    ctx.refuse_resume(
        "ebn-nonlinear",
        "it runs in minutes and keeps no checkpoint; start it again",
    )?;
    ctx.prepare(exp)?;
    let mut report = Report::new("ebn-nonlinear", ctx);
    if let Some(o) = &exp.oscillator {
        let setup = SystemSetup {
            system: *o,
            amplitude: exp.input_amplitude,
            test_drive: 0.0,
            basis: BasisSpread {
                gain: exp.basis_gain,
                bias: exp.basis_bias,
            },
            seed: ctx.seed,
            suffix: "",
            name: "Van der Pol",
        };
        run_system(exp, &setup, ctx, &mut report)?;
    }
    if let Some(p) = &exp.pendulum {
        let setup = SystemSetup {
            system: *p,
            amplitude: exp.pendulum_input_amplitude,
            test_drive: exp.pendulum_test_drive,
            basis: BasisSpread {
                gain: exp.pendulum_basis_gain,
                bias: exp.pendulum_basis_bias,
            },
            seed: ctx.seed.wrapping_add(7919),
            suffix: "_pendulum",
            name: "driven damped pendulum",
        };
        run_system(exp, &setup, ctx, &mut report)?;
    }
    report.count("neurons", exp.neurons);
    report.count("basis_units", exp.basis_units);
    report.paper(
        "claims",
        "learns nonlinear dynamics with local rules in very small networks, few spikes, Poisson-like variability, robust to noise and to neuron loss; the abstract gives no numbers",
    );
    Ok(report.finish())
}

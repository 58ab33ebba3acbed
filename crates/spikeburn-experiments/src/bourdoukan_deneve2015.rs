//! `ebn-linear`: an efficient balanced network learns linear dynamics with
//! local rules (Bourdoukan & Denève 2015, *Enforcing balance allows local
//! supervised learning in spiking recurrent networks*).
//!
//! For each system `ẋ = A x + c(t)` (a 2-D damped oscillator, and a 3-D
//! system in which a damped rotation drives a slower third variable):
//!
//! 1. the hand-derived optimal network ([`EbnWeights::optimal`]) is run on a
//!    test input without feedback (`optimal_error`: a check of the
//!    simulator);
//! 2. the network to learn starts with the optimal thresholds and decoder
//!    `D = Fᵀ` (fixed, so that the slow weights can be compared with the
//!    optimum), random fast weights in the lab code's form
//!    `−‖F‖² (a U[0,1] + b I)` and no slow weights; run autonomously it
//!    gives `untrained_error`;
//! 3. **balance phase**: the error is fed back with gain `K` and the
//!    voltage-based fast rule ([`FastBalance`]) alone learns for
//!    `balance_seconds`;
//! 4. **learning phase**: the slow rule ([`SlowHebbian`]) learns for
//!    `learning_seconds` (the fast rule too, at
//!    `fast_learning_rate_with_slow`), on fresh input (the network is never
//!    reset: one continuous run);
//! 5. the feedback is removed (the input `c(t)` stays) and the learned
//!    network runs on the test input: `autonomous_error`, balance, ISI CV,
//!    rate;
//! 6. control: the slow rule alone from the optimal fast weights
//!    (`*_slow_only`), which separates what the slow rule learns from the
//!    fast rule's imperfect fixed point.
//!
//! Errors are `Σ_d mean_t (x_d − x̂_d)² / Σ_d var_t(x_d)` over the run they
//! name: the readout's mean squared error divided by the target
//! trajectory's variance on the same input. `learning_error_final` is that
//! over the last 10 s of learning (feedback on).
//!
//! Choices the paper leaves open (documented in the README): `N = 20`
//! (2-D) and 30 (3-D), encoder rows of norm 0.2 in random directions,
//! `τ_V = τ_d = 100 ms`, `dt = 0.1 ms`, `μ = 0.05 ‖F_i‖²`, `K = 100 /s`,
//! voltage noise 0.02/√s, one spike per step, input: white noise smoothed
//! over 30 ms with standard deviation 5 per dimension; systems with decay
//! times of 1 s and more, against the readout's 0.1 s, so that a network
//! without slow connections (a leaky integrator) cannot follow them.

use serde::{Deserialize, Serialize};
use spikeburn_plasticity::ebn::relative_error;
use spikeburn_plasticity::{
    Drive, EbnConfig, EbnWeights, FastBalance, Frozen, HostEbn, SlowHebbian, random_encoder,
    spread_encoder,
};
use spikeburn_plot::{Figure, LineChart, Raster, Series};
use spikeburn_tasks::linear_system::{LinearSystem, smoothed_noise};

use burn::prelude::Device;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::Result;
use crate::report::Report;
use crate::run::RunContext;
use crate::validation::{self as v, Validate};

/// The network's constants shared by both systems.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EbnNetwork {
    /// Time step in ms.
    pub dt_ms: f64,
    /// Membrane time constant in ms.
    pub tau_membrane_ms: f64,
    /// Readout time constant in ms.
    pub tau_readout_ms: f64,
    /// Norm of each encoder row `‖F_i‖`.
    pub encoder_scale: f64,
    /// Cost `μ` in units of `‖F_i‖²`.
    pub cost: f64,
    /// Feedback gain `K` per second.
    pub feedback_gain: f64,
    /// Voltage noise per √s.
    pub voltage_noise: f64,
    /// At most one spike per step.
    pub one_spike_per_step: bool,
}

impl Default for EbnNetwork {
    fn default() -> Self {
        Self {
            dt_ms: 0.1,
            tau_membrane_ms: 100.0,
            tau_readout_ms: 100.0,
            encoder_scale: 0.2,
            cost: 0.05,
            feedback_gain: 100.0,
            voltage_noise: 0.02,
            one_spike_per_step: true,
        }
    }
}

impl EbnNetwork {
    /// The simulator's constants for `neurons` × `dims` with feedback gain
    /// `feedback_gain` (`cost` scaled by `‖F_i‖²`).
    pub fn config(&self, neurons: usize, dims: usize, feedback_gain: f64) -> EbnConfig {
        EbnConfig {
            neurons,
            dims,
            dt_ms: self.dt_ms,
            tau_membrane_ms: self.tau_membrane_ms,
            tau_readout_ms: self.tau_readout_ms,
            cost: self.cost * self.encoder_scale * self.encoder_scale,
            feedback_gain,
            voltage_noise: self.voltage_noise,
            one_spike_per_step: self.one_spike_per_step,
        }
    }
}

/// Everything `ebn-linear` can be configured with.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EbnLinearExperiment {
    /// The network's constants.
    pub network: EbnNetwork,
    /// Neurons of the 2-D network.
    pub neurons_2d: usize,
    /// Neurons of the 3-D network (0: skip the 3-D system).
    pub neurons_3d: usize,
    /// Encoder directions spread evenly (2-D: on the circle, 3-D: a
    /// Fibonacci sphere; at a random rotation) instead of drawn at random.
    pub encoder_spread_evenly: bool,
    /// Decay rate of the oscillator per second (decay time `1/decay`).
    pub oscillator_decay: f64,
    /// Frequency of the oscillator in Hz.
    pub oscillator_hz: f64,
    /// Standard deviation of each input dimension.
    pub input_amplitude: f64,
    /// Width of the input's Gaussian smoothing in ms.
    pub input_smoothing_ms: f64,
    /// Seconds of fast-rule learning before the slow rule starts.
    pub balance_seconds: f64,
    /// Seconds of learning with both rules.
    pub learning_seconds: f64,
    /// Seconds of the test run (autonomous, fixed input).
    pub test_seconds: f64,
    /// Autonomous test every this many seconds of learning (0: only at the end).
    pub eval_every_seconds: f64,
    /// Fast rule: learning rate per presynaptic spike.
    pub fast_learning_rate: f64,
    /// Fast rule: `β`.
    pub fast_beta: f64,
    /// Fast rule: its cost term `μ` in units of `‖F_i‖²` (0: the
    /// `(V_before + V_after)²` form; the lab's code uses the network's `μ`).
    pub fast_cost: f64,
    /// Slow rule: learning rate per second.
    pub slow_learning_rate: f64,
    /// Slow rule: weight decay `δ` (0: the plain rule).
    pub slow_decay: f64,
    /// The fast rule's learning rate in the learning phase (0: frozen once
    /// the slow rule starts).
    pub fast_learning_rate_with_slow: f64,
    /// Start from the optimal fast weights instead of random ones (isolates
    /// the slow rule).
    pub fast_init_optimal: bool,
    /// Initial fast weights `−‖F‖² (spread U[0,1] + self I)`: the spread.
    pub fast_init_spread: f64,
    /// Initial fast weights: the self term.
    pub fast_init_self: f64,
}

impl Default for EbnLinearExperiment {
    fn default() -> Self {
        Self {
            network: EbnNetwork::default(),
            neurons_2d: 20,
            neurons_3d: 30,
            encoder_spread_evenly: true,
            oscillator_decay: 1.0,
            oscillator_hz: 0.5,
            input_amplitude: 5.0,
            input_smoothing_ms: 30.0,
            balance_seconds: 100.0,
            learning_seconds: 400.0,
            test_seconds: 10.0,
            eval_every_seconds: 20.0,
            fast_learning_rate: 5e-3,
            fast_beta: 1.9,
            fast_cost: 0.05,
            slow_learning_rate: 0.1,
            slow_decay: 0.0,
            fast_learning_rate_with_slow: 0.0,
            fast_init_optimal: false,
            fast_init_spread: 0.2,
            fast_init_self: 0.5,
        }
    }
}

impl EbnLinearExperiment {
    /// The reduced preset (CI): 60 s of balance, 100 s of learning, a 5-s
    /// test, both systems.
    pub fn quick() -> Self {
        Self {
            balance_seconds: 60.0,
            learning_seconds: 100.0,
            test_seconds: 5.0,
            eval_every_seconds: 20.0,
            ..Self::default()
        }
    }

    fn ebn(&self, neurons: usize, dims: usize) -> EbnConfig {
        self.network
            .config(neurons, dims, self.network.feedback_gain)
    }

    /// The two systems: the damped oscillator and the 3-D one (if asked).
    pub fn systems(&self) -> Vec<(&'static str, LinearSystem, usize)> {
        let omega = std::f64::consts::TAU * self.oscillator_hz;
        let d = self.oscillator_decay;
        let mut out = vec![(
            "",
            LinearSystem::damped_oscillator(d, omega),
            self.neurons_2d,
        )];
        if self.neurons_3d > 0 {
            let a = LinearSystem {
                dims: 3,
                a: vec![-d, -omega, 0.0, omega, -d, 0.0, 1.0, 0.0, -0.5 * d],
            };
            out.push(("_3d", a, self.neurons_3d));
        }
        out
    }
}

impl Validate for EbnLinearExperiment {
    fn validate(&self) -> Result<()> {
        let n = &self.network;
        v::positive("network.dt_ms", n.dt_ms, 0.0, 10.0)?;
        v::positive("network.encoder_scale", n.encoder_scale, 0.0, 100.0)?;
        v::count("neurons_2d", self.neurons_2d, 2, 5_000)?;
        v::count("neurons_3d", self.neurons_3d, 0, 5_000)?;
        v::real("oscillator_decay", self.oscillator_decay, 0.0, 1e3)?;
        v::real("oscillator_hz", self.oscillator_hz, 0.0, 1e3)?;
        v::real("input_amplitude", self.input_amplitude, 0.0, 1e6)?;
        v::positive("input_smoothing_ms", self.input_smoothing_ms, n.dt_ms, 1e5)?;
        v::real("balance_seconds", self.balance_seconds, 0.0, 1e5)?;
        v::real("learning_seconds", self.learning_seconds, 10.0, 1e5)?;
        v::positive("test_seconds", self.test_seconds, 0.0, 1e4)?;
        v::real("eval_every_seconds", self.eval_every_seconds, 0.0, 1e5)?;
        v::real("fast_learning_rate", self.fast_learning_rate, 0.0, 1.0)?;
        v::real("fast_beta", self.fast_beta, 0.0, 10.0)?;
        v::real("fast_cost", self.fast_cost, 0.0, 10.0)?;
        v::real("slow_learning_rate", self.slow_learning_rate, 0.0, 1e3)?;
        v::real(
            "fast_learning_rate_with_slow",
            self.fast_learning_rate_with_slow,
            0.0,
            1.0,
        )?;
        v::real("slow_decay", self.slow_decay, 0.0, 1e3)?;
        v::real("fast_init_spread", self.fast_init_spread, 0.0, 10.0)?;
        v::real("fast_init_self", self.fast_init_self, 0.0, 10.0)?;
        for neurons in [self.neurons_2d, self.neurons_3d.max(1)] {
            self.ebn(neurons, 2).validate()?;
        }
        // Two weight matrices, and the test input and trajectory.
        let steps = self.test_seconds / (n.dt_ms * 1e-3);
        let big = self.neurons_2d.max(self.neurons_3d) as f64;
        v::memory("neurons² and the test run", 8.0 * big * big + 48.0 * steps)?;
        Ok(())
    }
}

/// The seconds of input of one learning segment (a fresh input stream per
/// segment; the network and the target carry their state over).
const SEGMENT_SECONDS: f64 = 10.0;

/// `Σ_d Σ_t (x − x̂)² / Σ_d Σ_t (x − x̄)²` over rows of `dims`.
pub(crate) fn normalised_error(target: &[f64], readout: &[f64], dims: usize) -> f64 {
    let steps = target.len() / dims;
    let mut mse = 0.0;
    let mut var = 0.0;
    for d in 0..dims {
        let mean = (0..steps).map(|t| target[t * dims + d]).sum::<f64>() / steps as f64;
        for t in 0..steps {
            mse += (target[t * dims + d] - readout[t * dims + d]).powi(2);
            var += (target[t * dims + d] - mean).powi(2);
        }
    }
    mse / var
}

/// Mean coefficient of variation of the inter-spike intervals (one list
/// per neuron, any unit) over the neurons with at least 5 intervals; NaN
/// when none has (a metric that then refuses to be reported).
pub(crate) fn isi_cv(intervals: &[Vec<f64>]) -> f64 {
    let cvs: Vec<f64> = intervals
        .iter()
        .filter(|d| d.len() >= 5)
        .map(|d| {
            let mean = d.iter().sum::<f64>() / d.len() as f64;
            let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / d.len() as f64;
            var.sqrt() / mean
        })
        .collect();
    if cvs.is_empty() {
        f64::NAN
    } else {
        cvs.iter().sum::<f64>() / cvs.len() as f64
    }
}

/// What a test run measured.
struct TestRun {
    error: f64,
    readout: Vec<f64>,
    rate_hz: f64,
    isi_cv: f64,
    membrane_fluctuation: f64,
    ei_correlation: f64,
    balance_index: f64,
    /// `[steps][N]` spikes of the first second.
    raster: Vec<Vec<f32>>,
    /// E, I of neuron `probe_neuron` over the first second.
    currents: Vec<(f64, f64)>,
    isis_ms: Vec<f64>,
}

/// Runs `weights` autonomously (no feedback) on `input`, from rest.
fn test_run(
    cfg: &EbnConfig,
    weights: &EbnWeights,
    input: &[f64],
    target: &[f64],
    seed: u64,
) -> Result<TestRun> {
    let (n, j) = (cfg.neurons, cfg.dims);
    let mut net = HostEbn::new(cfg, weights.clone(), seed)?;
    net.record_currents(true);
    let steps = input.len() / j;
    let dt_ms = cfg.dt_ms;
    let raster_steps = ((1000.0 / dt_ms) as usize).min(steps);
    let mut readout = vec![0.0; steps * j];
    let mut c = vec![0f32; j];
    let mut x_hat = vec![0f32; j];
    let mut last_spike = vec![None::<usize>; n];
    let mut isis: Vec<Vec<f64>> = vec![vec![]; n];
    let mut spikes = 0usize;
    let (mut v_sum, mut v_sq) = (vec![0.0f64; n], vec![0.0f64; n]);
    let mut ei = vec![(0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64); n]; // Σe, Σi, Σe², Σi², Σei
    let (mut net_abs, mut total) = (vec![0.0f64; n], vec![0.0f64; n]);
    let mut raster = Vec::with_capacity(raster_steps);
    let mut currents = Vec::with_capacity(raster_steps);
    for t in 0..steps {
        for (ci, v) in c.iter_mut().zip(&input[t * j..(t + 1) * j]) {
            *ci = *v as f32;
        }
        spikes += net.step(
            Drive {
                input: &c,
                target: None,
            },
            &Frozen,
            &Frozen,
        )?;
        net.readout_into(&mut x_hat);
        for (o, x) in readout[t * j..(t + 1) * j].iter_mut().zip(&x_hat) {
            *o = *x as f64;
        }
        for &i in net.spikes() {
            if let Some(prev) = last_spike[i] {
                isis[i].push((t - prev) as f64 * dt_ms);
            }
            last_spike[i] = Some(t);
        }
        let probe = net.currents().expect("recording");
        for i in 0..n {
            let v = net.membrane[i] as f64;
            v_sum[i] += v;
            v_sq[i] += v * v;
            let (e, inh) = (probe.excitation[i] as f64, -(probe.inhibition[i] as f64));
            let s = &mut ei[i];
            s.0 += e;
            s.1 += inh;
            s.2 += e * e;
            s.3 += inh * inh;
            s.4 += e * inh;
            net_abs[i] += (e - inh).abs();
            total[i] += e + inh;
        }
        if t < raster_steps {
            let mut row = vec![0f32; n];
            for &i in net.spikes() {
                row[i] = 1.0;
            }
            raster.push(row);
            currents.push((probe.excitation[0] as f64, probe.inhibition[0] as f64));
        }
    }
    let m = steps as f64;
    let fluctuation = (0..n)
        .map(|i| {
            let mean = v_sum[i] / m;
            ((v_sq[i] / m - mean * mean).max(0.0)).sqrt() / weights.threshold[i] as f64
        })
        .sum::<f64>()
        / n as f64;
    let corr: Vec<f64> = ei
        .iter()
        .filter_map(|s| {
            let (me, mi) = (s.0 / m, s.1 / m);
            let ve = s.2 / m - me * me;
            let vi = s.3 / m - mi * mi;
            (ve > 0.0 && vi > 0.0).then(|| (s.4 / m - me * mi) / (ve * vi).sqrt())
        })
        .collect();
    let mean_or_nan = |v: &[f64]| {
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let balance = (0..n)
        .filter(|&i| total[i] > 0.0)
        .map(|i| net_abs[i] / total[i])
        .collect::<Vec<_>>();
    Ok(TestRun {
        error: normalised_error(target, &readout, j),
        readout,
        rate_hz: spikes as f64 / n as f64 / (m * dt_ms * 1e-3),
        isi_cv: isi_cv(&isis),
        membrane_fluctuation: fluctuation,
        ei_correlation: mean_or_nan(&corr),
        balance_index: mean_or_nan(&balance),
        raster,
        currents,
        isis_ms: isis.into_iter().flatten().collect(),
    })
}

/// What one system's protocol measured.
struct SystemResult {
    optimal: TestRun,
    untrained: TestRun,
    learned: TestRun,
    test_target: Vec<f64>,
    learning_curve: Vec<(f64, f64)>,
    autonomous_curve: Vec<(f64, f64)>,
    learning_error_final: f64,
    slow_rel_error: f64,
    fast_rel_error: f64,
    slow_learned: Vec<f32>,
    slow_optimal: Vec<f32>,
    dims: usize,
    dt_ms: f64,
}

fn run_system(
    exp: &EbnLinearExperiment,
    system: &LinearSystem,
    neurons: usize,
    seed: u64,
    ctx: &RunContext,
    label: &str,
) -> Result<SystemResult> {
    let j = system.dims;
    let cfg = exp.ebn(neurons, j);
    let dt = cfg.dt();
    let smoothing = exp.input_smoothing_ms * 1e-3;
    let encoder = if exp.encoder_spread_evenly {
        spread_encoder(neurons, j, exp.network.encoder_scale, seed)
    } else {
        random_encoder(neurons, j, exp.network.encoder_scale, seed)
    };
    let optimal = EbnWeights::optimal(encoder.clone(), &system.a, &cfg)?;
    let scale = (exp.network.encoder_scale * exp.network.encoder_scale) as f32;
    let mut rng = StdRng::seed_from_u64(seed ^ 0xFA57);
    let fast0: Vec<f32> = (0..neurons * neurons)
        .map(|k| {
            let own = if k / neurons == k % neurons {
                exp.fast_init_self as f32
            } else {
                0.0
            };
            -scale * (exp.fast_init_spread as f32 * rng.random::<f32>() + own)
        })
        .collect();
    let fast0 = if exp.fast_init_optimal {
        optimal.fast.clone()
    } else {
        fast0
    };
    let initial = EbnWeights::untrained(encoder, fast0, &cfg)?;

    let test_steps = (exp.test_seconds / dt).round() as usize;
    let test_input = smoothed_noise(
        test_steps,
        j,
        dt,
        smoothing,
        exp.input_amplitude,
        seed ^ 0x7E57,
    )?;
    let test_target = system.trajectory(&test_input, dt, &vec![0.0; j])?;
    let test_seed = seed ^ 0x5EED;
    let optimal_run = test_run(&cfg, &optimal, &test_input, &test_target, test_seed)?;
    let untrained = test_run(&cfg, &initial, &test_input, &test_target, test_seed)?;

    let fast_rule = FastBalance {
        learning_rate: exp.fast_learning_rate as f32,
        beta: exp.fast_beta as f32,
        cost: (exp.fast_cost * exp.network.encoder_scale * exp.network.encoder_scale) as f32,
    };
    let fast_with_slow = FastBalance {
        learning_rate: exp.fast_learning_rate_with_slow as f32,
        ..fast_rule
    };
    let slow_rule = SlowHebbian {
        learning_rate: exp.slow_learning_rate as f32,
        decay: exp.slow_decay as f32,
    };
    let mut net = HostEbn::new(&cfg, initial, seed ^ 0x1EA2)?;
    let total = exp.balance_seconds + exp.learning_seconds;
    let segments = (total / SEGMENT_SECONDS).ceil() as usize;
    let seg_steps = (SEGMENT_SECONDS / dt).round() as usize;
    let window = (2.0 / dt).round() as usize;
    let mut x = vec![0.0; j];
    let mut c = vec![0f32; j];
    let mut xt = vec![0f32; j];
    let mut x_hat = vec![0f32; j];
    let mut learning_curve = vec![];
    let mut autonomous_curve = vec![(0.0, untrained.error)];
    let (mut win_target, mut win_readout) = (
        Vec::with_capacity(window * j),
        Vec::with_capacity(window * j),
    );
    let final_steps = (10.0 / dt).round() as usize;
    let (mut tail_target, mut tail_readout) = (vec![], vec![]);
    let learning_steps = (exp.learning_seconds / dt).round() as usize;
    let balance_steps = (exp.balance_seconds / dt).round() as usize;
    let eval_steps = if exp.eval_every_seconds > 0.0 {
        (exp.eval_every_seconds / dt).round() as usize
    } else {
        usize::MAX
    };
    let mut t_global = 0usize;
    ctx.observer
        .start(&format!("ebn-linear{label}"), segments as u64);
    for seg in 0..segments {
        let input = smoothed_noise(
            seg_steps,
            j,
            dt,
            smoothing,
            exp.input_amplitude,
            seed.wrapping_mul(1_000_003).wrapping_add(seg as u64 + 1),
        )?;
        let target = system.trajectory(&input, dt, &x)?;
        x.copy_from_slice(&target[(seg_steps - 1) * j..]);
        for t in 0..seg_steps {
            if t_global >= balance_steps + learning_steps {
                break;
            }
            for a in 0..j {
                c[a] = input[t * j + a] as f32;
                xt[a] = target[t * j + a] as f32;
            }
            let drive = Drive {
                input: &c,
                target: Some(&xt),
            };
            if t_global < balance_steps {
                net.step(drive, &fast_rule, &Frozen)?;
            } else if exp.fast_learning_rate_with_slow > 0.0 {
                net.step(drive, &fast_with_slow, &slow_rule)?;
            } else {
                net.step(drive, &Frozen, &slow_rule)?;
            }
            net.readout_into(&mut x_hat);
            win_target.extend(target[t * j..(t + 1) * j].iter().copied());
            win_readout.extend(x_hat.iter().map(|v| *v as f64));
            if t_global + final_steps >= balance_steps + learning_steps {
                tail_target.extend(target[t * j..(t + 1) * j].iter().copied());
                tail_readout.extend(x_hat.iter().map(|v| *v as f64));
            }
            t_global += 1;
            if win_target.len() == window * j {
                learning_curve.push((
                    t_global as f64 * dt,
                    normalised_error(&win_target, &win_readout, j),
                ));
                win_target.clear();
                win_readout.clear();
            }
            if t_global > balance_steps && (t_global - balance_steps).is_multiple_of(eval_steps) {
                let run = test_run(&cfg, &net.weights, &test_input, &test_target, test_seed)?;
                autonomous_curve.push((t_global as f64 * dt, run.error));
            }
        }
        ctx.observer.advance(&format!(
            "{:.0} s, error {:.4}",
            t_global as f64 * dt,
            learning_curve.last().map_or(f64::NAN, |p| p.1)
        ));
    }
    ctx.observer.finish();
    let learned = test_run(&cfg, &net.weights, &test_input, &test_target, test_seed)?;
    if autonomous_curve.last().map(|p| p.0) != Some(t_global as f64 * dt) {
        autonomous_curve.push((t_global as f64 * dt, learned.error));
    }
    Ok(SystemResult {
        learning_error_final: normalised_error(&tail_target, &tail_readout, j),
        slow_rel_error: relative_error(&net.weights.slow, &optimal.slow),
        fast_rel_error: relative_error(&net.weights.fast, &optimal.fast),
        slow_learned: net.weights.slow.clone(),
        slow_optimal: optimal.slow.clone(),
        optimal: optimal_run,
        untrained,
        learned,
        test_target,
        learning_curve,
        autonomous_curve,
        dims: j,
        dt_ms: cfg.dt_ms,
    })
}

fn report_system(report: &mut Report, r: &SystemResult, suffix: &str, name: &str) -> Result<()> {
    let m = |k: &str| format!("{k}{suffix}");
    report.metric(&m("untrained_error"), r.untrained.error)?;
    report.metric(&m("learning_error_final"), r.learning_error_final)?;
    report.metric(&m("autonomous_error"), r.learned.error)?;
    report.metric(&m("optimal_error"), r.optimal.error)?;
    report.metric(&m("slow_weights_rel_error"), r.slow_rel_error)?;
    report.metric(&m("fast_weights_rel_error"), r.fast_rel_error)?;
    report.metric(&m("isi_cv"), r.learned.isi_cv)?;
    report.metric(&m("isi_cv_optimal"), r.optimal.isi_cv)?;
    report.metric(&m("rate_hz"), r.learned.rate_hz)?;
    report.metric(&m("rate_hz_optimal"), r.optimal.rate_hz)?;
    report.metric(
        &m("membrane_fluctuation_untrained"),
        r.untrained.membrane_fluctuation,
    )?;
    report.metric(&m("membrane_fluctuation"), r.learned.membrane_fluctuation)?;
    report.metric(
        &m("membrane_fluctuation_optimal"),
        r.optimal.membrane_fluctuation,
    )?;
    report.metric(&m("ei_correlation"), r.learned.ei_correlation)?;
    report.metric(&m("balance_index"), r.learned.balance_index)?;
    report.metric(&m("balance_index_untrained"), r.untrained.balance_index)?;

    let stem = |s: &str| format!("{s}{suffix}");
    report.figure(
        stem("learning_error"),
        Figure::Line(
            LineChart::new(
                format!("{name}: error during learning"),
                "time (s)",
                "MSE / variance",
                vec![
                    Series::new("with feedback (2-s windows)", r.learning_curve.clone()),
                    Series::new("autonomous test run", r.autonomous_curve.clone()),
                ],
            )
            .with_log_y(),
        ),
    );
    let j = r.dims;
    let steps = r.test_target.len() / j;
    let shown = steps.min((4000.0 / r.dt_ms) as usize);
    let every = (shown / 2000).max(1);
    let trace = |v: &[f64], d: usize| -> Vec<(f64, f64)> {
        (0..shown)
            .step_by(every)
            .map(|t| (t as f64 * r.dt_ms * 1e-3, v[t * j + d]))
            .collect()
    };
    for d in 0..j.min(2) {
        report.figure(
            stem(&format!("autonomous_x{}", d + 1)),
            Figure::Line(LineChart::new(
                format!("{name}: x{} without feedback, test input", d + 1),
                "time (s)",
                format!("x{}", d + 1),
                vec![
                    Series::new("target system", trace(&r.test_target, d)),
                    Series::new("learned network", trace(&r.learned.readout, d)),
                    Series::new("before learning", trace(&r.untrained.readout, d)),
                    Series::new("optimal network", trace(&r.optimal.readout, d)),
                ],
            )),
        );
    }
    let mut order: Vec<usize> = (0..r.slow_optimal.len()).collect();
    order.sort_by(|a, b| r.slow_optimal[*a].total_cmp(&r.slow_optimal[*b]));
    report.figure(
        stem("slow_weights"),
        Figure::Line(LineChart::new(
            format!("{name}: slow weights, sorted by the optimum"),
            "synapse (sorted)",
            "weight",
            vec![
                Series::new(
                    "optimal F(A + λ_d I)Fᵀ",
                    order
                        .iter()
                        .enumerate()
                        .map(|(k, &s)| (k as f64, r.slow_optimal[s] as f64))
                        .collect(),
                ),
                Series::new(
                    "learned",
                    order
                        .iter()
                        .enumerate()
                        .map(|(k, &s)| (k as f64, r.slow_learned[s] as f64))
                        .collect(),
                ),
            ],
        )),
    );
    let cur = |f: &dyn Fn(&(f64, f64)) -> f64| -> Vec<(f64, f64)> {
        r.learned
            .currents
            .iter()
            .enumerate()
            .step_by(5)
            .map(|(t, c)| (t as f64 * r.dt_ms, f(c)))
            .collect()
    };
    report.figure(
        stem("balance"),
        Figure::Line(LineChart::new(
            format!("{name}: excitation and inhibition of neuron 0 (learned, no feedback)"),
            "time (ms)",
            "membrane-filtered input",
            vec![
                Series::new("excitatory", cur(&|c| c.0)),
                Series::new("inhibitory", cur(&|c| c.1)),
                Series::new("net", cur(&|c| c.0 + c.1)),
            ],
        )),
    );
    let bins = 40;
    let top = r
        .learned
        .isis_ms
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .max(1.0);
    let mut hist = vec![0usize; bins];
    for isi in &r.learned.isis_ms {
        hist[((isi / top * bins as f64) as usize).min(bins - 1)] += 1;
    }
    report.figure(
        stem("isi"),
        Figure::Line(LineChart::new(
            format!(
                "{name}: inter-spike intervals (learned), CV {:.2}",
                r.learned.isi_cv
            ),
            "ISI (ms)",
            "count",
            vec![Series::new(
                "ISIs",
                hist.iter()
                    .enumerate()
                    .map(|(b, &c)| ((b as f64 + 0.5) * top / bins as f64, c as f64))
                    .collect(),
            )],
        )),
    );
    report.figure(
        stem("raster"),
        Figure::Raster(Raster::new(
            format!("{name}: spikes of the learned network, first second of the test"),
            r.learned.raster.clone(),
            r.dt_ms,
        )),
    );
    Ok(())
}

/// Runs the protocol on both systems. Metrics (unsuffixed: the 2-D
/// oscillator; `_3d`: the 3-D system): `untrained_error`,
/// `learning_error_final`, `autonomous_error`, `optimal_error`,
/// `slow_weights_rel_error`, `fast_weights_rel_error`, `isi_cv`,
/// `rate_hz`, `membrane_fluctuation[_untrained|_optimal]` (mean over
/// neurons of `std(V_i)/T_i`), `ei_correlation` (mean over neurons of the
/// correlation of the excitatory and inhibitory input), `balance_index`
/// (mean `|E + I| / (E − I)`: 0 perfectly balanced, 1 one-signed).
pub fn run(exp: &EbnLinearExperiment, _device: &Device, ctx: &RunContext) -> Result<Report> {
    exp.validate()?;
    ctx.refuse_resume(
        "ebn-linear",
        "it runs in about a minute and keeps no checkpoint; start it again",
    )?;
    ctx.prepare(exp)?;
    let mut report = Report::new("ebn-linear", ctx);
    for (k, (suffix, system, neurons)) in exp.systems().into_iter().enumerate() {
        let name = if system.dims == 2 {
            "2-D damped oscillator"
        } else {
            "3-D system"
        };
        let decay = system.decay_time(5.0);
        let seed = ctx.seed.wrapping_add(k as u64 * 7919);
        let r = run_system(exp, &system, neurons, seed, ctx, suffix)?;
        report.metric(&format!("decay_time_s{suffix}"), decay)?;
        report_system(&mut report, &r, suffix, name)?;
        // The slow rule alone, on the optimal fast weights: what it learns
        // when the fast rule's imperfect fixed point is out of the way.
        let control = EbnLinearExperiment {
            fast_init_optimal: true,
            fast_learning_rate: 0.0,
            balance_seconds: 0.0,
            eval_every_seconds: 0.0,
            ..exp.clone()
        };
        let c = run_system(
            &control,
            &system,
            neurons,
            seed,
            ctx,
            &format!("{suffix} (slow rule only)"),
        )?;
        report.metric(
            &format!("autonomous_error_slow_only{suffix}"),
            c.learned.error,
        )?;
        report.metric(
            &format!("slow_weights_rel_error_slow_only{suffix}"),
            c.slow_rel_error,
        )?;
    }
    report.count("neurons", exp.neurons_2d);
    report.count("neurons_3d", exp.neurons_3d);
    report.paper(
        "claims",
        "balance kept during learning (E and I cancel, membrane fluctuations small against the threshold), irregular Poisson-like spiking (ISI CV near 1), learned slow weights approach F(A + λ_d I)Fᵀ, the network then runs the dynamics without feedback; the paper gives no numbers for these",
    );
    Ok(report.finish())
}

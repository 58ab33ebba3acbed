//! Kim & Chow 2018, "Learning recurrent dynamics in spiking networks":
//! recursive least squares on every neuron's presynaptic weights makes each
//! neuron's synaptic drive follow its own target.
//!
//! One configurable pipeline ([`RlsExperiment`]) serves every figure: build
//! the network, draw the targets, run `loops` training trials (stimulus, then
//! RLS over the window), then measure the evoked response on fresh initial
//! conditions with learning off, before and after training.

use burn::prelude::Device;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};
use spikeburn_core::layer::is_host_device;
use spikeburn_plasticity::trial::{DeviceRls, DriveOptimizer};
use spikeburn_plasticity::{
    DriveNetwork, DriveNetworkConfig, DriveNeuron, HostRls, Learner, PresynapticSets, Protocol,
    TrainedSignal, TrialRecord, excitatory_inhibitory, gaussian_weights, pearson_per_neuron,
    run_trial,
};
use spikeburn_tasks::drive_targets::TargetFamily;

use super::RunOptions;
use crate::plot::{Series, line_chart};
use crate::report::Report;

/// The excitatory/inhibitory network of Fig 4: every neuron receives
/// `p (1 − f) N` excitatory inputs of weight `J/√K` and `p f N` inhibitory
/// inputs of weight `−g J/√K` (`K` = in-degree), plus a constant input.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcitatoryInhibitory {
    /// Inhibitory fraction f.
    pub inhibitory_fraction: f64,
    /// Coupling J.
    pub coupling: f64,
    /// Relative inhibition g.
    pub inhibition: f64,
}

/// Where the targets come from.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetSource {
    /// A family of [`spikeburn_tasks::drive_targets`].
    Family {
        /// The family and its parameters.
        family: TargetFamily,
    },
    /// The untrained network's own drive in one trial ("innate trajectory",
    /// Fig 4): training makes that chaotic trajectory repeatable.
    Innate,
}

/// Configuration of an RLS experiment (`--config FILE.json` overrides any field).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RlsExperiment {
    /// Neurons N.
    pub neurons: usize,
    /// Connection probability p (the plastic sets are the initial connections).
    pub p: f64,
    /// Initial weights `N(0, σ²/(Np))` (ignored with `excitatory_inhibitory`).
    pub sigma: f64,
    /// Remove each neuron's mean incoming weight at initialisation.
    pub zero_row_mean: bool,
    /// E/I network with Dale's law enforced during training (Fig 4).
    pub excitatory_inhibitory: Option<ExcitatoryInhibitory>,
    /// Neuron model.
    pub neuron: DriveNeuron,
    /// Constant input to every neuron.
    pub bias: f64,
    /// Integration step (ms).
    pub dt_ms: f64,
    /// Synaptic time constant τ_s (ms).
    pub tau_syn_ms: f64,
    /// Interval between RLS updates Δt (ms).
    pub update_every_ms: f64,
    /// RLS regulariser λ.
    pub lambda: f64,
    /// Training trials.
    pub loops: usize,
    /// Trained window T (ms).
    pub window_ms: f64,
    /// Stimulus duration (ms).
    pub stimulus_ms: f64,
    /// Stimulus amplitudes are uniform in `[−a, a]` per neuron.
    pub stimulus_amplitude: f64,
    /// Free run before each stimulus (ms).
    pub settle_ms: f64,
    /// Targets.
    pub targets: TargetSource,
    /// What follows the targets.
    pub signal: TrainedSignal,
    /// Test trials (fresh initial conditions) averaged for the reported correlation.
    pub test_trials: usize,
}

impl RlsExperiment {
    /// Kim & Chow Fig 1: N = 200, p = 0.3, σ = 4 (row mean removed),
    /// τ_s = 20 ms, Δt = 2 ms, λ = 1, sinusoidal targets over 1 s.
    pub fn fig1() -> Self {
        Self {
            neurons: 200,
            p: 0.3,
            sigma: 4.0,
            zero_row_mean: true,
            excitatory_inhibitory: None,
            neuron: DriveNeuron::Theta { tau_mem: 10.0 },
            bias: 0.0,
            dt_ms: 1.0,
            tau_syn_ms: 20.0,
            update_every_ms: 2.0,
            lambda: 1.0,
            loops: 30,
            window_ms: 1000.0,
            stimulus_ms: 100.0,
            stimulus_amplitude: 1.0,
            settle_ms: 100.0,
            targets: TargetSource::Family {
                family: TargetFamily::sines(),
            },
            signal: TrainedSignal::Drive,
            test_trials: 3,
        }
    }

    /// Kim & Chow Fig 3: N = 500, p = 0.3, σ = 1, 30 loops over T = 1 s.
    pub fn fig3(family: TargetFamily) -> Self {
        Self {
            neurons: 500,
            sigma: 1.0,
            zero_row_mean: false,
            targets: TargetSource::Family { family },
            ..Self::fig1()
        }
    }

    /// Kim & Chow Fig 4: N = 1000 E/I network (f = 0.2, J = 6, g = 5,
    /// p = 0.1), τ_s = 60 ms, Δt = 10 ms, λ = 10, 40 loops, innate targets
    /// over 2 s, Dale's law. Our choices where our notes of the paper are
    /// silent: weights scaled by `1/√K` (K = 100 inputs) and a constant
    /// input of 1 to every neuron, which makes the untrained network fire
    /// irregularly at ≈ 17 Hz with trajectories that differ from trial to
    /// trial (correlation ≈ 0 with the innate target).
    pub fn fig4() -> Self {
        Self {
            neurons: 1000,
            p: 0.1,
            excitatory_inhibitory: Some(ExcitatoryInhibitory {
                inhibitory_fraction: 0.2,
                coupling: 6.0,
                inhibition: 5.0,
            }),
            bias: 1.0,
            tau_syn_ms: 60.0,
            update_every_ms: 10.0,
            lambda: 10.0,
            loops: 40,
            window_ms: 2000.0,
            targets: TargetSource::Innate,
            ..Self::fig1()
        }
    }

    fn steps(&self, ms: f64) -> usize {
        (ms / self.dt_ms).round() as usize
    }

    fn protocol(&self) -> Protocol {
        Protocol {
            settle_steps: self.steps(self.settle_ms),
            stimulus_steps: self.steps(self.stimulus_ms),
            window_steps: self.steps(self.window_ms),
            update_every: self.steps(self.update_every_ms).max(1),
        }
    }

    fn validate(&self) -> Result<(), String> {
        if self.neurons < 2 || self.loops == 0 || self.test_trials == 0 {
            return Err(format!(
                "needs neurons >= 2, loops >= 1, test_trials >= 1; got {}, {}, {}",
                self.neurons, self.loops, self.test_trials
            ));
        }
        if !(self.window_ms >= self.dt_ms && self.update_every_ms >= self.dt_ms) {
            return Err(format!(
                "window ({} ms) and update interval ({} ms) must be at least dt ({} ms)",
                self.window_ms, self.update_every_ms, self.dt_ms
            ));
        }
        Ok(())
    }
}

/// A built network with its targets and stimulus.
pub struct Setup {
    /// The (untrained) network.
    pub net: DriveNetwork,
    /// Targets `[window][N]` (rates for the rate variant).
    pub targets: Vec<f32>,
    /// Stimulus amplitudes.
    pub stimulus: Vec<f32>,
    /// The trial protocol.
    pub protocol: Protocol,
}

/// Builds the network, stimulus and targets of `cfg` from `seed`.
pub fn setup(cfg: &RlsExperiment, seed: u64) -> Result<Setup, String> {
    cfg.validate()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let n = cfg.neurons;
    let (sets, weights) = match &cfg.excitatory_inhibitory {
        None => {
            let sets = PresynapticSets::bernoulli(n, cfg.p, &mut rng).map_err(|e| e.to_string())?;
            let w = gaussian_weights(&sets, cfg.sigma, cfg.zero_row_mean, &mut rng);
            (sets, w)
        }
        Some(ei) => excitatory_inhibitory(
            n,
            cfg.p,
            ei.inhibitory_fraction,
            ei.coupling,
            ei.inhibition,
            &mut rng,
        )
        .map_err(|e| e.to_string())?,
    };
    let config = DriveNetworkConfig {
        neuron: cfg.neuron,
        dt: cfg.dt_ms,
        tau_syn: cfg.tau_syn_ms,
    };
    let mut net = DriveNetwork::new(&config, sets, weights, vec![cfg.bias as f32; n])
        .map_err(|e| e.to_string())?;
    let a = cfg.stimulus_amplitude as f32;
    let stimulus: Vec<f32> = (0..n).map(|_| rng.random_range(-a..=a)).collect();
    let protocol = cfg.protocol();
    let drive_targets = match &cfg.targets {
        TargetSource::Family { family } => {
            family
                .generate(n, protocol.window_steps, cfg.dt_ms, &mut rng)?
                .values
        }
        TargetSource::Innate => {
            net.randomise_state(&mut rng);
            run_trial(&mut net, &protocol, &stimulus, None, 0)
                .map_err(|e| e.to_string())?
                .drive
        }
    };
    let targets = match cfg.signal {
        TrainedSignal::Drive => drive_targets,
        TrainedSignal::Rate { .. } => drive_targets
            .iter()
            .map(|f| (f.max(0.0).sqrt() as f64 / std::f64::consts::PI) as f32)
            .collect(),
    };
    Ok(Setup {
        net,
        targets,
        stimulus,
        protocol,
    })
}

/// The signal compared with the targets.
fn response(rec: &TrialRecord, signal: TrainedSignal) -> &[f32] {
    match signal {
        TrainedSignal::Drive => &rec.drive,
        TrainedSignal::Rate { .. } => &rec.rate,
    }
}

/// Test trials from fresh initial conditions, learning off.
pub struct Evaluation {
    /// Mean over neurons and trials of the target–response correlation.
    pub correlation: f64,
    /// Per neuron, averaged over trials.
    pub per_neuron: Vec<f64>,
    /// Correlation of the trial-averaged response with the target (what a
    /// PSTH shows; single trials carry the spiking noise).
    pub correlation_trial_averaged: f64,
    /// Firing rate in the window (Hz).
    pub rate_hz: f64,
    /// The last trial (for plots).
    pub last: TrialRecord,
}

/// Runs `trials` test trials of `setup.net` (restricted to the neurons not
/// silenced when measuring the correlation).
pub fn evaluate(
    setup: &mut Setup,
    cfg: &RlsExperiment,
    trials: usize,
    rng: &mut StdRng,
) -> Result<Evaluation, String> {
    let n = cfg.neurons;
    let mut per_neuron = vec![0f64; n];
    let mut mean_response = vec![0f32; setup.targets.len()];
    let (mut rate, mut last) = (0f64, TrialRecord::default());
    for _ in 0..trials {
        setup.net.randomise_state(rng);
        let rec = run_trial(&mut setup.net, &setup.protocol, &setup.stimulus, None, 60)
            .map_err(|e| e.to_string())?;
        let (_, per) = pearson_per_neuron(&setup.targets, response(&rec, cfg.signal), n);
        per_neuron
            .iter_mut()
            .zip(&per)
            .for_each(|(a, c)| *a += c / trials as f64);
        mean_response
            .iter_mut()
            .zip(response(&rec, cfg.signal))
            .for_each(|(m, v)| *m += v / trials as f32);
        rate += rec.rate_hz(n, cfg.dt_ms) / trials as f64;
        last = rec;
    }
    // Mean over the neurons still in the network.
    let mean_alive = |per: &[f64]| {
        let alive: Vec<f64> = per
            .iter()
            .zip(&setup.net.silenced)
            .filter(|(_, s)| !**s)
            .map(|(c, _)| *c)
            .collect();
        alive.iter().sum::<f64>() / alive.len().max(1) as f64
    };
    let correlation = mean_alive(&per_neuron);
    let (_, per_mean) = pearson_per_neuron(&setup.targets, &mean_response, n);
    Ok(Evaluation {
        correlation,
        correlation_trial_averaged: mean_alive(&per_mean),
        per_neuron,
        rate_hz: rate,
        last,
    })
}

/// Training outcome.
pub struct Trained {
    /// Correlation of each training trial's window (learning on).
    pub curve: Vec<(f64, f64)>,
    /// Correlation of a test trial (learning off) after each training trial.
    pub test_curve: Vec<(f64, f64)>,
    /// Wall seconds per simulated second of training (simulation + RLS).
    pub sec_per_sim_sec: f64,
    /// Mean wall time of one RLS update of all neurons.
    pub sec_per_update: f64,
    /// Weights the sign constraint froze.
    pub frozen: usize,
}

/// Runs `cfg.loops` training trials on `setup.net`. The network is simulated
/// in host memory; RLS runs there too on CPU devices ([`HostRls`]) and on
/// the device otherwise ([`DeviceRls`]: `P` stays on the GPU).
pub fn train(
    setup: &mut Setup,
    cfg: &RlsExperiment,
    rng: &mut StdRng,
    name: &str,
    device: &Device,
) -> Result<Trained, String> {
    let net = &mut setup.net;
    let (n, k) = (net.neurons(), net.sets.width);
    let dale = cfg.excitatory_inhibitory.is_some();
    let mut rls: Box<dyn DriveOptimizer> = if is_host_device(device) {
        let mut host = HostRls::new(n, k, cfg.lambda, false)
            .and_then(|r| r.with_lengths(net.sets.len.clone()))
            .map_err(|e| e.to_string())?;
        if dale {
            host = host
                .with_sign_constraint(&net.weights)
                .map_err(|e| e.to_string())?;
        }
        Box::new(host)
    } else {
        let signs = dale.then_some(&net.weights[..]);
        Box::new(DeviceRls::new(&net.sets, cfg.lambda, signs, device).map_err(|e| e.to_string())?)
    };
    let bar = super::progress_bar(cfg.loops as u64, name);
    let (mut curve, mut test_curve) = (vec![], vec![]);
    let (mut seconds, mut rls_seconds, mut updates) = (0.0, 0.0, 0);
    for l in 0..cfg.loops {
        net.randomise_state(rng);
        let learner = Learner {
            rls: rls.as_mut(),
            signal: cfg.signal,
            targets: &setup.targets,
        };
        let rec = run_trial(net, &setup.protocol, &setup.stimulus, Some(learner), 0)
            .map_err(|e| format!("training trial {l}: {e}"))?;
        let (c, _) = pearson_per_neuron(&setup.targets, response(&rec, cfg.signal), n);
        curve.push(((l + 1) as f64, c));
        seconds += rec.seconds;
        rls_seconds += rec.rls_seconds;
        updates += rec.updates;
        // With learning on, RLS tracks the target within the trial; what the
        // network has learned shows in a trial with learning off.
        net.randomise_state(rng);
        let test =
            run_trial(net, &setup.protocol, &setup.stimulus, None, 0).map_err(|e| e.to_string())?;
        let (ct, _) = pearson_per_neuron(&setup.targets, response(&test, cfg.signal), n);
        test_curve.push(((l + 1) as f64, ct));
        bar.set_message(format!("r = {ct:.3} (learning off)"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let trial_ms = cfg.settle_ms + cfg.stimulus_ms + cfg.window_ms;
    Ok(Trained {
        curve,
        test_curve,
        sec_per_sim_sec: seconds / (cfg.loops as f64 * trial_ms / 1000.0),
        sec_per_update: rls_seconds / updates.max(1) as f64,
        frozen: rls.frozen_count(),
    })
}

/// Everything one train-and-test run measured.
pub struct Outcome {
    /// The network, trained.
    pub setup: Setup,
    /// Before training.
    pub untrained: Evaluation,
    /// After training.
    pub trained: Evaluation,
    /// Training curve and speed.
    pub training: Trained,
}

/// Builds, evaluates untrained, trains, evaluates trained.
pub fn train_and_test(
    cfg: &RlsExperiment,
    seed: u64,
    name: &str,
    device: &Device,
) -> Result<Outcome, String> {
    let mut setup = setup(cfg, seed)?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED_0001);
    let untrained = evaluate(&mut setup, cfg, cfg.test_trials, &mut rng)?;
    let training = train(&mut setup, cfg, &mut rng, name, device)?;
    let trained = evaluate(&mut setup, cfg, cfg.test_trials, &mut rng)?;
    Ok(Outcome {
        setup,
        untrained,
        trained,
        training,
    })
}

/// Standard metrics, plots and the paper's values for one outcome.
pub fn report_outcome(
    report: &mut Report,
    cfg: &RlsExperiment,
    o: &Outcome,
    prefix: &str,
    title: &str,
) -> Result<(), String> {
    let key = |m: &str| format!("{prefix}{m}");
    report.metric(&key("mean_correlation"), round(o.trained.correlation));
    report.metric(
        &key("mean_correlation_untrained"),
        round(o.untrained.correlation),
    );
    report.metric(
        &key("mean_correlation_trial_averaged"),
        round(o.trained.correlation_trial_averaged),
    );
    report.metric(&key("test_trials"), cfg.test_trials);
    report.metric(&key("rate_hz"), round(o.trained.rate_hz));
    report.metric(&key("rate_hz_untrained"), round(o.untrained.rate_hz));
    report.metric(
        &key("fraction_neurons_above_0_9"),
        round(
            o.trained.per_neuron.iter().filter(|c| **c > 0.9).count() as f64 / cfg.neurons as f64,
        ),
    );
    report.metric(&key("sec_per_sim_sec"), round(o.training.sec_per_sim_sec));
    report.metric(&key("sec_per_rls_update"), o.training.sec_per_update);
    if cfg.excitatory_inhibitory.is_some() {
        report.metric(&key("frozen_by_dale"), o.training.frozen);
    }
    write_plots(report, cfg, o, prefix, title)
}

fn write_plots(
    report: &Report,
    cfg: &RlsExperiment,
    o: &Outcome,
    prefix: &str,
    title: &str,
) -> Result<(), String> {
    let write = |name: &str, svg: String| {
        std::fs::write(report.out_dir().join(format!("{prefix}{name}")), svg)
            .map_err(|e| e.to_string())
    };
    write(
        "learning_curve.svg",
        line_chart(
            &format!("{title}: correlation during training"),
            "training loop",
            "mean correlation (target vs response)",
            &[
                Series {
                    label: "training trial (RLS on)",
                    points: o.training.curve.clone(),
                },
                Series {
                    label: "test trial after it (RLS off)",
                    points: o.training.test_curve.clone(),
                },
            ],
        ),
    )?;
    let n = cfg.neurons;
    let quantity = match cfg.signal {
        TrainedSignal::Drive => "synaptic drive u",
        TrainedSignal::Rate { .. } => "filtered spikes r (per τ_m)",
    };
    let column = |v: &[f32], i: usize| -> Vec<(f64, f64)> {
        v.iter()
            .skip(i)
            .step_by(n)
            .enumerate()
            .map(|(t, x)| (t as f64 * cfg.dt_ms, *x as f64))
            .collect()
    };
    for i in 0..3.min(n) {
        write(
            &format!("neuron{i}.svg"),
            line_chart(
                &format!(
                    "{title}: neuron {i} (r = {:.2} trained, {:.2} untrained)",
                    o.trained.per_neuron[i], o.untrained.per_neuron[i]
                ),
                "time after stimulus (ms)",
                quantity,
                &[
                    Series {
                        label: "target",
                        points: column(&o.setup.targets, i),
                    },
                    Series {
                        label: "trained",
                        points: column(response(&o.trained.last, cfg.signal), i),
                    },
                    Series {
                        label: "untrained",
                        points: column(response(&o.untrained.last, cfg.signal), i),
                    },
                ],
            ),
        )?;
    }
    let steps = o.setup.protocol.window_steps;
    let shown = 60.min(n);
    let mut rows = vec![vec![0f32; shown]; steps];
    for (t, i) in &o.trained.last.raster {
        rows[*t as usize][*i as usize] = 1.0;
    }
    write(
        "raster.svg",
        crate::plot::raster(
            &format!("{title}: trained network, first {shown} neurons"),
            &rows,
            cfg.dt_ms,
            &[],
        ),
    )
}

/// Rounds to 4 decimals for the JSON line.
pub fn round(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Shared entry: a single train-and-test experiment with `full` and `quick`
/// presets.
pub fn run_single(
    opts: &RunOptions,
    name: &str,
    title: &str,
    full: RlsExperiment,
    quick: RlsExperiment,
    paper: &[(&str, serde_json::Value)],
) -> Result<String, String> {
    let base = if opts.quick { quick } else { full };
    let cfg: RlsExperiment = super::load_config(base, opts.config.as_deref())?;
    let mut report = Report::new(name, &opts.backend, opts.seed, opts.quick, &opts.out_dir)?;
    report.write_json("config.json", &cfg)?;
    let outcome = train_and_test(&cfg, opts.seed, name, &opts.device)?;
    report_outcome(&mut report, &cfg, &outcome, "", title)?;
    report.metric("neurons", cfg.neurons);
    report.metric("loops", cfg.loops);
    for (k, v) in paper {
        report.paper(k, v.clone());
    }
    Ok(report.finish())
}

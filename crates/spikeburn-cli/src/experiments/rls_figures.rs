//! The Kim & Chow 2018 reproductions: one function per `spikeburn run` name,
//! each a preset of [`RlsExperiment`] (full = the paper's sizes, quick = a
//! reduced network that still learns).

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::json;
use spikeburn_plasticity::{DriveNeuron, TrainedSignal};
use spikeburn_tasks::drive_targets::TargetFamily;

use super::RunOptions;
use super::rls::{
    RlsExperiment, TargetSource, evaluate, report_outcome, round, run_single, train_and_test,
};
use crate::plot::{Series, line_chart};
use crate::report::Report;

fn quick(full: RlsExperiment, neurons: usize, loops: usize) -> RlsExperiment {
    RlsExperiment {
        neurons,
        loops,
        test_trials: 2,
        ..full
    }
}

/// `rls-sines` (Fig 1–2): sinusoidal drive targets, and the rate variant
/// (rate targets `√[f]₊/π` through φ₂).
pub fn sines(opts: &RunOptions) -> Result<String, String> {
    let name = "rls-sines";
    let base = if opts.quick {
        quick(RlsExperiment::fig1(), 200, 10)
    } else {
        RlsExperiment::fig1()
    };
    let cfg: RlsExperiment = super::load_config(base, opts.config.as_deref())?;
    let mut report = Report::new(name, &opts.backend, opts.seed, opts.quick, &opts.out_dir)?;
    report.write_json("config.json", &cfg)?;
    let drive = train_and_test(&cfg, opts.seed, name, &opts.device)?;
    report_outcome(&mut report, &cfg, &drive, "", "rls-sines (drive)")?;
    // The rate variant's φ₂ is the theta neuron's transfer function.
    if matches!(cfg.neuron, DriveNeuron::Theta { .. }) {
        let rate_cfg = RlsExperiment {
            signal: TrainedSignal::Rate { c: 0.1 },
            ..cfg.clone()
        };
        let rate = train_and_test(&rate_cfg, opts.seed, "rls-sines (rate)", &opts.device)?;
        report_outcome(
            &mut report,
            &rate_cfg,
            &rate,
            "rate_variant_",
            "rls-sines (rate)",
        )?;
    } else {
        report.metric(
            "rate_variant",
            "skipped: its φ₂ is the theta neuron's transfer function",
        );
    }
    report.metric("neurons", cfg.neurons);
    report.metric("loops", cfg.loops);
    report.paper(
        "mean_correlation",
        "high (Fig 1–2 show near-perfect tracking; no number given)",
    );
    Ok(report.finish())
}

/// `rls-periodic` (Fig 3, products of sines, N = 500).
pub fn periodic(opts: &RunOptions) -> Result<String, String> {
    let full = RlsExperiment::fig3(TargetFamily::products_of_sines());
    run_single(
        opts,
        "rls-periodic",
        "rls-periodic",
        full.clone(),
        quick(full, 300, 20),
        &[("rate_hz", json!(9.1))],
    )
}

/// `rls-chaotic` (Fig 3, trajectories of a chaotic rate network, N = 500).
pub fn chaotic(opts: &RunOptions) -> Result<String, String> {
    let full = RlsExperiment::fig3(TargetFamily::chaotic_rate());
    run_single(
        opts,
        "rls-chaotic",
        "rls-chaotic",
        full.clone(),
        quick(full, 300, 20),
        &[("rate_hz", json!(7.2))],
    )
}

/// `rls-ou` (Fig 3, Ornstein–Uhlenbeck targets τ_c = 200 ms, N = 500).
pub fn ou(opts: &RunOptions) -> Result<String, String> {
    let full = RlsExperiment::fig3(TargetFamily::ornstein_uhlenbeck(200.0));
    run_single(
        opts,
        "rls-ou",
        "rls-ou",
        full.clone(),
        quick(full, 300, 20),
        &[("rate_hz", json!(12.1))],
    )
}

/// `rls-dale-chaos` (Fig 4): an E/I network's own chaotic trajectory made
/// repeatable by RLS under Dale's law.
pub fn dale_chaos(opts: &RunOptions) -> Result<String, String> {
    let full = RlsExperiment::fig4();
    let q = RlsExperiment {
        window_ms: 1000.0,
        ..quick(full.clone(), 400, 20)
    };
    run_single(
        opts,
        "rls-dale-chaos",
        "rls-dale-chaos",
        full,
        q,
        &[(
            "mean_correlation",
            json!("innate trajectories become repeatable (Fig 4); no number given"),
        )],
    )
}

/// `rls-neuron-loss`: train (Fig 3 periodic targets), then silence 5 %,
/// 10 % and 40 % of the neurons and measure the survivors' correlation.
pub fn neuron_loss(opts: &RunOptions) -> Result<String, String> {
    let name = "rls-neuron-loss";
    let full = RlsExperiment::fig3(TargetFamily::products_of_sines());
    let base = if opts.quick {
        quick(full, 300, 20)
    } else {
        full
    };
    let cfg: RlsExperiment = super::load_config(base, opts.config.as_deref())?;
    let mut report = Report::new(name, &opts.backend, opts.seed, opts.quick, &opts.out_dir)?;
    report.write_json("config.json", &cfg)?;
    let mut o = train_and_test(&cfg, opts.seed, name, &opts.device)?;
    report_outcome(&mut report, &cfg, &o, "", name)?;
    let mut rng = StdRng::seed_from_u64(opts.seed ^ 0x1E5);
    let mut order: Vec<usize> = (0..cfg.neurons).collect();
    order.shuffle(&mut rng);
    let mut points = vec![(0.0, o.trained.correlation)];
    for (pct, key) in [(5, "5pct"), (10, "10pct"), (40, "40pct")] {
        let removed = cfg.neurons * pct / 100;
        o.setup.net.silenced.fill(false);
        for i in &order[..removed] {
            o.setup.net.silenced[*i] = true;
        }
        let e = evaluate(&mut o.setup, &cfg, cfg.test_trials, &mut rng)?;
        report.metric(
            &format!("mean_correlation_loss_{key}"),
            round(e.correlation),
        );
        report.metric(&format!("rate_hz_loss_{key}"), round(e.rate_hz));
        points.push((pct as f64, e.correlation));
    }
    o.setup.net.silenced.fill(false);
    let svg = line_chart(
        "rls-neuron-loss: survivors' correlation after removing neurons",
        "neurons removed (%)",
        "mean correlation",
        &[Series {
            label: "trained network",
            points,
        }],
    );
    std::fs::write(report.out_dir().join("neuron_loss.svg"), svg).map_err(|e| e.to_string())?;
    report.metric("neurons", cfg.neurons);
    report.paper(
        "neuron_loss",
        "5 %: no degradation; 10 %: mild; 40 %: pattern lost (Kim & Chow, Results)",
    );
    Ok(report.finish())
}

/// Configuration of `rls-capacity` (a reduced Fig 6–7).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySweep {
    /// The network and training (OU targets; `tau_syn_ms`, `neurons` and
    /// `window_ms` are swept).
    pub base: RlsExperiment,
    /// OU correlation time τ_c of the synaptic-time-constant sweep (ms).
    pub tau_c_ms: f64,
    /// τ_s values (ms) swept at `base.neurons` and τ_c (Fig 6: inverted U).
    pub tau_syn_ms: Vec<f64>,
    /// τ_c of the capacity sweep (ms).
    pub capacity_tau_c_ms: f64,
    /// Network sizes of the capacity sweep.
    pub capacity_neurons: Vec<usize>,
    /// Target lengths T (ms) tried per size, ascending.
    pub capacity_window_ms: Vec<f64>,
    /// A target counts as learned when the test correlation reaches this.
    pub learned_correlation: f64,
}

impl CapacitySweep {
    fn full() -> Self {
        Self {
            base: RlsExperiment {
                loops: 20,
                ..RlsExperiment::fig3(TargetFamily::ornstein_uhlenbeck(100.0))
            },
            tau_c_ms: 100.0,
            tau_syn_ms: vec![2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0],
            capacity_tau_c_ms: 50.0,
            capacity_neurons: vec![100, 200, 400],
            capacity_window_ms: vec![250.0, 500.0, 1000.0, 2000.0],
            learned_correlation: 0.6,
        }
    }

    fn quick() -> Self {
        let full = Self::full();
        Self {
            base: RlsExperiment {
                neurons: 150,
                loops: 10,
                test_trials: 1,
                ..full.base
            },
            tau_syn_ms: vec![5.0, 30.0, 200.0],
            capacity_neurons: vec![50, 100, 200],
            capacity_window_ms: vec![125.0, 250.0, 500.0, 1000.0],
            ..full
        }
    }
}

/// One finished point of the `rls-capacity` sweep.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct SweepPoint {
    correlation: f64,
    correlation_untrained: f64,
    rate_hz: f64,
}

/// The sweep points finished so far (`sweep_progress.json`).
#[derive(Serialize, Deserialize)]
struct SweepProgress {
    seed: u64,
    points: std::collections::BTreeMap<String, SweepPoint>,
}

/// `rls-capacity` (Fig 6–7, reduced): correlation against τ_s (tracking vs
/// sampling error) and the longest learnable target per network size.
pub fn capacity(opts: &RunOptions) -> Result<String, String> {
    let name = "rls-capacity";
    let base = if opts.quick {
        CapacitySweep::quick()
    } else {
        CapacitySweep::full()
    };
    let sweep: CapacitySweep = super::load_config(base, opts.config.as_deref())?;
    let mut report = Report::new(name, &opts.backend, opts.seed, opts.quick, &opts.out_dir)?;
    report.write_json("config.json", &sweep)?;
    let ou = |tau_c: f64| TargetSource::Family {
        family: TargetFamily::ornstein_uhlenbeck(tau_c),
    };
    // Every finished sweep point is saved; `--resume` skips those already done.
    let progress_path = report.out_dir().join("sweep_progress.json");
    let mut done: SweepProgress = match (opts.resume, std::fs::read_to_string(&progress_path)) {
        (true, Ok(text)) => {
            let p: SweepProgress = serde_json::from_str(&text)
                .map_err(|e| format!("invalid {}: {e}", progress_path.display()))?;
            if p.seed != opts.seed {
                return Err(format!(
                    "the sweep was started with seed {}: resume with the same --seed",
                    p.seed
                ));
            }
            p
        }
        _ => SweepProgress {
            seed: opts.seed,
            points: Default::default(),
        },
    };
    let mut point = |key: String, cfg: &RlsExperiment| -> Result<SweepPoint, String> {
        if let Some(p) = done.points.get(&key) {
            return Ok(*p);
        }
        let o = train_and_test(cfg, opts.seed, &format!("{name} {key}"), &opts.device)?;
        let p = SweepPoint {
            correlation: o.trained.correlation,
            correlation_untrained: o.untrained.correlation,
            rate_hz: o.trained.rate_hz,
        };
        done.points.insert(key, p);
        let text = serde_json::to_string_pretty(&done).map_err(|e| e.to_string())?;
        std::fs::write(&progress_path, text).map_err(|e| e.to_string())?;
        Ok(p)
    };
    let mut tau_rows = vec![];
    let mut tau_points = vec![];
    for &tau_s in &sweep.tau_syn_ms {
        let cfg = RlsExperiment {
            tau_syn_ms: tau_s,
            targets: ou(sweep.tau_c_ms),
            dt_ms: sweep.base.dt_ms.min(tau_s / 2.0),
            ..sweep.base.clone()
        };
        let o = point(format!("tau_s={tau_s}"), &cfg)?;
        tau_rows.push(json!({
            "tau_syn_ms": tau_s,
            "mean_correlation": round(o.correlation),
            "mean_correlation_untrained": round(o.correlation_untrained),
            "rate_hz": round(o.rate_hz),
        }));
        tau_points.push((tau_s.log10(), o.correlation));
    }
    let mut capacity_rows = vec![];
    let mut capacity_series = vec![];
    for &n in &sweep.capacity_neurons {
        let mut t_max = 0.0;
        let mut points = vec![];
        for &window in &sweep.capacity_window_ms {
            let cfg = RlsExperiment {
                neurons: n,
                window_ms: window,
                targets: ou(sweep.capacity_tau_c_ms),
                ..sweep.base.clone()
            };
            let c = point(format!("N={n},T={window}"), &cfg)?.correlation;
            capacity_rows.push(json!({
                "neurons": n,
                "window_ms": window,
                "effective_length": window / sweep.capacity_tau_c_ms,
                "mean_correlation": round(c),
            }));
            points.push((window / sweep.capacity_tau_c_ms, c));
            if c >= sweep.learned_correlation {
                t_max = window;
            }
        }
        capacity_rows.push(json!({
            "neurons": n,
            "t_max_ms": t_max,
            "effective_length_max": t_max / sweep.capacity_tau_c_ms,
        }));
        capacity_series.push((format!("N = {n}"), points));
    }
    let tau_best = tau_points
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|p| 10f64.powf(p.0));
    report.metric("tau_syn_sweep", &tau_rows);
    report.metric("best_tau_syn_ms", tau_best.map(round));
    report.metric("capacity", &capacity_rows);
    report.write_json("tau_syn_sweep.json", &tau_rows)?;
    report.write_json("capacity.json", &capacity_rows)?;
    report.paper(
        "tau_syn_sweep",
        "inverted U at τ_c = 100 ms: τ_s = 5 ms sampling error, 30 ms learns, 200 ms tracking error",
    );
    report.paper(
        "capacity",
        "T~_max = T_max/τ_c grows with N, roughly linearly (Fig 7)",
    );
    std::fs::write(
        report.out_dir().join("tau_syn_sweep.svg"),
        line_chart(
            &format!("rls-capacity: τ_c = {} ms", sweep.tau_c_ms),
            "log10 τ_s (ms)",
            "mean correlation after training",
            &[Series {
                label: "OU targets",
                points: tau_points,
            }],
        ),
    )
    .map_err(|e| e.to_string())?;
    let series: Vec<Series> = capacity_series
        .iter()
        .map(|(label, points)| Series {
            label,
            points: points.clone(),
        })
        .collect();
    std::fs::write(
        report.out_dir().join("capacity.svg"),
        line_chart(
            "rls-capacity: correlation vs effective length T/τ_c",
            "T / τ_c",
            "mean correlation after training",
            &series,
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(report.finish())
}

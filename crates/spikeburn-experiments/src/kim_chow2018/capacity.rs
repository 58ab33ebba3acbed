//! `rls-capacity` (Kim & Chow 2018, Fig 6–7, reduced): correlation against
//! τ_s (tracking vs sampling error) and the longest learnable target per
//! network size. Every finished sweep point is saved
//! (`sweep_progress.json`, written atomically); `--resume` skips those.

use burn::prelude::Device;
use serde::{Deserialize, Serialize};
use serde_json::json;
use spikeburn_plot::{Figure, LineChart, Series};
use spikeburn_tasks::drive_targets::TargetFamily;

use super::{RlsExperiment, TargetSource, train_and_test};
use crate::error::{ExperimentError, Result};
use crate::report::{Report, write_json_atomically};
use crate::run::RunContext;
use crate::validation::{self as v, Validate};

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
    /// The full preset: 7 τ_s values at N = 500, sizes 100–400.
    pub fn full() -> Self {
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

    /// The quick preset: 3 τ_s values at N = 150, sizes 50–200.
    pub fn quick() -> Self {
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

    fn ou(tau_c: f64) -> TargetSource {
        TargetSource::Family {
            family: TargetFamily::ornstein_uhlenbeck(tau_c),
        }
    }

    /// The network of the τ_s sweep at `tau_s`.
    fn tau_point(&self, tau_s: f64) -> RlsExperiment {
        RlsExperiment {
            tau_syn_ms: tau_s,
            targets: Self::ou(self.tau_c_ms),
            dt_ms: self.base.dt_ms.min(tau_s / 2.0),
            ..self.base.clone()
        }
    }

    /// The network of the capacity sweep at size `n` and length `window`.
    fn capacity_point(&self, n: usize, window: f64) -> RlsExperiment {
        RlsExperiment {
            neurons: n,
            window_ms: window,
            targets: Self::ou(self.capacity_tau_c_ms),
            ..self.base.clone()
        }
    }
}

impl Validate for CapacitySweep {
    /// A resumed sweep may add points: finished ones are found by their
    /// values in the progress file.
    fn resumable_fields(&self) -> &'static [&'static str] {
        &[
            "tau_syn_ms",
            "capacity_neurons",
            "capacity_window_ms",
            "checkpoint_every",
        ]
    }

    fn validate(&self) -> Result<()> {
        v::positive("tau_c_ms", self.tau_c_ms, 0.0, 1e6)?;
        v::positive("capacity_tau_c_ms", self.capacity_tau_c_ms, 0.0, 1e6)?;
        v::real("learned_correlation", self.learned_correlation, -1.0, 1.0)?;
        v::count("tau_syn_ms (entries)", self.tau_syn_ms.len(), 1, 100)?;
        v::count(
            "capacity_neurons (entries)",
            self.capacity_neurons.len(),
            1,
            100,
        )?;
        v::count(
            "capacity_window_ms (entries)",
            self.capacity_window_ms.len(),
            1,
            100,
        )?;
        // Every point of the sweep is itself a valid experiment.
        for &tau_s in &self.tau_syn_ms {
            self.tau_point(tau_s)
                .validate()
                .map_err(|e| at("tau_syn_ms", tau_s, e))?;
        }
        for &n in &self.capacity_neurons {
            for &w in &self.capacity_window_ms {
                self.capacity_point(n, w).validate().map_err(|e| {
                    at(
                        "capacity_neurons × capacity_window_ms",
                        format!("{n} × {w}"),
                        e,
                    )
                })?;
            }
        }
        Ok(())
    }
}

fn at(field: &str, value: impl std::fmt::Display, e: ExperimentError) -> ExperimentError {
    match e {
        ExperimentError::InvalidConfig {
            field: inner,
            value: v,
            expected,
        } => ExperimentError::InvalidConfig {
            field: format!("{field} = {value}: base.{inner}"),
            value: v,
            expected,
        },
        other => other,
    }
}

/// One finished point of the sweep.
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

/// Runs the sweep. Metrics: `tau_syn_sweep` (rows), `best_tau_syn_ms`,
/// `capacity` (rows, with `t_max_ms` per size); tables
/// `tau_syn_sweep.json` and `capacity.json`.
pub fn run(sweep: &CapacitySweep, device: &Device, ctx: &RunContext) -> Result<Report> {
    let name = "rls-capacity";
    sweep.validate()?;
    ctx.prepare(sweep)?;
    let mut report = Report::new(name, ctx);
    let progress_path = ctx.path("sweep_progress.json");
    let mut done: SweepProgress = match (ctx.resume, std::fs::read_to_string(&progress_path)) {
        (true, Ok(text)) => {
            let p: SweepProgress =
                serde_json::from_str(&text).map_err(|e| ExperimentError::ConfigFile {
                    path: progress_path.clone(),
                    reason: format!("invalid sweep progress: {e}"),
                })?;
            if p.seed != ctx.seed {
                return Err(ExperimentError::invalid(
                    "--seed",
                    ctx.seed,
                    format!("the seed the sweep was started with ({})", p.seed),
                ));
            }
            p
        }
        _ => SweepProgress {
            seed: ctx.seed,
            points: Default::default(),
        },
    };
    let mut point = |key: String, cfg: &RlsExperiment| -> Result<SweepPoint> {
        if let Some(p) = done.points.get(&key) {
            return Ok(*p);
        }
        let o = train_and_test(cfg, ctx.seed, &format!("{name} {key}"), device, ctx)?;
        let p = SweepPoint {
            correlation: o.trained.correlation,
            correlation_untrained: o.untrained.correlation,
            rate_hz: o.trained.rate_hz,
        };
        done.points.insert(key, p);
        write_json_atomically(&progress_path, &done)?;
        Ok(p)
    };
    let round = |x: f64| (x * 1e4).round() / 1e4;
    let mut tau_rows = vec![];
    let mut tau_points = vec![];
    for &tau_s in &sweep.tau_syn_ms {
        let o = point(format!("tau_s={tau_s}"), &sweep.tau_point(tau_s))?;
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
            let c = point(
                format!("N={n},T={window}"),
                &sweep.capacity_point(n, window),
            )?
            .correlation;
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
        capacity_series.push(Series::new(format!("N = {n}"), points));
    }
    let tau_best = tau_points
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|p| 10f64.powf(p.0))
        .ok_or_else(|| ExperimentError::invalid("tau_syn_ms", "[]", "at least one value"))?;
    report.value("tau_syn_sweep", json!(tau_rows));
    report.metric("best_tau_syn_ms", tau_best)?;
    report.value("capacity", json!(capacity_rows));
    report.table("tau_syn_sweep.json", json!(tau_rows));
    report.table("capacity.json", json!(capacity_rows));
    report.paper(
        "tau_syn_sweep",
        "inverted U at τ_c = 100 ms: τ_s = 5 ms sampling error, 30 ms learns, 200 ms tracking error",
    );
    report.paper(
        "capacity",
        "T~_max = T_max/τ_c grows with N, roughly linearly (Fig 7)",
    );
    report.figure(
        "tau_syn_sweep",
        Figure::Line(LineChart::new(
            format!("rls-capacity: τ_c = {} ms", sweep.tau_c_ms),
            "log10 τ_s (ms)",
            "mean correlation after training",
            vec![Series::new("OU targets", tau_points)],
        )),
    );
    report.figure(
        "capacity",
        Figure::Line(LineChart::new(
            "rls-capacity: correlation vs effective length T/τ_c",
            "T / τ_c",
            "mean correlation after training",
            capacity_series,
        )),
    );
    Ok(report.finish())
}

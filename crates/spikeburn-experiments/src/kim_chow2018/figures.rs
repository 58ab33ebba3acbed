//! The Kim & Chow 2018 figures: for each `spikeburn run` name a full preset
//! (the paper's sizes), a quick one (a reduced network that still learns)
//! and its run.

use burn::prelude::Device;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;
use spikeburn_plasticity::{DriveNeuron, TrainedSignal};
use spikeburn_plot::{Figure, LineChart, Series};
use spikeburn_tasks::drive_targets::TargetFamily;

use super::{RESUME_WHY, RlsExperiment, evaluate, report_outcome, run_single, train_and_test};
use crate::error::Result;
use crate::report::Report;
use crate::run::RunContext;
use crate::validation::Validate;

fn quick(full: RlsExperiment, neurons: usize, loops: usize) -> RlsExperiment {
    RlsExperiment {
        neurons,
        loops,
        test_trials: 2,
        ..full
    }
}

/// `rls-sines` full preset: Fig 1.
pub fn sines_full() -> RlsExperiment {
    RlsExperiment::fig1()
}

/// `rls-sines` quick preset: 10 loops.
pub fn sines_quick() -> RlsExperiment {
    quick(RlsExperiment::fig1(), 200, 10)
}

/// `rls-sines` (Fig 1–2): sinusoidal drive targets, and the rate variant
/// (rate targets `√[f]₊/π` through φ₂).
pub fn sines(cfg: &RlsExperiment, device: &Device, ctx: &RunContext) -> Result<Report> {
    let name = "rls-sines";
    cfg.validate()?;
    ctx.refuse_resume(name, RESUME_WHY)?;
    ctx.prepare(cfg)?;
    let mut report = Report::new(name, ctx);
    let drive = train_and_test(cfg, ctx.seed, name, device, ctx)?;
    report_outcome(&mut report, cfg, &drive, "", "rls-sines (drive)")?;
    // The rate variant's φ₂ is the theta neuron's transfer function.
    if matches!(cfg.neuron, DriveNeuron::Theta { .. }) {
        let rate_cfg = RlsExperiment {
            signal: TrainedSignal::Rate { c: 0.1 },
            ..cfg.clone()
        };
        let rate = train_and_test(&rate_cfg, ctx.seed, "rls-sines (rate)", device, ctx)?;
        report_outcome(
            &mut report,
            &rate_cfg,
            &rate,
            "rate_variant_",
            "rls-sines (rate)",
        )?;
    } else {
        report.note(
            "rate_variant",
            "skipped: its φ₂ is the theta neuron's transfer function",
        );
    }
    report.count("neurons", cfg.neurons);
    report.count("loops", cfg.loops);
    report.paper(
        "mean_correlation",
        "high (Fig 1–2 show near-perfect tracking; no number given)",
    );
    Ok(report.finish())
}

/// `rls-periodic` full preset: Fig 3, products of sines, N = 500.
pub fn periodic_full() -> RlsExperiment {
    RlsExperiment::fig3(TargetFamily::products_of_sines())
}

/// `rls-periodic` quick preset: N = 300, 20 loops.
pub fn periodic_quick() -> RlsExperiment {
    quick(periodic_full(), 300, 20)
}

/// `rls-periodic` (Fig 3, products of sines).
pub fn periodic(cfg: &RlsExperiment, device: &Device, ctx: &RunContext) -> Result<Report> {
    run_single(cfg, device, ctx, "rls-periodic", &[("rate_hz", json!(9.1))])
}

/// `rls-chaotic` full preset: Fig 3, a chaotic rate network's trajectories, N = 500.
pub fn chaotic_full() -> RlsExperiment {
    RlsExperiment::fig3(TargetFamily::chaotic_rate())
}

/// `rls-chaotic` quick preset: N = 300, 20 loops.
pub fn chaotic_quick() -> RlsExperiment {
    quick(chaotic_full(), 300, 20)
}

/// `rls-chaotic` (Fig 3, trajectories of a chaotic rate network).
pub fn chaotic(cfg: &RlsExperiment, device: &Device, ctx: &RunContext) -> Result<Report> {
    run_single(cfg, device, ctx, "rls-chaotic", &[("rate_hz", json!(7.2))])
}

/// `rls-ou` full preset: Fig 3, Ornstein–Uhlenbeck targets τ_c = 200 ms, N = 500.
pub fn ou_full() -> RlsExperiment {
    RlsExperiment::fig3(TargetFamily::ornstein_uhlenbeck(200.0))
}

/// `rls-ou` quick preset: N = 300, 20 loops.
pub fn ou_quick() -> RlsExperiment {
    quick(ou_full(), 300, 20)
}

/// `rls-ou` (Fig 3, Ornstein–Uhlenbeck targets).
pub fn ou(cfg: &RlsExperiment, device: &Device, ctx: &RunContext) -> Result<Report> {
    run_single(cfg, device, ctx, "rls-ou", &[("rate_hz", json!(12.1))])
}

/// `rls-dale-chaos` full preset: Fig 4.
pub fn dale_chaos_full() -> RlsExperiment {
    RlsExperiment::fig4()
}

/// `rls-dale-chaos` quick preset: N = 400, 20 loops over 1 s.
pub fn dale_chaos_quick() -> RlsExperiment {
    RlsExperiment {
        window_ms: 1000.0,
        ..quick(RlsExperiment::fig4(), 400, 20)
    }
}

/// `rls-dale-chaos` (Fig 4): an E/I network's own chaotic trajectory made
/// repeatable by RLS under Dale's law.
pub fn dale_chaos(cfg: &RlsExperiment, device: &Device, ctx: &RunContext) -> Result<Report> {
    run_single(
        cfg,
        device,
        ctx,
        "rls-dale-chaos",
        &[(
            "mean_correlation",
            json!("innate trajectories become repeatable (Fig 4); no number given"),
        )],
    )
}

/// `rls-neuron-loss` full preset: Fig 3 periodic targets, N = 500.
pub fn neuron_loss_full() -> RlsExperiment {
    periodic_full()
}

/// `rls-neuron-loss` quick preset: N = 300, 20 loops.
pub fn neuron_loss_quick() -> RlsExperiment {
    periodic_quick()
}

/// `rls-neuron-loss`: train (Fig 3 periodic targets), then silence 5 %,
/// 10 % and 40 % of the neurons and measure the survivors' correlation.
pub fn neuron_loss(cfg: &RlsExperiment, device: &Device, ctx: &RunContext) -> Result<Report> {
    let name = "rls-neuron-loss";
    cfg.validate()?;
    ctx.refuse_resume(name, RESUME_WHY)?;
    ctx.prepare(cfg)?;
    let mut report = Report::new(name, ctx);
    let mut o = train_and_test(cfg, ctx.seed, name, device, ctx)?;
    report_outcome(&mut report, cfg, &o, "", name)?;
    let mut rng = StdRng::seed_from_u64(ctx.seed ^ 0x1E5);
    let mut order: Vec<usize> = (0..cfg.neurons).collect();
    order.shuffle(&mut rng);
    let mut points = vec![(0.0, o.trained.correlation)];
    for (pct, key) in [(5, "5pct"), (10, "10pct"), (40, "40pct")] {
        let removed = cfg.neurons * pct / 100;
        o.setup.net.silenced.fill(false);
        for i in &order[..removed] {
            o.setup.net.silenced[*i] = true;
        }
        let e = evaluate(&mut o.setup, cfg, cfg.test_trials, &mut rng)?;
        report.metric(&format!("mean_correlation_loss_{key}"), e.correlation)?;
        report.metric(&format!("rate_hz_loss_{key}"), e.rate_hz)?;
        points.push((pct as f64, e.correlation));
    }
    o.setup.net.silenced.fill(false);
    report.figure(
        "neuron_loss",
        Figure::Line(LineChart::new(
            "rls-neuron-loss: survivors' correlation after removing neurons",
            "neurons removed (%)",
            "mean correlation",
            vec![Series::new("trained network", points)],
        )),
    );
    report.count("neurons", cfg.neurons);
    report.paper(
        "neuron_loss",
        "5 %: no degradation; 10 %: mild; 40 %: pattern lost (Kim & Chow, Results)",
    );
    Ok(report.finish())
}

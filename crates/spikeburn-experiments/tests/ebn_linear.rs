//! The efficient balanced network and its local rules (Bourdoukan & Denève
//! 2015), checked through the library API on the 2-D damped oscillator.

use spikeburn_plasticity::ebn::relative_error;
use spikeburn_plasticity::{
    Drive, EbnConfig, EbnWeights, FastBalance, Frozen, HostEbn, SlowHebbian, SynapticRule,
    spread_encoder,
};
use spikeburn_tasks::linear_system::{LinearSystem, smoothed_noise};

const DT: f64 = 1e-4;

fn system() -> LinearSystem {
    LinearSystem::damped_oscillator(1.0, std::f64::consts::PI)
}

fn config() -> EbnConfig {
    EbnConfig::new(20, 2)
}

fn input(seconds: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let steps = (seconds / DT) as usize;
    let c = smoothed_noise(steps, 2, DT, 0.03, 5.0, seed).unwrap();
    let x = system().trajectory(&c, DT, &[0.0, 0.0]).unwrap();
    (c, x)
}

struct Run {
    error: f64,
    membrane_fluctuation: f64,
}

/// Runs `net` on `(c, x)`, with feedback and rules when `learn` is given.
fn run<Rf: SynapticRule, Rs: SynapticRule>(
    net: &mut HostEbn,
    (c, x): &(Vec<f64>, Vec<f64>),
    feedback: bool,
    fast: &Rf,
    slow: &Rs,
) -> Run {
    let n = net.config().neurons;
    let (mut mse, mut var) = (0.0, 0.0);
    let mean: Vec<f64> = (0..2)
        .map(|d| x.iter().skip(d).step_by(2).sum::<f64>() / (x.len() / 2) as f64)
        .collect();
    let (mut s1, mut s2) = (vec![0.0f64; n], vec![0.0f64; n]);
    let steps = c.len() / 2;
    for t in 0..steps {
        let ct = [c[2 * t] as f32, c[2 * t + 1] as f32];
        let xt = [x[2 * t] as f32, x[2 * t + 1] as f32];
        let drive = Drive {
            input: &ct,
            target: feedback.then_some(&xt[..]),
        };
        net.step(drive, fast, slow).unwrap();
        let y = net.readout();
        for d in 0..2 {
            mse += (x[2 * t + d] - y[d] as f64).powi(2);
            var += (x[2 * t + d] - mean[d]).powi(2);
        }
        for i in 0..n {
            let v = net.membrane[i] as f64;
            s1[i] += v;
            s2[i] += v * v;
        }
    }
    let m = steps as f64;
    let threshold = &net.weights.threshold;
    let membrane_fluctuation = (0..n)
        .map(|i| ((s2[i] / m - (s1[i] / m).powi(2)).max(0.0)).sqrt() / threshold[i] as f64)
        .sum::<f64>()
        / n as f64;
    Run {
        error: mse / var,
        membrane_fluctuation,
    }
}

fn autonomous(weights: &EbnWeights, test: &(Vec<f64>, Vec<f64>)) -> Run {
    let mut net = HostEbn::new(&config(), weights.clone(), 99).unwrap();
    run(&mut net, test, false, &Frozen, &Frozen)
}

/// The simulator check: the hand-derived network follows the system
/// without feedback (measured 0.01–0.03 over seeds), and without its slow
/// connections it cannot (measured 0.6–0.8): the task needs them.
#[test]
fn the_optimal_network_tracks_the_system_and_needs_its_slow_weights() {
    let test = input(5.0, 11);
    let encoder = spread_encoder(20, 2, 0.2, 5);
    let optimal = EbnWeights::optimal(encoder, &system().a, &config()).unwrap();
    let good = autonomous(&optimal, &test);
    assert!(good.error < 0.06, "optimal network error {}", good.error);
    let mut no_slow = optimal.clone();
    no_slow.slow.fill(0.0);
    let bad = autonomous(&no_slow, &test);
    assert!(
        bad.error > 0.4,
        "without slow weights the error is only {}",
        bad.error
    );
    assert!(
        good.membrane_fluctuation < 1.0,
        "fluctuation {}",
        good.membrane_fluctuation
    );
}

/// The fast rule restores balance from random fast weights: the membrane
/// fluctuation relative to threshold falls from about 2.5 to about 0.5
/// (the optimal network's) in 60 s; asserted: below 40 % of its start.
#[test]
fn the_fast_rule_reduces_the_balance_error() {
    let cfg = config();
    let encoder = spread_encoder(20, 2, 0.2, 6);
    let scale = 0.04f32;
    let fast: Vec<f32> = (0..400)
        .map(|k| {
            let own = if k / 20 == k % 20 { 0.5 } else { 0.0 };
            -scale * (0.2 * ((k as f32 * 0.618).fract()) + own)
        })
        .collect();
    let start = EbnWeights::untrained(encoder, fast, &cfg).unwrap();
    let test = input(3.0, 12);
    let before = autonomous(&start, &test).membrane_fluctuation;
    let mut net = HostEbn::new(&cfg, start, 1).unwrap();
    let rule = FastBalance {
        learning_rate: 5e-3,
        beta: 1.9,
        cost: cfg.cost as f32,
    };
    for seg in 0..6 {
        run(&mut net, &input(10.0, 100 + seg), true, &rule, &Frozen);
    }
    let after = autonomous(&net.weights, &test).membrane_fluctuation;
    assert!(after < 0.4 * before, "fluctuation {before} -> {after}");
}

/// The slow rule learns the system from a random start (random slow
/// weights in the span of `F`, optimal fast weights): the autonomous error
/// falls below 40 % of the untrained network's, and the weights approach
/// the optimum (measured: relative error 0.06–0.08 after 100 s).
#[test]
fn the_slow_rule_reduces_the_tracking_error_from_a_random_start() {
    let cfg = config();
    let encoder = spread_encoder(20, 2, 0.2, 7);
    let optimal = EbnWeights::optimal(encoder.clone(), &system().a, &cfg).unwrap();
    let mut start = optimal.clone();
    // W_s = F M with M random [J][N], of about the optimum's size.
    let m: Vec<f32> = (0..40).map(|k| ((k as f32 * 1.37).sin()) * 2.0).collect();
    for pre in 0..20 {
        for post in 0..20 {
            start.slow[pre * 20 + post] = (0..2)
                .map(|a| encoder[post * 2 + a] * m[a * 20 + pre])
                .sum();
        }
    }
    let test = input(5.0, 13);
    let before = autonomous(&start, &test).error;
    let start_rel = relative_error(&start.slow, &optimal.slow);
    let mut net = HostEbn::new(&cfg, start, 2).unwrap();
    let rule = SlowHebbian {
        learning_rate: 0.1,
        decay: 0.0,
    };
    for seg in 0..8 {
        run(&mut net, &input(10.0, 200 + seg), true, &Frozen, &rule);
    }
    let after = autonomous(&net.weights, &test).error;
    let rel = relative_error(&net.weights.slow, &optimal.slow);
    assert!(after < 0.4 * before, "autonomous error {before} -> {after}");
    assert!(
        rel < 0.5 * start_rel,
        "slow weights' relative error {start_rel} -> {rel}"
    );
}

/// The experiment's reduced preset end to end: every metric is there and
/// finite, and the slow-rule control learns the oscillator.
#[test]
fn ebn_linear_quick_reports_its_metrics() {
    let mut exp = spikeburn_experiments::bourdoukan_deneve2015::EbnLinearExperiment::quick();
    exp.neurons_3d = 0;
    exp.balance_seconds = 30.0;
    exp.learning_seconds = 60.0;
    let dir = std::env::temp_dir().join(format!("spikeburn-ebn-test-{}", std::process::id()));
    let ctx = spikeburn_experiments::RunContext::new(&dir).with_seed(1);
    let report = spikeburn_experiments::bourdoukan_deneve2015::run(
        &exp,
        &burn::prelude::Device::default(),
        &ctx,
    )
    .unwrap();
    for name in [
        "untrained_error",
        "learning_error_final",
        "autonomous_error",
        "optimal_error",
        "slow_weights_rel_error",
        "isi_cv",
        "rate_hz",
        "membrane_fluctuation",
        "membrane_fluctuation_untrained",
    ] {
        let v = report
            .get(name)
            .unwrap_or_else(|| panic!("no metric {name}"));
        assert!(v.is_finite(), "{name} = {v}");
    }
    let get = |k: &str| report.get(k).unwrap();
    assert!(get("optimal_error") < 0.06);
    assert!(get("membrane_fluctuation") < 0.4 * get("membrane_fluctuation_untrained"));
    assert!(get("autonomous_error_slow_only") < 0.4 * get("untrained_error"));
    assert!(get("rate_hz") > 0.5 && get("rate_hz") < 200.0);
    let saved = report.save_figures(&dir).unwrap();
    assert!(saved.iter().any(|p| p.ends_with("learning_error.png")));
    let _ = std::fs::remove_dir_all(&dir);
}

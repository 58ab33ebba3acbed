//! The exact-gradient experiments (Huh & Sejnowski 2018) through the
//! library API.

use spikeburn_experiments::Validate;
use spikeburn_experiments::huh_sejnowski2018::{
    GradcheckExperiment, XorExperiment, gradcheck, xor,
};

/// The reduced gradient check: autodiff and central differences agree to
/// 10⁻⁵ (measured 4.7·10⁻⁷) over a run with at least 20 spikes.
#[test]
fn gradcheck_exact_quick_agrees_with_finite_differences() {
    let dir = std::env::temp_dir().join(format!("spikeburn-gradcheck-{}", std::process::id()));
    let ctx = spikeburn_experiments::RunContext::new(&dir);
    let report = gradcheck(
        &GradcheckExperiment::quick(),
        &burn::prelude::Device::default(),
        &ctx,
    )
    .unwrap();
    assert!(report.get("n_spikes").unwrap() >= 20.0);
    assert!(report.get("max_rel_error").unwrap() < 1e-5);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The XOR pipeline end to end on a tiny run (plumbing only: a few
/// iterations learn nothing): both networks train, checkpoint and report
/// accuracies in [0, 1]; an unresolvable step is refused by name.
#[test]
fn xor_exact_runs_both_networks_and_checkpoints() {
    let exp = XorExperiment {
        neurons: 6,
        batch: 4,
        iterations: 2,
        test_trials: 8,
        checkpoint_every: 1,
        ..XorExperiment::quick()
    };
    let dir = std::env::temp_dir().join(format!("spikeburn-xor-{}", std::process::id()));
    let ctx = spikeburn_experiments::RunContext::new(&dir);
    let report = xor(&exp, &burn::prelude::Device::default(), &ctx).unwrap();
    for k in ["test_accuracy", "test_accuracy_surrogate_alif"] {
        let a = report.get(k).unwrap();
        assert!((0.0..=1.0).contains(&a), "{k} = {a}");
    }
    assert!(report.get("sec_per_iter").unwrap() > 0.0);
    assert!(dir.join("exact/checkpoint/LATEST").exists());
    assert!(dir.join("surrogate_alif/metrics.jsonl").exists());
    let _ = std::fs::remove_dir_all(&dir);
    let bad = XorExperiment {
        dt_ms: 2.0,
        ..XorExperiment::quick()
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("dt"), "{e}");
}

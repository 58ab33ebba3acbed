//! The exact-gradient experiments (Huh & Sejnowski 2018) through the
//! library API.

use spikeburn_experiments::Validate;
use spikeburn_experiments::huh_sejnowski2018::{
    AutoencodeExperiment, GradcheckExperiment, XorExperiment, autoencode, gradcheck, xor,
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

/// The reduced delayed XOR (210-ms trials, 40 neurons): both networks
/// learn it — held-out accuracy ≥ 0.9 against chance 0.5 (measured 1.0 on
/// seeds 0–3 for both) — and checkpoint; an unresolvable step is refused by
/// name.
#[test]
fn xor_exact_quick_learns_with_both_networks() {
    let dir = std::env::temp_dir().join(format!("spikeburn-xor-{}", std::process::id()));
    let ctx = spikeburn_experiments::RunContext::new(&dir);
    let report = xor(
        &XorExperiment::quick(),
        &burn::prelude::Device::default(),
        &ctx,
    )
    .unwrap();
    for k in ["test_accuracy", "test_accuracy_surrogate_alif"] {
        let a = report.get(k).unwrap();
        assert!(a >= 0.9, "{k} = {a}");
    }
    assert!(report.get("rate_hz").unwrap() > 0.0);
    assert!(dir.join("exact/checkpoint/LATEST").exists());
    assert!(dir.join("surrogate_alif/metrics.jsonl").exists());
    for stem in [
        "exact_raster",
        "exact_readout",
        "surrogate_alif_raster",
        "learning_curve",
    ] {
        assert!(report.figures.iter().any(|(s, _)| s == stem), "{stem}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let bad = XorExperiment {
        dt_ms: 2.0,
        ..XorExperiment::quick()
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("dt"), "{e}");
}

/// The reduced auto-encoding: exact-gradient training brings the error
/// below that of the untrained network with its best (ridge) readout by a
/// margin, and below an absolute bound.
#[test]
fn autoencode_exact_quick_beats_the_untrained_network() {
    let dir = std::env::temp_dir().join(format!("spikeburn-ae-{}", std::process::id()));
    let ctx = spikeburn_experiments::RunContext::new(&dir);
    let report = autoencode(
        &AutoencodeExperiment::quick(),
        &burn::prelude::Device::default(),
        &ctx,
    )
    .unwrap();
    let before = report.get("reconstruction_error_before").unwrap();
    let after = report.get("reconstruction_error_after").unwrap();
    assert!(after < 0.9 * before, "after {after}, before {before}");
    assert!(after < 0.2, "after {after}");
    assert!(report.get("rate_hz").unwrap() > 1.0);
    assert!(dir.join("checkpoint/LATEST").exists());
    let _ = std::fs::remove_dir_all(&dir);
    let bad = AutoencodeExperiment {
        warmup_ms: 1e4,
        ..AutoencodeExperiment::quick()
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("warmup_ms"), "{e}");
}

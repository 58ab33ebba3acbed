//! The runs committed under `long-runs/` (reproductions longer than one
//! session, continued from session to session with `--resume`) must stay
//! resumable by today's code: each is the experiment's default configuration
//! apart from its bookkeeping (so its curve is the default's), and its latest
//! checkpoint loads into today's model and DEEP R state, with the metrics log
//! covering it. A change that would make `--resume` refuse or fail one of
//! them fails here instead of in the next session.

use burn::module::Module;
use burn::prelude::*;
use serde_json::{Value, json};
use spikeburn_experiments::bellec2018::smnist::{SmnistConfig, SmnistNet};
use spikeburn_experiments::run::merge;
use spikeburn_train::checkpoint::{read_json, read_state};
use spikeburn_train::trainer::{MODEL_FILE, OptimizerStep};
use spikeburn_train::{Checkpoint, DeepR, DeepRStep};
use std::path::{Path, PathBuf};

fn long_run(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../long-runs")
        .join(name)
}

/// The default configuration with `overrides` laid over it, as JSON.
fn default_with(overrides: Value) -> Value {
    let mut cfg = serde_json::to_value(SmnistConfig::default()).unwrap();
    merge(&mut cfg, overrides);
    cfg
}

fn check_smnist_run(name: &str, overrides: Value) {
    let dir = long_run(name);
    let saved: Value = read_json(&dir.join("config.json")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        saved,
        default_with(overrides),
        "{name}: the committed run is no longer on the default configuration \
         (a default changed?): resume it with its own config.json, and say so \
         in long-runs/README.md, or start it anew"
    );
    let cfg: SmnistConfig = serde_json::from_value(saved).unwrap();

    let latest = Checkpoint::new(dir.join("checkpoint"))
        .latest()
        .unwrap()
        .unwrap_or_else(|| panic!("{name}: no complete checkpoint"));
    let state = read_state(&latest).unwrap();
    assert!(
        state.iteration > 0 && state.iteration <= cfg.iterations,
        "{name}: checkpoint at iteration {} of {}",
        state.iteration,
        cfg.iterations
    );
    assert_eq!(state.seed, 0, "{name}: the README's command resumes seed 0");

    // The model and DEEP R's state load and agree on every shape.
    let device = Device::default();
    let model: SmnistNet = cfg
        .network(&device)
        .unwrap()
        .try_load_file(latest.join(MODEL_FILE))
        .unwrap_or_else(|e| panic!("{name}: the model does not load: {e}"));
    let matrices = cfg.rewired_matrices(0).unwrap();
    let deep_r = DeepR::new(cfg.deep_r, &matrices, 0).unwrap();
    let mut step =
        DeepRStep::new(deep_r, matrices, vec![vec![0.0; 10]], cfg.max_grad_norm).unwrap();
    OptimizerStep::<SmnistNet>::load(&mut step, &latest).unwrap();
    let saved_w_rec = model.net.recurrent.recurrent_weights.val();
    let model = OptimizerStep::<SmnistNet>::attach(&mut step, model)
        .unwrap_or_else(|e| panic!("{name}: DEEP R's state does not fit the model: {e}"));
    // The record and DEEP R's parameters were saved together: the same weights,
    // within the connection budget DEEP R keeps.
    let w_rec = model.net.recurrent.recurrent_weights.val();
    assert_eq!(w_rec.dims(), [cfg.n_lif + cfg.n_alif; 2]);
    let diff: f32 = (w_rec - saved_w_rec).abs().max().into_scalar();
    assert_eq!(diff, 0.0, "{name}: model.bpk and deep_r.json disagree");
    let active: usize = step.matrices().iter().map(|m| m.active()).sum();
    assert_eq!(active, step.optimizer().target_active(), "{name}");

    // The metrics log covers the checkpoint (a resume truncates what is past it).
    let logged = std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert!(
        logged >= state.iteration,
        "{name}: metrics.jsonl has {logged} lines, the checkpoint {} iterations",
        state.iteration
    );
}

const BOOKKEEPING: fn() -> Value = || json!({"iterations": 36000, "eval_every": 250, "test_samples": 2000, "checkpoint_every": 100});

#[test]
fn the_long_smnist_run_resumes_on_the_default_configuration() {
    check_smnist_run("smnist", BOOKKEEPING());
}

#[test]
fn the_long_lif_only_smnist_run_resumes() {
    let mut overrides = BOOKKEEPING();
    overrides["beta"] = json!(0.0);
    check_smnist_run("smnist-lif", overrides);
}

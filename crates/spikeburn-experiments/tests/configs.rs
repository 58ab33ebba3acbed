//! Every numeric field of every experiment's config, set to a negative, a
//! zero and a huge value one at a time, is either accepted or refused with
//! a typed error naming it — never a panic; and a sample of them, run for
//! one iteration on tiny sizes, ends in a typed error or a sane report.

use serde_json::{Value, json};
use spikeburn_experiments::run::merge;
use spikeburn_experiments::{ExperimentError, RunContext, experiment, experiments};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Paths (keys and array indices) of every numeric leaf of `v`.
fn numeric_paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Number(_) => out.push(prefix.clone()),
        Value::Object(map) => {
            for (k, child) in map {
                prefix.push(k.clone());
                numeric_paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(i.to_string());
                numeric_paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn set(v: &mut Value, path: &[String], new: Value) {
    let mut slot = v;
    for key in path {
        slot = match slot {
            Value::Object(map) => map.get_mut(key).expect("path exists"),
            Value::Array(items) => &mut items[key.parse::<usize>().expect("index")],
            _ => unreachable!("paths come from numeric_paths"),
        };
    }
    *slot = new;
}

const BAD: [f64; 3] = [-1.0, 0.0, 1e300];

fn is_typed(e: &ExperimentError) -> bool {
    // Every variant is typed; a config error must name something.
    !e.to_string().is_empty()
}

#[test]
fn every_numeric_field_is_validated_without_panicking() {
    let mut checked = 0;
    let mut refused = 0;
    for exp in experiments() {
        for quick in [false, true] {
            let base = exp.preset(quick);
            exp.check(base.clone())
                .unwrap_or_else(|e| panic!("{} preset (quick {quick}) is invalid: {e}", exp.name));
            let mut paths = vec![];
            numeric_paths(&base, &mut vec![], &mut paths);
            assert!(!paths.is_empty(), "{} has no numeric field", exp.name);
            for path in &paths {
                for bad in BAD {
                    let mut v = base.clone();
                    set(&mut v, path, json!(bad));
                    let r = catch_unwind(AssertUnwindSafe(|| exp.check(v)));
                    let r = r.unwrap_or_else(|_| {
                        panic!(
                            "{}: `{}` = {bad} panicked in validation",
                            exp.name,
                            path.join(".")
                        )
                    });
                    if let Err(e) = r {
                        assert!(is_typed(&e));
                        refused += 1;
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 300, "only {checked} values checked");
    assert!(refused > checked / 3, "only {refused} of {checked} refused");
}

#[test]
fn huge_gains_and_sizes_are_refused_by_name() {
    let cases = [
        ("demo", vec!["input_gain"], json!(1e300)),
        ("demo", vec!["steps"], json!(1_000_000_000u64)),
        ("demo", vec!["batch"], json!(1_000_000_000u64)),
        ("store-recall", vec!["task", "dt_ms"], json!(0.0)),
        ("store-recall", vec!["schedule", "every"], json!(0)),
        ("store-recall", vec!["rate_reg"], json!(-1.0)),
        ("store-recall", vec!["target_rate_hz"], json!(-1.0)),
        ("rls-sines", vec!["stimulus_amplitude"], json!(-1.0)),
        ("rls-sines", vec!["window_ms"], json!(1e300)),
        ("rls-sines", vec!["neurons"], json!(1_000_000)),
        ("smnist", vec!["readout_steps"], json!(0)),
    ];
    for (name, path, value) in cases {
        let exp = experiment(name).unwrap();
        let mut v = exp.preset(true);
        if name == "store-recall" && path == ["schedule", "every"] {
            // every = 0 is a constant rate only with factor 1.
            set(&mut v, &["schedule".into(), "factor".into()], json!(0.3));
        }
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        set(&mut v, &path, value.clone());
        let e = exp
            .check(v)
            .expect_err(&format!("{name}: {path:?} = {value} was accepted"));
        let text = e.to_string();
        let leaf = path.last().unwrap();
        assert!(
            text.contains(leaf.as_str()),
            "{name}: the error for {path:?} = {value} does not name it: {text}"
        );
    }
}

/// Tiny configs whose one-iteration runs take well under a second.
fn tiny(name: &str) -> Value {
    match name {
        "demo" => json!({"n_input": 6, "n_lif": 3, "n_alif": 3, "classes": 2, "steps": 12,
                         "batch": 4, "iterations": 1, "test_samples": 4, "checkpoint_every": 1}),
        "store-recall" => json!({"task": {"symbols": 3, "symbol_ms": 8, "neurons_per_group": 2,
                                          "expected_delay": 1.5},
                                 "n_lif": 2, "n_alif": 2, "batch": 2, "iterations": 1,
                                 "test_sequences": 2, "lif_only_ablation": false,
                                 "schedule": {"initial": 0.01, "factor": 1.0, "every": 0}}),
        "rls-sines" => json!({"neurons": 8, "p": 0.5, "loops": 1, "window_ms": 20.0,
                              "stimulus_ms": 5.0, "settle_ms": 5.0, "test_trials": 1}),
        _ => unreachable!(),
    }
}

#[test]
fn one_iteration_runs_of_bad_values_end_in_a_typed_error_or_a_sane_report() {
    let device = burn::prelude::Device::default();
    let dir = std::env::temp_dir().join(format!("spikeburn-walk-{}", std::process::id()));
    let mut runs = 0;
    for name in ["demo", "store-recall", "rls-sines"] {
        let exp = experiment(name).unwrap();
        let mut base = exp.preset(true);
        merge(&mut base, tiny(name));
        exp.check(base.clone()).unwrap();
        let mut paths = vec![];
        numeric_paths(&base, &mut vec![], &mut paths);
        // Every field with each bad value that validation lets through.
        for path in &paths {
            for bad in BAD {
                let mut v = base.clone();
                set(&mut v, path, json!(bad));
                if exp.check(v.clone()).is_err() {
                    continue;
                }
                let ctx = RunContext::new(dir.join(format!("{name}-{runs}")));
                let overlay = (v, std::path::Path::new("<walk>"));
                let r = catch_unwind(AssertUnwindSafe(|| {
                    exp.run(false, Some(overlay), &device, &ctx)
                }))
                .unwrap_or_else(|_| panic!("{name}: `{}` = {bad} panicked", path.join(".")));
                if let Ok(report) = r {
                    for (k, m) in &report.metrics {
                        if let Some(x) = m.as_f64() {
                            assert!(x.is_finite(), "{name}: metric {k} = {x}");
                        }
                    }
                }
                runs += 1;
            }
        }
    }
    assert!(runs >= 10, "only {runs} sample runs");
    std::fs::remove_dir_all(dir).ok();
}

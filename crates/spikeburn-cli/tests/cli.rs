//! The `spikeburn` command as a user runs it.

use std::process::Command;

fn spikeburn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spikeburn"))
}

/// Runs `spikeburn <args>`, checks it succeeded, and parses its JSON line.
fn command_json(args: &[&str]) -> serde_json::Value {
    let out = spikeburn().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("spikeburn-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn list_names_the_demo() {
    let out = spikeburn().arg("list").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("demo ")), "{text}");
}

#[test]
fn quick_demo_learns_and_prints_one_json_line() {
    let dir = temp_dir("demo");
    let out = spikeburn()
        .args(["run", "demo", "--quick", "--seed", "1", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().expect("a final line");
    let json: serde_json::Value = serde_json::from_str(last).expect("final line is JSON");
    assert_eq!(json["experiment"], "demo");
    assert_eq!(json["backend"], "flex");
    let m = &json["metrics"];
    let acc = m["test_accuracy"].as_f64().unwrap();
    let chance = m["chance_accuracy"].as_f64().unwrap();
    // Learned: far above chance on held-out samples, and the loss fell.
    assert!(acc >= chance + 0.4, "test accuracy {acc} (chance {chance})");
    assert!(m["loss_last"].as_f64().unwrap() < 0.7 * m["loss_first"].as_f64().unwrap());
    for file in [
        "config.json",
        "metrics.jsonl",
        "learning_curve.svg",
        "learning_curve.png",
        "model.bpk",
    ] {
        assert!(dir.join(file).exists(), "{file} missing");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_inputs_get_clear_errors() {
    let out = spikeburn().args(["run", "no-such-thing"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown experiment `no-such-thing`") && err.contains("demo"),
        "{err}"
    );

    let dir = temp_dir("badcfg");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("cfg.json");
    std::fs::write(&cfg, r#"{"classes": 1}"#).unwrap();
    let out = spikeburn()
        .args(["run", "demo", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`classes` = 1"), "{err}");

    let out = spikeburn()
        .args(["run", "demo", "--backend", "tpu"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("backend `tpu`"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn tiny_w1_bench_prints_the_spec_fields() {
    let json = command_json(&[
        "bench", "w1-alif", "--n", "32", "--t", "50", "--batch", "4", "--iters", "2", "--warmup",
        "1",
    ]);
    for field in [
        "sec_per_iter_median",
        "sec_per_iter_all",
        "loss_first",
        "loss_last",
        "spike_rate_first",
        "peak_rss_mb",
        "backend",
        "threads",
        "git_rev",
    ] {
        assert!(!json[field].is_null(), "missing {field}: {json}");
    }
    assert_eq!(json["workload"], "w1-alif");
    assert_eq!(json["sec_per_iter_all"].as_array().unwrap().len(), 2);
    let out = spikeburn().args(["bench", "w9"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown workload `w9`"));
}

fn write_config(dir: &std::path::Path, json: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("config.override.json");
    std::fs::write(&path, json).unwrap();
    path
}

fn run_json(args: &[&str], config: &std::path::Path, out: &std::path::Path) -> serde_json::Value {
    let output = spikeburn()
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// The quick store-recall (100 ms symbols, 200 iterations, no ablation)
/// must get below the 50 % chance level of recalling one bit. At seed 0 the
/// LSNN reaches 0.34 here: it has learned the recalls that follow their
/// store closely (the plateau both networks cross before they hold the bit
/// over long delays; see the experiment's docs), not yet the long ones.
#[test]
fn reduced_store_recall_learns_to_recall() {
    let dir = temp_dir("store-recall");
    let cfg = write_config(&dir, r#"{"lif_only_ablation": false}"#);
    let json = run_json(&["run", "store-recall", "--quick"], &cfg, &dir.join("out"));
    let m = &json["metrics"];
    let err = m["recall_error"].as_f64().unwrap();
    assert!(
        err < 0.4,
        "recall error {err} after 200 iterations (chance 0.5)"
    );
    for key in [
        "recall_error_delay2",
        "recall_error_activity_wiped",
        "recall_error_adaptation_wiped",
    ] {
        let v = m[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert!(dir.join("out/learning_curve.svg").exists());
    assert!(dir.join("out/raster.png").exists());
    std::fs::remove_dir_all(dir).ok();
}

/// A run stopped after 6 iterations continues to 10 with --resume: the log
/// then holds iterations 0..9 once each.
#[test]
fn store_recall_resumes_from_its_checkpoint() {
    let dir = temp_dir("resume");
    let small = r#"{"task": {"symbols": 4, "symbol_ms": 20, "expected_delay": 2.0}, "batch": 4, "test_sequences": 4,
                    "lif_only_ablation": false, "iterations": ITER}"#;
    let out = dir.join("out");
    let cfg = write_config(&dir, &small.replace("ITER", "6"));
    run_json(&["run", "store-recall", "--seed", "3"], &cfg, &out);
    let cfg = write_config(&dir, &small.replace("ITER", "10"));
    let json = run_json(
        &["run", "store-recall", "--seed", "3", "--resume"],
        &cfg,
        &out,
    );
    assert_eq!(json["metrics"]["iterations"], 10);
    let log = std::fs::read_to_string(out.join("metrics-lsnn.jsonl")).unwrap();
    let iterations: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["iteration"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(iterations, (0..10).collect::<Vec<_>>());
    std::fs::remove_dir_all(dir).ok();
}

/// A small MNIST-format set: 8×8 images whose class (0–3) is which quadrant
/// is bright, with noise; 400 training and 100 test images.
fn synthetic_mnist(dir: &std::path::Path) {
    use spikeburn_tasks::mnist::write_idx_u8;
    std::fs::create_dir_all(dir).unwrap();
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    for (split, count) in [("train", 400usize), ("t10k", 100)] {
        let (mut pixels, mut labels) = (vec![], vec![]);
        for _ in 0..count {
            let label = (next() % 4) as usize;
            for r in 0..8 {
                for c in 0..8 {
                    let quadrant = (r / 4) * 2 + c / 4;
                    let base = if quadrant == label { 200 } else { 20 };
                    pixels.push((base + next() % 50) as u8);
                }
            }
            labels.push(label as u8);
        }
        write_idx_u8(
            &dir.join(format!("{split}-images-idx3-ubyte")),
            &[count, 8, 8],
            &pixels,
        )
        .unwrap();
        write_idx_u8(
            &dir.join(format!("{split}-labels-idx1-ubyte")),
            &[count],
            &labels,
        )
        .unwrap();
    }
}

/// sMNIST end to end on a tiny IDX set: loads the files, trains with DEEP R
/// keeping the connection budget exactly, and learns above chance.
#[test]
fn smnist_runs_on_a_tiny_idx_dataset_with_deep_r() {
    let dir = temp_dir("smnist");
    synthetic_mnist(&dir.join("data"));
    let cfg = format!(
        r#"{{"data_dir": "{}", "iterations": 100, "batch": 32, "test_samples": 100, "eval_every": 0}}"#,
        dir.join("data").display()
    );
    let cfg = write_config(&dir, &cfg);
    let json = run_json(&["run", "smnist", "--quick"], &cfg, &dir.join("out"));
    let m = &json["metrics"];
    assert_eq!(m["active_connections"], m["connection_budget"]);
    let budget = m["connection_budget"].as_f64().unwrap();
    let possible = m["possible_connections"].as_f64().unwrap();
    assert!(
        (budget / possible - 0.12).abs() < 0.005,
        "{budget} of {possible}"
    );
    let acc = m["test_accuracy"].as_f64().unwrap();
    assert!(
        acc > 0.6,
        "test accuracy {acc} (chance 0.25 on this 4-class set)"
    );
    assert!(m["sec_per_iter"].as_f64().unwrap() > 0.0);
    let log = std::fs::read_to_string(dir.join("out/metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 100, "one metrics line per iteration");
    assert!(dir.join("out/raster.svg").exists());
    assert_eq!(lines[99]["iteration"], 99);
    assert!(
        lines
            .iter()
            .all(|l| l["metrics"]["rate_hz"].as_f64().unwrap() >= 0.0)
    );
    assert!(
        lines
            .iter()
            .all(|l| l["metrics"]["grad_norm"].as_f64().unwrap() > 0.0)
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Runs `spikeburn run <name> --quick` (seed 1) and returns the final line's metrics.
fn quick_metrics(name: &str) -> (serde_json::Value, std::path::PathBuf) {
    let dir = temp_dir(name);
    let out = spikeburn()
        .args(["run", name, "--quick", "--seed", "1", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(json["experiment"], name);
    (json["metrics"].clone(), dir)
}

fn metric(m: &serde_json::Value, key: &str) -> f64 {
    m[key]
        .as_f64()
        .unwrap_or_else(|| panic!("metric {key} missing in {m}"))
}

/// Kim & Chow Fig 1 (quick): RLS makes the synaptic drive follow the sines
/// on fresh initial conditions, far above the untrained network; the rate
/// variant learns too.
#[test]
fn rls_sines_quick_learns_drive_and_rate_targets() {
    let (m, dir) = quick_metrics("rls-sines");
    let (c, c0) = (
        metric(&m, "mean_correlation"),
        metric(&m, "mean_correlation_untrained"),
    );
    assert!(
        c > 0.8 && c0 < 0.3,
        "drive: correlation {c} (untrained {c0})"
    );
    let (r, r0) = (
        metric(&m, "rate_variant_mean_correlation"),
        metric(&m, "rate_variant_mean_correlation_untrained"),
    );
    assert!(
        r > 0.5 && r > r0 + 0.4,
        "rate variant: {r} (untrained {r0})"
    );
    assert!(metric(&m, "rate_hz") > 1.0);
    for file in [
        "neuron0.svg",
        "neuron0.png",
        "learning_curve.svg",
        "raster.svg",
        "raster.png",
        "config.json",
    ] {
        assert!(dir.join(file).exists(), "{file} missing");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Fig 3 targets (quick): each family is learned well above the untrained
/// network's chance-level correlation.
#[test]
fn rls_fig3_targets_quick_are_learned() {
    for name in ["rls-periodic", "rls-chaotic", "rls-ou"] {
        let (m, dir) = quick_metrics(name);
        let (c, c0) = (
            metric(&m, "mean_correlation"),
            metric(&m, "mean_correlation_untrained"),
        );
        assert!(
            c > 0.6 && c > c0 + 0.5,
            "{name}: correlation {c} (untrained {c0})"
        );
        std::fs::remove_dir_all(dir).ok();
    }
}

/// Fig 4 (quick): the innate chaotic trajectory is not repeatable before
/// training and becomes so after RLS under Dale's law.
#[test]
fn rls_dale_chaos_quick_stabilises_the_innate_trajectory() {
    let (m, dir) = quick_metrics("rls-dale-chaos");
    let (c, c0) = (
        metric(&m, "mean_correlation"),
        metric(&m, "mean_correlation_untrained"),
    );
    assert!(c > c0 + 0.3, "correlation {c} (untrained {c0})");
    // Dale's law held: RLS proposed sign flips, they were frozen, and no
    // trained weight has the other sign than it started with.
    assert!(metric(&m, "frozen_by_dale") > 0.0, "{m}");
    assert_eq!(metric(&m, "dale_sign_violations"), 0.0);
    std::fs::remove_dir_all(dir).ok();
}

/// Removing neurons degrades the survivors' correlation, more for more.
#[test]
fn rls_neuron_loss_quick_degrades_with_the_lesion_size() {
    let (m, dir) = quick_metrics("rls-neuron-loss");
    let intact = metric(&m, "mean_correlation");
    let (c5, c40) = (
        metric(&m, "mean_correlation_loss_5pct"),
        metric(&m, "mean_correlation_loss_40pct"),
    );
    assert!(intact > 0.6, "intact correlation {intact}");
    assert!(
        c40 < c5 && c40 < intact,
        "5 %: {c5}, 40 %: {c40}, intact {intact}"
    );
    assert!(dir.join("neuron_loss.svg").exists());
    std::fs::remove_dir_all(dir).ok();
}

/// The reduced Fig 6–7 sweep: the fastest synapse (τ_s = 5 ms, sampling
/// error) learns far worse than the best one, and the largest network
/// follows targets of every length better than the smallest.
#[test]
fn rls_capacity_quick_shows_sampling_error_and_growth_with_n() {
    let (m, dir) = quick_metrics("rls-capacity");
    let sweep = m["tau_syn_sweep"].as_array().unwrap();
    assert_eq!(sweep.len(), 3);
    let corr: Vec<f64> = sweep
        .iter()
        .map(|r| metric(r, "mean_correlation"))
        .collect();
    let best = corr.iter().cloned().fold(f64::MIN, f64::max);
    assert!(corr[0] < best - 0.2, "τ_s sweep {corr:?}");
    let rows = m["capacity"].as_array().unwrap();
    let mean_for = |n: u64| {
        let c: Vec<f64> = rows
            .iter()
            .filter(|r| r["neurons"] == n && r.get("mean_correlation").is_some())
            .map(|r| metric(r, "mean_correlation"))
            .collect();
        c.iter().sum::<f64>() / c.len() as f64
    };
    assert!(mean_for(200) > mean_for(50) + 0.1, "{rows:?}");
    for file in ["tau_syn_sweep.svg", "capacity.svg", "capacity.json"] {
        assert!(dir.join(file).exists(), "{file} missing");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// `rls-capacity --resume` reuses the sweep points already finished (a
/// planted value in the progress file comes back) and runs only the new ones.
#[test]
fn rls_capacity_resumes_its_sweep() {
    let dir = temp_dir("capacity-resume");
    let small = |taus: &str| {
        format!(
            r#"{{"tau_syn_ms": {taus}, "capacity_neurons": [30], "capacity_window_ms": [100.0],
                "base": {{"neurons": 30, "loops": 2, "test_trials": 1, "window_ms": 100.0}}}}"#
        )
    };
    let out = dir.join("out");
    let cfg = write_config(&dir, &small("[10.0]"));
    run_json(&["run", "rls-capacity"], &cfg, &out);
    let progress = out.join("sweep_progress.json");
    let text = std::fs::read_to_string(&progress).unwrap();
    let mut p: serde_json::Value = serde_json::from_str(&text).unwrap();
    p["points"]["tau_s=10"]["correlation"] = serde_json::json!(0.123);
    std::fs::write(&progress, p.to_string()).unwrap();
    let cfg = write_config(&dir, &small("[10.0, 20.0]"));
    let json = run_json(&["run", "rls-capacity", "--resume"], &cfg, &out);
    let rows = json["metrics"]["tau_syn_sweep"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["mean_correlation"], 0.123, "{rows:?}");
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&progress).unwrap()).unwrap();
    assert_eq!(p["points"].as_object().unwrap().len(), 3); // 2 τ_s + 1 capacity point
    std::fs::remove_dir_all(dir).ok();
}

/// Invalid RLS configurations are refused with a message naming the value.
#[test]
fn bad_rls_configs_name_the_value() {
    let dir = temp_dir("rls-bad");
    for (json, needle) in [
        (r#"{"tau_syn_ms": -5.0}"#, "tau_syn"),
        (r#"{"lambda": 0.0}"#, "lambda"),
        (r#"{"p": 1.5}"#, "`p` = 1.5"),
        (r#"{"window_ms": 0.0}"#, "window"),
    ] {
        let cfg = write_config(&dir, json);
        let out = spikeburn()
            .args(["run", "rls-sines", "--quick", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(dir.join("out"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{json} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{json}: {err}");
    }
    std::fs::remove_dir_all(dir).ok();
}

/// A tiny demo that takes a second or two: 16 iterations, a checkpoint
/// every 2.
const TINY_DEMO: &str = r#"{"n_input": 20, "n_lif": 20, "n_alif": 20, "steps": 60, "batch": 16,
    "iterations": 16, "checkpoint_every": 2, "test_samples": 64, "classes": 4}"#;

fn metrics_lines(out: &std::path::Path) -> usize {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// The metrics of a final JSON line, without what differs between runs
/// (wall time, folder).
fn final_metrics(stdout: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stdout);
    let json: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    json["metrics"].clone()
}

fn demo_command(cfg: &std::path::Path, out: &std::path::Path, resume: bool) -> Command {
    let mut c = spikeburn();
    c.args(["run", "demo", "--seed", "5", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out);
    if resume {
        c.arg("--resume");
    }
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed().as_secs() < 120,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// SIGKILL at several points (one inside a checkpoint save, held there by
/// the test hook), resumed each time: the final metrics equal an
/// uninterrupted run's bit for bit, and a finished run resumed reports them
/// again.
#[test]
fn a_killed_demo_resumes_to_the_uninterrupted_result() {
    let dir = temp_dir("kill");
    let cfg = write_config(&dir, TINY_DEMO);
    let whole = demo_command(&cfg, &dir.join("whole"), false)
        .output()
        .unwrap();
    assert!(
        whole.status.success(),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    let expected = final_metrics(&whole.stdout);

    let out = dir.join("killed");
    // 1. Killed mid-training, after a few iterations.
    let mut child = demo_command(&cfg, &out, false).spawn().unwrap();
    wait_for("3 logged iterations", || metrics_lines(&out) >= 3);
    child.kill().unwrap();
    child.wait().unwrap();
    // 2. Resumed, and killed inside the save of the checkpoint at 12.
    let mut child = demo_command(&cfg, &out, true)
        .env("SPIKEBURN_TEST_HOLD_IN_SAVE", "12")
        .spawn()
        .unwrap();
    let holding = out.join("checkpoint/.partial-00000012/HOLDING");
    wait_for("the save of iteration 12", || holding.exists());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(holding.exists(), "the kill did not land inside the save");
    let latest = std::fs::read_to_string(out.join("checkpoint/LATEST")).unwrap();
    assert_eq!(
        latest.trim(),
        "iter-00000010",
        "LATEST must name the last complete checkpoint"
    );
    // 3. Resumed to the end.
    let resumed = demo_command(&cfg, &out, true).output().unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(final_metrics(&resumed.stdout), expected);
    assert_eq!(metrics_lines(&out), 16, "one log line per iteration");
    assert!(!holding.exists(), "the partial save was cleaned up");
    // 4. A finished run resumed reports its metrics again.
    let again = demo_command(&cfg, &out, true).output().unwrap();
    assert!(again.status.success());
    assert_eq!(final_metrics(&again.stdout), expected);
    std::fs::remove_dir_all(dir).ok();
}

/// An experiment that does not checkpoint refuses --resume by name.
#[test]
fn resume_is_refused_where_it_is_not_supported() {
    let dir = temp_dir("no-resume");
    let out = spikeburn()
        .args(["run", "rls-sines", "--quick", "--resume", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`rls-sines` does not resume"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn ebn_bench_prints_steps_per_second_and_refuses_foreign_flags() {
    let line = command_json(&["bench", "ebn", "--n", "20", "--t", "2000", "--warmup", "10"]);
    assert_eq!(line["workload"], "ebn");
    assert_eq!(line["path"], "host");
    assert!(line["steps_per_s"].as_f64().unwrap() > 0.0);
    assert!(line["spikes"].as_u64().unwrap() > 0, "{line}");
    let out = spikeburn()
        .args(["bench", "ebn", "--batch", "4"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--batch") && err.contains("ebn"), "{err}");
    let dir = temp_dir("ebn-no-resume");
    let out = spikeburn()
        .args(["run", "ebn-linear", "--quick", "--resume", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`ebn-linear` does not resume"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn exact_bench_times_forward_and_backward() {
    let line = command_json(&[
        "bench", "exact", "--n", "4", "--t", "40", "--batch", "2", "--iters", "1", "--warmup", "0",
        "--dt", "0.25",
    ]);
    assert_eq!(line["workload"], "exact");
    assert_eq!(line["dt_ms"], 0.25);
    assert!(line["sec_per_iter"].as_f64().unwrap() > 0.0, "{line}");
    for (args, named) in [
        (&["bench", "exact", "--tensor"][..], "--tensor"),
        (&["bench", "exact", "--dt", "2"][..], "dt"),
        (&["bench", "ebn", "--dt", "0.1"][..], "--dt"),
    ] {
        let out = spikeburn().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

/// A quick demo run (LIF-only with a reset to 0 when `lif`) in `dir`.
fn demo_run(dir: &std::path::Path, lif: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let mut cmd = spikeburn();
    cmd.args(["run", "demo", "--quick", "--out"])
        .arg(dir.join("run"));
    if lif {
        let cfg = write_config(
            dir,
            r#"{"n_lif": 40, "n_alif": 0, "reset": {"kind": "to_value", "value": 0.0}}"#,
        );
        cmd.arg("--config").arg(cfg);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn export_nir_refuses_the_alif_demo_by_layer() {
    let dir = temp_dir("nir-alif");
    demo_run(&dir, false);
    let out = spikeburn()
        .arg("export-nir")
        .arg(dir.join("run"))
        .arg(dir.join("demo.nir"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`lsnn`") && err.contains("ALIF"), "{err}");
    assert!(!dir.join("demo.nir").exists());
}

#[cfg(feature = "nir")]
#[test]
fn nir_export_then_import_reproduces_the_demo_spikes() {
    let dir = temp_dir("nir-lif");
    demo_run(&dir, true);
    let file = dir.join("demo.nir");
    let export = command_json(&[
        "export-nir",
        dir.join("run").to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(export["nodes"], 8);
    let probe = dir.join("demo.probe.json");
    let saved = dir.join("imported.json");
    let import = command_json(&[
        "import-nir",
        file.to_str().unwrap(),
        "--input",
        probe.to_str().unwrap(),
        "--save",
        saved.to_str().unwrap(),
    ]);
    assert!(
        import["rate_hz"]["lsnn"].as_f64().unwrap() > 1.0,
        "{import}"
    );
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (probe, saved) = (read(&probe), read(&saved));
    let want = probe["spikes"]["data"].as_array().unwrap();
    let got = saved["outputs"]["lsnn"]["data"].as_array().unwrap();
    assert_eq!(want.len(), got.len());
    let same = want.iter().zip(got).filter(|(a, b)| a == b).count();
    assert!(
        same as f64 >= 0.999 * want.len() as f64,
        "{same} of {}",
        want.len()
    );
    // Bad input names the problem.
    let out = spikeburn()
        .args(["import-nir", "--input"])
        .arg(dir.join("run/config.json"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = spikeburn()
        .arg("import-nir")
        .arg(dir.join("run/config.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a readable NIR file"), "{err}");
}

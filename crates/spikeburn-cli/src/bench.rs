//! `spikeburn bench <workload>`: one JSON line per run.

use serde_json::{Value, json};
use spikeburn_bench::w1::{self, W1Neuron, W1Options};

/// Options of `spikeburn bench`.
pub struct BenchOptions {
    /// Workload name.
    pub workload: String,
    /// Neurons N.
    pub n: Option<usize>,
    /// Time steps T.
    pub t: Option<usize>,
    /// Batch B.
    pub batch: Option<usize>,
    /// Timed iterations.
    pub iters: Option<usize>,
    /// Warm-up iterations.
    pub warmup: Option<usize>,
    /// SplitMix64 seed.
    pub seed: u64,
    /// Force the per-step reference path.
    pub per_step: bool,
}

/// Workloads `bench` knows.
pub const WORKLOADS: [&str; 2] = ["w1-lif", "w1-alif"];

/// Runs a workload on `device`; returns its JSON line.
pub fn run(
    o: &BenchOptions,
    device: &burn::prelude::Device,
    backend: &str,
) -> Result<String, String> {
    let neuron = match o.workload.as_str() {
        "w1-lif" => W1Neuron::Lif,
        "w1-alif" => W1Neuron::Alif,
        other => {
            return Err(format!(
                "unknown workload `{other}`: expected one of {WORKLOADS:?}"
            ));
        }
    };
    let mut opts = W1Options::new(neuron);
    opts.n = o.n.unwrap_or(opts.n);
    opts.t = o.t.unwrap_or(opts.t);
    opts.batch = o.batch.unwrap_or(opts.batch);
    opts.iters = o.iters.unwrap_or(opts.iters);
    opts.warmup = o.warmup.unwrap_or(opts.warmup);
    opts.seed = o.seed;
    opts.fused = !o.per_step;
    for (name, v) in [
        ("n", opts.n),
        ("t", opts.t),
        ("batch", opts.batch),
        ("iters", opts.iters),
    ] {
        if v == 0 {
            return Err(format!("--{name} 0 is invalid: expected at least 1"));
        }
    }
    let result = w1::run(&opts, device);
    let mut line = serde_json::to_value(&result).map_err(|e| e.to_string())?;
    let extra = json!({
        "backend": backend,
        // The fused CPU kernels split the batch over this many threads;
        // Burn's own CPU ops (flex without rayon) are single-threaded.
        "threads": if backend == "wgpu" { 1 } else { spikeburn_core::layer::host_threads() },
        "peak_rss_mb": spikeburn_bench::peak_rss_mb(),
        "git_rev": git_rev(),
    });
    if let (Value::Object(map), Value::Object(extra)) = (&mut line, extra) {
        map.extend(extra);
    }
    Ok(line.to_string())
}

fn git_rev() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

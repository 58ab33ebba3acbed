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
    /// W2: one shared P (all-to-all connectivity).
    pub shared_p: bool,
    /// W2: connection probability (1 = all-to-all).
    pub p: f64,
    /// ebn: the tensor path on the backend instead of the host path.
    pub tensor: bool,
    /// exact: the step (ms).
    pub dt: Option<f64>,
}

/// Workloads `bench` knows.
pub const WORKLOADS: [&str; 6] = ["w1-lif", "w1-alif", "w2", "sgemm", "ebn", "exact"];

/// Runs a workload on `device`; returns its JSON line.
pub fn run(
    o: &BenchOptions,
    device: &burn::prelude::Device,
    backend: &str,
) -> Result<String, String> {
    if o.dt.is_some() && o.workload != "exact" {
        return Err(format!(
            "--dt is an option of the exact workload only, not of {}",
            o.workload
        ));
    }
    let neuron = match o.workload.as_str() {
        "w1-lif" => W1Neuron::Lif,
        "w1-alif" => W1Neuron::Alif,
        "sgemm" => return Ok(sgemm(device, backend)),
        "w2" => return w2(o, device, backend),
        "ebn" => return ebn(o, device, backend),
        "exact" => return exact(o, device, backend),
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
        "threads": if backend == "wgpu" || o.per_step { 1 } else { spikeburn_core::num_threads() },
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

/// Matrix-multiply throughput of this machine, for the FLOP-bound limit of
/// W1: Burn's matmul on `device` at the shapes W1 uses and at 1024².
fn sgemm(device: &burn::prelude::Device, backend: &str) -> String {
    use burn::prelude::*;
    use burn::tensor::Distribution;
    let mut rates = serde_json::Map::new();
    for (m, k, n) in [
        (32, 256, 256),
        (32, 1024, 1024),
        (16000, 80, 256),
        (1024, 1024, 1024),
    ] {
        let a = Tensor::<2>::random([m, k], Distribution::Default, device);
        let b = Tensor::<2>::random([k, n], Distribution::Default, device);
        let _: f32 = a.clone().matmul(b.clone()).sum().into_scalar();
        let reps = (2e9 / (2.0 * (m * k * n) as f64)).clamp(3.0, 2000.0) as usize;
        let start = std::time::Instant::now();
        let mut acc = Tensor::<2>::zeros([m, n], device);
        for _ in 0..reps {
            acc = acc + a.clone().matmul(b.clone());
        }
        let _: f32 = acc.sum().into_scalar();
        let secs = start.elapsed().as_secs_f64() / reps as f64;
        rates.insert(
            format!("gflops_{m}x{k}x{n}"),
            json!((2.0 * (m * k * n) as f64 / secs / 1e9 * 10.0).round() / 10.0),
        );
    }
    json!({"workload": "sgemm", "backend": backend, "threads": 1, "git_rev": git_rev(), "matmul": rates}).to_string()
}

/// W2: RLS training of recurrent LIF dynamics.
fn w2(o: &BenchOptions, device: &burn::prelude::Device, backend: &str) -> Result<String, String> {
    let mut opts = spikeburn_bench::w2::W2Options {
        shared_p: o.shared_p,
        p: o.p,
        seed: o.seed,
        ..Default::default()
    };
    opts.n = o.n.unwrap_or(opts.n);
    if opts.n == 0 {
        return Err("--n 0 is invalid: expected at least 1 neuron".into());
    }
    let result = spikeburn_bench::w2::run(&opts, device).map_err(|e| e.to_string())?;
    let mut line = serde_json::to_value(&result).map_err(|e| e.to_string())?;
    if let Value::Object(map) = &mut line {
        map.insert("backend".into(), json!(backend));
        map.insert("peak_rss_mb".into(), json!(spikeburn_bench::peak_rss_mb()));
        map.insert("git_rev".into(), json!(git_rev()));
    }
    Ok(line.to_string())
}

/// The EBN learning step: host path, or the tensor path with `--tensor`.
fn ebn(o: &BenchOptions, device: &burn::prelude::Device, backend: &str) -> Result<String, String> {
    let n = o.n.unwrap_or(20);
    let steps = o.t.unwrap_or(200_000);
    let warmup = o.warmup.unwrap_or(1_000);
    for (name, v) in [("n", n), ("t", steps)] {
        if v == 0 {
            return Err(format!("--{name} 0 is invalid: expected at least 1"));
        }
    }
    for (name, given) in [
        ("batch", o.batch.is_some()),
        ("iters", o.iters.is_some()),
        ("shared-p", o.shared_p),
        ("per-step", o.per_step),
    ] {
        if given {
            return Err(format!(
                "--{name} is not an option of the ebn workload (it takes --n, --t, --warmup, --tensor)"
            ));
        }
    }
    let tensor = o.tensor.then_some(device);
    let result =
        spikeburn_bench::ebn::run(n, steps, warmup, o.seed, tensor).map_err(|e| e.to_string())?;
    let mut line = serde_json::to_value(&result).map_err(|e| e.to_string())?;
    if let Value::Object(map) = &mut line {
        map.insert(
            "backend".into(),
            json!(if o.tensor { backend } else { "host" }),
        );
        map.insert("git_rev".into(), json!(git_rev()));
    }
    Ok(line.to_string())
}

/// BPTT through the gated-synapse theta network (Huh & Sejnowski 2018).
fn exact(
    o: &BenchOptions,
    device: &burn::prelude::Device,
    backend: &str,
) -> Result<String, String> {
    let n = o.n.unwrap_or(80);
    let t = o.t.unwrap_or(1_000);
    let batch = o.batch.unwrap_or(32);
    let iters = o.iters.unwrap_or(3);
    let warmup = o.warmup.unwrap_or(1);
    let dt = o.dt.unwrap_or(0.05);
    for (name, v) in [("n", n), ("t", t), ("batch", batch), ("iters", iters)] {
        if v == 0 {
            return Err(format!("--{name} 0 is invalid: expected at least 1"));
        }
    }
    for (name, given) in [
        ("shared-p", o.shared_p),
        ("per-step", o.per_step),
        ("tensor", o.tensor),
    ] {
        if given {
            return Err(format!(
                "--{name} is not an option of the exact workload (it takes --n, --t, --batch, --iters, --warmup, --dt)"
            ));
        }
    }
    let result = spikeburn_bench::exact::run(n, t, batch, dt, iters, warmup, o.seed, device)
        .map_err(|e| e.to_string())?;
    let mut line = serde_json::to_value(&result).map_err(|e| e.to_string())?;
    if let Value::Object(map) = &mut line {
        map.insert("backend".into(), json!(backend));
        map.insert("git_rev".into(), json!(git_rev()));
    }
    Ok(line.to_string())
}

//! `ebn`: steps per second of an efficient balanced network while it learns
//! (Bourdoukan & Denève 2015), on the host path and on a Burn device.
//!
//! The workload (mirrored by `benches/ebn_numpy.py`): `N` neurons, `J = 2`,
//! encoder rows of norm 0.2 at angles `2π i / N`, the optimal thresholds,
//! fast weights `−0.9 (F Fᵀ + μ I)`, zero slow weights, `dt = 0.1 ms`,
//! `τ_V = τ_d = 100 ms`, `μ = 0.002`, `K = 100`, voltage noise 0.02, one
//! spike per step; input `c_t = 5 (sin 2π t/1000, cos 2π t/1000)`, target
//! `x_t = 0.5 (cos, −sin)` of the same phase; both rules on (fast:
//! `ε = 0.005, β = 1.6`; slow: `η = 0.1`). The timed loop is `steps`
//! steps after `warmup` untimed ones.

use serde::Serialize;
use spikeburn_plasticity::{
    Drive, EbnConfig, EbnWeights, FastBalance, HostEbn, SlowHebbian, TensorEbn,
};

use burn::prelude::*;
use burn::tensor::TensorData;

use crate::BenchError;

/// What one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct EbnResult {
    /// `"ebn"`.
    pub workload: &'static str,
    /// `"host"` or `"tensor"`.
    pub path: &'static str,
    /// Neurons.
    pub n: usize,
    /// Timed steps.
    pub steps: usize,
    /// Steps per second.
    pub steps_per_s: f64,
    /// Spikes in the timed steps (a checksum of the dynamics).
    pub spikes: usize,
}

fn weights(n: usize, cfg: &EbnConfig) -> Result<EbnWeights, BenchError> {
    let encoder: Vec<f32> = (0..n)
        .flat_map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            [(0.2 * a.cos()) as f32, (0.2 * a.sin()) as f32]
        })
        .collect();
    let system = [-1.0, -std::f64::consts::PI, std::f64::consts::PI, -1.0];
    let opt = EbnWeights::optimal(encoder.clone(), &system, cfg)?;
    let fast = opt.fast.iter().map(|w| 0.9 * w).collect();
    Ok(EbnWeights::untrained(encoder, fast, cfg)?)
}

fn drive(t: usize) -> ([f32; 2], [f32; 2]) {
    let p = std::f32::consts::TAU * t as f32 / 1000.0;
    (
        [5.0 * p.sin(), 5.0 * p.cos()],
        [0.5 * p.cos(), -0.5 * p.sin()],
    )
}

const FAST: FastBalance = FastBalance {
    learning_rate: 0.005,
    beta: 1.6,
    cost: 0.002,
};
const SLOW: SlowHebbian = SlowHebbian {
    learning_rate: 0.1,
    decay: 0.0,
};

/// Runs the workload on the host path (`device = None`) or the tensor path.
pub fn run(
    n: usize,
    steps: usize,
    warmup: usize,
    seed: u64,
    device: Option<&Device>,
) -> Result<EbnResult, BenchError> {
    let cfg = EbnConfig::new(n, 2);
    let w = weights(n, &cfg)?;
    let mut spikes = 0;
    let elapsed = match device {
        None => {
            let mut net = HostEbn::new(&cfg, w, seed)?;
            let mut start = std::time::Instant::now();
            for t in 0..warmup + steps {
                if t == warmup {
                    start = std::time::Instant::now();
                }
                let (c, x) = drive(t);
                let k = net.step(
                    Drive {
                        input: &c,
                        target: Some(&x),
                    },
                    &FAST,
                    &SLOW,
                )?;
                if t >= warmup {
                    spikes += k;
                }
            }
            start.elapsed()
        }
        Some(device) => {
            device.seed(seed);
            let mut net = TensorEbn::new(&cfg, &w, device)?;
            let row =
                |v: [f32; 2]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [1, 2]), device);
            let mut count = Tensor::<2>::zeros([1, n], device);
            let mut start = std::time::Instant::now();
            for t in 0..warmup + steps {
                if t == warmup {
                    let _: f32 = count.clone().sum().into_scalar();
                    count = Tensor::zeros([1, n], device);
                    start = std::time::Instant::now();
                }
                let (c, x) = drive(t);
                let s = net.step(row(c), Some(row(x)), &FAST, &SLOW)?;
                count = count + s;
            }
            let total: f32 = count.sum().into_scalar();
            spikes = total.round() as usize;
            start.elapsed()
        }
    };
    Ok(EbnResult {
        workload: "ebn",
        path: if device.is_some() { "tensor" } else { "host" },
        n,
        steps,
        steps_per_s: (steps as f64 / elapsed.as_secs_f64()).round(),
        spikes,
    })
}

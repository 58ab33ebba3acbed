//! `exact`: one BPTT iteration (forward + backward) through the
//! gated-synapse theta network of Huh & Sejnowski 2018 by plain autodiff.
//!
//! Workload: `n` neurons, 2 inputs, 2 outputs, `t` steps of `dt` ms
//! (0.05 by default; the configuration check of a 0.6-rad gate at
//! τ = 10 ms allows up to 0.375; the experiments use 0.25 and 0.5), batch
//! `batch`, Gaussian input,
//! MSE loss of the readout against a random target; weights from the
//! device generator seeded with `seed`. Reports seconds per iteration
//! (median of `iters` after `warmup`), per step, and the peak RSS.

use burn::prelude::*;
use burn::tensor::Distribution;
use serde::Serialize;
use spikeburn_core::layer::{GatedThetaConfig, Record};

use crate::BenchError;

/// What one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct ExactResult {
    /// `"exact"`.
    pub workload: &'static str,
    /// Neurons.
    pub n: usize,
    /// Steps.
    pub t: usize,
    /// Batch.
    pub batch: usize,
    /// Step (ms).
    pub dt_ms: f64,
    /// Median seconds per iteration (forward + backward).
    pub sec_per_iter: f64,
    /// The same per step, in microseconds.
    pub us_per_step: f64,
    /// Spikes (gate crossings) in the last iteration.
    pub spikes: f64,
    /// Peak resident set of the process, MB.
    pub peak_rss_mb: Option<f64>,
}

/// Runs the workload on `device` (made autodiff here).
#[allow(clippy::too_many_arguments)]
pub fn run(
    n: usize,
    t: usize,
    batch: usize,
    dt_ms: f64,
    iters: usize,
    warmup: usize,
    seed: u64,
    device: &Device,
) -> Result<ExactResult, BenchError> {
    let device = device.clone().autodiff();
    device.seed(seed);
    let net = GatedThetaConfig::new(2, n, 2)
        .with_dt(dt_ms)
        .with_zone_width(0.6)
        .with_bias(0.6)
        .init(&device)
        .map_err(|e| BenchError::InvalidOption {
            option: "n or dt",
            value: format!("{n} neurons, dt {dt_ms} ms"),
            expected: e.to_string(),
        })?;
    let x = Tensor::<3>::random([t, batch, 2], Distribution::Normal(0.0, 1.0), &device);
    let target = Tensor::<3>::random([t, batch, 2], Distribution::Normal(0.0, 1.0), &device);
    let mut times = Vec::with_capacity(iters);
    let mut spikes = 0.0;
    for i in 0..warmup + iters {
        let start = std::time::Instant::now();
        let out = net
            .try_forward_sequence(x.clone(), None, Record::spikes())
            .map_err(|e| BenchError::Readback {
                what: "the gated run",
                message: e.to_string(),
            })?;
        let loss = (out.output - target.clone()).powf_scalar(2.0).mean();
        let grads = loss.backward();
        let g = net.recurrent_weights.grad(&grads);
        let _: f32 = g.map_or(0.0, |g| g.sum().into_scalar());
        if i >= warmup {
            times.push(start.elapsed().as_secs_f64());
        }
        spikes = out.trace.spikes.sum().into_scalar::<f32>() as f64;
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    Ok(ExactResult {
        workload: "exact",
        n,
        t,
        batch,
        dt_ms,
        sec_per_iter: (median * 1e4).round() / 1e4,
        us_per_step: (median / t as f64 * 1e7).round() / 10.0,
        spikes,
        peak_rss_mb: crate::peak_rss_mb(),
    })
}

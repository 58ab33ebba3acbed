//! W2: RLS training of recurrent weights, Kim & Chow 2018 style
//! (`shared/bench/WORKLOADS.md`): `N` LIF neurons, every neuron's synaptic
//! drive `u_i = w_i · r` trained by RLS to follow `A sin(2πt/200 ms + φ_i)`.
//!
//! The network state (membranes, spikes, filtered rates) is simulated in host
//! memory. On CPU backends the weights and `P` stay there too and
//! [`spikeburn_plasticity::HostRls`] updates them; on other backends they
//! are Burn tensors updated by [`spikeburn_plasticity::Rls`].

use burn::prelude::*;
use burn::tensor::TensorData;
use serde::Serialize;
use spikeburn_core::layer::is_host_device;
use spikeburn_plasticity::{HostRls, PresynapticSets, Rls, RlsConfig};
use std::time::Instant;

use crate::BenchError;
use crate::splitmix::{uniform, uniform_weights};

/// The knobs of W2 (defaults: the spec's, all-to-all).
#[derive(Clone, Debug, Serialize)]
pub struct W2Options {
    /// Neurons.
    pub n: usize,
    /// One `P` for all neurons (valid for all-to-all connectivity).
    pub shared_p: bool,
    /// Connection probability: 1 = all-to-all with autapses (`K = N`);
    /// below 1, `K = round(p (N − 1))` presynaptic partners per neuron.
    pub p: f64,
    /// SplitMix64 seed.
    pub seed: u64,
    /// Training epochs (200 ms each).
    pub train_epochs: usize,
}

impl Default for W2Options {
    fn default() -> Self {
        Self {
            n: 500,
            shared_p: true,
            p: 1.0,
            seed: 1234,
            train_epochs: 5,
        }
    }
}

/// The spec's reported fields.
#[derive(Clone, Debug, Serialize)]
pub struct W2Result {
    /// `w2`.
    pub workload: String,
    /// Neurons.
    pub n: usize,
    /// Shared or per-neuron `P`.
    pub shared_p: bool,
    /// Connection probability.
    pub p: f64,
    /// Plastic inputs per neuron.
    pub k: usize,
    /// Threads an RLS update uses.
    pub threads: usize,
    /// Training wall time per simulated second (simulation + RLS).
    pub sec_per_sim_sec: f64,
    /// Mean wall time of one RLS update (all neurons).
    pub sec_per_rls_update: f64,
    /// Settle + test phases per simulated second.
    pub sec_per_sim_sec_no_rls: f64,
    /// Mean `(u − f)²` of the first training epoch.
    pub mse_first_epoch: f64,
    /// Of the last training epoch.
    pub mse_last_epoch: f64,
    /// Every training epoch.
    pub mse_per_epoch: Vec<f64>,
    /// Of the free-running test epoch.
    pub mse_test: f64,
    /// Firing rate during training.
    pub rate_hz_train: f64,
    /// Memory of `P` in MB.
    pub p_mem_mb: f64,
    /// No NaN/Inf in weights and `P`.
    pub finite: bool,
}

/// Runs W2 on `device` (a non-autodiff device).
pub fn run(opts: &W2Options, device: &Device) -> Result<W2Result, BenchError> {
    let (n, seed) = (opts.n, opts.seed);
    if !(opts.p > 0.0 && opts.p <= 1.0) {
        return Err(BenchError::InvalidOption {
            option: "p",
            value: opts.p.to_string(),
            expected: "a connection probability 0 < p <= 1".into(),
        });
    }
    let sets = presynaptic_sets(n, opts.p, seed)?;
    if sets.is_some() && opts.shared_p {
        return Err(BenchError::InvalidOption {
            option: "shared-p",
            value: format!("with --p {}", opts.p),
            expected: "all-to-all connectivity (p = 1): with p < 1 every neuron has its own set"
                .into(),
        });
    }
    // p = 1: every neuron sees all N, autapse included.
    let k = sets.as_ref().map_or(n, |s| s.width);
    let (dt, tau_m, v_th, period, amp) = (1.0f64, 10.0f64, 1.0f32, 200usize, 0.5f64);
    let d_s = (-dt / 50.0f64).exp() as f32;
    let leak = (dt / tau_m) as f32;
    let bias: Vec<f32> = (0..n as u64)
        .map(|i| (0.9 + 0.2 * uniform(seed, 12, i)) as f32)
        .collect();
    let phase: Vec<f64> = (0..n as u64)
        .map(|i| 2.0 * std::f64::consts::PI * uniform(seed, 13, i))
        .collect();
    let mut v: Vec<f32> = (0..n as u64)
        .map(|i| uniform(seed, 14, i) as f32 * v_th)
        .collect();
    let mut r = vec![0f32; n];
    let mut spiked: Vec<usize> = Vec::with_capacity(n);
    let w0 = uniform_weights(seed, 11, n * k, 1.0 / (k as f64).sqrt());
    let mut learner = if is_host_device(device) {
        Learner::Host {
            w: w0,
            rls: HostRls::new(n, k, 1.0, opts.shared_p)?,
        }
    } else {
        Learner::Device {
            w: Tensor::<2>::from_data(TensorData::new(w0, [n, k]), device),
            rls: Box::new(
                RlsConfig::new(n, k)
                    .with_lambda(1.0)
                    .with_shared_p(opts.shared_p)
                    .init(device)?,
            ),
        }
    };
    // Host, all-to-all: keep u = W r up to date incrementally, O(N × spikes)
    // per step instead of O(N K) (spikes are sparse; the weights change by
    // rank-1 steps whose effect on u is known).
    let mut drive: Option<Vec<f64>> =
        (sets.is_none() && matches!(learner, Learner::Host { .. })).then(|| vec![0f64; n]);
    let (settle, train, test) = (period, opts.train_epochs * period, period);
    let total = settle + train + test;
    let mut mse_epochs = vec![];
    let (mut epoch_sum, mut spikes_train) = (0f64, 0usize);
    let (mut t_train, mut t_other, mut t_rls, mut updates) = (0f64, 0f64, 0f64, 0usize);
    for step in 0..total {
        let start = Instant::now();
        let training = step >= settle && step < settle + train;
        let measured = step >= settle;
        if let (Some(acc), Learner::Host { w, .. }) = (&mut drive, &learner)
            && step % 100 == 0
        {
            // Re-synchronise with an exact W r now and then (bounds rounding drift).
            exact_drive(acc, w, &r);
        }
        let u = match &drive {
            Some(acc) => acc.iter().map(|x| *x as f32).collect(),
            None => learner.drive(&r, sets.as_ref(), device)?,
        };
        if measured {
            let t = step as f64 * dt;
            let f: Vec<f32> = phase
                .iter()
                .map(|ph| {
                    (amp * (2.0 * std::f64::consts::PI * t / period as f64 + ph).sin()) as f32
                })
                .collect();
            epoch_sum += u
                .iter()
                .zip(&f)
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                / n as f64;
            if training && (step - settle) % 2 == 0 {
                let t0 = Instant::now();
                let e: Vec<f32> = u.iter().zip(&f).map(|(a, b)| a - b).collect();
                learner.learn(&r, &e, sets.as_ref(), opts.shared_p, device)?;
                if let (Some(acc), Learner::Host { w, rls }) = (&mut drive, &learner) {
                    match rls.last_gain() {
                        // Shared P: W changed by −c e kᵀ, so u changes by −c e (k·r).
                        Some((c, kv)) => {
                            let kr = spikeburn_plasticity::rls_host::dot(kv, &r);
                            for (a, ei) in acc.iter_mut().zip(&e) {
                                *a -= (c * ei) as f64 * kr;
                            }
                        }
                        None => exact_drive(acc, w, &r),
                    }
                }
                t_rls += t0.elapsed().as_secs_f64();
                updates += 1;
            }
            if (step - settle + 1) % period == 0 {
                mse_epochs.push(epoch_sum / period as f64);
                epoch_sum = 0.0;
            }
        }
        spiked.clear();
        for i in 0..n {
            v[i] += leak * (bias[i] + u[i] - v[i]);
            let z = v[i] > v_th;
            if z {
                v[i] = 0.0;
                if training {
                    spikes_train += 1;
                }
            }
            r[i] = d_s * r[i] + z as u8 as f32;
            if z {
                spiked.push(i);
            }
        }
        if let (Some(acc), Learner::Host { w, .. }) = (&mut drive, &learner) {
            // r ← d_s r + z, so W r ← d_s W r + Σ_{j spiked} W[:, j].
            for (a, row) in acc.iter_mut().zip(w.chunks_exact(k)) {
                *a = d_s as f64 * *a + spiked.iter().map(|j| row[*j] as f64).sum::<f64>();
            }
        }
        let secs = start.elapsed().as_secs_f64();
        if training {
            t_train += secs;
        } else {
            t_other += secs;
        }
    }
    let finite = learner.finite();
    let p_entries = if opts.shared_p { k * k } else { n * k * k };
    Ok(W2Result {
        workload: "w2".into(),
        n,
        shared_p: opts.shared_p,
        p: opts.p,
        k,
        threads: match &learner {
            Learner::Host { rls, .. } => rls.update_threads(),
            Learner::Device { .. } => 1,
        },
        sec_per_sim_sec: t_train / (train as f64 * dt / 1000.0),
        sec_per_rls_update: t_rls / updates.max(1) as f64,
        sec_per_sim_sec_no_rls: t_other / ((settle + test) as f64 * dt / 1000.0),
        mse_first_epoch: mse_epochs[0],
        mse_last_epoch: mse_epochs[opts.train_epochs - 1],
        mse_test: *mse_epochs.last().unwrap(),
        mse_per_epoch: mse_epochs[..opts.train_epochs].to_vec(),
        rate_hz_train: spikes_train as f64 / n as f64 / (train as f64 * dt / 1000.0),
        p_mem_mb: p_entries as f64 * 4.0 / 1e6,
        finite,
    })
}

/// `acc_i = w_i · r` in f64 (all-to-all weights `[N][N]`).
fn exact_drive(acc: &mut [f64], w: &[f32], r: &[f32]) {
    for (a, row) in acc.iter_mut().zip(w.chunks_exact(r.len())) {
        *a = spikeburn_plasticity::rls_host::dot(row, r);
    }
}

/// `[N][K]` regressors `r[J_i]` (`None` for all-to-all: every row is `r`).
fn regressors(r: &[f32], sets: Option<&PresynapticSets>) -> Option<Vec<f32>> {
    sets.map(|s| {
        let mut q = vec![0f32; s.neurons * s.width];
        s.gather(r, &mut q);
        q
    })
}

/// The spec's presynaptic sets for `p < 1` (SplitMix64 stream 15): `J_i` =
/// the `K = round(p (N − 1))` indices `j ≠ i` with the smallest keys
/// `U(i N + j)`, ascending. `None` for `p = 1`.
pub fn presynaptic_sets(
    n: usize,
    p: f64,
    seed: u64,
) -> Result<Option<PresynapticSets>, BenchError> {
    if p >= 1.0 {
        return Ok(None);
    }
    let k = (p * (n as f64 - 1.0)).round() as usize;
    if k == 0 {
        return Err(BenchError::InvalidOption {
            option: "p",
            value: p.to_string(),
            expected: format!(
                "p (N − 1) >= 0.5 with N = {n}, so that every neuron keeps a presynaptic partner"
            ),
        });
    }
    let lists = (0..n)
        .map(|i| {
            let mut keyed: Vec<(f64, u32)> = (0..n)
                .filter(|j| *j != i)
                .map(|j| (uniform(seed, 15, (i * n + j) as u64), j as u32))
                .collect();
            keyed.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
            keyed[..k].iter().map(|(_, j)| *j).collect()
        })
        .collect();
    Ok(Some(PresynapticSets::from_lists(n, lists)?))
}

/// Weights and RLS state, in host memory or on the device.
enum Learner {
    Host { w: Vec<f32>, rls: HostRls },
    Device { w: Tensor<2>, rls: Box<Rls> },
}

impl Learner {
    /// `u_i = Σ_k w[i][k] r[J_i(k)]` (`J_i` = all neurons when `sets` is `None`).
    fn drive(
        &self,
        r: &[f32],
        sets: Option<&PresynapticSets>,
        device: &Device,
    ) -> Result<Vec<f32>, BenchError> {
        let q = regressors(r, sets);
        match self {
            Self::Host { w, .. } => {
                let k = w.len() / r.len();
                let dots = |q: &[f32]| -> Vec<f32> {
                    w.chunks_exact(k)
                        .zip(q.chunks_exact(k).cycle())
                        .map(|(row, qi)| spikeburn_plasticity::rls_host::dot(row, qi) as f32)
                        .collect()
                };
                Ok(dots(q.as_deref().unwrap_or(r)))
            }
            Self::Device { w, .. } => {
                let [n, k] = w.dims();
                let u = match q {
                    None => {
                        let r_t =
                            Tensor::<2>::from_data(TensorData::new(r.to_vec(), [k, 1]), device);
                        w.clone().matmul(r_t)
                    }
                    Some(q) => {
                        let q_t = Tensor::<2>::from_data(TensorData::new(q, [n, k]), device);
                        (w.clone() * q_t).sum_dim(1)
                    }
                };
                u.into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .map_err(|e| BenchError::Readback {
                        what: "the synaptic drive",
                        message: format!("{e:?}"),
                    })
            }
        }
    }

    /// One RLS update with regressors `r[J_i]` and errors `e`.
    fn learn(
        &mut self,
        r: &[f32],
        e: &[f32],
        sets: Option<&PresynapticSets>,
        shared: bool,
        device: &Device,
    ) -> Result<(), BenchError> {
        let n = e.len();
        let q =
            regressors(r, sets).unwrap_or_else(|| if shared { r.to_vec() } else { r.repeat(n) });
        match self {
            Self::Host { w, rls } => Ok(rls.update(w, &q, e)?),
            Self::Device { w, rls } => {
                let k = w.dims()[1];
                let rows = if shared { 1 } else { n };
                let q = Tensor::<2>::from_data(TensorData::new(q, [rows, k]), device);
                let e = Tensor::<1>::from_data(TensorData::new(e.to_vec(), [n]), device);
                *w = rls.update(w.clone(), q, e)?;
                Ok(())
            }
        }
    }

    fn finite(&self) -> bool {
        match self {
            Self::Host { w, rls } => w.iter().chain(&rls.p).all(|v| v.is_finite()),
            Self::Device { w, rls } => {
                w.clone().is_finite().all().into_scalar::<bool>()
                    && rls.p.clone().is_finite().all().into_scalar::<bool>()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_sets_follow_the_spec_and_train() {
        let sets = presynaptic_sets(50, 0.1, 1234).unwrap().unwrap();
        assert_eq!(sets.width, 5); // round(0.1 · 49)
        for i in 0..50 {
            let set = &sets.index[i * 5..(i + 1) * 5];
            assert!(!set.contains(&(i as u32)) && set.windows(2).all(|w| w[0] < w[1]));
            // The K smallest keys U(i N + j) over j ≠ i.
            let mut keyed: Vec<(f64, u32)> = (0..50)
                .filter(|j| *j != i)
                .map(|j| (uniform(1234, 15, (i * 50 + j) as u64), j as u32))
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut want: Vec<u32> = keyed[..5].iter().map(|k| k.1).collect();
            want.sort_unstable();
            assert_eq!(set, want.as_slice());
        }
        assert!(presynaptic_sets(50, 1.0, 1234).unwrap().is_none());
        let opts = W2Options {
            n: 200,
            p: 0.1,
            shared_p: false,
            ..W2Options::default()
        };
        let r = run(&opts, &Device::default()).unwrap();
        assert!(r.finite && r.k == 20);
        assert!(
            r.mse_last_epoch < 0.1 * r.mse_first_epoch,
            "{:?}",
            r.mse_per_epoch
        );
        let shared = W2Options {
            shared_p: true,
            ..opts
        };
        assert!(
            run(&shared, &Device::default())
                .unwrap_err()
                .to_string()
                .contains("--shared-p")
        );
    }

    /// The spec's numpy reference (shared P, N = 500, seed 1234).
    #[test]
    fn shared_p_matches_the_reference_errors() {
        let r = run(&W2Options::default(), &Device::default()).unwrap();
        assert!(r.finite);
        for (got, want) in [(r.mse_first_epoch, 4.135199), (r.mse_last_epoch, 0.005719)] {
            assert!(
                (got - want).abs() <= 0.02 * want,
                "mse {got} vs reference {want}"
            );
        }
        assert!(
            (r.rate_hz_train - 35.67).abs() < 0.5,
            "rate {}",
            r.rate_hz_train
        );
    }
}

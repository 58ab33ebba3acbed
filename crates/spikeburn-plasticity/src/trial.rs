//! The stimulus protocol of Kim & Chow 2018 and one trial of it, with or
//! without RLS learning.

use serde::{Deserialize, Serialize};
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;

use crate::PlasticityError;
use crate::network::DriveNetwork;
use crate::presynaptic::PresynapticSets;
use crate::rls::{Rls, RlsConfig};
use crate::rls_host::HostRls;

/// A non-gradient optimizer of a [`DriveNetwork`]'s `[N][K]` weights: one
/// step from the regressors `q` (`[N][K]`) and a-priori errors (`[N]`).
pub trait DriveOptimizer {
    /// Updates `weights` in place.
    fn update(
        &mut self,
        weights: &mut [f32],
        q: &[f32],
        error: &[f32],
    ) -> Result<(), PlasticityError>;
    /// Weights removed from training by a sign constraint.
    fn frozen_count(&self) -> usize {
        0
    }
}

impl DriveOptimizer for HostRls {
    fn update(
        &mut self,
        weights: &mut [f32],
        q: &[f32],
        error: &[f32],
    ) -> Result<(), PlasticityError> {
        HostRls::update(self, weights, q, error)
    }
    fn frozen_count(&self) -> usize {
        HostRls::frozen_count(self)
    }
}

/// [`Rls`] on a Burn device (e.g. a GPU) driving a host-simulated network:
/// `P` stays on the device; the weights and regressors cross once per
/// update (`O(N K)`, small next to the `O(N K²)` update).
pub struct DeviceRls {
    /// The tensor RLS state.
    pub rls: Rls,
    device: Device,
    neurons: usize,
    width: usize,
    in_sets: usize,
}

impl DeviceRls {
    /// Per-neuron `P` over `sets` (plastic mask = the sets), `P(0) = I/λ`,
    /// optionally with Dale's law on the signs of `weights`.
    pub fn new(
        sets: &PresynapticSets,
        lambda: f64,
        weights: Option<&[f32]>,
        device: &Device,
    ) -> Result<Self, PlasticityError> {
        let (n, k) = (sets.neurons, sets.width);
        let mask = Tensor::<2>::from_data(TensorData::new(sets.mask(), [n, k]), device);
        let mut rls = RlsConfig::new(n, k)
            .with_lambda(lambda)
            .init(device)?
            .with_plastic_mask(mask)?;
        if let Some(w) = weights {
            let w = Tensor::<2>::from_data(TensorData::new(w.to_vec(), [n, k]), device);
            rls = rls.with_sign_constraint(&w)?;
        }
        Ok(Self {
            rls,
            device: device.clone(),
            neurons: n,
            width: k,
            in_sets: sets.len.iter().sum(),
        })
    }
}

impl DriveOptimizer for DeviceRls {
    fn update(
        &mut self,
        weights: &mut [f32],
        q: &[f32],
        error: &[f32],
    ) -> Result<(), PlasticityError> {
        let (n, k) = (self.neurons, self.width);
        let upload = |v: &[f32], shape: Vec<usize>| TensorData::new(v.to_vec(), shape);
        let w = Tensor::<2>::from_data(upload(weights, vec![n, k]), &self.device);
        let q = Tensor::<2>::from_data(upload(q, vec![n, k]), &self.device);
        let e = Tensor::<1>::from_data(upload(error, vec![n]), &self.device);
        let w = self.rls.update(w, q, e)?;
        let host = w
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| {
                PlasticityError::Numerical(format!("cannot read the weights back: {e:?}"))
            })?;
        weights.copy_from_slice(&host);
        Ok(())
    }
    fn frozen_count(&self) -> usize {
        // The mask starts as the sets; Dale's law zeroes frozen entries.
        self.rls.plastic_mask().map_or(0, |m| {
            self.in_sets - m.clone().sum().into_scalar::<f32>().round() as usize
        })
    }
}

/// One trial: a free run from the current state, a constant stimulus that
/// sets the network's initial condition, then the window in which the drive
/// is trained (or measured). Steps of the network's `dt`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Protocol {
    /// Free-running steps before the stimulus.
    pub settle_steps: usize,
    /// Steps of constant stimulus.
    pub stimulus_steps: usize,
    /// Steps of the trained / measured window.
    pub window_steps: usize,
    /// An RLS update every this many steps of the window (Kim & Chow's Δt).
    pub update_every: usize,
}

/// What RLS makes follow the target.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrainedSignal {
    /// The synaptic drive `u_i` follows `f_i` (error `u_i − f_i`, regressor `r`).
    Drive,
    /// The quasi-static rate `φ₂(u_i + bias_i)` follows a rate target `R_i`,
    /// with `φ₂(x) = √(c ln(1 + e^{x/c}))/π` and the regressor `φ₂'(x_i) r`;
    /// a neuron is updated only while its input is suprathreshold (`x_i > 0`).
    Rate {
        /// Smoothing `c` of φ₂ (Kim & Chow: 0.1).
        c: f64,
    },
}

/// `φ₂(x)` and `φ₂'(x)` for smoothing `c`.
pub fn smooth_rate(x: f64, c: f64) -> (f64, f64) {
    // ln(1 + e^{x/c}) without overflow.
    let z = x / c;
    let softplus = if z > 30.0 { z } else { z.exp().ln_1p() };
    let sigmoid = 1.0 / (1.0 + (-z).exp());
    let root = (c * softplus).max(1e-300).sqrt();
    (
        root / std::f64::consts::PI,
        sigmoid / (2.0 * std::f64::consts::PI * root),
    )
}

/// RLS learning during a trial's window.
pub struct Learner<'a> {
    /// The optimizer (per-neuron `P` over the network's presynaptic sets).
    pub rls: &'a mut dyn DriveOptimizer,
    /// What is trained.
    pub signal: TrainedSignal,
    /// Targets `[window][N]`.
    pub targets: &'a [f32],
}

/// What a trial recorded in its window.
#[derive(Clone, Debug, Default)]
pub struct TrialRecord {
    /// Synaptic drive `[window][N]`.
    pub drive: Vec<f32>,
    /// Filtered spike trains `[window][N]` (units of 1/τ_m).
    pub rate: Vec<f32>,
    /// Spikes in the window.
    pub spikes: usize,
    /// `(step, neuron)` of the window's spikes of the first neurons asked for.
    pub raster: Vec<(u32, u32)>,
    /// RLS updates done.
    pub updates: usize,
    /// Wall time in RLS updates.
    pub rls_seconds: f64,
    /// Wall time of the whole trial.
    pub seconds: f64,
}

impl TrialRecord {
    /// Mean firing rate in the window, Hz, for a step of `dt_ms`.
    pub fn rate_hz(&self, neurons: usize, dt_ms: f64) -> f64 {
        let steps = self.drive.len() / neurons.max(1);
        self.spikes as f64 / neurons as f64 / (steps as f64 * dt_ms / 1000.0)
    }
}

/// Runs one trial from the network's current state. With a `learner`, RLS
/// updates the weights every `update_every` steps of the window from the
/// a-priori error against `targets`. Records the first `raster_neurons`
/// neurons' spikes.
pub fn run_trial(
    net: &mut DriveNetwork,
    protocol: &Protocol,
    stimulus: &[f32],
    mut learner: Option<Learner<'_>>,
    raster_neurons: usize,
) -> Result<TrialRecord, PlasticityError> {
    let n = net.neurons();
    let start = Instant::now();
    if stimulus.len() != n {
        return Err(PlasticityError::Shape(format!(
            "stimulus has {} amplitudes, expected one per neuron ({n})",
            stimulus.len()
        )));
    }
    if protocol.update_every == 0 || protocol.window_steps == 0 {
        return Err(PlasticityError::Config(format!(
            "protocol needs window_steps >= 1 and update_every >= 1, got {} and {}",
            protocol.window_steps, protocol.update_every
        )));
    }
    if let Some(l) = &learner
        && l.targets.len() != protocol.window_steps * n
    {
        return Err(PlasticityError::Shape(format!(
            "targets have {} values, expected window_steps × N = {}",
            l.targets.len(),
            protocol.window_steps * n
        )));
    }
    for _ in 0..protocol.settle_steps {
        net.step(None);
    }
    for _ in 0..protocol.stimulus_steps {
        net.step(Some(stimulus));
    }
    let mut rec = TrialRecord {
        drive: Vec::with_capacity(protocol.window_steps * n),
        rate: Vec::with_capacity(protocol.window_steps * n),
        ..Default::default()
    };
    let k = net.sets.width;
    let mut q = vec![0f32; if learner.is_some() { n * k } else { 0 }];
    let mut error = vec![0f32; n];
    for t in 0..protocol.window_steps {
        rec.spikes += net.step(None);
        for (i, z) in net.spikes()[..raster_neurons.min(n)].iter().enumerate() {
            if *z {
                rec.raster.push((t as u32, i as u32));
            }
        }
        if let Some(l) = learner.as_mut()
            && (t + 1) % protocol.update_every == 0
        {
            let t0 = Instant::now();
            let f = &l.targets[t * n..(t + 1) * n];
            net.sets.gather(&net.rate, &mut q);
            match l.signal {
                TrainedSignal::Drive => {
                    for ((e, u), fv) in error.iter_mut().zip(&net.drive).zip(f) {
                        *e = u - fv;
                    }
                }
                TrainedSignal::Rate { c } => {
                    for i in 0..n {
                        let x = (net.drive[i] + net.bias[i]) as f64;
                        let q_i = &mut q[i * k..(i + 1) * k];
                        if x > 0.0 {
                            let (phi, slope) = smooth_rate(x, c);
                            error[i] = (phi - f[i] as f64) as f32;
                            q_i.iter_mut().for_each(|v| *v *= slope as f32);
                        } else {
                            error[i] = 0.0;
                            q_i.fill(0.0); // q = 0: P and w_i unchanged
                        }
                    }
                }
            }
            l.rls.update(&mut net.weights, &q, &error)?;
            net.refresh_drive();
            rec.updates += 1;
            rec.rls_seconds += t0.elapsed().as_secs_f64();
        }
        rec.drive.extend_from_slice(&net.drive);
        rec.rate.extend_from_slice(&net.rate);
    }
    rec.seconds = start.elapsed().as_secs_f64();
    Ok(rec)
}

/// Pearson correlation of each neuron's column of `a` and `b` (`[T][N]`),
/// and their mean. A constant column has no defined correlation and counts
/// as 0.
pub fn pearson_per_neuron(a: &[f32], b: &[f32], neurons: usize) -> (f64, Vec<f64>) {
    let steps = a.len() / neurons;
    let per: Vec<f64> = (0..neurons)
        .map(|i| {
            let (mut sa, mut sb) = (0f64, 0f64);
            for t in 0..steps {
                sa += a[t * neurons + i] as f64;
                sb += b[t * neurons + i] as f64;
            }
            let (ma, mb) = (sa / steps as f64, sb / steps as f64);
            let (mut cov, mut va, mut vb) = (0f64, 0f64, 0f64);
            for t in 0..steps {
                let (x, y) = (
                    a[t * neurons + i] as f64 - ma,
                    b[t * neurons + i] as f64 - mb,
                );
                cov += x * y;
                va += x * x;
                vb += y * y;
            }
            if va > 0.0 && vb > 0.0 {
                cov / (va * vb).sqrt()
            } else {
                0.0
            }
        })
        .collect();
    let mean = per.iter().sum::<f64>() / neurons.max(1) as f64;
    (mean, per)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{DriveNetworkConfig, DriveNeuron, gaussian_weights};
    use crate::presynaptic::PresynapticSets;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn device_rls_matches_host_rls_over_sets_with_dale() {
        let mut rng = StdRng::seed_from_u64(9);
        let sets = PresynapticSets::bernoulli(12, 0.4, &mut rng).unwrap();
        let (n, k) = (sets.neurons, sets.width);
        let w0: Vec<f32> = sets
            .mask()
            .iter()
            .enumerate()
            .map(|(x, m)| m * if x % 4 == 0 { -0.05 } else { 0.05 })
            .collect();
        let mut host = HostRls::new(n, k, 1.0, false)
            .unwrap()
            .with_lengths(sets.len.clone())
            .unwrap()
            .with_sign_constraint(&w0)
            .unwrap();
        let mut device = DeviceRls::new(&sets, 1.0, Some(&w0), &Device::default()).unwrap();
        let (mut wh, mut wd) = (w0.clone(), w0.clone());
        let mut q = vec![0f32; n * k];
        for _ in 0..40 {
            let r: Vec<f32> = (0..n)
                .map(|_| rand::RngExt::random::<f32>(&mut rng))
                .collect();
            sets.gather(&r, &mut q);
            let e: Vec<f32> = (0..n)
                .map(|_| rand::RngExt::random_range(&mut rng, -2.0..2.0))
                .collect();
            DriveOptimizer::update(&mut host, &mut wh, &q, &e).unwrap();
            device.update(&mut wd, &q, &e).unwrap();
        }
        for (a, b) in wh.iter().zip(&wd) {
            assert!((a - b).abs() < 1e-3, "host {a} vs device {b}");
        }
        assert!(DriveOptimizer::frozen_count(&host) > 0);
        assert_eq!(DriveOptimizer::frozen_count(&host), device.frozen_count());
    }

    #[test]
    fn pearson_and_smooth_rate_match_hand_values() {
        let a = [1.0f32, 10.0, 2.0, 20.0, 3.0, 30.0];
        let b = [2.0f32, -1.0, 4.0, -2.0, 6.0, -3.0];
        let (mean, per) = pearson_per_neuron(&a, &b, 2);
        assert!((per[0] - 1.0).abs() < 1e-12 && (per[1] + 1.0).abs() < 1e-12);
        assert!(mean.abs() < 1e-12);
        // φ₂ → √x/π for x ≫ c, and its derivative matches a finite difference.
        let (phi, _) = smooth_rate(4.0, 0.1);
        assert!((phi - 2.0 / std::f64::consts::PI).abs() < 1e-6);
        let (p1, _) = smooth_rate(0.3 + 1e-6, 0.1);
        let (p0, _) = smooth_rate(0.3 - 1e-6, 0.1);
        let (_, slope) = smooth_rate(0.3, 0.1);
        assert!(((p1 - p0) / 2e-6 - slope).abs() < 1e-6);
    }

    /// A small theta network, and a LIF one (Kim & Chow's supplement), learn
    /// sinusoidal drive targets: the mean correlation of a fresh trial after
    /// training is high and far above the untrained network's.
    #[test]
    fn rls_makes_the_drive_follow_sine_targets() {
        learns_sines(DriveNeuron::Theta { tau_mem: 10.0 }, 0.0);
        let lif = DriveNeuron::Lif {
            tau_mem: 10.0,
            threshold: 1.0,
            reset: 0.0,
        };
        learns_sines(lif, 0.9);
    }

    fn learns_sines(neuron: DriveNeuron, bias: f32) {
        let mut rng = StdRng::seed_from_u64(5);
        let n = 60;
        let sets = PresynapticSets::bernoulli(n, 0.3, &mut rng).unwrap();
        let w = gaussian_weights(&sets, 4.0, true, &mut rng);
        let config = DriveNetworkConfig {
            neuron,
            dt: 1.0,
            tau_syn: 20.0,
        };
        let mut net = DriveNetwork::new(&config, sets.clone(), w, vec![bias; n]).unwrap();
        let protocol = Protocol {
            settle_steps: 0,
            stimulus_steps: 50,
            window_steps: 500,
            update_every: 2,
        };
        let stim: Vec<f32> = (0..n)
            .map(|_| rand::RngExt::random_range(&mut rng, -1.0..1.0))
            .collect();
        let phases: Vec<f64> = (0..n).map(|i| i as f64 * 0.7).collect();
        let targets: Vec<f32> = (0..protocol.window_steps)
            .flat_map(|t| {
                phases.iter().map(move |ph| {
                    (2.0 * (t as f64 * 2.0 * std::f64::consts::PI / 250.0 + ph).sin()) as f32
                })
            })
            .collect();
        let evaluate = |net: &mut DriveNetwork, rng: &mut StdRng| {
            net.randomise_state(rng);
            let rec = run_trial(net, &protocol, &stim, None, 0).unwrap();
            pearson_per_neuron(&targets, &rec.drive, n).0
        };
        let before = evaluate(&mut net, &mut rng);
        let mut rls = HostRls::new(n, sets.width, 1.0, false)
            .unwrap()
            .with_lengths(sets.len.clone())
            .unwrap();
        for _ in 0..15 {
            net.randomise_state(&mut rng);
            let learner = Learner {
                rls: &mut rls,
                signal: TrainedSignal::Drive,
                targets: &targets,
            };
            run_trial(&mut net, &protocol, &stim, Some(learner), 0).unwrap();
        }
        let after = evaluate(&mut net, &mut rng);
        eprintln!("{neuron:?}: correlation before {before:.3}, after {after:.3}");
        assert!(
            after > 0.8 && after > before + 0.5,
            "{neuron:?}: correlation before {before:.3}, after {after:.3}"
        );
    }
}

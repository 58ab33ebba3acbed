//! A recurrent spiking network whose synaptic drive is trained directly
//! (Kim & Chow 2018), simulated in host memory.

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use spikeburn_core::neuron::theta_advance;

use crate::PlasticityError;
use crate::presynaptic::PresynapticSets;

/// The neuron model of a [`DriveNetwork`]; inputs are dimensionless currents.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriveNeuron {
    /// Quadratic integrate-and-fire in theta form, `τ θ' = 1 − cos θ + I (1 + cos θ)`
    /// (Kim & Chow's main model; RK4, see [`spikeburn_core::neuron::ThetaConfig`]).
    Theta {
        /// Membrane time constant τ (ms).
        tau_mem: f64,
    },
    /// Leaky integrate-and-fire, `τ v' = −v + I`, spike at `threshold`, then
    /// `v = reset` (Kim & Chow's LIF supplement, normalised; Euler).
    Lif {
        /// Membrane time constant τ (ms).
        tau_mem: f64,
        /// Threshold.
        threshold: f64,
        /// Reset value.
        reset: f64,
    },
}

impl DriveNeuron {
    fn tau_mem(&self) -> f64 {
        match self {
            Self::Theta { tau_mem } | Self::Lif { tau_mem, .. } => *tau_mem,
        }
    }
}

/// Constants of a [`DriveNetwork`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DriveNetworkConfig {
    /// Neuron model.
    pub neuron: DriveNeuron,
    /// Integration step (ms).
    pub dt: f64,
    /// Synaptic time constant τ_s (ms).
    pub tau_syn: f64,
}

/// `N` spiking neurons coupled through exponential synapses, with each
/// neuron's recurrent input split as Kim & Chow do:
///
/// ```text
/// τ_s r_j' = −r_j + τ_m Σ_k δ(t − t_j^k)     (filtered spikes, units of 1/τ_m)
/// u_i      = Σ_{k < len_i} w_ik r_{J_i(k)}     (synaptic drive, the trained signal)
/// I_i      = bias_i + stimulus_i(t) + u_i     (total input of neuron i)
/// ```
///
/// `r_j` is the neuron's rate in spikes per `τ_m` once averaged, so the
/// quasi-static rate of a theta neuron is `φ(x) = √[x]₊ / π` in the same
/// units. Weights are `[N][K]` in the layout of [`PresynapticSets`]. Each step
/// advances every neuron with the current `u`, adds the spikes to `r` (after
/// the exact exponential decay `r ← e^{−dt/τ_s} r`) and recomputes `u`.
#[derive(Clone, Debug)]
pub struct DriveNetwork {
    /// Who projects to whom.
    pub sets: PresynapticSets,
    /// Plastic recurrent weights `[N][K]`.
    pub weights: Vec<f32>,
    /// Constant input per neuron.
    pub bias: Vec<f32>,
    /// Filtered spike trains `r`.
    pub rate: Vec<f32>,
    /// Synaptic drive `u = W r`.
    pub drive: Vec<f32>,
    /// Neurons removed from the network (never spike; lesion experiments).
    pub silenced: Vec<bool>,
    /// Phase (theta) or membrane (LIF) per neuron.
    state: Vec<f64>,
    spikes: Vec<bool>,
    neuron: DriveNeuron,
    step_over_tau: f64,
    decay: f32,
    jump: f32,
}

impl DriveNetwork {
    /// Builds the network; `weights` are `[N][K]` for `sets`.
    pub fn new(
        config: &DriveNetworkConfig,
        sets: PresynapticSets,
        weights: Vec<f32>,
        bias: Vec<f32>,
    ) -> Result<Self, PlasticityError> {
        let (n, k) = (sets.neurons, sets.width);
        if sets.sources != n {
            return Err(PlasticityError::Shape(format!(
                "recurrent sets must draw from the {n} neurons, not {} sources",
                sets.sources
            )));
        }
        if weights.len() != n * k || bias.len() != n {
            return Err(PlasticityError::Shape(format!(
                "network of {n} neurons × {k} slots got {} weights and {} biases",
                weights.len(),
                bias.len()
            )));
        }
        let tau_mem = config.neuron.tau_mem();
        for (name, tau) in [("tau_mem", tau_mem), ("tau_syn", config.tau_syn)] {
            if !(tau.is_finite() && tau > 0.0 && config.dt > 0.0 && config.dt < tau) {
                return Err(PlasticityError::Config(format!(
                    "`{name}` = {tau} ms with dt = {} ms: expected 0 < dt < {name}",
                    config.dt
                )));
            }
        }
        let mut net = Self {
            sets,
            weights,
            bias,
            rate: vec![0.0; n],
            drive: vec![0.0; n],
            silenced: vec![false; n],
            state: vec![0.0; n],
            spikes: vec![false; n],
            neuron: config.neuron,
            step_over_tau: config.dt / tau_mem,
            decay: (-config.dt / config.tau_syn).exp() as f32,
            jump: (tau_mem / config.tau_syn) as f32,
        };
        net.refresh_drive();
        Ok(net)
    }

    /// Neurons `N`.
    pub fn neurons(&self) -> usize {
        self.sets.neurons
    }

    /// Random initial condition: phases uniform on the circle (theta) or
    /// membranes uniform below threshold (LIF); `r = u = 0`.
    pub fn randomise_state(&mut self, rng: &mut impl Rng) {
        for s in &mut self.state {
            *s = match self.neuron {
                DriveNeuron::Theta { .. } => {
                    std::f64::consts::PI * (2.0 * rng.random::<f64>() - 1.0)
                }
                DriveNeuron::Lif {
                    threshold, reset, ..
                } => reset + (threshold - reset) * rng.random::<f64>(),
            };
        }
        self.rate.fill(0.0);
        self.drive.fill(0.0);
        self.spikes.fill(false);
    }

    /// Advances one step with an optional extra input per neuron; returns the
    /// number of spikes.
    pub fn step(&mut self, stimulus: Option<&[f32]>) -> usize {
        let mut count = 0;
        for i in 0..self.neurons() {
            let input = (self.bias[i] + self.drive[i] + stimulus.map_or(0.0, |s| s[i])) as f64;
            let fired = match self.neuron {
                DriveNeuron::Theta { .. } => {
                    let (next, fired) = theta_advance(self.state[i], input, self.step_over_tau);
                    self.state[i] = next;
                    fired
                }
                DriveNeuron::Lif {
                    threshold, reset, ..
                } => {
                    let v = self.state[i] + self.step_over_tau * (input - self.state[i]);
                    let fired = v >= threshold;
                    self.state[i] = if fired { reset } else { v };
                    fired
                }
            } && !self.silenced[i];
            self.spikes[i] = fired;
            count += usize::from(fired);
            self.rate[i] = self.decay * self.rate[i] + if fired { self.jump } else { 0.0 };
        }
        self.refresh_drive();
        count
    }

    /// Recomputes `u = W r` (after the weights changed).
    pub fn refresh_drive(&mut self) {
        let k = self.sets.width;
        for (i, u) in self.drive.iter_mut().enumerate() {
            let l = self.sets.len[i];
            let (w, idx) = (
                &self.weights[i * k..i * k + l],
                &self.sets.index[i * k..i * k + l],
            );
            let mut acc = 0f64;
            for (wv, j) in w.iter().zip(idx) {
                acc += *wv as f64 * self.rate[*j as usize] as f64;
            }
            *u = acc as f32;
        }
    }

    /// Spikes of the last step.
    pub fn spikes(&self) -> &[bool] {
        &self.spikes
    }
}

/// Gaussian weights `N(0, σ²/(N p))` on every slot of `sets` (`p` = mean set
/// size / N), optionally with each neuron's mean incoming weight subtracted
/// (Kim & Chow, Fig 1); padding slots stay 0.
pub fn gaussian_weights(
    sets: &PresynapticSets,
    sigma: f64,
    zero_row_mean: bool,
    rng: &mut impl Rng,
) -> Vec<f32> {
    let scale = sigma / sets.mean_len().max(1.0).sqrt();
    let k = sets.width;
    let mut w = vec![0f32; sets.neurons * k];
    for (row, l) in w.chunks_exact_mut(k).zip(&sets.len) {
        let row = &mut row[..*l];
        for v in row.iter_mut() {
            *v = (scale * rng.sample::<f64, _>(StandardNormal)) as f32;
        }
        if zero_row_mean && !row.is_empty() {
            let mean = row.iter().sum::<f32>() / row.len() as f32;
            row.iter_mut().for_each(|v| *v -= mean);
        }
    }
    w
}

/// The excitatory/inhibitory network of Kim & Chow's Fig 4: neurons
/// `0..N_E` are excitatory, the last `round(f N)` inhibitory; each neuron
/// draws `round(p N_E)` excitatory and `round(p N_I)` inhibitory partners
/// (never itself), with weights `J/√K` and `−g J/√K` (`K` = in-degree).
pub fn excitatory_inhibitory(
    neurons: usize,
    p: f64,
    inhibitory_fraction: f64,
    coupling: f64,
    inhibition: f64,
    rng: &mut impl Rng,
) -> Result<(PresynapticSets, Vec<f32>), PlasticityError> {
    if !(0.0..1.0).contains(&inhibitory_fraction) {
        return Err(PlasticityError::Config(format!(
            "inhibitory fraction {inhibitory_fraction} is invalid: expected 0 <= f < 1"
        )));
    }
    let n_i = (inhibitory_fraction * neurons as f64).round() as u32;
    let n_e = neurons as u32 - n_i;
    let k_e = (p * n_e as f64).round() as usize;
    let k_i = (p * n_i as f64).round() as usize;
    let sets = PresynapticSets::fixed_in_degree(
        neurons,
        &[(0..n_e, k_e), (n_e..neurons as u32, k_i)],
        rng,
    )?;
    let scale = coupling / ((k_e + k_i).max(1) as f64).sqrt();
    let weights = sets
        .index
        .iter()
        .enumerate()
        .map(|(x, j)| {
            if x % sets.width >= sets.len[x / sets.width] {
                0.0 // padding
            } else if *j < n_e {
                scale as f32
            } else {
                (-inhibition * scale) as f32
            }
        })
        .collect();
    Ok((sets, weights))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn theta_config() -> DriveNetworkConfig {
        DriveNetworkConfig {
            neuron: DriveNeuron::Theta { tau_mem: 10.0 },
            dt: 0.1,
            tau_syn: 20.0,
        }
    }

    #[test]
    fn uncoupled_neurons_fire_at_the_qif_rate_and_r_measures_it() {
        // Zero weights: each neuron sees only its bias; r averages to
        // τ_m × rate = √I/π.
        let sets = PresynapticSets::all_to_all(3, false).unwrap();
        let w = vec![0.0; 3 * sets.width];
        let bias = vec![0.25f32, 1.0, 2.25];
        let mut net = DriveNetwork::new(&theta_config(), sets, w, bias.clone()).unwrap();
        let (steps, mut counts, mut r_mean) = (30_000, [0usize; 3], [0f64; 3]);
        for t in 0..steps {
            net.step(None);
            for i in 0..3 {
                counts[i] += usize::from(net.spikes()[i]);
                if t >= 5_000 {
                    r_mean[i] += net.rate[i] as f64 / (steps - 5_000) as f64;
                }
            }
        }
        for i in 0..3 {
            let want = (bias[i] as f64).sqrt() / std::f64::consts::PI; // per τ_m
            let got = counts[i] as f64 / (steps as f64 * 0.1 / 10.0);
            assert!(
                (got - want).abs() < 0.02,
                "neuron {i}: {got} vs {want} spikes/τ"
            );
            assert!(
                (r_mean[i] - want).abs() < 0.03,
                "neuron {i}: r̄ {} vs {want}",
                r_mean[i]
            );
        }
    }

    #[test]
    fn drive_is_the_weighted_sum_of_filtered_spikes() {
        let mut rng = StdRng::seed_from_u64(3);
        let sets = PresynapticSets::bernoulli(30, 0.5, &mut rng).unwrap();
        let w = gaussian_weights(&sets, 2.0, true, &mut rng);
        let mut net = DriveNetwork::new(&theta_config(), sets, w, vec![0.5; 30]).unwrap();
        net.randomise_state(&mut rng);
        for _ in 0..500 {
            net.step(None);
        }
        let k = net.sets.width;
        for i in 0..30 {
            let mut u = 0.0;
            for s in 0..net.sets.len[i] {
                u += net.weights[i * k + s] * net.rate[net.sets.index[i * k + s] as usize];
            }
            assert!((u - net.drive[i]).abs() < 1e-5);
            let row_sum: f32 = net.weights[i * k..(i + 1) * k].iter().sum();
            assert!(row_sum.abs() < 1e-5, "row mean not removed");
        }
        assert!(net.rate.iter().any(|r| *r > 0.0), "no activity");
    }

    #[test]
    fn excitatory_inhibitory_weights_follow_dale_and_the_in_degrees() {
        let mut rng = StdRng::seed_from_u64(2);
        let (sets, w) = excitatory_inhibitory(100, 0.1, 0.2, 6.0, 5.0, &mut rng).unwrap();
        let scale = 6.0 / 10f32.sqrt();
        for i in 0..100 {
            let row = &w[i * sets.width..(i + 1) * sets.width];
            let idx = &sets.index[i * sets.width..(i + 1) * sets.width];
            assert_eq!(row.iter().filter(|v| **v > 0.0).count(), 8);
            assert_eq!(row.iter().filter(|v| **v < 0.0).count(), 2);
            for (v, j) in row.iter().zip(idx) {
                if *v > 0.0 {
                    assert!(*j < 80 && (*v - scale).abs() < 1e-6);
                } else if *v < 0.0 {
                    assert!(*j >= 80 && (*v + 5.0 * scale).abs() < 1e-5);
                }
            }
        }
        assert!(excitatory_inhibitory(10, 0.1, 1.5, 1.0, 1.0, &mut rng).is_err());
    }

    #[test]
    fn silenced_neurons_never_spike_and_bad_configs_are_refused() {
        let sets = PresynapticSets::all_to_all(2, false).unwrap();
        let mut net =
            DriveNetwork::new(&theta_config(), sets.clone(), vec![0.0; 2], vec![1.0; 2]).unwrap();
        net.silenced[1] = true;
        let mut fired = [0; 2];
        for _ in 0..2000 {
            net.step(None);
            fired[0] += usize::from(net.spikes()[0]);
            fired[1] += usize::from(net.spikes()[1]);
        }
        assert!(fired[0] > 0 && fired[1] == 0);
        let mut bad = theta_config();
        bad.tau_syn = -1.0;
        let e = DriveNetwork::new(&bad, sets.clone(), vec![0.0; 2], vec![0.0; 2]).unwrap_err();
        assert!(e.to_string().contains("tau_syn"), "{e}");
        assert!(DriveNetwork::new(&theta_config(), sets, vec![0.0; 3], vec![0.0; 2]).is_err());
    }
}

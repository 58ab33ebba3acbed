//! Target trajectories for recurrent synaptic-drive training (Kim & Chow
//! 2018): one signal per neuron over a window.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

/// Per-neuron targets over a window, `[steps][neurons]` row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct DriveTargets {
    /// Time steps.
    pub steps: usize,
    /// Neurons.
    pub neurons: usize,
    /// Step (ms).
    pub dt_ms: f64,
    /// `values[t * neurons + i]`.
    pub values: Vec<f32>,
}

impl DriveTargets {
    /// Neuron `i`'s trajectory.
    pub fn trace(&self, i: usize) -> Vec<f32> {
        (0..self.steps)
            .map(|t| self.values[t * self.neurons + i])
            .collect()
    }

    /// The rate targets `R = √[f]₊ / π` (theta-neuron transfer function,
    /// rates per membrane time constant) of these drive targets.
    pub fn to_rates(&self) -> Self {
        Self {
            values: self
                .values
                .iter()
                .map(|f| (f.max(0.0).sqrt() as f64 / std::f64::consts::PI) as f32)
                .collect(),
            ..self.clone()
        }
    }
}

/// A family of targets, with Kim & Chow's parameter ranges as defaults.
/// Times in ms; amplitudes are dimensionless currents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetFamily {
    /// `f_i = A sin(2π (t − T0)/T1)`, `A ∈ [0.5, 1.5]`, `T0 ∈ [0, 1000]`,
    /// `T1 ∈ [300, 1000]` ms (Fig 1–2).
    Sines {
        /// Amplitude range.
        amplitude: (f64, f64),
        /// Period range (ms).
        period_ms: (f64, f64),
    },
    /// `f_i = A sin(2π (t − t1)/T1) sin(2π (t − t2)/T2)`, `T1 ∈ [500, 1000]`,
    /// `T2 ∈ [100, 500]` ms (Fig 3, "periodic").
    ProductsOfSines {
        /// Amplitude range.
        amplitude: (f64, f64),
        /// First period range (ms).
        period1_ms: (f64, f64),
        /// Second period range (ms).
        period2_ms: (f64, f64),
    },
    /// Trajectories of a chaotic rate network `τ x' = −x + M h(x)`,
    /// `h(x) = √[x]₊/π`, `M = g N(0,1)·Bernoulli(p)/√(Np)` with each row's
    /// mean removed (Fig 3, "chaotic"; τ = 40 ms, g = 5, p = 0.3).
    ChaoticRate {
        /// Coupling gain g.
        gain: f64,
        /// Connection probability p.
        p: f64,
        /// Time constant (ms).
        tau_ms: f64,
        /// Simulated before the window (ms): lets the transient die out.
        warmup_ms: f64,
    },
    /// Independent Ornstein–Uhlenbeck processes `τ_c x' = −x + s √τ_u ξ`
    /// (Fig 3, 6, 7: τ_c = 200 ms, s = 0.3, noise in the 10 ms time unit
    /// τ_u of Kim & Chow's code), started from the stationary distribution.
    OrnsteinUhlenbeck {
        /// Correlation time τ_c (ms).
        tau_c_ms: f64,
        /// Noise amplitude s.
        s: f64,
    },
}

impl TargetFamily {
    /// Fig 1 sines.
    pub fn sines() -> Self {
        Self::Sines {
            amplitude: (0.5, 1.5),
            period_ms: (300.0, 1000.0),
        }
    }

    /// Fig 3 products of sines.
    pub fn products_of_sines() -> Self {
        Self::ProductsOfSines {
            amplitude: (0.5, 1.5),
            period1_ms: (500.0, 1000.0),
            period2_ms: (100.0, 500.0),
        }
    }

    /// Fig 3 chaotic rate network.
    pub fn chaotic_rate() -> Self {
        Self::ChaoticRate {
            gain: 5.0,
            p: 0.3,
            tau_ms: 40.0,
            warmup_ms: 1000.0,
        }
    }

    /// Fig 3 Ornstein–Uhlenbeck processes with correlation time `tau_c_ms`.
    pub fn ornstein_uhlenbeck(tau_c_ms: f64) -> Self {
        Self::OrnsteinUhlenbeck { tau_c_ms, s: 0.3 }
    }

    /// Draws targets for `neurons` neurons over `steps` steps of `dt_ms`.
    pub fn generate(
        &self,
        neurons: usize,
        steps: usize,
        dt_ms: f64,
        rng: &mut impl Rng,
    ) -> Result<DriveTargets, String> {
        if neurons == 0 || steps == 0 || dt_ms.is_nan() || dt_ms <= 0.0 {
            return Err(format!(
                "targets need neurons >= 1, steps >= 1 and dt > 0, got {neurons}, {steps}, {dt_ms}"
            ));
        }
        let mut values = vec![0f32; neurons * steps];
        let two_pi = 2.0 * std::f64::consts::PI;
        let mut between = |(lo, hi): (f64, f64)| lo + (hi - lo) * rng.random::<f64>();
        match self {
            Self::Sines {
                amplitude,
                period_ms,
            } => {
                for i in 0..neurons {
                    let (a, t1) = (between(*amplitude), between(*period_ms));
                    let t0 = between((0.0, 1000.0));
                    for t in 0..steps {
                        let time = t as f64 * dt_ms;
                        values[t * neurons + i] = (a * (two_pi * (time - t0) / t1).sin()) as f32;
                    }
                }
            }
            Self::ProductsOfSines {
                amplitude,
                period1_ms,
                period2_ms,
            } => {
                for i in 0..neurons {
                    let (a, p1, p2) = (
                        between(*amplitude),
                        between(*period1_ms),
                        between(*period2_ms),
                    );
                    let (t1, t2) = (between((0.0, p1)), between((0.0, p2)));
                    for t in 0..steps {
                        let time = t as f64 * dt_ms;
                        values[t * neurons + i] = (a
                            * (two_pi * (time - t1) / p1).sin()
                            * (two_pi * (time - t2) / p2).sin())
                            as f32;
                    }
                }
            }
            Self::ChaoticRate {
                gain,
                p,
                tau_ms,
                warmup_ms,
            } => {
                if !(*p > 0.0 && *p <= 1.0 && *tau_ms > dt_ms) {
                    return Err(format!(
                        "chaotic rate targets need 0 < p <= 1 and tau > dt, got p = {p}, tau = {tau_ms} ms"
                    ));
                }
                let scale = gain / (neurons as f64 * p).sqrt();
                let mut m = vec![0f64; neurons * neurons];
                for row in m.chunks_exact_mut(neurons) {
                    let mut present = vec![];
                    for (j, v) in row.iter_mut().enumerate() {
                        if rng.random::<f64>() < *p {
                            *v = scale * gaussian(rng);
                            present.push(j);
                        }
                    }
                    if !present.is_empty() {
                        let mean =
                            present.iter().map(|j| row[*j]).sum::<f64>() / present.len() as f64;
                        present.iter().for_each(|j| row[*j] -= mean);
                    }
                }
                let mut x: Vec<f64> = (0..neurons).map(|_| 0.2 * rng.random::<f64>()).collect();
                let h = |v: f64| v.max(0.0).sqrt() / std::f64::consts::PI;
                let warmup = (warmup_ms / dt_ms).round() as usize;
                let a = dt_ms / tau_ms;
                for t in 0..warmup + steps {
                    let hx: Vec<f64> = x.iter().map(|v| h(*v)).collect();
                    for (i, xi) in x.iter_mut().enumerate() {
                        let input: f64 = m[i * neurons..(i + 1) * neurons]
                            .iter()
                            .zip(&hx)
                            .map(|(w, r)| w * r)
                            .sum();
                        *xi += a * (input - *xi);
                    }
                    if t >= warmup {
                        for (i, xi) in x.iter().enumerate() {
                            values[(t - warmup) * neurons + i] = *xi as f32;
                        }
                    }
                }
            }
            Self::OrnsteinUhlenbeck { tau_c_ms, s } => {
                if tau_c_ms.is_nan() || *tau_c_ms <= 0.0 {
                    return Err(format!("OU targets need tau_c > 0, got {tau_c_ms} ms"));
                }
                // In the 10 ms unit of the reference code: x' = −x/τ_c + s ξ.
                let (unit, dt) = (10.0, dt_ms / 10.0);
                let tau_c = tau_c_ms / unit;
                let decay = (-dt / tau_c).exp();
                let stationary = s * (tau_c / 2.0).sqrt();
                let kick = stationary * (1.0 - decay * decay).sqrt(); // exact discretisation
                for i in 0..neurons {
                    let mut x = stationary * gaussian(rng);
                    for t in 0..steps {
                        values[t * neurons + i] = x as f32;
                        x = decay * x + kick * gaussian(rng);
                    }
                }
            }
        }
        Ok(DriveTargets {
            steps,
            neurons,
            dt_ms,
            values,
        })
    }
}

/// Standard normal by Box–Muller.
fn gaussian(rng: &mut impl Rng) -> f64 {
    let radius = (-2.0 * (1.0 - rng.random::<f64>()).ln()).sqrt();
    radius * (2.0 * std::f64::consts::PI * rng.random::<f64>()).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn stats(v: &[f32]) -> (f64, f64) {
        let m = v.iter().map(|x| *x as f64).sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (*x as f64 - m).powi(2)).sum::<f64>() / v.len() as f64;
        (m, var)
    }

    #[test]
    fn ou_targets_have_the_stationary_variance_and_correlation_time() {
        let mut rng = StdRng::seed_from_u64(2);
        let t = TargetFamily::ornstein_uhlenbeck(200.0)
            .generate(200, 2000, 1.0, &mut rng)
            .unwrap();
        let (m, var) = stats(&t.values);
        let want = 0.3f64.powi(2) * 20.0 / 2.0; // s² τ_c / 2 in 10 ms units
        assert!(
            m.abs() < 0.1 && (var / want - 1.0).abs() < 0.1,
            "mean {m}, var {var} vs {want}"
        );
        // Autocorrelation at lag τ_c is e^{-1}.
        let (mut c0, mut c1) = (0.0, 0.0);
        for i in 0..200 {
            let x = t.trace(i);
            for s in 0..1800 {
                c0 += (x[s] * x[s]) as f64;
                c1 += (x[s] * x[s + 200]) as f64;
            }
        }
        assert!(
            (c1 / c0 - (-1f64).exp()).abs() < 0.05,
            "lag-τ_c autocorrelation {}",
            c1 / c0
        );
    }

    #[test]
    fn sine_targets_stay_in_their_ranges_and_chaos_keeps_moving() {
        let mut rng = StdRng::seed_from_u64(4);
        let s = TargetFamily::sines()
            .generate(50, 1000, 1.0, &mut rng)
            .unwrap();
        for i in 0..50 {
            let peak = s.trace(i).iter().fold(0f32, |a, v| a.max(v.abs()));
            assert!((0.45..=1.5).contains(&peak), "neuron {i} peak {peak}");
        }
        let rates = s.to_rates();
        assert!(rates.values.iter().all(|r| *r >= 0.0));
        let c = TargetFamily::chaotic_rate()
            .generate(200, 1000, 1.0, &mut rng)
            .unwrap();
        // Chaos: trajectories keep fluctuating after the warm-up (not a fixed point).
        let (_, var) = stats(&c.trace(0)[500..]);
        let (_, var_all) = stats(&c.values);
        assert!(
            var_all > 0.01,
            "chaotic targets collapsed: variance {var_all}"
        );
        assert!(var > 1e-4, "neuron 0 went still: variance {var}");
        assert!(
            TargetFamily::ornstein_uhlenbeck(-1.0)
                .generate(2, 2, 1.0, &mut rng)
                .is_err()
        );
    }
}

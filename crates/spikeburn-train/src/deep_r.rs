//! DEEP R: rewiring under a fixed connection budget (Bellec et al. 2018).
//!
//! Every rewired weight is `w = s · θ · [θ > 0]` with a sign `s` fixed at
//! initialisation: the connection is *active* while `θ > 0` and *dormant*
//! otherwise. One step, for all rewired matrices together:
//!
//! 1. Adam on `θ` with the gradient `∂E/∂θ = s · ∂E/∂w` (on active entries);
//! 2. entries dormant before the step stay at `θ = 0`;
//! 3. active entries: `θ ← θ − η·l1 + √(2ηT)·ξ`, `ξ ~ N(0, 1)` (an l1 prior and
//!    Langevin noise at temperature `T`); those pushed to `θ ≤ 0` go dormant;
//! 4. as many dormant entries as went dormant, drawn uniformly over *all*
//!    rewired matrices, are reactivated at `θ = 10⁻¹²`, so the global number
//!    of active connections never changes.
//!
//! Signs never flip: a connection that dies and is reborn keeps its sign.
//! With `T = 0`, `l1 = 0` and no entry crossing zero this is Adam restricted
//! to the active connections.
//!
//! The arrays live in host memory (`Vec<f32>`): weights are small next to
//! activations, and the global reactivation draw is simplest there.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Hyper-parameters of DEEP R.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeepRConfig {
    /// Weight of the l1 prior (sMNIST: 0.01).
    pub l1: f64,
    /// Temperature of the Langevin noise (sMNIST: 0).
    pub temperature: f64,
    /// Adam β1.
    pub beta1: f64,
    /// Adam β2.
    pub beta2: f64,
    /// Adam ε.
    pub epsilon: f64,
}

impl Default for DeepRConfig {
    fn default() -> Self {
        Self {
            l1: 0.01,
            temperature: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

/// One rewired matrix: magnitudes `θ` and fixed signs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewiredMatrix {
    /// Rows (presynaptic) and columns (postsynaptic).
    pub shape: [usize; 2],
    /// Parameters `θ`, row-major; active where `θ > 0`.
    pub theta: Vec<f32>,
    /// Fixed signs `±1`, row-major.
    pub sign: Vec<f32>,
}

impl RewiredMatrix {
    /// A `rows × cols` matrix with exactly `round(connectivity · rows · cols)`
    /// active entries at random positions, magnitudes `|N(0, 1)| / √rows`.
    /// Signs: random `±1`, or Dale's law with the first
    /// `round(excitatory_fraction · rows)` presynaptic rows excitatory.
    pub fn init(
        rows: usize,
        cols: usize,
        connectivity: f64,
        excitatory_fraction: Option<f64>,
        rng: &mut StdRng,
    ) -> Result<Self, String> {
        if rows == 0 || cols == 0 {
            return Err("a rewired matrix needs at least one row and one column".into());
        }
        if !(connectivity > 0.0 && connectivity <= 1.0) {
            return Err(format!(
                "`connectivity` = {connectivity} is invalid: expected a fraction in (0, 1]"
            ));
        }
        let size = rows * cols;
        let active = ((connectivity * size as f64).round() as usize).max(1);
        let mut order: Vec<usize> = (0..size).collect();
        for i in 0..active {
            let j = rng.random_range(i..size);
            order.swap(i, j);
        }
        let mut theta = vec![0f32; size];
        let scale = 1.0 / (rows as f64).sqrt();
        for &k in &order[..active] {
            theta[k] = ((normal(rng).abs() * scale) as f32).max(1e-12);
        }
        let sign = match excitatory_fraction {
            Some(f) => {
                if !(0.0..=1.0).contains(&f) {
                    return Err(format!(
                        "`excitatory_fraction` = {f} is invalid: expected a fraction in [0, 1]"
                    ));
                }
                let n_exc = (f * rows as f64).round() as usize;
                (0..size)
                    .map(|k| if k / cols < n_exc { 1.0 } else { -1.0 })
                    .collect()
            }
            None => (0..size)
                .map(|_| if rng.random_bool(0.5) { 1.0 } else { -1.0 })
                .collect(),
        };
        Ok(Self {
            shape: [rows, cols],
            theta,
            sign,
        })
    }

    /// The effective weights `s · θ · [θ > 0]`, row-major.
    pub fn weights(&self) -> Vec<f32> {
        self.theta
            .iter()
            .zip(&self.sign)
            .map(|(t, s)| if *t > 0.0 { s * t } else { 0.0 })
            .collect()
    }

    /// Number of active connections.
    pub fn active(&self) -> usize {
        self.theta.iter().filter(|t| **t > 0.0).count()
    }
}

/// The DEEP R optimizer over a set of rewired matrices.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeepR {
    config: DeepRConfig,
    first_moment: Vec<Vec<f32>>,
    second_moment: Vec<Vec<f32>>,
    steps: u64,
    target_active: usize,
    seed: u64,
    /// Adam moments of the dense parameters (biases) trained alongside.
    #[serde(default)]
    dense_moments: Vec<(Vec<f32>, Vec<f32>)>,
}

fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

impl DeepR {
    /// An optimizer for `matrices`; the number of active connections they
    /// hold now is the budget kept at every step.
    pub fn new(config: DeepRConfig, matrices: &[RewiredMatrix], seed: u64) -> Result<Self, String> {
        if !(config.l1 >= 0.0 && config.temperature >= 0.0) {
            return Err(format!(
                "DEEP R needs l1 >= 0 and temperature >= 0, got l1 = {} and temperature = {}",
                config.l1, config.temperature
            ));
        }
        Ok(Self {
            config,
            first_moment: matrices.iter().map(|m| vec![0.0; m.theta.len()]).collect(),
            second_moment: matrices.iter().map(|m| vec![0.0; m.theta.len()]).collect(),
            steps: 0,
            target_active: matrices.iter().map(RewiredMatrix::active).sum(),
            seed,
            dense_moments: vec![],
        })
    }

    /// The connection budget.
    pub fn target_active(&self) -> usize {
        self.target_active
    }

    /// Plain Adam (same β₁, β₂, ε, step count) on a dense parameter trained
    /// next to the rewired matrices, e.g. the readout bias, which DEEP R does
    /// not rewire. `slot` names the parameter (0, 1, …); call after
    /// [`step`](Self::step) in the same iteration.
    pub fn step_dense(
        &mut self,
        slot: usize,
        param: &mut [f32],
        grad: &[f32],
        lr: f64,
    ) -> Result<(), String> {
        if grad.len() != param.len() {
            return Err(format!(
                "dense parameter {slot}: {} gradients for {} values",
                grad.len(),
                param.len()
            ));
        }
        if self.dense_moments.len() <= slot {
            self.dense_moments.resize(slot + 1, (vec![], vec![]));
        }
        let (m1, m2) = &mut self.dense_moments[slot];
        if m1.len() != param.len() {
            *m1 = vec![0.0; param.len()];
            *m2 = vec![0.0; param.len()];
        }
        let c = self.config;
        let t = self.steps.max(1) as i32;
        let (bias1, bias2) = (1.0 - c.beta1.powi(t), 1.0 - c.beta2.powi(t));
        for k in 0..param.len() {
            let g = grad[k] as f64;
            let v1 = c.beta1 * m1[k] as f64 + (1.0 - c.beta1) * g;
            let v2 = c.beta2 * m2[k] as f64 + (1.0 - c.beta2) * g * g;
            m1[k] = v1 as f32;
            m2[k] = v2 as f32;
            param[k] -= (lr * (v1 / bias1) / ((v2 / bias2).sqrt() + c.epsilon)) as f32;
        }
        Ok(())
    }

    /// One DEEP R step with learning rate `lr`; `grads[i]` is `∂E/∂w` of
    /// matrix `i` (row-major, same shape).
    pub fn step(
        &mut self,
        matrices: &mut [RewiredMatrix],
        grads: &[Vec<f32>],
        lr: f64,
    ) -> Result<(), String> {
        if matrices.len() != self.first_moment.len() || grads.len() != matrices.len() {
            return Err(format!(
                "DEEP R was built for {} matrices but got {} matrices and {} gradients",
                self.first_moment.len(),
                matrices.len(),
                grads.len()
            ));
        }
        self.steps += 1;
        let c = self.config;
        let (b1, b2) = (c.beta1, c.beta2);
        let bias1 = 1.0 - b1.powi(self.steps as i32);
        let bias2 = 1.0 - b2.powi(self.steps as i32);
        let noise = (2.0 * lr * c.temperature).sqrt();
        // A fresh stream per step: resumable and independent of call history.
        let mut rng =
            StdRng::seed_from_u64(self.seed ^ self.steps.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for (i, (m, g)) in matrices.iter_mut().zip(grads).enumerate() {
            if g.len() != m.theta.len() {
                return Err(format!(
                    "gradient {i} has {} entries, expected {} ({:?})",
                    g.len(),
                    m.theta.len(),
                    m.shape
                ));
            }
            let (m1, m2) = (&mut self.first_moment[i], &mut self.second_moment[i]);
            for k in 0..m.theta.len() {
                if m.theta[k] <= 0.0 {
                    m.theta[k] = 0.0; // dormant before the step: stays at zero
                    continue;
                }
                let grad = (m.sign[k] * g[k]) as f64;
                let v1 = b1 * m1[k] as f64 + (1.0 - b1) * grad;
                let v2 = b2 * m2[k] as f64 + (1.0 - b2) * grad * grad;
                m1[k] = v1 as f32;
                m2[k] = v2 as f32;
                let adam = (v1 / bias1) / ((v2 / bias2).sqrt() + c.epsilon);
                let mut theta = m.theta[k] as f64 - lr * adam - lr * c.l1;
                if noise > 0.0 {
                    theta += noise * normal(&mut rng);
                }
                m.theta[k] = if theta > 0.0 { theta as f32 } else { 0.0 };
            }
        }
        // Keep the global budget: reactivate as many dormant entries as died.
        let active: usize = matrices.iter().map(RewiredMatrix::active).sum();
        let mut missing = self.target_active.saturating_sub(active);
        let mut dormant: Vec<(usize, usize)> = matrices
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                m.theta
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| **t <= 0.0)
                    .map(move |(k, _)| (i, k))
            })
            .collect();
        while missing > 0 && !dormant.is_empty() {
            let pick = rng.random_range(0..dormant.len());
            let (i, k) = dormant.swap_remove(pick);
            matrices[i].theta[k] = 1e-12;
            missing -= 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_parameters_get_plain_adam() {
        let (mut mats, _) = setup(1);
        let mut opt = DeepR::new(DeepRConfig::default(), &mats, 1).unwrap();
        let grads: Vec<Vec<f32>> = mats.iter().map(|m| vec![0.0; m.theta.len()]).collect();
        opt.step(&mut mats, &grads, 0.01).unwrap();
        // First Adam step: m̂ = g, v̂ = g², so each value moves by lr·sign(g).
        let mut bias = vec![0.5f32, -0.2, 0.0];
        opt.step_dense(0, &mut bias, &[2.0, -0.1, 0.0], 0.01)
            .unwrap();
        assert!(
            (bias[0] - 0.49).abs() < 1e-6 && (bias[1] + 0.19).abs() < 1e-6 && bias[2] == 0.0,
            "{bias:?}"
        );
        assert!(opt.step_dense(0, &mut bias, &[1.0], 0.01).is_err());
    }

    fn setup(seed: u64) -> (Vec<RewiredMatrix>, StdRng) {
        let mut rng = StdRng::seed_from_u64(seed);
        let a = RewiredMatrix::init(20, 30, 0.12, Some(0.8), &mut rng).unwrap();
        let b = RewiredMatrix::init(30, 30, 0.12, None, &mut rng).unwrap();
        (vec![a, b], rng)
    }

    fn random_grads(m: &[RewiredMatrix], rng: &mut StdRng, scale: f64) -> Vec<Vec<f32>> {
        m.iter()
            .map(|m| {
                (0..m.theta.len())
                    .map(|_| (normal(rng) * scale) as f32)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn active_count_is_exactly_preserved_and_signs_never_flip() {
        let (mut m, mut rng) = setup(1);
        let signs: Vec<Vec<f32>> = m.iter().map(|m| m.sign.clone()).collect();
        let budget: usize = m.iter().map(RewiredMatrix::active).sum();
        assert_eq!(
            budget,
            (0.12f64 * 600.0).round() as usize + (0.12f64 * 900.0).round() as usize
        );
        let mut opt = DeepR::new(
            DeepRConfig {
                l1: 0.05,
                temperature: 1e-4,
                ..Default::default()
            },
            &m,
            7,
        )
        .unwrap();
        let mut rewired = 0;
        let mut before: Vec<Vec<bool>> = m
            .iter()
            .map(|m| m.theta.iter().map(|t| *t > 0.0).collect())
            .collect();
        for _ in 0..300 {
            let g = random_grads(&m, &mut rng, 1.0);
            opt.step(&mut m, &g, 0.01).unwrap();
            assert_eq!(m.iter().map(RewiredMatrix::active).sum::<usize>(), budget);
            for (mat, s) in m.iter().zip(&signs) {
                assert_eq!(&mat.sign, s);
                for (w, s) in mat.weights().iter().zip(s) {
                    assert!(*w == 0.0 || w.signum() == *s, "weight {w} against sign {s}");
                }
            }
            let now: Vec<Vec<bool>> = m
                .iter()
                .map(|m| m.theta.iter().map(|t| *t > 0.0).collect())
                .collect();
            rewired += now
                .iter()
                .flatten()
                .zip(before.iter().flatten())
                .filter(|(a, b)| a != b)
                .count();
            before = now;
        }
        assert!(
            rewired > 50,
            "the test should exercise rewiring ({rewired} changes)"
        );
        // Dale's law: presynaptic rows of the first matrix are all + or all −.
        for row in 0..20 {
            let s = &m[0].sign[row * 30..(row + 1) * 30];
            assert!(s.iter().all(|v| *v == s[0]));
            assert_eq!(s[0], if row < 16 { 1.0 } else { -1.0 });
        }
    }

    #[test]
    fn without_noise_and_prior_it_is_adam_on_the_active_connections() {
        let (mut m, mut rng) = setup(2);
        let mut reference = m.clone();
        let mut opt = DeepR::new(
            DeepRConfig {
                l1: 0.0,
                temperature: 0.0,
                ..Default::default()
            },
            &m,
            3,
        )
        .unwrap();
        let lr = 1e-5; // small enough that no active entry reaches zero
        let (mut m1, mut m2): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (
            m.iter().map(|x| vec![0.0; x.theta.len()]).collect(),
            m.iter().map(|x| vec![0.0; x.theta.len()]).collect(),
        );
        for step in 1..=20 {
            let g = random_grads(&m, &mut rng, 1.0);
            opt.step(&mut m, &g, lr).unwrap();
            for (i, r) in reference.iter_mut().enumerate() {
                for k in 0..r.theta.len() {
                    if r.theta[k] <= 0.0 {
                        continue;
                    }
                    let grad = (r.sign[k] * g[i][k]) as f64;
                    m1[i][k] = 0.9 * m1[i][k] + 0.1 * grad;
                    m2[i][k] = 0.999 * m2[i][k] + 0.001 * grad * grad;
                    let adam = (m1[i][k] / (1.0 - 0.9f64.powi(step)))
                        / ((m2[i][k] / (1.0 - 0.999f64.powi(step))).sqrt() + 1e-8);
                    r.theta[k] = (r.theta[k] as f64 - lr * adam) as f32;
                }
            }
        }
        for (a, b) in m.iter().zip(&reference) {
            for (x, y) in a.theta.iter().zip(&b.theta) {
                assert!(
                    (x - y).abs() <= 1e-6 * y.abs().max(1e-3),
                    "{x} vs masked Adam {y}"
                );
                assert_eq!(*x == 0.0, *y == 0.0, "connectivity changed");
            }
        }
    }

    #[test]
    fn bad_inputs_are_reported() {
        let mut rng = StdRng::seed_from_u64(0);
        assert!(
            RewiredMatrix::init(3, 3, 0.0, None, &mut rng)
                .unwrap_err()
                .contains("connectivity")
        );
        let (mut m, _) = setup(3);
        let mut opt = DeepR::new(DeepRConfig::default(), &m, 0).unwrap();
        let e = opt.step(&mut m, &[vec![0.0; 3]], 0.1).unwrap_err();
        assert!(e.contains("2 matrices"), "{e}");
        assert!(
            DeepR::new(
                DeepRConfig {
                    l1: -1.0,
                    ..Default::default()
                },
                &m,
                0
            )
            .is_err()
        );
    }
}

//! DEEP R: rewiring under a fixed connection budget (Bellec et al. 2018).
//!
//! Every rewired weight is `w = s · θ · [θ > 0]` with a sign `s` fixed at
//! initialisation: the connection is *active* while `θ > 0` and *dormant*
//! otherwise. One step, for all rewired matrices together:
//!
//! 1. Adam on `θ` with the gradient `∂E/∂θ = s · ∂E/∂w` (on active entries;
//!    the moments of dormant entries keep tracking their gradient, as in the
//!    LSNN code, so a reborn connection starts from current statistics);
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
use rand::{RngExt, SeedableRng};
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
    /// Update the Adam moments of dormant entries too (the LSNN code runs
    /// Adam on the whole matrix and zeroes dormant entries afterwards). Off,
    /// a reborn connection resumes the moments it had when it died; on, its
    /// first step is scaled by the gradient statistics of its slot instead of
    /// a near-`√(1/(1−β₂))` jump from stale or zero moments.
    #[serde(default = "dormant_moments_default")]
    pub dormant_moments: bool,
}

fn dormant_moments_default() -> bool {
    true
}

impl Default for DeepRConfig {
    fn default() -> Self {
        Self {
            l1: 0.01,
            temperature: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            dormant_moments: true,
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
        check_size(rows, cols, connectivity)?;
        let size = rows * cols;
        let mut theta = vec![0f32; size];
        let scale = 1.0 / (rows as f64).sqrt();
        for k in active_positions(size, connectivity, rng) {
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

    /// The LSNN code's signed initialisation under Dale's law: presynaptic
    /// neuron `i` has the sign `presynaptic_sign[i]` (±1) on all its
    /// synapses. A dense `n × n` matrix (`n` presynaptic neurons) of
    /// magnitudes `|N(0, 1)|` has its inhibitory magnitudes scaled so the
    /// total inhibition equals the total excitation, then each column
    /// (postsynaptic neuron) is balanced to a zero sum by shifting its
    /// excitatory weights up (net inhibition) or its inhibitory ones down (net
    /// excitation), and the whole matrix is scaled to spectral radius 1.
    /// The first `cols` columns are kept (`cols ≤ n`) or `cols` columns drawn
    /// with replacement (`cols > n`); finally exactly
    /// `round(connectivity · n · cols)` random entries stay active, so the
    /// sparse matrix has spectral scale ≈ `√connectivity` and is balanced
    /// only in expectation.
    pub fn init_balanced(
        presynaptic_sign: &[f32],
        cols: usize,
        connectivity: f64,
        rng: &mut StdRng,
    ) -> Result<Self, String> {
        let n = presynaptic_sign.len();
        check_size(n, cols, connectivity)?;
        if let Some(s) = presynaptic_sign.iter().find(|s| **s != 1.0 && **s != -1.0) {
            return Err(format!(
                "presynaptic sign {s} is invalid: expected +1 or -1"
            ));
        }
        let excitatory = |i: usize| presynaptic_sign[i] > 0.0;
        let n_exc = (0..n).filter(|&i| excitatory(i)).count();
        if n_exc == 0 || n_exc == n {
            return Err(format!(
                "balancing needs excitatory and inhibitory presynaptic neurons, got {n_exc} of {n} excitatory"
            ));
        }
        let n_inh = n - n_exc;
        let mut theta: Vec<f64> = (0..n * n).map(|_| normal(rng).abs()).collect();
        let (mut sum_e, mut sum_i) = (0.0, 0.0);
        for (k, t) in theta.iter().enumerate() {
            if excitatory(k / n) {
                sum_e += t;
            } else {
                sum_i += t;
            }
        }
        for (k, t) in theta.iter_mut().enumerate() {
            if !excitatory(k / n) {
                *t *= sum_e / sum_i;
            }
        }
        for j in 0..n {
            let net: f64 = (0..n)
                .map(|i| f64::from(presynaptic_sign[i]) * theta[i * n + j])
                .sum();
            // Shifting magnitudes up keeps every sign: no weight crosses zero.
            let (shift_excitatory, amount) = if net < 0.0 {
                (true, -net / n_exc as f64)
            } else {
                (false, net / n_inh as f64)
            };
            for i in 0..n {
                if excitatory(i) == shift_excitatory {
                    theta[i * n + j] += amount;
                }
            }
        }
        let signed: Vec<f64> = theta
            .iter()
            .enumerate()
            .map(|(k, t)| f64::from(presynaptic_sign[k / n]) * t)
            .collect();
        let radius = spectral_radius(&signed, n, rng);
        let columns: Vec<usize> = if cols <= n {
            (0..cols).collect()
        } else {
            (0..cols).map(|_| rng.random_range(0..n)).collect()
        };
        let size = n * cols;
        let mut out = vec![0f32; size];
        for k in active_positions(size, connectivity, rng) {
            let (i, j) = (k / cols, columns[k % cols]);
            out[k] = ((theta[i * n + j] / radius) as f32).max(1e-12);
        }
        Ok(Self {
            shape: [n, cols],
            theta: out,
            sign: (0..size).map(|k| presynaptic_sign[k / cols]).collect(),
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

fn check_size(rows: usize, cols: usize, connectivity: f64) -> Result<(), String> {
    if rows == 0 || cols == 0 {
        return Err("a rewired matrix needs at least one row and one column".into());
    }
    if !(connectivity > 0.0 && connectivity <= 1.0) {
        return Err(format!(
            "`connectivity` = {connectivity} is invalid: expected a fraction in (0, 1]"
        ));
    }
    Ok(())
}

/// Exactly `round(connectivity · size)` (at least 1) distinct positions in
/// `0..size`, drawn by a partial Fisher–Yates shuffle.
fn active_positions(size: usize, connectivity: f64, rng: &mut StdRng) -> Vec<usize> {
    let active = ((connectivity * size as f64).round() as usize).max(1);
    let mut order: Vec<usize> = (0..size).collect();
    for i in 0..active {
        let j = rng.random_range(i..size);
        order.swap(i, j);
    }
    order.truncate(active);
    order
}

/// Scales `grads` (any number of parameter gradients) so their joint
/// Euclidean norm is at most `max_norm`; returns the norm before scaling.
/// BPTT through spiking dynamics occasionally explodes (a gradient 10⁶×
/// the usual one was seen in sMNIST); Adam turns such a spike into ~30
/// learning rates of movement along it through its first moment, and into
/// hundreds of iterations of stalled steps through its second.
pub fn clip_by_global_norm(grads: &mut [Vec<f32>], max_norm: f64) -> f64 {
    let norm = grads
        .iter()
        .flatten()
        .map(|g| f64::from(*g).powi(2))
        .sum::<f64>()
        .sqrt();
    if norm > max_norm {
        let scale = (max_norm / norm) as f32;
        grads.iter_mut().flatten().for_each(|g| *g *= scale);
    }
    norm
}

/// Spectral radius of the `n × n` row-major matrix `w`, from the mean
/// log growth of `‖xᵀ Wᵏ‖` (Gelfand's formula along one random start vector;
/// complex dominant pairs make single-step ratios oscillate but not the mean).
fn spectral_radius(w: &[f64], n: usize, rng: &mut StdRng) -> f64 {
    const SETTLE: usize = 200;
    const MEASURE: usize = 800;
    let mut x: Vec<f64> = (0..n).map(|_| normal(rng)).collect();
    let mut y = vec![0.0; n];
    let mut log_growth = 0.0;
    for step in 0..SETTLE + MEASURE {
        y.iter_mut().for_each(|v| *v = 0.0);
        for (i, xi) in x.iter().enumerate() {
            for (yj, wij) in y.iter_mut().zip(&w[i * n..(i + 1) * n]) {
                *yj += xi * wij;
            }
        }
        let norm = y.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0; // nilpotent along this start vector
        }
        if step >= SETTLE {
            log_growth += norm.ln();
        }
        for (xi, yi) in x.iter_mut().zip(&y) {
            *xi = yi / norm;
        }
    }
    (log_growth / MEASURE as f64).exp()
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
    /// matrix `i` (row-major, same shape). Returns how many connections were
    /// rewired (went dormant and were replaced).
    pub fn step(
        &mut self,
        matrices: &mut [RewiredMatrix],
        grads: &[Vec<f32>],
        lr: f64,
    ) -> Result<usize, String> {
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
                let dormant = m.theta[k] <= 0.0;
                if dormant && !c.dormant_moments {
                    m.theta[k] = 0.0;
                    continue;
                }
                let grad = (m.sign[k] * g[k]) as f64;
                let v1 = b1 * m1[k] as f64 + (1.0 - b1) * grad;
                let v2 = b2 * m2[k] as f64 + (1.0 - b2) * grad * grad;
                m1[k] = v1 as f32;
                m2[k] = v2 as f32;
                if dormant {
                    m.theta[k] = 0.0; // dormant before the step: stays at zero
                    continue;
                }
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
        let rewired = missing;
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
        Ok(rewired)
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
    fn spectral_radius_of_known_matrices() {
        let mut rng = StdRng::seed_from_u64(4);
        // A rotation by 1 rad scaled by 2 (eigenvalues 2e^{±i}) beside 1.5:
        // the dominant pair is complex.
        let (c, s) = (2.0 * 1f64.cos(), 2.0 * 1f64.sin());
        let w = [c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.5];
        let r = spectral_radius(&w, 3, &mut rng);
        assert!((r - 2.0).abs() < 0.02, "{r}");
        // Diagonal −3, 2, 0.5.
        let w = [-3.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.5];
        let r = spectral_radius(&w, 3, &mut rng);
        assert!((r - 3.0).abs() < 0.01, "{r}");
    }

    #[test]
    fn balanced_init_obeys_dale_is_balanced_and_has_unit_radius() {
        let mut rng = StdRng::seed_from_u64(5);
        let n = 60;
        let sign: Vec<f32> = (0..n).map(|i| if i < 15 { -1.0 } else { 1.0 }).collect();
        // Dense: every column sums to zero, radius 1.
        let m = RewiredMatrix::init_balanced(&sign, n, 1.0, &mut rng).unwrap();
        let w = m.weights();
        for j in 0..n {
            let sum: f32 = (0..n).map(|i| w[i * n + j]).sum();
            assert!(sum.abs() < 1e-4, "column {j} sums to {sum}");
        }
        for (k, x) in w.iter().enumerate() {
            assert!(
                x.signum() == sign[k / n],
                "weight {k} = {x} breaks Dale's law"
            );
        }
        let dense: Vec<f64> = w.iter().map(|x| *x as f64).collect();
        let r = spectral_radius(&dense, n, &mut rng);
        assert!((r - 1.0).abs() < 0.03, "spectral radius {r}");
        // Sparse and wider than tall: exact budget, signs by row.
        let m = RewiredMatrix::init_balanced(&sign, 150, 0.12, &mut rng).unwrap();
        assert_eq!(m.active(), (0.12f64 * 60.0 * 150.0).round() as usize);
        assert!(m.sign.iter().enumerate().all(|(k, s)| *s == sign[k / 150]));
        assert!(
            RewiredMatrix::init_balanced(&[1.0, 1.0], 2, 0.5, &mut rng)
                .unwrap_err()
                .contains("inhibitory")
        );
    }

    #[test]
    fn dormant_entries_keep_tracking_their_gradient() {
        let (mut m, _) = setup(6);
        let mut opt = DeepR::new(DeepRConfig::default(), &m, 1).unwrap();
        let k = m[1].theta.iter().position(|t| *t == 0.0).unwrap();
        let grads: Vec<Vec<f32>> = m.iter().map(|x| vec![0.5; x.theta.len()]).collect();
        for _ in 0..3 {
            opt.step(&mut m, &grads, 1e-6).unwrap();
        }
        let expected = 0.5 * m[1].sign[k] as f64 * (1.0 - 0.9f64.powi(3));
        assert!((opt.first_moment[1][k] as f64 - expected).abs() < 1e-6);
        let mut frozen = DeepR::new(
            DeepRConfig {
                dormant_moments: false,
                ..Default::default()
            },
            &m,
            1,
        )
        .unwrap();
        frozen.step(&mut m, &grads, 1e-6).unwrap();
        assert_eq!(frozen.first_moment[1][k], 0.0);
    }

    #[test]
    fn global_norm_clipping_scales_all_gradients_together() {
        let mut g = vec![vec![3.0f32, 0.0], vec![4.0]];
        assert_eq!(clip_by_global_norm(&mut g, 10.0), 5.0);
        assert_eq!(g, vec![vec![3.0, 0.0], vec![4.0]]);
        assert_eq!(clip_by_global_norm(&mut g, 1.0), 5.0);
        assert!((g[0][0] - 0.6).abs() < 1e-7 && (g[1][0] - 0.8).abs() < 1e-7);
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

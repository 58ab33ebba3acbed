//! Recursive least squares (RLS) for recurrent weights.
//!
//! Neuron `i` has `K` plastic inputs with regressor `q_i` (e.g. the filtered
//! presynaptic spike trains), weights `w_i` and inverse-correlation matrix
//! `P_i` (`P_i(0) = I/λ`). Given the a-priori error `e_i = w_i·q_i − f_i`:
//!
//! ```text
//! k_i = P_i q_i
//! c_i = 1 / (1 + q_iᵀ k_i)
//! P_i ← P_i − c_i k_i k_iᵀ
//! w_i ← w_i − c_i e_i k_i
//! ```
//!
//! All neurons are updated together as batched tensor operations
//! (`P` is `[N, K, K]`). When every neuron has the same presynaptic set and
//! all `P_i` start equal, they stay equal: the shared mode keeps one `[K, K]`
//! matrix and costs `O(K²)` instead of `O(N K²)` per update (exact, not an
//! approximation). After one pass over samples `q_1 … q_m` from `w = 0`,
//! `w` is the ridge solution `(λI + Σ q qᵀ)⁻¹ Σ q f`.

use burn::prelude::*;

use crate::PlasticityError;

/// How RLS is set up.
#[derive(Config, Debug)]
pub struct RlsConfig {
    /// Neurons `N`.
    pub neurons: usize,
    /// Plastic inputs per neuron `K`.
    pub inputs: usize,
    /// Regulariser λ (`P(0) = I/λ`).
    #[config(default = 1.0)]
    pub lambda: f64,
    /// One `P` for all neurons (valid when all presynaptic sets are equal).
    #[config(default = false)]
    pub shared_p: bool,
    /// Check `P` for symmetry every this many updates (finiteness is checked
    /// at every update; the symmetry check costs a transpose of `P`).
    #[config(default = 50)]
    pub symmetry_check_every: u64,
}

/// RLS state: the inverse-correlation matrices.
#[derive(Clone, Debug)]
pub struct Rls {
    /// `[N, K, K]`, or `[1, K, K]` in shared mode.
    pub p: Tensor<3>,
    neurons: usize,
    inputs: usize,
    shared: bool,
    updates: u64,
    symmetry_check_every: u64,
    /// `[N, K]`: 1 where the weight is trained, 0 where it is not.
    plastic: Option<Tensor<2>>,
    /// `[N, K]`: the sign each weight keeps (Dale's law); 0 = free.
    signs: Option<Tensor<2>>,
}

impl RlsConfig {
    /// `P(0) = I/λ` on `device` (use a non-autodiff device: RLS needs no graph).
    pub fn init(&self, device: &Device) -> Result<Rls, PlasticityError> {
        if self.neurons == 0 || self.inputs == 0 {
            return Err(PlasticityError::Config(format!(
                "RLS needs neurons >= 1 and inputs >= 1, got {} and {}",
                self.neurons, self.inputs
            )));
        }
        if !(self.lambda.is_finite() && self.lambda > 0.0) {
            return Err(PlasticityError::Config(format!(
                "`lambda` = {} is invalid: expected a finite regulariser > 0",
                self.lambda
            )));
        }
        let copies = if self.shared_p { 1 } else { self.neurons };
        let eye = Tensor::<2>::eye(self.inputs, device) / self.lambda;
        let p = eye.unsqueeze_dim::<3>(0).repeat_dim(0, copies);
        Ok(Rls {
            p,
            neurons: self.neurons,
            inputs: self.inputs,
            shared: self.shared_p,
            updates: 0,
            symmetry_check_every: self.symmetry_check_every.max(1),
            plastic: None,
            signs: None,
        })
    }
}

impl Rls {
    /// Trains only the weights where `mask` (`[N, K]`, 0/1) is 1: each
    /// neuron's own plastic presynaptic set. Masked slots get a zero
    /// regressor, which keeps them out of `P` exactly (sets of different
    /// sizes padded to `K`).
    pub fn with_plastic_mask(mut self, mask: Tensor<2>) -> Result<Self, PlasticityError> {
        self.require_per_neuron("a plastic mask")?;
        self.check_nk("plastic mask", &mask)?;
        self.plastic = Some(mask);
        Ok(self)
    }

    /// Dale's law: every weight keeps the sign it has in `weights` (`[N, K]`;
    /// zeros are free). An update that would flip a weight's sign is skipped
    /// for that weight, which then leaves the plastic set.
    pub fn with_sign_constraint(mut self, weights: &Tensor<2>) -> Result<Self, PlasticityError> {
        self.require_per_neuron("a sign constraint")?;
        self.check_nk("sign-constraint weights", weights)?;
        self.signs = Some(weights.clone().sign());
        if self.plastic.is_none() {
            self.plastic = Some(weights.ones_like());
        }
        Ok(self)
    }

    /// The current plastic mask (`None`: every weight is plastic).
    pub fn plastic_mask(&self) -> Option<&Tensor<2>> {
        self.plastic.as_ref()
    }

    fn require_per_neuron(&self, what: &str) -> Result<(), PlasticityError> {
        if self.shared {
            return Err(PlasticityError::Config(format!(
                "{what} differs between neurons: it needs per-neuron P (shared_p = false)"
            )));
        }
        Ok(())
    }

    fn check_nk(&self, what: &str, t: &Tensor<2>) -> Result<(), PlasticityError> {
        if t.dims() != [self.neurons, self.inputs] {
            return Err(PlasticityError::Shape(format!(
                "RLS {what} has shape {:?}, expected [{}, {}]",
                t.dims(),
                self.neurons,
                self.inputs
            )));
        }
        Ok(())
    }

    /// One update of `weights` (`[N, K]`) from regressors `q` (`[N, K]`; in
    /// shared mode `[1, K]` or `[N, K]` with equal rows) and a-priori errors
    /// `e` (`[N]`). Returns the new weights.
    pub fn update(
        &mut self,
        weights: Tensor<2>,
        q: Tensor<2>,
        error: Tensor<1>,
    ) -> Result<Tensor<2>, PlasticityError> {
        let (n, k) = (self.neurons, self.inputs);
        if weights.dims() != [n, k] {
            return Err(PlasticityError::Shape(format!(
                "RLS weights have shape {:?}, expected [{n}, {k}]",
                weights.dims()
            )));
        }
        if error.dims() != [n] {
            return Err(PlasticityError::Shape(format!(
                "RLS error has shape {:?}, expected [{n}]",
                error.dims()
            )));
        }
        self.updates += 1;
        if self.shared {
            let q = q.slice(s![0..1, ..]); // [1, K]
            if q.dims() != [1, k] {
                return Err(PlasticityError::Shape(format!(
                    "RLS regressor has shape {:?}, expected [1 or N, {k}]",
                    q.dims()
                )));
            }
            let p: Tensor<2> = self.p.clone().squeeze_dim(0); // [K, K]
            let kv = q.clone().matmul(p.clone()); // [1, K] = (P q)ᵀ since P is symmetric
            let c = (q * kv.clone()).sum().add_scalar(1.0).recip(); // [1]
            let c2: Tensor<2> = c.clone().reshape([1, 1]);
            let p = p - kv.clone().transpose().matmul(kv.clone()) * c2.clone();
            self.p = p.unsqueeze_dim(0);
            // w_i ← w_i − c e_i k: rank-1 update of all rows at once.
            let weights = weights - error.reshape([n, 1]).matmul(kv) * c2;
            self.check(&weights)?;
            Ok(weights)
        } else {
            if q.dims() != [n, k] {
                return Err(PlasticityError::Shape(format!(
                    "RLS regressor has shape {:?}, expected [{n}, {k}]",
                    q.dims()
                )));
            }
            let q = match &self.plastic {
                Some(mask) => q * mask.clone(),
                None => q,
            };
            let q3: Tensor<3> = q.clone().unsqueeze_dim(2); // [N, K, 1]
            let kv = self.p.clone().matmul(q3); // [N, K, 1]
            let qk = (q.unsqueeze_dim::<3>(2) * kv.clone()).sum_dim(1); // [N, 1, 1]
            let c = qk.add_scalar(1.0).recip(); // [N, 1, 1]
            let outer = kv.clone().matmul(kv.clone().swap_dims(1, 2)); // [N, K, K]
            self.p = self.p.clone() - outer * c.clone();
            let step: Tensor<2> = (kv * c * error.reshape([n, 1, 1])).squeeze_dim(2); // [N, K]
            let weights = match (&self.plastic, &self.signs) {
                (Some(mask), Some(signs)) => {
                    let next = weights.clone() - step * mask.clone();
                    let flip = (next.clone() * signs.clone()).lower_elem(0.0);
                    self.plastic = Some(mask.clone().mask_fill(flip.clone(), 0.0));
                    next.mask_where(flip, weights)
                }
                (Some(mask), None) => weights - step * mask.clone(),
                _ => weights - step,
            };
            self.check(&weights)?;
            Ok(weights)
        }
    }

    /// Number of updates done.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Numerical guard: finite `P` and weights (a NaN or infinity anywhere
    /// makes the sum non-finite), and periodically a symmetric `P`.
    fn check(&self, weights: &Tensor<2>) -> Result<(), PlasticityError> {
        let finite_p = self.p.clone().sum().into_scalar::<f32>().is_finite();
        let finite_w = weights.clone().sum().into_scalar::<f32>().is_finite();
        if !(finite_p && finite_w) {
            return Err(PlasticityError::Numerical(format!(
                "RLS diverged at update {}: {} became NaN or infinite (lower the update rate or raise lambda)",
                self.updates,
                if finite_p { "the weights" } else { "P" }
            )));
        }
        if !self.updates.is_multiple_of(self.symmetry_check_every) {
            return Ok(());
        }
        let asym: f32 = (self.p.clone() - self.p.clone().swap_dims(1, 2))
            .abs()
            .max()
            .into_scalar();
        let scale: f32 = self.p.clone().abs().max().into_scalar();
        if asym > 1e-3 * scale.max(1e-12) {
            return Err(PlasticityError::Numerical(format!(
                "RLS lost the symmetry of P at update {}: max |P − Pᵀ| = {asym:e} against max |P| = {scale:e}",
                self.updates
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        }
    }

    /// Solves `A x = b` (small, dense, f64) by Gaussian elimination.
    #[allow(clippy::needless_range_loop)] // index form mirrors the textbook algorithm
    fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Vec<f64> {
        let n = b.len();
        for i in 0..n {
            let p = (i..n)
                .max_by(|&x, &y| a[x][i].abs().total_cmp(&a[y][i].abs()))
                .unwrap();
            a.swap(i, p);
            b.swap(i, p);
            for r in i + 1..n {
                let f = a[r][i] / a[i][i];
                for c in i..n {
                    a[r][c] -= f * a[i][c];
                }
                b[r] -= f * b[i];
            }
        }
        let mut x = vec![0.0; n];
        for i in (0..n).rev() {
            x[i] = (b[i] - (i + 1..n).map(|c| a[i][c] * x[c]).sum::<f64>()) / a[i][i];
        }
        x
    }

    fn ridge_check(shared: bool) {
        let device = Device::default();
        let (n, k, m, lambda) = (3, 4, 12, 0.5);
        let mut rng = Lcg(9);
        let mut rls = RlsConfig::new(n, k)
            .with_lambda(lambda)
            .with_shared_p(shared)
            .init(&device)
            .unwrap();
        let mut w = Tensor::<2>::zeros([n, k], &device);
        let (mut qs, mut fs) = (vec![], vec![]);
        for _ in 0..m {
            // Shared mode: one regressor for all neurons; else one per neuron.
            let q: Vec<Vec<f64>> = if shared {
                let row: Vec<f64> = (0..k).map(|_| rng.next()).collect();
                vec![row; n]
            } else {
                (0..n)
                    .map(|_| (0..k).map(|_| rng.next()).collect())
                    .collect()
            };
            let f: Vec<f64> = (0..n).map(|_| rng.next()).collect();
            let qt = Tensor::<1>::from_floats(
                q.iter()
                    .flatten()
                    .map(|v| *v as f32)
                    .collect::<Vec<_>>()
                    .as_slice(),
                &device,
            )
            .reshape([n, k]);
            let pred = (w.clone() * qt.clone()).sum_dim(1).reshape([n]);
            let e = pred
                - Tensor::<1>::from_floats(
                    f.iter().map(|v| *v as f32).collect::<Vec<_>>().as_slice(),
                    &device,
                );
            w = rls.update(w, qt, e).unwrap();
            qs.push(q);
            fs.push(f);
        }
        let got = w.to_data().try_to_vec::<f32>().unwrap();
        for i in 0..n {
            let mut a = vec![vec![0.0; k]; k];
            let mut b = vec![0.0; k];
            for (q, f) in qs.iter().zip(&fs) {
                for r in 0..k {
                    b[r] += q[i][r] * f[i];
                    for c in 0..k {
                        a[r][c] += q[i][r] * q[i][c];
                    }
                }
            }
            for (r, row) in a.iter_mut().enumerate() {
                row[r] += lambda;
            }
            let ridge = solve(a, b);
            for r in 0..k {
                assert!(
                    (got[i * k + r] as f64 - ridge[r]).abs() < 1e-4,
                    "neuron {i} weight {r}: RLS {} vs ridge {}",
                    got[i * k + r],
                    ridge[r]
                );
            }
        }
    }

    #[test]
    fn one_pass_equals_the_ridge_solution() {
        ridge_check(false);
        ridge_check(true);
    }

    #[test]
    fn shared_p_agrees_with_per_neuron_p_for_equal_sets() {
        let device = Device::default();
        let (n, k) = (5, 6);
        let mut rng = Lcg(3);
        let mut per = RlsConfig::new(n, k).init(&device).unwrap();
        let mut shared = RlsConfig::new(n, k)
            .with_shared_p(true)
            .init(&device)
            .unwrap();
        let mut w_per = Tensor::<2>::zeros([n, k], &device);
        let mut w_shared = w_per.clone();
        for _ in 0..30 {
            let row: Vec<f32> = (0..k).map(|_| rng.next() as f32).collect();
            let q = Tensor::<1>::from_floats(row.as_slice(), &device)
                .reshape([1, k])
                .repeat_dim(0, n);
            let e = Tensor::<1>::from_floats(
                (0..n)
                    .map(|_| rng.next() as f32)
                    .collect::<Vec<_>>()
                    .as_slice(),
                &device,
            );
            w_per = per.update(w_per, q.clone(), e.clone()).unwrap();
            w_shared = shared.update(w_shared, q, e).unwrap();
        }
        let diff: f32 = (w_per - w_shared).abs().max().into_scalar();
        assert!(diff < 1e-5, "shared and per-neuron P differ by {diff}");
        let p0: Tensor<2> = per.p.clone().slice(s![0..1, .., ..]).squeeze_dim(0);
        let ps: Tensor<2> = shared.p.clone().squeeze_dim(0);
        let pdiff: f32 = (p0 - ps).abs().max().into_scalar();
        assert!(pdiff < 1e-5);
    }

    #[test]
    fn bad_inputs_and_divergence_are_reported() {
        let device = Device::default();
        assert!(
            RlsConfig::new(2, 2)
                .with_lambda(0.0)
                .init(&device)
                .unwrap_err()
                .to_string()
                .contains("lambda")
        );
        let mut rls = RlsConfig::new(2, 3).init(&device).unwrap();
        let e = rls
            .update(
                Tensor::zeros([2, 2], &device),
                Tensor::zeros([2, 3], &device),
                Tensor::zeros([2], &device),
            )
            .unwrap_err();
        assert!(matches!(e, PlasticityError::Shape(_)), "{e}");
        let nan = Tensor::<2>::from_floats([[f32::NAN, 0.0, 0.0], [0.0, 0.0, 0.0]], &device);
        let e = rls
            .update(
                Tensor::zeros([2, 3], &device),
                nan,
                Tensor::zeros([2], &device),
            )
            .unwrap_err();
        assert!(
            matches!(e, PlasticityError::Numerical(_)) && e.to_string().contains("NaN"),
            "{e}"
        );
    }
}

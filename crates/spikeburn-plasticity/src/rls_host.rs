//! RLS in host memory: the CPU fast path of [`crate::rls`].
//!
//! Same update as [`crate::Rls`], on `Vec<f32>` buffers that stay in host
//! memory between updates (a tensor round trip of `P` per update would cost
//! more than the update). Per-neuron mode splits the neurons over threads.

use crate::rls::RlsError;

/// Host-memory RLS state (`P` per neuron, or one shared `P`).
#[derive(Clone, Debug)]
pub struct HostRls {
    /// `[N][K][K]` row-major, or `[K][K]` when shared.
    pub p: Vec<f32>,
    neurons: usize,
    inputs: usize,
    shared: bool,
    updates: u64,
    threads: usize,
}

impl HostRls {
    /// `P(0) = I/λ` for `neurons` × `inputs`.
    pub fn new(neurons: usize, inputs: usize, lambda: f64, shared: bool) -> Result<Self, RlsError> {
        if neurons == 0 || inputs == 0 {
            return Err(RlsError::Config(format!(
                "RLS needs neurons >= 1 and inputs >= 1, got {neurons} and {inputs}"
            )));
        }
        if !(lambda.is_finite() && lambda > 0.0) {
            return Err(RlsError::Config(format!(
                "`lambda` = {lambda} is invalid: expected a finite regulariser > 0"
            )));
        }
        let copies = if shared { 1 } else { neurons };
        let mut p = vec![0f32; copies * inputs * inputs];
        for c in 0..copies {
            for i in 0..inputs {
                p[c * inputs * inputs + i * inputs + i] = (1.0 / lambda) as f32;
            }
        }
        Ok(Self {
            p,
            neurons,
            inputs,
            shared,
            updates: 0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    }

    /// One update of `weights` (`[N][K]`) from regressors `q` (`[N][K]`, or
    /// `[K]` in shared mode) and a-priori errors `error` (`[N]`).
    pub fn update(
        &mut self,
        weights: &mut [f32],
        q: &[f32],
        error: &[f32],
    ) -> Result<(), RlsError> {
        let (n, k) = (self.neurons, self.inputs);
        if weights.len() != n * k || error.len() != n {
            return Err(RlsError::Shape(format!(
                "RLS got {} weights and {} errors, expected {} and {n}",
                weights.len(),
                error.len(),
                n * k
            )));
        }
        let expected_q = if self.shared { k } else { n * k };
        if q.len() != expected_q {
            return Err(RlsError::Shape(format!(
                "RLS regressor has {} values, expected {expected_q}",
                q.len()
            )));
        }
        self.updates += 1;
        if self.shared {
            let mut kv = vec![0f32; k];
            let c = update_one(&mut self.p, q, &mut kv);
            for (w_i, e) in weights.chunks_exact_mut(k).zip(error) {
                let ce = c * e;
                for (w, kj) in w_i.iter_mut().zip(&kv) {
                    *w -= ce * kj;
                }
            }
        } else {
            let per = n.div_ceil(self.threads.max(1));
            std::thread::scope(|s| {
                for ((p, w), (q, e)) in self
                    .p
                    .chunks_mut(per * k * k)
                    .zip(weights.chunks_mut(per * k))
                    .zip(q.chunks(per * k).zip(error.chunks(per)))
                {
                    s.spawn(move || {
                        let mut kv = vec![0f32; k];
                        for (((p_i, w_i), q_i), e_i) in p
                            .chunks_exact_mut(k * k)
                            .zip(w.chunks_exact_mut(k))
                            .zip(q.chunks_exact(k))
                            .zip(e)
                        {
                            let c = update_one(p_i, q_i, &mut kv);
                            for (wv, kj) in w_i.iter_mut().zip(&kv) {
                                *wv -= c * e_i * kj;
                            }
                        }
                    });
                }
            });
        }
        let finite = self.p.iter().step_by(k + 1).all(|v| v.is_finite())
            && weights.iter().all(|v| v.is_finite());
        if !finite {
            return Err(RlsError::Numerical(format!(
                "RLS diverged at update {}: P or the weights became NaN or infinite",
                self.updates
            )));
        }
        Ok(())
    }

    /// Number of updates done.
    pub fn updates(&self) -> u64 {
        self.updates
    }
}

/// `a · b` accumulated in f64 over 8 independent lanes: long f32 sums drift
/// enough to move spike times, and separate lanes let the compiler vectorise.
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut lanes = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| *x as f64 * *y as f64)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] as f64 * y[l] as f64;
        }
    }
    lanes.iter().sum::<f64>() + tail
}

/// `k = P q`, `c = 1/(1 + qᵀk)`, `P ← P − c k kᵀ` for one symmetric `P`
/// (`[K][K]`); leaves `k` in `kv` and returns `c`.
fn update_one(p: &mut [f32], q: &[f32], kv: &mut [f32]) -> f32 {
    let k = q.len();
    for (i, out) in kv.iter_mut().enumerate() {
        *out = dot(&p[i * k..(i + 1) * k], q) as f32;
    }
    let qk = dot(q, kv);
    let c = (1.0 / (1.0 + qk)) as f32;
    for i in 0..k {
        let cki = c * kv[i];
        for (pv, kj) in p[i * k..(i + 1) * k].iter_mut().zip(kv.iter()) {
            *pv -= cki * kj;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RlsConfig;
    use burn::prelude::*;

    #[test]
    fn host_and_tensor_rls_agree() {
        let device = Device::default();
        for shared in [false, true] {
            let (n, k) = (7, 5);
            let mut host = HostRls::new(n, k, 0.7, shared).unwrap();
            let mut tensor = RlsConfig::new(n, k)
                .with_lambda(0.7)
                .with_shared_p(shared)
                .init(&device)
                .unwrap();
            let mut w_host = vec![0f32; n * k];
            let mut w_tensor = Tensor::<2>::zeros([n, k], &device);
            let mut state = 5u64;
            let mut next = || {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            };
            for _ in 0..25 {
                let q: Vec<f32> = (0..if shared { k } else { n * k })
                    .map(|_| next())
                    .collect();
                let e: Vec<f32> = (0..n).map(|_| next()).collect();
                host.update(&mut w_host, &q, &e).unwrap();
                let qt = Tensor::<1>::from_floats(q.as_slice(), &device)
                    .reshape([if shared { 1 } else { n }, k]);
                w_tensor = tensor
                    .update(w_tensor, qt, Tensor::from_floats(e.as_slice(), &device))
                    .unwrap();
            }
            let wt = w_tensor.to_data().try_to_vec::<f32>().unwrap();
            for (a, b) in w_host.iter().zip(&wt) {
                assert!(
                    (a - b).abs() < 1e-4,
                    "shared={shared}: host {a} vs tensor {b}"
                );
            }
        }
    }

    #[test]
    fn bad_shapes_are_reported() {
        let mut r = HostRls::new(2, 3, 1.0, false).unwrap();
        let e = r.update(&mut [0.0; 6], &[0.0; 3], &[0.0; 2]).unwrap_err();
        assert!(e.to_string().contains("regressor"), "{e}");
        assert!(HostRls::new(0, 3, 1.0, true).is_err());
    }
}

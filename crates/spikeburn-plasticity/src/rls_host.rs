//! RLS in host memory: the CPU fast path of [`crate::rls`].
//!
//! Same update as [`crate::Rls`], on `Vec<f32>` buffers that stay in host
//! memory between updates (a tensor round trip of `P` per update would cost
//! more than the update). Both modes cut the work into tasks fixed by the
//! problem size and run them on spikeburn's thread pool
//! ([`spikeburn_core::threads`]), so the results do not depend on the thread
//! count.

use rayon::prelude::*;

use crate::PlasticityError;

/// Host-memory RLS state (`P` per neuron, or one shared `P`).
///
/// Per-neuron mode supports presynaptic sets of different sizes (neuron `i`
/// uses the first `lengths[i]` of its `K` slots; the rest stay untouched) and
/// Dale's law ([`HostRls::with_sign_constraint`]): an update that would flip a
/// weight's sign is skipped for that weight, and the weight leaves the
/// plastic set (its regressor is zeroed from then on, as Kim & Chow do).
#[derive(Clone, Debug)]
pub struct HostRls {
    /// `[N][K][K]` row-major, or `[K][K]` when shared.
    pub p: Vec<f32>,
    neurons: usize,
    inputs: usize,
    shared: bool,
    updates: u64,
    lengths: Vec<usize>,
    /// `[N][K]` in per-neuron mode: the sign each weight must keep (0 = free).
    signs: Vec<i8>,
    /// Whether a sign constraint was set.
    constrained: bool,
    /// `[N][K]`: weights removed from training by the sign constraint.
    frozen: Vec<bool>,
    /// Shared mode: `k = P q` and `c` of the last update.
    gain: Vec<f32>,
    gain_c: f32,
}

impl HostRls {
    /// `P(0) = I/λ` for `neurons` × `inputs`.
    pub fn new(
        neurons: usize,
        inputs: usize,
        lambda: f64,
        shared: bool,
    ) -> Result<Self, PlasticityError> {
        if neurons == 0 || inputs == 0 {
            return Err(PlasticityError::Config(format!(
                "RLS needs neurons >= 1 and inputs >= 1, got {neurons} and {inputs}"
            )));
        }
        if !(lambda.is_finite() && lambda > 0.0) {
            return Err(PlasticityError::Config(format!(
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
            lengths: vec![inputs; neurons],
            // Allocated once: the per-neuron update walks them every time.
            signs: vec![0; if shared { 0 } else { neurons * inputs }],
            constrained: false,
            frozen: vec![false; if shared { 0 } else { neurons * inputs }],
            gain: vec![],
            gain_c: 0.0,
        })
    }

    /// Neuron `i` trains only its first `lengths[i]` slots (presynaptic sets
    /// of different sizes padded to `K`); the work per update scales with
    /// `Σ lengths²`, not `N K²`. A length of 0 (an empty set, which
    /// [`crate::PresynapticSets::bernoulli`] can draw for a small `N p`) is
    /// allowed: that neuron has no plastic input and keeps its weights.
    pub fn with_lengths(mut self, lengths: Vec<usize>) -> Result<Self, PlasticityError> {
        if self.shared {
            return Err(PlasticityError::Config(
                "per-neuron set sizes need per-neuron P (shared_p = false)".into(),
            ));
        }
        if lengths.len() != self.neurons {
            return Err(PlasticityError::Shape(format!(
                "RLS got {} set sizes, expected one per neuron ({})",
                lengths.len(),
                self.neurons
            )));
        }
        if let Some((i, l)) = lengths.iter().enumerate().find(|(_, l)| **l > self.inputs) {
            return Err(PlasticityError::Shape(format!(
                "neuron {i} has a presynaptic set of {l}, more than the {} slots",
                self.inputs
            )));
        }
        self.lengths = lengths;
        Ok(self)
    }

    /// Dale's law: every weight keeps the sign it has in `weights` (`[N][K]`;
    /// zero weights are unconstrained).
    pub fn with_sign_constraint(mut self, weights: &[f32]) -> Result<Self, PlasticityError> {
        if self.shared {
            return Err(PlasticityError::Config(
                "a sign constraint freezes weights per neuron: it needs per-neuron P".into(),
            ));
        }
        if weights.len() != self.neurons * self.inputs {
            return Err(PlasticityError::Shape(format!(
                "sign constraint got {} weights, expected {}",
                weights.len(),
                self.neurons * self.inputs
            )));
        }
        self.signs = weights
            .iter()
            .map(|w| {
                if *w > 0.0 {
                    1
                } else if *w < 0.0 {
                    -1
                } else {
                    0
                }
            })
            .collect();
        self.frozen.fill(false);
        self.constrained = true;
        Ok(self)
    }

    /// Weights the sign constraint has removed from training so far.
    pub fn frozen_count(&self) -> usize {
        self.frozen.iter().filter(|f| **f).count()
    }

    /// One update of `weights` (`[N][K]`) from regressors `q` (`[N][K]`, or
    /// `[K]` in shared mode) and a-priori errors `error` (`[N]`).
    pub fn update(
        &mut self,
        weights: &mut [f32],
        q: &[f32],
        error: &[f32],
    ) -> Result<(), PlasticityError> {
        let (n, k) = (self.neurons, self.inputs);
        if weights.len() != n * k || error.len() != n {
            return Err(PlasticityError::Shape(format!(
                "RLS got {} weights and {} errors, expected {} and {n}",
                weights.len(),
                error.len(),
                n * k
            )));
        }
        let expected_q = if self.shared { k } else { n * k };
        if q.len() != expected_q {
            return Err(PlasticityError::Shape(format!(
                "RLS regressor has {} values, expected {expected_q}",
                q.len()
            )));
        }
        self.updates += 1;
        if self.shared {
            let mut kv = std::mem::take(&mut self.gain);
            kv.resize(k, 0.0);
            let c = self.update_shared(weights, q, error, &mut kv);
            self.gain = kv;
            self.gain_c = c;
        } else {
            let per = neurons_per_task(k);
            let constrained = self.constrained;
            let (signs, frozen) = (&self.signs[..], &mut self.frozen[..]);
            let tasks: Vec<NeuronTask> = self
                .p
                .chunks_mut(per * k * k)
                .zip(weights.chunks_mut(per * k))
                .zip(q.chunks(per * k).zip(error.chunks(per)))
                .zip(
                    signs
                        .chunks(per * k)
                        .zip(frozen.chunks_mut(per * k))
                        .zip(self.lengths.chunks(per)),
                )
                .map(
                    |(((p, weights), (q, error)), ((signs, frozen), lengths))| NeuronTask {
                        p,
                        weights,
                        q,
                        error,
                        signs,
                        frozen,
                        lengths,
                    },
                )
                .collect();
            // Neurons are independent: any split gives the same numbers.
            let run = |task: NeuronTask| task.run(k, constrained);
            if tasks.len() == 1 {
                tasks.into_iter().for_each(run);
            } else {
                spikeburn_core::threads::install(|| tasks.into_par_iter().for_each(run));
            }
        }
        self.check(weights)
    }

    /// Numerical guard: finite weights; every `P` with a finite, positive
    /// diagonal (a symmetric positive-definite matrix has one); every 50
    /// updates, symmetric `P`.
    fn check(&self, weights: &[f32]) -> Result<(), PlasticityError> {
        let k = self.inputs;
        if let Some(i) = weights.iter().position(|v| !v.is_finite()) {
            return Err(PlasticityError::Numerical(format!(
                "RLS diverged at update {}: weight {i} is {} (lower the update rate or raise lambda)",
                self.updates, weights[i]
            )));
        }
        for (b, block) in self.p.chunks_exact(k * k).enumerate() {
            for i in 0..k {
                let d = block[i * k + i];
                if !(d.is_finite() && d > 0.0) {
                    return Err(PlasticityError::Numerical(format!(
                        "RLS lost positive definiteness at update {}: P[{b}] has diagonal entry {i} = {d}",
                        self.updates
                    )));
                }
            }
            if self.updates.is_multiple_of(50) {
                let scale = (0..k).map(|i| block[i * k + i]).fold(0f32, f32::max);
                for i in 0..k {
                    for j in 0..i {
                        let asym = (block[i * k + j] - block[j * k + i]).abs();
                        if asym > 1e-3 * scale {
                            return Err(PlasticityError::Numerical(format!(
                                "RLS lost the symmetry of P[{b}] at update {}: |P[{i},{j}] − P[{j},{i}]| = {asym:e} against max diagonal {scale:e}",
                                self.updates
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Number of updates done.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Threads one update uses: spikeburn's pool
    /// ([`spikeburn_core::num_threads`]), at most one per task. Per-neuron
    /// mode cuts the neurons into tasks of about `2^18` multiply-adds;
    /// shared mode cuts the rows of `P` and `W` into tasks of at least 768
    /// rows (so `K < 1536` runs on the calling thread: at `K = 500` handing
    /// half the rows to another thread costs more than it saves).
    pub fn update_threads(&self) -> usize {
        let tasks = if self.shared {
            shared_tasks(self.inputs)
        } else {
            self.neurons.div_ceil(neurons_per_task(self.inputs))
        };
        spikeburn_core::num_threads().min(tasks).max(1)
    }

    /// Shared mode: `(c, k)` of the last update, so a caller that keeps
    /// `u = W r` up to date can apply the weight change `−c e kᵀ` to it in
    /// `O(N + K)`: `u_i ← u_i − c e_i (k · r)`.
    pub fn last_gain(&self) -> Option<(f32, &[f32])> {
        (self.shared && !self.gain.is_empty()).then_some((self.gain_c, &self.gain[..]))
    }

    /// The shared-`P` update, rows split over threads when `K` is large
    /// enough to pay for them: `k = P q`, then `P ← P − c k kᵀ` and
    /// `W ← W − c e kᵀ`.
    fn update_shared(
        &mut self,
        weights: &mut [f32],
        q: &[f32],
        error: &[f32],
        kv: &mut [f32],
    ) -> f32 {
        let k = self.inputs;
        let tasks = shared_tasks(k);
        if tasks == 1 {
            let c = update_one(&mut self.p, k, q, kv);
            subtract_outer(weights, k, error, c, kv);
            return c;
        }
        // Every row of P and W is updated on its own: any split of the rows
        // gives the same numbers.
        let rows = k.div_ceil(tasks);
        let p = &mut self.p;
        spikeburn_core::threads::install(|| {
            p.par_chunks(rows * k)
                .zip(kv.par_chunks_mut(rows))
                .for_each(|(p_rows, out)| gemv_rows(p_rows, k, q, out));
        });
        let c = (1.0 / (1.0 + dot(q, kv))) as f32;
        let kv = &*kv;
        let w_rows = error.len().div_ceil(tasks);
        spikeburn_core::threads::install(|| {
            p.par_chunks_mut(rows * k)
                .zip(kv.par_chunks(rows))
                .zip(
                    weights
                        .par_chunks_mut(w_rows * k)
                        .zip(error.par_chunks(w_rows)),
                )
                .for_each(|((p_rows, k_part), (w, e))| {
                    subtract_outer(p_rows, k, k_part, c, kv);
                    subtract_outer(w, k, e, c, kv);
                });
        });
        c
    }
}

/// Tasks of a shared-`P` update of `K` rows: at least
/// [`SHARED_ROWS_PER_TASK`] rows each, fixed by `K`.
fn shared_tasks(k: usize) -> usize {
    (k / SHARED_ROWS_PER_TASK).max(1)
}

/// Work of one per-neuron task, about `2^18` multiply-adds of `P` updates
/// (`K²` per neuron): big enough to pay for handing it to a thread, small
/// enough to balance the threads. Fixed by `K`, not by the thread count.
fn neurons_per_task(k: usize) -> usize {
    ((1usize << 18) / (k * k).max(1)).max(1)
}

/// Rows of the shared `P` per task (`K` multiply-adds each). Measured on 2
/// cores: handing rows to the pool loses at `K = 500` and wins at `K = 2000`.
const SHARED_ROWS_PER_TASK: usize = 768;

/// A range of neurons of the per-neuron update, with their slices of `P`
/// (`[len][K][K]`), weights, regressors (`[len][K]`), errors (`[len]`),
/// sign constraints, frozen flags and set sizes.
struct NeuronTask<'a> {
    p: &'a mut [f32],
    weights: &'a mut [f32],
    q: &'a [f32],
    error: &'a [f32],
    signs: &'a [i8],
    frozen: &'a mut [bool],
    lengths: &'a [usize],
}

impl NeuronTask<'_> {
    /// The RLS step of each neuron of the task on its own set.
    fn run(self, k: usize, constrained: bool) {
        let mut kv = vec![0f32; k];
        let mut q_eff = vec![0f32; k];
        for (i, e_i) in self.error.iter().enumerate() {
            let l = self.lengths[i];
            if l == 0 {
                // No plastic input (a small N·p can leave a set empty):
                // nothing to regress on, the neuron keeps its weights.
                continue;
            }
            let q_i = &self.q[i * k..i * k + l];
            let fr_i = &mut self.frozen[i * k..i * k + l];
            for ((qe, qv), f) in q_eff.iter_mut().zip(q_i).zip(fr_i.iter()) {
                *qe = if *f { 0.0 } else { *qv };
            }
            let p_i = &mut self.p[i * k * k..(i + 1) * k * k];
            let c = update_one(p_i, k, &q_eff[..l], &mut kv[..l]);
            let w_i = &mut self.weights[i * k..i * k + l];
            let sg_i = &self.signs[i * k..i * k + l];
            for j in 0..l {
                if fr_i[j] {
                    continue;
                }
                let next = w_i[j] - c * e_i * kv[j];
                if constrained && (next * sg_i[j] as f32) < 0.0 {
                    fr_i[j] = true; // the update would flip the sign
                } else {
                    w_i[j] = next;
                }
            }
        }
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

/// `out[i] = rows[i][..q.len()] · q` for the rows of a row-major matrix
/// with row stride `stride`.
fn gemv_rows(rows: &[f32], stride: usize, q: &[f32], out: &mut [f32]) {
    for (row, o) in rows.chunks(stride).zip(out) {
        *o = dot(&row[..q.len()], q) as f32;
    }
}

/// `M[i][..kv.len()] −= c a_i kvᵀ` for the rows of `m` (row stride `stride`,
/// one scalar `a_i` per row).
fn subtract_outer(m: &mut [f32], stride: usize, a: &[f32], c: f32, kv: &[f32]) {
    for (row, ai) in m.chunks_mut(stride).zip(a) {
        let ca = c * ai;
        for (v, kj) in row[..kv.len()].iter_mut().zip(kv) {
            *v -= ca * kj;
        }
    }
}

/// `k = P q`, `c = 1/(1 + qᵀk)`, `P ← P − c k kᵀ` on the leading
/// `q.len()` × `q.len()` block of one symmetric `P` stored with row stride
/// `stride`; leaves `k` in `kv` and returns `c`.
fn update_one(p: &mut [f32], stride: usize, q: &[f32], kv: &mut [f32]) -> f32 {
    let l = q.len();
    if l == 0 {
        // An empty set: `P` is a 0 × 0 block and nothing changes.
        return 1.0;
    }
    gemv_rows(&p[..(l - 1) * stride + l], stride, q, kv);
    let c = (1.0 / (1.0 + dot(q, kv))) as f32;
    subtract_outer(&mut p[..(l - 1) * stride + l], stride, kv, c, kv);
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

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
    }

    /// Ridge solution `(λI + Σ q qᵀ)⁻¹ Σ q f` by Gauss-Jordan (f64, small).
    #[allow(clippy::needless_range_loop)] // index form mirrors the textbook algorithm
    fn ridge(qs: &[Vec<f64>], fs: &[f64], lambda: f64) -> Vec<f64> {
        let l = qs[0].len();
        let mut a = vec![vec![0.0; l + 1]; l];
        for (q, f) in qs.iter().zip(fs) {
            for r in 0..l {
                a[r][l] += q[r] * f;
                for c in 0..l {
                    a[r][c] += q[r] * q[c];
                }
            }
        }
        for (r, row) in a.iter_mut().enumerate() {
            row[r] += lambda;
        }
        for i in 0..l {
            let piv = a[i][i];
            for c in 0..=l {
                a[i][c] /= piv;
            }
            for r in 0..l {
                if r != i {
                    let f = a[r][i];
                    for c in 0..=l {
                        a[r][c] -= f * a[i][c];
                    }
                }
            }
        }
        a.iter().map(|row| row[l]).collect()
    }

    #[test]
    fn sets_of_different_sizes_give_each_neurons_ridge_solution() {
        let (n, k, lambda) = (3, 5, 0.8);
        let lengths = vec![5, 3, 1];
        let mut rls = HostRls::new(n, k, lambda, false)
            .unwrap()
            .with_lengths(lengths.clone())
            .unwrap();
        // Padding slots start at 0.7 and must never move; w_i starts at 0 in
        // its set, so one pass gives the ridge solution over the set.
        let mut w: Vec<f32> = (0..n * k)
            .map(|x| if x % k < lengths[x / k] { 0.0 } else { 0.7 })
            .collect();
        let mut rng = Lcg(17);
        let (mut qs, mut fs) = (vec![vec![]; n], vec![vec![]; n]);
        for _ in 0..20 {
            let q: Vec<f32> = (0..n * k).map(|_| rng.next()).collect();
            let f: Vec<f32> = (0..n).map(|_| rng.next()).collect();
            let e: Vec<f32> = (0..n)
                .map(|i| {
                    let l = lengths[i];
                    dot(&w[i * k..i * k + l], &q[i * k..i * k + l]) as f32 - f[i]
                })
                .collect();
            rls.update(&mut w, &q, &e).unwrap();
            for i in 0..n {
                qs[i].push(
                    q[i * k..i * k + lengths[i]]
                        .iter()
                        .map(|v| *v as f64)
                        .collect(),
                );
                fs[i].push(f[i] as f64);
            }
        }
        for i in 0..n {
            let want = ridge(&qs[i], &fs[i], lambda);
            for (j, wv) in want.iter().enumerate() {
                let got = w[i * k + j] as f64;
                assert!(
                    (got - wv).abs() < 1e-4,
                    "neuron {i} weight {j}: {got} vs ridge {wv}"
                );
            }
            for j in lengths[i]..k {
                assert_eq!(w[i * k + j], 0.7, "padding slot {i},{j} moved");
            }
        }
    }

    #[test]
    fn dale_constraint_never_flips_a_sign_and_matches_the_tensor_rule() {
        let device = Device::default();
        let (n, k) = (4, 6);
        let w0: Vec<f32> = (0..n * k)
            .map(|x| if x % 3 == 0 { -0.05 } else { 0.05 })
            .collect();
        let mut host = HostRls::new(n, k, 1.0, false)
            .unwrap()
            .with_sign_constraint(&w0)
            .unwrap();
        let wt0 = Tensor::<1>::from_floats(w0.as_slice(), &device).reshape([n, k]);
        let mut tensor = RlsConfig::new(n, k)
            .init(&device)
            .unwrap()
            .with_sign_constraint(&wt0)
            .unwrap();
        let (mut w, mut wt) = (w0.clone(), wt0);
        let mut rng = Lcg(4);
        let mut frozen_at: Vec<Option<f32>> = vec![None; n * k];
        for _ in 0..200 {
            // Rates are non-negative; large errors push weights across zero.
            let q: Vec<f32> = (0..n * k).map(|_| rng.next().abs()).collect();
            let e: Vec<f32> = (0..n).map(|_| 3.0 * rng.next()).collect();
            host.update(&mut w, &q, &e).unwrap();
            let qt = Tensor::<1>::from_floats(q.as_slice(), &device).reshape([n, k]);
            wt = tensor
                .update(wt, qt, Tensor::from_floats(e.as_slice(), &device))
                .unwrap();
            for (x, (wv, w0v)) in w.iter().zip(&w0).enumerate() {
                assert!(wv * w0v >= 0.0, "weight {x} flipped: {w0v} -> {wv}");
                if let Some(v) = frozen_at[x] {
                    assert_eq!(*wv, v, "frozen weight {x} moved");
                } else if host.frozen[x] {
                    frozen_at[x] = Some(*wv);
                }
            }
        }
        assert!(host.frozen_count() > 0, "the test never hit the constraint");
        let got = wt.to_data().try_to_vec::<f32>().unwrap();
        for (a, b) in w.iter().zip(&got) {
            assert!((a - b).abs() < 1e-3, "host {a} vs tensor {b}");
        }
        let mask = tensor
            .plastic_mask()
            .unwrap()
            .to_data()
            .try_to_vec::<f32>()
            .unwrap();
        let frozen_tensor = mask.iter().filter(|m| **m == 0.0).count();
        assert_eq!(frozen_tensor, host.frozen_count());
    }

    #[test]
    fn large_shared_update_split_over_threads_matches_per_neuron_p() {
        let (n, k) = (3, 1600); // K ≥ 1536: the shared update runs on 2+ threads
        let mut shared = HostRls::new(n, k, 1.0, true).unwrap();
        let mut per = HostRls::new(n, k, 1.0, false).unwrap();
        let (mut ws, mut wp) = (vec![0f32; n * k], vec![0f32; n * k]);
        let mut rng = Lcg(8);
        for _ in 0..10 {
            let q: Vec<f32> = (0..k).map(|_| rng.next().abs()).collect();
            let e: Vec<f32> = (0..n).map(|_| rng.next()).collect();
            shared.update(&mut ws, &q, &e).unwrap();
            per.update(&mut wp, &q.repeat(n), &e).unwrap();
            let (c, kv) = shared.last_gain().unwrap();
            assert!(c > 0.0 && c <= 1.0 && kv.len() == k);
        }
        for (a, b) in ws.iter().zip(&wp) {
            assert!((a - b).abs() < 1e-5, "shared {a} vs per-neuron {b}");
        }
        assert!(per.last_gain().is_none());
    }

    #[test]
    fn a_corrupted_p_is_reported() {
        let mut r = HostRls::new(2, 3, 1.0, false).unwrap();
        r.p[3 * 3 + 4] = -1.0; // neuron 1, diagonal entry 1
        let e = r.update(&mut [0.0; 6], &[0.0; 6], &[0.0; 2]).unwrap_err();
        assert!(e.to_string().contains("positive definiteness"), "{e}");
        let mut r = HostRls::new(1, 3, 1.0, true).unwrap();
        r.p[1] = 0.5; // P[0,1] ≠ P[1,0]
        let mut w = [0f32; 3];
        let mut last = Ok(());
        for _ in 0..50 {
            last = r.update(&mut w, &[0.0; 3], &[0.0]);
        }
        assert!(last.unwrap_err().to_string().contains("symmetry"));
    }

    #[test]
    fn a_neuron_with_an_empty_presynaptic_set_keeps_its_weights() {
        use rand::SeedableRng;
        // Bernoulli sets with N p ≈ 0.2: most sets are empty, a few are not.
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let sets = crate::PresynapticSets::bernoulli(20, 0.01, &mut rng).unwrap();
        let empty = sets.len.iter().filter(|l| **l == 0).count();
        assert!(empty > 0 && empty < sets.neurons, "lengths {:?}", sets.len);
        let (n, k) = (sets.neurons, sets.width);
        let mut rls = HostRls::new(n, k, 1.0, false)
            .unwrap()
            .with_lengths(sets.len.clone())
            .unwrap();
        let w0: Vec<f32> = (0..n * k).map(|x| 0.1 * (x % 7) as f32).collect();
        let mut w = w0.clone();
        let mut lcg = Lcg(12);
        for _ in 0..5 {
            let q: Vec<f32> = (0..n * k).map(|_| lcg.next().abs() + 0.1).collect();
            let e: Vec<f32> = (0..n).map(|_| lcg.next() + 2.0).collect();
            rls.update(&mut w, &q, &e).unwrap();
        }
        for i in 0..n {
            let (row, row0) = (&w[i * k..(i + 1) * k], &w0[i * k..(i + 1) * k]);
            if sets.len[i] == 0 {
                assert_eq!(row, row0, "neuron {i} has no plastic input but moved");
            } else {
                // Errors of at least 1 move every trained weight.
                assert!(
                    row[..sets.len[i]]
                        .iter()
                        .zip(row0)
                        .all(|(a, b)| (a - b).abs() > 1e-4),
                    "neuron {i} with {} inputs was not trained",
                    sets.len[i]
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

//! Host-memory kernels of the fused BPTT path (CPU backends: flex, ndarray).
//!
//! What spiking makes cheap, exploited on the CPU:
//! - the recurrent input `z_{t−1} W_rec` adds only the rows of `W_rec` of the
//!   neurons that spiked (a few percent), instead of a dense matmul;
//! - `∂L/∂W_rec = Σ_t z_{t−1}ᵀ δI_t` adds `δI_t` rows only where a spike was;
//! - no allocation per step: every buffer is sized once for the sequence;
//! - the neuron updates run as branch-free passes over a batch row, which the
//!   compiler vectorises: each element gets the operations of the scalar
//!   formulas in the same order, so results are bit-for-bit those of a
//!   per-element loop.
//!
//! The only dense product left is the backward recursion `δI_{t+1} W_recᵀ`,
//! done with `matrixmultiply`'s sgemm on a strided view of `W_rec`.
//!
//! Parallelism: the batch is cut into fixed tasks ([`batch_tasks`]) that run
//! on spikeburn's thread pool ([`crate::threads`]).

use rayon::prelude::*;

/// Constants of the dynamics (see [`super::FusedDynamics`]).
pub(crate) struct HostDynamics<'a> {
    pub alpha: f32,
    pub gain: f32,
    pub threshold: f32,
    /// `(ρ, β per neuron)` for ALIF.
    pub adaptation: Option<(f32, &'a [f32])>,
    pub adaptive_reset: bool,
    pub normalise_by_adaptive_threshold: bool,
    /// The surrogate `ψ(x)`, when it can be evaluated per element on the host;
    /// `None` keeps the normalised potentials for a tensor evaluation.
    pub surrogate: Option<HostSurrogate<'a>>,
    /// Steps a neuron stays silent after a spike.
    pub refractory_steps: usize,
    /// Without it the backward needs the reset levels `A_t` (adaptive reset).
    pub detach_reset: bool,
}

/// `ψ(x)` per element on the host. The kernel evaluates it once per neuron
/// and step (47 M times per sMNIST forward pass), so LSNN's piecewise-linear
/// pseudo-derivative is computed inline instead of through a `dyn Fn` and
/// `Surrogate::derivative_at` (9 % of an sMNIST run's profile samples; whole
/// runs took 0.98× the CPU time). Both give the same bits: the inline form is
/// that formula, in `f64` too.
#[derive(Clone, Copy)]
pub(crate) enum HostSurrogate<'a> {
    /// `γ · max(0, 1 − |x|/w)`, in `f64` as `derivative_at` computes it.
    PiecewiseLinear { dampening: f64, width: f64 },
    /// Any other built-in surrogate.
    Other(&'a (dyn Fn(f32) -> f32 + Sync)),
}

impl HostSurrogate<'_> {
    /// `out[k] = ψ(x[k])`. The match is taken once per row, so the
    /// piecewise-linear loop has no call or branch and the compiler
    /// vectorises it; a unit width skips the division (exact: `y / 1 = y`),
    /// which was the forward pass's longest dependency.
    pub(crate) fn fill(self, x: &[f32], out: &mut [f32]) {
        let out = &mut out[..x.len()];
        match self {
            Self::PiecewiseLinear {
                dampening,
                width: 1.0,
            } => {
                for (o, &x) in out.iter_mut().zip(x) {
                    *o = (dampening * (1.0 - (x as f64).abs()).max(0.0)) as f32;
                }
            }
            Self::PiecewiseLinear { dampening, width } => {
                for (o, &x) in out.iter_mut().zip(x) {
                    *o = (dampening * (1.0 - (x as f64).abs() / width).max(0.0)) as f32;
                }
            }
            Self::Other(f) => {
                for (o, &x) in out.iter_mut().zip(x) {
                    *o = f(x);
                }
            }
        }
    }
}

/// `p = ψ(x)` over a row; `1` without a host surrogate (`ψ` applied later).
fn psi_row(surrogate: Option<HostSurrogate>, x: &[f32], p: &mut [f32]) {
    match surrogate {
        Some(f) => f.fill(x, p),
        None => p[..x.len()].fill(1.0),
    }
}

/// Integer synaptic delays (see `RecurrentSpikingConfig::max_delay`): the
/// drive of step `t` is `Σ_e x_{t−e} W_in^(e) + Σ_d z_{t−d} W_rec^(d)`.
#[derive(Clone, Debug)]
pub(crate) struct HostDelays {
    /// `D`.
    pub max_delay: usize,
    /// `[N, N]` row-major, each in `1..=D`.
    pub recurrent: Vec<u16>,
    /// `[n_in, N]` row-major, each in `0..D`.
    pub input: Vec<u16>,
}

/// A synapse onto neuron `target` after `delay` steps.
#[derive(Clone, Copy)]
struct Synapse {
    target: u32,
    delay: u16,
    weight: f32,
}

/// The non-zero synapses of `w` (`[rows, n]`) grouped by presynaptic row:
/// with rewired (sparse) weights every delayed product costs only the
/// synapses that exist.
fn synapse_lists(w: &[f32], delays: &[u16], rows: usize, n: usize) -> Vec<Vec<Synapse>> {
    (0..rows)
        .map(|i| {
            (0..n)
                .filter(|&j| w[i * n + j] != 0.0)
                .map(|j| Synapse {
                    target: j as u32,
                    delay: delays[i * n + j],
                    weight: w[i * n + j],
                })
                .collect()
        })
        .collect()
}

/// Everything the forward pass produces, `[T, B, N]` row-major unless noted.
pub(crate) struct HostForward {
    /// Spikes as bytes (0/1): a quarter of the memory of f32.
    pub spikes: Vec<u8>,
    /// `Kv = ψ ∂x/∂v` (without the `ψ` factor when no host surrogate was given).
    pub kv: Vec<f32>,
    /// `Ka = ψ ∂x/∂a` (ALIF normalised by `A_t` only; otherwise it is
    /// `−β Kv`, rebuilt in the backward instead of stored).
    pub ka: Vec<f32>,
    /// Reset levels `A_t` (undetached adaptive reset only; otherwise `ϑ0`).
    pub reset_level: Vec<f32>,
    /// Normalised potentials `x` (only without a host surrogate).
    pub normalised: Vec<f32>,
    /// `v` and `a` after the last step, `[B, N]`.
    pub last_membrane: Vec<f32>,
    pub last_adaptation: Vec<f32>,
    /// With delays: the drive in flight after the last step, `[D, B, N]`
    /// (slot `k` arrives at step `T + k`).
    pub pending: Vec<f32>,
}

impl HostForward {
    /// Multiplies `Kv` and `Ka` by `ψ` evaluated elsewhere.
    pub(crate) fn apply_surrogate(&mut self, psi: &[f32]) {
        for (k, p) in self.kv.iter_mut().zip(psi) {
            *k *= *p;
        }
        for (k, p) in self.ka.iter_mut().zip(psi) {
            *k *= *p;
        }
    }
}

/// Runs the dynamics over `input` (`[T, B, n_in]`). The input projection
/// `x_t W_in` is formed step by step, so no `[T, B, N]` buffer holds it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    input: &[f32],
    w_in: &[f32],
    n_in: usize,
    w_rec: &[f32],
    steps: usize,
    batch: usize,
    n: usize,
    d: &HostDynamics,
    delays: Option<&HostDelays>,
) -> HostForward {
    let size = batch * n;
    let total = steps * size;
    let adaptive = d.adaptation.is_some();
    let mut out = HostForward {
        spikes: vec![0; total],
        kv: vec![0.0; total],
        ka: if adaptive && d.normalise_by_adaptive_threshold {
            vec![0.0; total]
        } else {
            vec![]
        },
        reset_level: if adaptive && d.adaptive_reset && !d.detach_reset {
            vec![0.0; total]
        } else {
            vec![]
        },
        normalised: if d.surrogate.is_none() {
            vec![0.0; total]
        } else {
            vec![]
        },
        last_membrane: vec![0.0; size],
        last_adaptation: vec![0.0; size],
        pending: vec![],
    };
    // With delays the drive goes through a ring of D + 1 slots (step s in
    // slot s mod (D + 1)): inputs land 0..D−1 steps ahead, spikes 1..D.
    let slots = delays.map_or(0, |dl| dl.max_delay + 1);
    let mut ring = vec![0f32; slots * size];
    let lists = delays.map(|dl| {
        (
            synapse_lists(w_in, &dl.input, n_in, n),
            synapse_lists(w_rec, &dl.recurrent, n, n),
        )
    });
    // Per-row scratch of the neuron update.
    let (mut x_row, mut p_row) = (vec![0f32; n], vec![0f32; n]);
    let (mut thr_row, mut dx_dv_row, mut dx_da_row) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
    let mut v = vec![0f32; size];
    let mut a = vec![0f32; size];
    let mut z_prev = vec![0f32; size];
    // Remaining refractory steps; a spike at t−1 sets n_ref, so the neuron is
    // silent for n_ref steps (spikes and their surrogate gradient are 0).
    let mut refractory = vec![0u32; if d.refractory_steps > 0 { size } else { 0 }];
    let n_ref = d.refractory_steps as u32;
    let mut current = vec![0f32; n];
    let mut projected = vec![0f32; size];
    let mut active = vec![0usize; n];
    let inv0 = 1.0 / d.threshold;
    let sparse_input = density(input) < SPARSE_DENSITY;
    for t in 0..steps {
        let x_t = &input[t * batch * n_in..(t + 1) * batch * n_in];
        if let Some((in_lists, _)) = &lists {
            for b in 0..batch {
                for (i, &x) in x_t[b * n_in..(b + 1) * n_in].iter().enumerate() {
                    if x != 0.0 {
                        for syn in &in_lists[i] {
                            let slot = (t + syn.delay as usize) % slots;
                            ring[slot * size + b * n + syn.target as usize] += x * syn.weight;
                        }
                    }
                }
            }
        } else {
            project_into(&mut projected, x_t, w_in, batch, n_in, n, sparse_input);
        }
        for b in 0..batch {
            let row = b * n..(b + 1) * n;
            let base = t * size + b * n;
            if lists.is_some() {
                // Spikes of earlier steps were sent here when they happened.
                let now = &mut ring[(t % slots) * size + b * n..][..n];
                current.copy_from_slice(now);
                now.fill(0.0);
            } else {
                current.copy_from_slice(&projected[row.clone()]);
                // Branch-free compaction: which neurons spike is random, so
                // a branch per neuron was mispredicted often.
                let mut spiking = 0;
                for (j, z) in z_prev[row.clone()].iter().enumerate() {
                    active[spiking] = j;
                    spiking += (*z != 0.0) as usize;
                }
                for &j in &active[..spiking] {
                    for (c, w) in current.iter_mut().zip(&w_rec[j * n..(j + 1) * n]) {
                        *c += *w;
                    }
                }
            }
            if n_ref > 0 {
                for (c, z) in refractory[row.clone()].iter_mut().zip(&z_prev[row.clone()]) {
                    *c = if *z != 0.0 {
                        n_ref
                    } else {
                        c.saturating_sub(1)
                    };
                }
            }
            let (v, a, z_prev) = (
                &mut v[row.clone()],
                &mut a[row.clone()],
                &z_prev[row.clone()],
            );
            let spikes = &mut out.spikes[base..base + n];
            let kv = &mut out.kv[base..base + n];
            // Branch-free passes over the row (flags hoisted out of the
            // loops) so that each loop vectorises; every element gets the
            // same operations in the same order as the scalar formulas.
            let (x, p) = (&mut x_row[..n], &mut p_row[..n]);
            match d.adaptation {
                None => {
                    // LIF: x = (v − ϑ)/ϑ, reset subtracts ϑ.
                    for k in 0..n {
                        let vk = d.alpha * v[k] + d.gain * current[k] - d.threshold * z_prev[k];
                        v[k] = vk;
                        x[k] = (vk - d.threshold) * inv0;
                    }
                    psi_row(d.surrogate, x, p);
                    for k in 0..n {
                        kv[k] = p[k] * inv0;
                    }
                }
                Some((rho, beta)) => {
                    let beta = &beta[..n];
                    let (thr, dx_dv, dx_da) =
                        (&mut thr_row[..n], &mut dx_dv_row[..n], &mut dx_da_row[..n]);
                    for k in 0..n {
                        let z_old = z_prev[k];
                        let ak = rho * a[k] + (1.0 - rho) * z_old;
                        a[k] = ak;
                        let thr_k = d.threshold + beta[k] * ak;
                        thr[k] = thr_k;
                        let reset = if d.adaptive_reset { thr_k } else { d.threshold };
                        v[k] = d.alpha * v[k] + d.gain * current[k] - reset * z_old;
                    }
                    if d.normalise_by_adaptive_threshold {
                        // x = v/A − 1: ∂x/∂v = 1/A, ∂x/∂a = −β v / A².
                        for k in 0..n {
                            let inv = 1.0 / thr[k];
                            x[k] = (v[k] - thr[k]) * inv;
                            dx_dv[k] = inv;
                            dx_da[k] = -beta[k] * v[k] * inv * inv;
                        }
                    } else {
                        for k in 0..n {
                            x[k] = (v[k] - thr[k]) * inv0;
                            dx_dv[k] = inv0;
                            dx_da[k] = -beta[k] * inv0;
                        }
                    }
                    psi_row(d.surrogate, x, p);
                    for k in 0..n {
                        kv[k] = p[k] * dx_dv[k];
                    }
                    if !out.ka.is_empty() {
                        for (o, (p, dx)) in
                            out.ka[base..base + n].iter_mut().zip(p.iter().zip(&*dx_da))
                        {
                            *o = p * dx;
                        }
                    }
                    if !out.reset_level.is_empty() {
                        out.reset_level[base..base + n].copy_from_slice(thr);
                    }
                }
            }
            for (s, x) in spikes.iter_mut().zip(&*x) {
                *s = (*x > 0.0) as u8;
            }
            if !out.normalised.is_empty() {
                out.normalised[base..base + n].copy_from_slice(x);
            }
            if n_ref > 0 {
                // Selects, not branches, so that the loops vectorise.
                let silent = &refractory[row][..n];
                let spikes = &mut out.spikes[base..base + n];
                let kv = &mut out.kv[base..base + n];
                for ((s, kv), c) in spikes.iter_mut().zip(kv).zip(silent) {
                    *s = if *c > 0 { 0 } else { *s };
                    *kv = if *c > 0 { 0.0 } else { *kv };
                }
                if !out.ka.is_empty() {
                    for (ka, c) in out.ka[base..base + n].iter_mut().zip(silent) {
                        *ka = if *c > 0 { 0.0 } else { *ka };
                    }
                }
            }
        }
        for (zp, z) in z_prev.iter_mut().zip(&out.spikes[t * size..(t + 1) * size]) {
            *zp = *z as f32;
        }
        if let Some((_, rec_lists)) = &lists {
            for (k, z) in out.spikes[t * size..(t + 1) * size].iter().enumerate() {
                if *z != 0 {
                    let (b, i) = (k / n, k % n);
                    for syn in &rec_lists[i] {
                        let slot = (t + syn.delay as usize) % slots;
                        ring[slot * size + b * n + syn.target as usize] += syn.weight;
                    }
                }
            }
        }
    }
    if let Some(dl) = delays {
        out.pending = (0..dl.max_delay)
            .flat_map(|k| ring[((steps + k) % slots) * size..][..size].iter().copied())
            .collect();
    }
    out.last_membrane = v;
    out.last_adaptation = a;
    out
}

/// `out = X W` for `X` `[rows, k]` and `W` `[k, n]`: rows of a mostly-zero
/// `X` (spike inputs) only add the rows of `W` they select.
fn project_into(
    out: &mut [f32],
    x: &[f32],
    w: &[f32],
    rows: usize,
    k: usize,
    n: usize,
    sparse: bool,
) {
    if sparse {
        out.fill(0.0);
        for r in 0..rows {
            let o = &mut out[r * n..(r + 1) * n];
            for (c, &xv) in x[r * k..(r + 1) * k].iter().enumerate() {
                if xv != 0.0 {
                    for (ov, wv) in o.iter_mut().zip(&w[c * n..(c + 1) * n]) {
                        *ov += xv * *wv;
                    }
                }
            }
        }
    } else {
        // SAFETY: row-major buffers of rows×k, k×n and rows×n f32s.
        unsafe {
            matrixmultiply::sgemm(
                rows,
                k,
                n,
                1.0,
                x.as_ptr(),
                k as isize,
                1,
                w.as_ptr(),
                n as isize,
                1,
                0.0,
                out.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    }
}

/// Below this fraction of non-zeros, products skip the zeros.
const SPARSE_DENSITY: f64 = 0.25;

fn density(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().filter(|v| **v != 0.0).count() as f64 / x.len() as f64
}

/// Constants of the backward recursion.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HostBackward {
    pub alpha: f32,
    pub rho: f32,
    pub gain: f32,
    pub adaptive: bool,
    pub adaptive_reset: bool,
    /// Keep the gradient through the reset (`δz_t −= R_{t+1} δv_{t+1}`).
    pub reset_gradient: bool,
    /// `ϑ0`, the reset level when `reset_level` is empty.
    pub threshold: f32,
}

/// `δI` of the steps `t, t+1, …, t+D` during the reverse sweep (a ring of
/// `D + 1` buffers of `[batch, N]`; `D = 1` without delays).
pub(crate) struct DeltaWindow<'a> {
    ring: &'a [f32],
    slots: usize,
    size: usize,
    t: usize,
    steps: usize,
}

impl DeltaWindow<'_> {
    /// `δI_{t+k}` (`[batch, N]`), or `None` past the end of the sequence.
    pub(crate) fn at(&self, k: usize) -> Option<&[f32]> {
        (k < self.slots && self.t + k < self.steps).then(|| {
            let slot = (self.t + k) % self.slots;
            &self.ring[slot * self.size..(slot + 1) * self.size]
        })
    }
}

/// The reverse recursion of [`super::fused`] for one range of the batch.
///
/// `grad` is the full `[T, B_total, N]` upstream gradient; this call handles
/// the `batch` rows starting at `first`. `beta` rebuilds `Ka = −β Kv` when
/// `ka` is empty. `on_delta(t, window)` is called as soon as `δI_t` is known
/// (from `t = T−1` down to 0) with `δI_t … δI_{t+D}` in `window`, so
/// gradients accumulate on the fly and `δI` is never stored for the whole
/// sequence. With `delays`, `δz_t = ∂L/∂z_t + Σ_d δI_{t+d} W_rec^(d)ᵀ` runs
/// over the existing synapses only.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reverse(
    grad: &[f32],
    (batch_total, first): (usize, usize),
    kv: &[f32],
    ka: &[f32],
    spikes: &[u8],
    reset_level: &[f32],
    beta: &[f32],
    w_rec: &[f32],
    steps: usize,
    batch: usize,
    n: usize,
    c: &HostBackward,
    delays: Option<&HostDelays>,
    mut on_delta: impl FnMut(usize, &DeltaWindow),
) {
    let size = batch * n;
    let slots = delays.map_or(2, |d| d.max_delay + 1);
    let rec_lists = delays.map(|d| synapse_lists(w_rec, &d.recurrent, n, n));
    // A contiguous W_recᵀ: sgemm on the strided view was 3× slower.
    let mut w_rec_t = vec![];
    if rec_lists.is_none() {
        w_rec_t = vec![0f32; n * n];
        for j in 0..n {
            for k in 0..n {
                w_rec_t[k * n + j] = w_rec[j * n + k];
            }
        }
    }
    let mut ring = vec![0f32; slots * size];
    let mut dz = vec![0f32; size];
    let mut dv = vec![0f32; size];
    let mut da = vec![0f32; size];
    let mut ka_scratch = vec![0f32; n];
    let no_spikes = vec![0u8; n];
    for t in (0..steps).rev() {
        let base = t * size;
        let g = (t * batch_total + first) * n;
        dz.copy_from_slice(&grad[g..g + size]);
        let kv = &kv[base..base + size];
        let ka = ka.get(base..base + size).unwrap_or(&[]);
        // z_{t−1} (none before the first step): the adaptive reset's
        // `Rz = β z_{t−1}` is rebuilt from it rather than stored.
        let z_before = t.checked_sub(1).map(|s| &spikes[s * size..t * size]);
        if let Some(lists) = &rec_lists {
            let window = DeltaWindow {
                ring: &ring,
                slots,
                size,
                t,
                steps,
            };
            let later: Vec<Option<&[f32]>> = (0..slots).map(|k| window.at(k)).collect();
            for (k, dzk) in dz.iter_mut().enumerate() {
                // δz reaches δv and δa only through Kv and Ka (Ka = −β Kv
                // when not stored): where the surrogate vanishes, skip it.
                if kv[k] == 0.0 && ka.get(k).is_none_or(|a| *a == 0.0) {
                    continue;
                }
                let (b, i) = (k / n, k % n);
                for syn in &lists[i] {
                    if let Some(later) = later[syn.delay as usize] {
                        *dzk += syn.weight * later[b * n + syn.target as usize];
                    }
                }
            }
        } else if t + 1 < steps {
            let next = &ring[((t + 1) % slots) * size..][..size];
            // dz += δI_{t+1} W_recᵀ.
            // SAFETY: the three buffers hold batch×n, n×n and batch×n f32s in
            // row-major order, as the dimensions and strides say, and `dz`
            // does not alias the inputs.
            unsafe {
                matrixmultiply::sgemm(
                    batch,
                    n,
                    n,
                    1.0,
                    next.as_ptr(),
                    n as isize,
                    1,
                    w_rec_t.as_ptr(),
                    n as isize,
                    1,
                    1.0,
                    dz.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
        }
        // `dv` and `da` still hold δv_{t+1} and δa_{t+1} (zeros at the last
        // step). Flags are hoisted out of the loops so that they vectorise.
        if c.reset_gradient && t + 1 < steps {
            // v_{t+1} = … − R_{t+1} z_t.
            match reset_level.get((t + 1) * size..(t + 2) * size) {
                Some(levels) => {
                    for ((dz, r), dv) in dz.iter_mut().zip(levels).zip(&dv) {
                        *dz -= r * dv;
                    }
                }
                None => {
                    for (dz, dv) in dz.iter_mut().zip(&dv) {
                        *dz -= c.threshold * dv;
                    }
                }
            }
        }
        let out = &mut ring[(t % slots) * size..][..size];
        if !c.adaptive {
            for k in 0..size {
                let dvk = kv[k] * dz[k] + c.alpha * dv[k];
                dv[k] = dvk;
                out[k] = c.gain * dvk;
            }
        } else {
            for b in 0..batch {
                let row = b * n..(b + 1) * n;
                let (dz, dv, da) = (&dz[row.clone()], &mut dv[row.clone()], &mut da[row.clone()]);
                let kv = &kv[row.clone()];
                let out = &mut out[row.clone()];
                let ka_row = if ka.is_empty() {
                    // Ka = −β Kv when it was not stored.
                    for ((o, k), b) in ka_scratch.iter_mut().zip(kv).zip(&beta[..n]) {
                        *o = -b * k;
                    }
                    &ka_scratch[..]
                } else {
                    &ka[row.clone()]
                };
                for k in 0..n {
                    let (dv_next, da_next) = (dv[k], da[k]);
                    let dzk = dz[k] + (1.0 - c.rho) * da_next;
                    let dvk = kv[k] * dzk + c.alpha * dv_next;
                    da[k] = ka_row[k] * dzk + c.rho * da_next;
                    dv[k] = dvk;
                    out[k] = c.gain * dvk;
                }
                if c.adaptive_reset {
                    // The same product β·z as the forward's reset, so the
                    // same bits as storing it.
                    let z = z_before.map_or(&no_spikes[..], |z| &z[row.clone()]);
                    for (((da, dv), z), b) in da.iter_mut().zip(&*dv).zip(z).zip(&beta[..n]) {
                        *da -= b * (*z as f32) * dv;
                    }
                }
            }
        }
        on_delta(
            t,
            &DeltaWindow {
                ring: &ring,
                slots,
                size,
                t,
                steps,
            },
        );
    }
}

/// `dst[j] += Σ_b Σ_{c: x_bc ≠ 0} x_bc · δ_b` for `x` `[batch, k]`, `δ` `[batch, n]`,
/// `dst` `[k, n]`: the outer-product gradient of a step, skipping zero inputs.
fn accumulate_outer<T: Copy + Into<f32>>(
    dst: &mut [f32],
    x: &[T],
    delta: &[f32],
    k: usize,
    n: usize,
) {
    for (x_b, d_b) in x.chunks_exact(k).zip(delta.chunks_exact(n)) {
        for (c, &xv) in x_b.iter().enumerate() {
            let xv: f32 = xv.into();
            if xv != 0.0 {
                for (o, d) in dst[c * n..(c + 1) * n].iter_mut().zip(d_b) {
                    *o += xv * *d;
                }
            }
        }
    }
}

/// The weight gradients of one step with delays, once `δI_t … δI_{t+D}`
/// are known: `∂L/∂W_in[i, j] += x_t[i] δI_{t+e_ij}[j]` and
/// `∂L/∂W_rec[i, j] += z_t[i] δI_{t+d_ij}[j]`, for every `j` (dormant
/// rewired entries need their gradient too).
fn accumulate_delayed(
    (d_w_in, d_w_rec): (Option<&mut [f32]>, Option<&mut [f32]>),
    x: &[f32],
    z: &[u8],
    window: &DeltaWindow,
    delays: &HostDelays,
    n_in: usize,
    n: usize,
) {
    let later: Vec<Option<&[f32]>> = (0..=delays.max_delay).map(|k| window.at(k)).collect();
    if let Some(g) = d_w_in {
        accumulate_delayed_outer(g, x, n_in, &delays.input, &later, n);
    }
    if let Some(g) = d_w_rec {
        accumulate_delayed_outer(g, z, n, &delays.recurrent, &later, n);
    }
}

/// `g[i, j] += x_b[i] · δI_{t+delay_ij}[b, j]` over the non-zero `x`
/// (`[batch, width]`), `later[k]` being `δI_{t+k}`.
fn accumulate_delayed_outer<T: Copy + Into<f32>>(
    g: &mut [f32],
    x: &[T],
    width: usize,
    delay: &[u16],
    later: &[Option<&[f32]>],
    n: usize,
) {
    for (k, &xv) in x.iter().enumerate() {
        let xv: f32 = xv.into();
        if xv != 0.0 {
            let (b, i) = (k / width, k % width);
            for j in 0..n {
                if let Some(d) = later[delay[i * n + j] as usize] {
                    g[i * n + j] += xv * d[b * n + j];
                }
            }
        }
    }
}

/// Fewest batch rows per task of the host kernels. Batch elements are
/// independent through the whole sequence (forward and backward), so each
/// task runs its own slice of the batch with no synchronisation until the
/// weight gradients are summed, in task order. The split is fixed by the
/// batch alone, not by the thread count, so the sums (and every result) are
/// the same on any number of threads. 16 rows keep the backward's sgemm
/// (`δI_{t+1} W_recᵀ`, which repacks `W_recᵀ` per call) efficient and give
/// W1's batch of 32 two tasks.
const MIN_ROWS_PER_TASK: usize = 16;

/// Most tasks per call: beyond it, rows per task grow instead. At B = 256
/// on 2 cores (W1-ALIF) 16 tasks of 16 rows cost 14 % more CPU time than
/// the former 2 × 128 (the backward's sgemm repacks `W_recᵀ` per task and
/// step), 8 tasks 11 %, 4 tasks of 64 rows 2 %.
const MAX_TASKS: usize = 4;

/// The fixed split of `batch` into tasks (see [`MIN_ROWS_PER_TASK`]).
pub(crate) fn batch_tasks(batch: usize) -> Vec<(usize, usize)> {
    let rows = MIN_ROWS_PER_TASK.max(batch.div_ceil(MAX_TASKS));
    batch_ranges(batch, batch.div_ceil(rows))
}

/// Splits `batch` into at most `parts` contiguous ranges `(first, len)` of
/// near-equal size.
pub(crate) fn batch_ranges(batch: usize, parts: usize) -> Vec<(usize, usize)> {
    let parts = parts.clamp(1, batch.max(1));
    (0..parts)
        .map(|p| {
            let first = p * batch / parts;
            (first, (p + 1) * batch / parts - first)
        })
        .filter(|&(_, len)| len > 0)
        .collect()
}

/// The rows `first..first+len` of every step of a `[T, B, width]` buffer, as `[T, len, width]`.
pub(crate) fn take_rows(
    data: &[f32],
    steps: usize,
    batch: usize,
    width: usize,
    first: usize,
    len: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(steps * len * width);
    for t in 0..steps {
        let start = (t * batch + first) * width;
        out.extend_from_slice(&data[start..start + len * width]);
    }
    out
}

/// Inverse of [`take_rows`]: interleaves per-range `[T, len, width]` parts into `[T, B, width]`.
pub(crate) fn merge_rows<'a, T: Copy + Into<f32> + 'a>(
    parts: impl Iterator<Item = ((usize, usize), &'a [T])>,
    steps: usize,
    batch: usize,
    width: usize,
) -> Vec<f32> {
    let mut out = vec![0f32; steps * batch * width];
    for ((first, len), part) in parts {
        for t in 0..steps {
            let dst = (t * batch + first) * width;
            let src = t * len * width;
            for (o, p) in out[dst..dst + len * width]
                .iter_mut()
                .zip(&part[src..src + len * width])
            {
                *o = (*p).into();
            }
        }
    }
    out
}

/// One thread's slice of the batch, kept in host memory between the passes.
pub(crate) struct HostPart {
    /// `(first, len)` of the batch range.
    pub rows: (usize, usize),
    /// Its input `[T, len, n_in]`.
    pub input: Vec<f32>,
    /// The forward products for its rows.
    pub forward: HostForward,
}

/// What the host backward needs, kept in host memory between the passes.
pub(crate) struct HostSaved {
    pub parts: Vec<HostPart>,
    /// Adaptation strengths per neuron (empty for LIF).
    pub beta: Vec<f32>,
    pub w_in: Vec<f32>,
    pub w_rec: Vec<f32>,
    pub steps: usize,
    pub batch: usize,
    pub n_in: usize,
    pub n: usize,
    pub constants: HostBackward,
    pub delays: Option<HostDelays>,
}

impl std::fmt::Debug for HostSaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HostSaved {{ steps: {}, batch: {}, n_in: {}, n: {}, parts: {} }}",
            self.steps,
            self.batch,
            self.n_in,
            self.n,
            self.parts.len()
        )
    }
}

/// Runs projection and dynamics for `input` (`[T, B, n_in]`), one task per
/// range of [`batch_tasks`] on spikeburn's thread pool; returns the parts
/// in batch order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_parallel(
    input: &[f32],
    w_in: &[f32],
    w_rec: &[f32],
    steps: usize,
    batch: usize,
    n_in: usize,
    n: usize,
    d: &HostDynamics,
    delays: Option<&HostDelays>,
) -> Vec<HostPart> {
    let run = |&(first, len): &(usize, usize)| {
        let input = take_rows(input, steps, batch, n_in, first, len);
        let forward = forward(&input, w_in, n_in, w_rec, steps, len, n, d, delays);
        HostPart {
            rows: (first, len),
            input,
            forward,
        }
    };
    on_pool(&batch_tasks(batch), run)
}

/// `tasks.map(run)` in order: on spikeburn's pool when there are several,
/// on the calling thread for one (no hand-over for nothing to share).
fn on_pool<T: Sync, R: Send>(tasks: &[T], run: impl Fn(&T) -> R + Sync + Send) -> Vec<R> {
    if tasks.len() <= 1 {
        return tasks.iter().map(run).collect();
    }
    crate::threads::install(|| tasks.par_iter().map(run).collect())
}

/// Gradients of the host backward, each computed only when asked for.
pub(crate) struct HostGradients {
    pub input: Option<Vec<f32>>,
    pub w_in: Option<Vec<f32>>,
    pub w_rec: Option<Vec<f32>>,
}

/// The whole host backward from `∂L/∂z` (`[T, B, N]`), one task per part on
/// spikeburn's pool; the parts' weight gradients are summed in batch order.
pub(crate) fn backward(
    saved: &HostSaved,
    grad: &[f32],
    want_input: bool,
    want_w_in: bool,
    want_w_rec: bool,
) -> HostGradients {
    let (steps, batch, n_in, n) = (saved.steps, saved.batch, saved.n_in, saved.n);
    let results: Vec<HostGradients> = on_pool(&saved.parts, |part| {
        let (first, len) = part.rows;
        let f = &part.forward;
        let size = len * n;
        let mut d_w_rec = want_w_rec.then(|| vec![0f32; n * n]);
        let mut d_w_in = want_w_in.then(|| vec![0f32; n_in * n]);
        let mut d_input = want_input.then(|| vec![0f32; steps * len * n_in]);
        let sparse_input = density(&part.input) < SPARSE_DENSITY;
        let delayed = saved
            .delays
            .as_ref()
            .map(|dl| (dl, synapse_lists(&saved.w_in, &dl.input, n_in, n)));
        reverse(
            grad,
            (batch, first),
            &f.kv,
            &f.ka,
            &f.spikes,
            &f.reset_level,
            &saved.beta,
            &saved.w_rec,
            steps,
            len,
            n,
            &saved.constants,
            saved.delays.as_ref(),
            |t, window| {
                if let Some((dl, in_lists)) = &delayed {
                    let x = &part.input[t * len * n_in..(t + 1) * len * n_in];
                    let z = &f.spikes[t * size..(t + 1) * size];
                    accumulate_delayed(
                        (d_w_in.as_deref_mut(), d_w_rec.as_deref_mut()),
                        x,
                        z,
                        window,
                        dl,
                        n_in,
                        n,
                    );
                    if let Some(d) = d_input.as_mut() {
                        let dst = &mut d[t * len * n_in..(t + 1) * len * n_in];
                        for (k, o) in dst.iter_mut().enumerate() {
                            let (b, i) = (k / n_in, k % n_in);
                            *o = in_lists[i]
                                .iter()
                                .filter_map(|syn| {
                                    window.at(syn.delay as usize).map(|later| {
                                        syn.weight * later[b * n + syn.target as usize]
                                    })
                                })
                                .sum();
                        }
                    }
                    return;
                }
                let delta = window.at(0).expect("δI_t is known at step t");
                if let (Some(g), true) = (d_w_rec.as_mut(), t > 0) {
                    let z = &f.spikes[(t - 1) * size..t * size];
                    accumulate_outer(g, z, delta, n, n);
                }
                let x = &part.input[t * len * n_in..(t + 1) * len * n_in];
                if let Some(g) = d_w_in.as_mut() {
                    if sparse_input {
                        accumulate_outer(g, x, delta, n_in, n);
                    } else {
                        // SAFETY: xᵀ is the (1, n_in) strided view of the
                        // len×n_in buffer; δ is len×n, g is n_in×n.
                        unsafe {
                            matrixmultiply::sgemm(
                                n_in,
                                len,
                                n,
                                1.0,
                                x.as_ptr(),
                                1,
                                n_in as isize,
                                delta.as_ptr(),
                                n as isize,
                                1,
                                1.0,
                                g.as_mut_ptr(),
                                n as isize,
                                1,
                            );
                        }
                    }
                }
                if let Some(d) = d_input.as_mut() {
                    // δx_t = δI_t W_inᵀ; W_inᵀ is the (1, n) strided view of W_in.
                    let dst = &mut d[t * len * n_in..(t + 1) * len * n_in];
                    // SAFETY: δ is len×n, W_in is n_in×n, dst is len×n_in.
                    unsafe {
                        matrixmultiply::sgemm(
                            len,
                            n,
                            n_in,
                            1.0,
                            delta.as_ptr(),
                            n as isize,
                            1,
                            saved.w_in.as_ptr(),
                            1,
                            n as isize,
                            0.0,
                            dst.as_mut_ptr(),
                            n_in as isize,
                            1,
                        );
                    }
                }
            },
        );
        HostGradients {
            input: d_input,
            w_in: d_w_in,
            w_rec: d_w_rec,
        }
    });
    let sum = |parts: Vec<Vec<f32>>| {
        parts.into_iter().reduce(|mut acc, p| {
            acc.iter_mut().zip(p).for_each(|(a, b)| *a += b);
            acc
        })
    };
    let mut input_parts = vec![];
    let (mut w_in, mut w_rec) = (vec![], vec![]);
    for (part, g) in saved.parts.iter().zip(results) {
        if let Some(i) = g.input {
            input_parts.push((part.rows, i));
        }
        w_in.extend(g.w_in);
        w_rec.extend(g.w_rec);
    }
    HostGradients {
        input: want_input.then(|| {
            merge_rows(
                input_parts.iter().map(|(r, v)| (*r, v.as_slice())),
                steps,
                batch,
                n_in,
            )
        }),
        w_in: sum(w_in),
        w_rec: sum(w_rec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spike::{Surrogate, SurrogateGradient};

    #[test]
    fn the_inline_pseudo_derivative_is_the_catalogue_s_bit_for_bit() {
        for (dampening, width) in [(0.3, 1.0), (1.0, 0.5), (0.7, 3.0)] {
            let inline = HostSurrogate::PiecewiseLinear { dampening, width };
            let catalogue = Surrogate::PiecewiseLinear { dampening, width };
            let x: Vec<f32> = (-4000..=4000).map(|i| i as f32 * 1e-3 + 1.7e-5).collect();
            let mut psi = vec![f32::NAN; x.len()];
            inline.fill(&x, &mut psi);
            for (x, psi) in x.iter().zip(&psi) {
                let want = catalogue.derivative_at(*x as f64) as f32;
                assert_eq!(psi.to_bits(), want.to_bits(), "x = {x}");
            }
            let mut ends = [0f32; 2];
            inline.fill(&[0.0, 2.0 * width as f32], &mut ends);
            assert!(ends == [dampening as f32, 0.0]);
        }
    }

    #[test]
    fn rows_split_and_merge_round_trip() {
        let (steps, batch, width) = (3, 5, 2);
        let data: Vec<f32> = (0..steps * batch * width).map(|i| i as f32).collect();
        let ranges = batch_ranges(batch, 2);
        assert_eq!(ranges, vec![(0, 2), (2, 3)]);
        let parts: Vec<_> = ranges
            .iter()
            .map(|&(f, l)| ((f, l), take_rows(&data, steps, batch, width, f, l)))
            .collect();
        assert_eq!(parts[0].1[..4], [0.0, 1.0, 2.0, 3.0]);
        let merged = merge_rows(
            parts.iter().map(|(r, v)| (*r, v.as_slice())),
            steps,
            batch,
            width,
        );
        assert_eq!(merged, data);
        assert_eq!(batch_ranges(1, 4), vec![(0, 1)]);
        // The task split depends on the batch only.
        assert_eq!(batch_tasks(32), vec![(0, 16), (16, 16)]);
        assert_eq!(batch_tasks(5), vec![(0, 5)]);
        assert_eq!(batch_tasks(40), vec![(0, 13), (13, 13), (26, 14)]);
        assert_eq!(batch_tasks(64).len(), 4);
        assert_eq!(batch_tasks(256), batch_ranges(256, 4));
    }

    #[test]
    fn sgemm_strides_compute_the_transposed_product() {
        // dz (1×2) += δ (1×2) · Wᵀ with W = [[1, 2], [3, 4]] → δ·Wᵀ = [δ0+2δ1, 3δ0+4δ1].
        let w = [1.0f32, 2.0, 3.0, 4.0];
        let delta = [1.0f32, 10.0];
        let mut out = [0.5f32, 0.5];
        unsafe {
            matrixmultiply::sgemm(
                1,
                2,
                2,
                1.0,
                delta.as_ptr(),
                2,
                1,
                w.as_ptr(),
                1,
                2,
                1.0,
                out.as_mut_ptr(),
                2,
                1,
            );
        }
        assert_eq!(out, [21.5, 43.5]);
    }
}

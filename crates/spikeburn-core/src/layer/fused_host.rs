//! Host-memory kernels of the fused BPTT path (CPU backends: flex, ndarray).
//!
//! What spiking makes cheap, exploited on the CPU:
//! - the recurrent input `z_{t−1} W_rec` adds only the rows of `W_rec` of the
//!   neurons that spiked (a few percent), instead of a dense matmul;
//! - `∂L/∂W_rec = Σ_t z_{t−1}ᵀ δI_t` adds `δI_t` rows only where a spike was;
//! - no allocation per step: every buffer is sized once for the sequence.
//!
//! The only dense product left is the backward recursion `δI_{t+1} W_recᵀ`,
//! done with `matrixmultiply`'s sgemm on a strided view of `W_rec`.

/// Constants of the dynamics (see [`super::FusedDynamics`]).
pub(crate) struct HostDynamics<'a> {
    pub alpha: f32,
    pub gain: f32,
    pub threshold: f32,
    /// `(ρ, β per neuron)` for ALIF.
    pub adaptation: Option<(f32, &'a [f32])>,
    pub adaptive_reset: bool,
    pub normalise_by_adaptive_threshold: bool,
}

/// Everything the forward pass produces, `[T, B, N]` row-major unless noted.
pub(crate) struct HostForward {
    pub spikes: Vec<f32>,
    /// Normalised membrane `x` (the surrogate's argument).
    pub normalised: Vec<f32>,
    /// `v_t` (kept only when the surrogate is normalised by `A_t`).
    pub membrane: Vec<f32>,
    /// `A_t` (ALIF only).
    pub threshold: Vec<f32>,
    /// `v` and `a` after the last step, `[B, N]`.
    pub last_membrane: Vec<f32>,
    pub last_adaptation: Vec<f32>,
}

/// Runs the dynamics over `projected` (`x_t W_in`, `[T, B, N]`).
pub(crate) fn forward(
    projected: &[f32],
    w_rec: &[f32],
    steps: usize,
    batch: usize,
    n: usize,
    d: &HostDynamics,
) -> HostForward {
    let size = batch * n;
    let keep_v = d.adaptation.is_some() && d.normalise_by_adaptive_threshold;
    let mut out = HostForward {
        spikes: vec![0.0; steps * size],
        normalised: vec![0.0; steps * size],
        membrane: if keep_v {
            vec![0.0; steps * size]
        } else {
            vec![]
        },
        threshold: if d.adaptation.is_some() {
            vec![0.0; steps * size]
        } else {
            vec![]
        },
        last_membrane: vec![0.0; size],
        last_adaptation: vec![0.0; size],
    };
    let mut v = vec![0f32; size];
    let mut a = vec![0f32; size];
    let mut z_prev = vec![0f32; size];
    let mut current = vec![0f32; n];
    let mut active: Vec<usize> = Vec::with_capacity(n);
    for t in 0..steps {
        for b in 0..batch {
            let row = b * n..(b + 1) * n;
            let base = t * size + b * n;
            current.copy_from_slice(&projected[base..base + n]);
            active.clear();
            active.extend((0..n).filter(|&j| z_prev[b * n + j] != 0.0));
            for &j in &active {
                for (c, w) in current.iter_mut().zip(&w_rec[j * n..(j + 1) * n]) {
                    *c += *w;
                }
            }
            let (v, a, z_prev) = (&mut v[row.clone()], &mut a[row.clone()], &z_prev[row]);
            let spikes = &mut out.spikes[base..base + n];
            let normalised = &mut out.normalised[base..base + n];
            match d.adaptation {
                None => {
                    // LIF: x = (v − ϑ)/ϑ, reset subtracts ϑ.
                    let inv = 1.0 / d.threshold;
                    for k in 0..n {
                        let vk = d.alpha * v[k] + d.gain * current[k] - d.threshold * z_prev[k];
                        v[k] = vk;
                        let x = (vk - d.threshold) * inv;
                        normalised[k] = x;
                        spikes[k] = if x > 0.0 { 1.0 } else { 0.0 };
                    }
                }
                Some((rho, beta)) => {
                    let thresholds = &mut out.threshold[base..base + n];
                    let inv0 = 1.0 / d.threshold;
                    for k in 0..n {
                        let z_old = z_prev[k];
                        let ak = rho * a[k] + (1.0 - rho) * z_old;
                        a[k] = ak;
                        let thr = d.threshold + beta[k] * ak;
                        thresholds[k] = thr;
                        let reset = if d.adaptive_reset { thr } else { d.threshold };
                        let vk = d.alpha * v[k] + d.gain * current[k] - reset * z_old;
                        v[k] = vk;
                        let x = if d.normalise_by_adaptive_threshold {
                            out.membrane[base + k] = vk;
                            (vk - thr) / thr
                        } else {
                            (vk - thr) * inv0
                        };
                        normalised[k] = x;
                        spikes[k] = if x > 0.0 { 1.0 } else { 0.0 };
                    }
                }
            }
        }
        z_prev.copy_from_slice(&out.spikes[t * size..(t + 1) * size]);
    }
    out.last_membrane = v;
    out.last_adaptation = a;
    out
}

/// Constants of the backward recursion.
pub(crate) struct HostBackward {
    pub alpha: f32,
    pub rho: f32,
    pub gain: f32,
    pub adaptive: bool,
    pub adaptive_reset: bool,
}

/// The reverse recursion of [`super::fused`]; returns `δI`, `[T, B, N]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reverse(
    grad: &[f32],
    kv: &[f32],
    ka: &[f32],
    rz: &[f32],
    w_rec: &[f32],
    steps: usize,
    batch: usize,
    n: usize,
    c: &HostBackward,
) -> Vec<f32> {
    let size = batch * n;
    // A contiguous W_recᵀ: sgemm on the strided view was 3× slower.
    let mut w_rec_t = vec![0f32; n * n];
    for j in 0..n {
        for k in 0..n {
            w_rec_t[k * n + j] = w_rec[j * n + k];
        }
    }
    let mut delta_i = vec![0f32; steps * size];
    let mut dz = vec![0f32; size];
    let mut dv = vec![0f32; size];
    let mut da = vec![0f32; size];
    for t in (0..steps).rev() {
        let base = t * size;
        dz.copy_from_slice(&grad[base..base + size]);
        if t + 1 < steps {
            let next = &delta_i[base + size..base + 2 * size];
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
        let first = t + 1 == steps;
        let (kv, ka, rz) = (
            &kv[base..base + size],
            &ka[base..base + size],
            &rz[base..base + size],
        );
        let out = &mut delta_i[base..base + size];
        if !c.adaptive {
            for k in 0..size {
                let dv_next = if first { 0.0 } else { dv[k] };
                let dvk = kv[k] * dz[k] + c.alpha * dv_next;
                dv[k] = dvk;
                out[k] = c.gain * dvk;
            }
        } else {
            for k in 0..size {
                let (dv_next, da_next) = if first { (0.0, 0.0) } else { (dv[k], da[k]) };
                let dzk = dz[k] + (1.0 - c.rho) * da_next;
                let dvk = kv[k] * dzk + c.alpha * dv_next;
                let mut dak = ka[k] * dzk + c.rho * da_next;
                if c.adaptive_reset {
                    dak -= rz[k] * dvk;
                }
                da[k] = dak;
                dv[k] = dvk;
                out[k] = c.gain * dvk;
            }
        }
    }
    delta_i
}

/// `Σ_t z_{t−1}ᵀ δI_t` (`[N, N]`), touching only rows of neurons that spiked.
pub(crate) fn recurrent_weight_gradient(
    spikes: &[f32],
    delta_i: &[f32],
    steps: usize,
    batch: usize,
    n: usize,
) -> Vec<f32> {
    let size = batch * n;
    let mut grad = vec![0f32; n * n];
    for t in 1..steps {
        for b in 0..batch {
            let z = &spikes[(t - 1) * size + b * n..(t - 1) * size + (b + 1) * n];
            let d = &delta_i[t * size + b * n..t * size + (b + 1) * n];
            for (j, _) in z.iter().enumerate().filter(|(_, z)| **z != 0.0) {
                for (g, dv) in grad[j * n..(j + 1) * n].iter_mut().zip(d) {
                    *g += *dv;
                }
            }
        }
    }
    grad
}

#[cfg(test)]
mod tests {

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
#[cfg(test)]
mod timing {
    #[test]
    #[ignore]
    fn time_kernels() {
        let (t, b, n) = (500usize, 32usize, 256usize);
        let size = b * n;
        let w: Vec<f32> = (0..n * n)
            .map(|i| ((i * 7919) % 1000) as f32 * 1e-4 - 0.05)
            .collect();
        let g: Vec<f32> = (0..t * size)
            .map(|i| ((i * 31) % 100) as f32 * 1e-3)
            .collect();
        let z: Vec<f32> = (0..t * size)
            .map(|i| {
                if (i * 2654435761usize) % 100 < 4 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let s = std::time::Instant::now();
        let mut out = vec![0f32; size];
        for _ in 0..t {
            unsafe {
                matrixmultiply::sgemm(
                    b,
                    n,
                    n,
                    1.0,
                    g.as_ptr(),
                    n as isize,
                    1,
                    w.as_ptr(),
                    1,
                    n as isize,
                    1.0,
                    out.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
        }
        eprintln!("500 strided sgemm {:?}", s.elapsed());
        let s = std::time::Instant::now();
        for _ in 0..t {
            unsafe {
                matrixmultiply::sgemm(
                    b,
                    n,
                    n,
                    1.0,
                    g.as_ptr(),
                    n as isize,
                    1,
                    w.as_ptr(),
                    n as isize,
                    1,
                    1.0,
                    out.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
        }
        eprintln!("500 plain sgemm {:?}", s.elapsed());
        let s = std::time::Instant::now();
        let d = super::reverse(
            &g,
            &g,
            &g,
            &g,
            &w,
            t,
            b,
            n,
            &super::HostBackward {
                alpha: 0.95,
                rho: 0.99,
                gain: 1.0,
                adaptive: false,
                adaptive_reset: false,
            },
        );
        eprintln!("reverse {:?}", s.elapsed());
        let s = std::time::Instant::now();
        let _ = super::recurrent_weight_gradient(&z, &d, t, b, n);
        eprintln!("wrec grad {:?}", s.elapsed());
        let s = std::time::Instant::now();
        let _ = super::forward(
            &g,
            &w,
            t,
            b,
            n,
            &super::HostDynamics {
                alpha: 0.95,
                gain: 1.0,
                threshold: 1.0,
                adaptation: None,
                adaptive_reset: false,
                normalise_by_adaptive_threshold: false,
            },
        );
        eprintln!("forward {:?}", s.elapsed());
    }
}

//! Ridge regression by Cholesky: linear readouts fitted to recorded
//! activity (the untrained-network baseline of `autoencode-exact`, the
//! goal decoder of `l2l-navigation`).

use crate::error::{ExperimentError, Result};

/// Solves `(G + λ ḡ I) W = C` (`G` `[n, n]` symmetric positive
/// semi-definite, `ḡ` its mean diagonal, `C` `[n, d]`) by Cholesky.
///
/// Written here rather than taken from a linear-algebra crate: it is one
/// small SPD solve (tens of neurons) per run, and twenty lines cost less
/// than a dependency and its build time.
pub fn ridge_solve(
    mut g: Vec<f64>,
    c: Vec<f64>,
    n: usize,
    d: usize,
    lambda: f64,
) -> Result<Vec<f64>> {
    let mean_diag = (0..n).map(|i| g[i * n + i]).sum::<f64>() / n as f64;
    let shift = lambda * mean_diag.max(f64::MIN_POSITIVE);
    for i in 0..n {
        g[i * n + i] += shift;
    }
    // G = L Lᵀ, L stored in the lower triangle of g.
    for j in 0..n {
        let mut diag = g[j * n + j];
        for k in 0..j {
            diag -= g[j * n + k] * g[j * n + k];
        }
        if diag.is_nan() || diag <= 0.0 {
            return Err(ExperimentError::NonFinite {
                what: "ridge readout (Gram matrix not positive definite: silent network?)".into(),
                value: diag,
            });
        }
        let l = diag.sqrt();
        g[j * n + j] = l;
        for i in j + 1..n {
            let mut v = g[i * n + j];
            for k in 0..j {
                v -= g[i * n + k] * g[j * n + k];
            }
            g[i * n + j] = v / l;
        }
    }
    let mut w = c;
    for col in 0..d {
        // L y = c, then Lᵀ w = y.
        for i in 0..n {
            let mut v = w[i * d + col];
            for k in 0..i {
                v -= g[i * n + k] * w[k * d + col];
            }
            w[i * d + col] = v / g[i * n + i];
        }
        for i in (0..n).rev() {
            let mut v = w[i * d + col];
            for k in i + 1..n {
                v -= g[k * n + i] * w[k * d + col];
            }
            w[i * d + col] = v / g[i * n + i];
        }
    }
    Ok(w)
}

/// Fits `y ≈ x W` by ridge regression on the rows `train` of `x` `[rows, n]`
/// and `y` `[rows, d]`, and returns the coefficient of determination
/// `R² = 1 − SSE / SST` on the rows `test` (mean over the `d` outputs; SST
/// about the test rows' mean).
pub fn decoding_r2(
    x: &[f64],
    y: &[f64],
    n: usize,
    d: usize,
    train: &[usize],
    test: &[usize],
    lambda: f64,
) -> Result<f64> {
    // A constant column: the intercept.
    let m = n + 1;
    let row = |r: usize, i: usize| if i == n { 1.0 } else { x[r * n + i] };
    let mut g = vec![0.0; m * m];
    let mut c = vec![0.0; m * d];
    for &r in train {
        for i in 0..m {
            let xi = row(r, i);
            for k in 0..m {
                g[i * m + k] += xi * row(r, k);
            }
            for j in 0..d {
                c[i * d + j] += xi * y[r * d + j];
            }
        }
    }
    let w = ridge_solve(g, c, m, d, lambda)?;
    let mut r2 = 0.0;
    for j in 0..d {
        let mean = test.iter().map(|&r| y[r * d + j]).sum::<f64>() / test.len() as f64;
        let (mut sse, mut sst) = (0.0, 0.0);
        for &r in test {
            let p: f64 = (0..m).map(|i| row(r, i) * w[i * d + j]).sum();
            sse += (y[r * d + j] - p).powi(2);
            sst += (y[r * d + j] - mean).powi(2);
        }
        if sst <= 0.0 {
            return Err(ExperimentError::NonFinite {
                what: "decoding R² (the targets do not vary)".into(),
                value: sst,
            });
        }
        r2 += 1.0 - sse / sst;
    }
    Ok(r2 / d as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ridge_solve_recovers_a_least_squares_solution() {
        // G = AᵀA, C = AᵀB for a known W: with a tiny ridge, W comes back.
        let (n, d) = (3, 2);
        let a = [
            1.0, 2.0, 0.5, -1.0, 0.3, 2.0, 0.7, -0.4, 1.5, 2.0, 1.0, -1.0,
        ];
        let w = [0.5, -1.0, 2.0, 0.25, -0.75, 1.5];
        let rows = a.len() / n;
        let mut g = vec![0.0; n * n];
        let mut c = vec![0.0; n * d];
        for r in 0..rows {
            let b: Vec<f64> = (0..d)
                .map(|j| (0..n).map(|k| a[r * n + k] * w[k * d + j]).sum())
                .collect();
            for i in 0..n {
                for k in 0..n {
                    g[i * n + k] += a[r * n + i] * a[r * n + k];
                }
                for j in 0..d {
                    c[i * d + j] += a[r * n + i] * b[j];
                }
            }
        }
        let got = ridge_solve(g, c, n, d, 1e-12).unwrap();
        for (x, y) in got.iter().zip(w) {
            assert!((x - y).abs() < 1e-8, "{got:?}");
        }
        // A singular Gram matrix without ridge is an error, not NaN weights.
        assert!(ridge_solve(vec![0.0; 4], vec![1.0; 2], 2, 1, 0.0).is_err());
    }

    #[test]
    fn decoding_r2_is_one_for_a_linear_target_and_near_zero_for_noise() {
        let n = 3;
        let rows = 200;
        let mut state = 1u64;
        let mut noise = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let x: Vec<f64> = (0..rows * n).map(|_| noise()).collect();
        let linear: Vec<f64> = (0..rows)
            .map(|r| 2.0 * x[r * n] - x[r * n + 2] + 0.3)
            .collect();
        let unrelated: Vec<f64> = (0..rows).map(|_| noise()).collect();
        let (train, test): (Vec<usize>, Vec<usize>) = ((0..100).collect(), (100..200).collect());
        let r2 = decoding_r2(&x, &linear, n, 1, &train, &test, 1e-9).unwrap();
        assert!(r2 > 0.999, "{r2}");
        let r2 = decoding_r2(&x, &unrelated, n, 1, &train, &test, 1e-9).unwrap();
        assert!(r2 < 0.1, "{r2}");
    }
}

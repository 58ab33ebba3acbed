//! Linear dynamical systems `ẋ = A x + c(t)` driven by smoothed noise: the
//! targets of the efficient-balanced-network experiments (Bourdoukan &
//! Denève 2015).
//!
//! Time is in seconds here (the systems' rates are per second); a trajectory
//! is sampled every `dt` seconds, row-major `[steps, dims]`.
//!
//! The input `c(t)` is white Gaussian noise smoothed by a Gaussian kernel of
//! width `smoothing` seconds (cut at ±4 widths), then scaled so that every
//! dimension has standard deviation `amplitude` over the whole sample — the
//! input of the lab's EBN code (white noise smoothed over 30 steps).
//!
//! The trajectory is integrated with forward Euler at the same `dt` the
//! network uses, `x_{t+1} = x_t + dt (A x_t + c_t)`, so that the network and
//! its target see the same discretisation of the same input.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::{Result, TasksError};

/// A linear system `ẋ = A x + c(t)`, `A` row-major `[dims, dims]`, per second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearSystem {
    /// Dimensions `J`.
    pub dims: usize,
    /// `A`, row-major `[J, J]`, in 1/s.
    pub a: Vec<f64>,
}

impl LinearSystem {
    /// `A` given row by row; refuses an empty or non-square matrix and
    /// non-finite entries.
    pub fn new(rows: &[Vec<f64>]) -> Result<Self> {
        let dims = rows.len();
        if dims == 0 {
            return Err(TasksError::invalid(
                "A",
                "[]",
                "a square matrix of size >= 1",
            ));
        }
        if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != dims) {
            return Err(TasksError::invalid(
                format!("A row {i}"),
                format!("{} entries", r.len()),
                format!("{dims} entries (A must be square)"),
            ));
        }
        let a: Vec<f64> = rows.iter().flatten().copied().collect();
        if let Some(v) = a.iter().find(|v| !v.is_finite()) {
            return Err(TasksError::invalid("A", v, "finite entries"));
        }
        Ok(Self { dims, a })
    }

    /// The damped oscillator `A = [[−d, −ω], [ω, −d]]`: rotation at `ω`
    /// rad/s, amplitude decaying at rate `d` (decay time `1/d` s).
    pub fn damped_oscillator(decay: f64, omega: f64) -> Self {
        Self {
            dims: 2,
            a: vec![-decay, -omega, omega, -decay],
        }
    }

    /// `A x`.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let j = self.dims;
        (0..j)
            .map(|r| (0..j).map(|c| self.a[r * j + c] * x[c]).sum())
            .collect()
    }

    /// The slowest decay time in seconds, measured: the largest `τ` with
    /// `‖x(horizon)‖ = e^{−horizon/τ}` over the unforced runs from each unit
    /// vector (Infinity where a run does not decay). The experiments require
    /// it to be long against the readout's time constant, so that a network
    /// without slow recurrent connections cannot follow the system.
    pub fn decay_time(&self, horizon: f64) -> f64 {
        let dt = 1e-3;
        let steps = (horizon / dt).ceil() as usize;
        let mut slowest: f64 = 0.0;
        for start in 0..self.dims {
            let mut x = vec![0.0; self.dims];
            x[start] = 1.0;
            for _ in 0..steps {
                let dx = self.apply(&x);
                for (xi, d) in x.iter_mut().zip(dx) {
                    *xi += dt * d;
                }
            }
            let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
            let rate = -norm.ln() / horizon;
            let tau = if rate > 0.0 {
                1.0 / rate
            } else {
                f64::INFINITY
            };
            slowest = slowest.max(tau);
        }
        slowest
    }

    /// The trajectory `[steps, J]` driven by `input` (`[steps, J]`, as
    /// made by [`smoothed_noise`]) from `x0`, Euler steps of `dt` seconds;
    /// row `t` is the state after step `t`.
    pub fn trajectory(&self, input: &[f64], dt: f64, x0: &[f64]) -> Result<Vec<f64>> {
        let j = self.dims;
        if x0.len() != j {
            return Err(TasksError::invalid(
                "x0",
                format!("{} entries", x0.len()),
                format!("{j} (the system's dimension)"),
            ));
        }
        if !input.len().is_multiple_of(j) {
            return Err(TasksError::invalid(
                "input",
                format!("{} values", input.len()),
                format!("a multiple of the system's dimension {j}"),
            ));
        }
        if !(dt.is_finite() && dt > 0.0) {
            return Err(TasksError::invalid("dt", dt, "a time step > 0 s"));
        }
        let mut x = x0.to_vec();
        let mut out = Vec::with_capacity(input.len());
        for c in input.chunks_exact(j) {
            let dx = self.apply(&x);
            for ((xi, d), ci) in x.iter_mut().zip(dx).zip(c) {
                *xi += dt * (d + ci);
            }
            out.extend_from_slice(&x);
        }
        Ok(out)
    }
}

/// White Gaussian noise `[steps, dims]` smoothed by a Gaussian kernel of
/// standard deviation `smoothing` seconds and scaled to standard deviation
/// `amplitude` per dimension; deterministic for `seed`.
///
/// The smoothing runs on a grid of `smoothing / 10` (or `dt`, if coarser)
/// and is interpolated linearly to `dt`: the result is smooth on that
/// scale anyway, and a kernel of `8 smoothing / dt` taps per sample would
/// cost minutes for the long inputs of a learning run.
pub fn smoothed_noise(
    steps: usize,
    dims: usize,
    dt: f64,
    smoothing: f64,
    amplitude: f64,
    seed: u64,
) -> Result<Vec<f64>> {
    if steps == 0 || dims == 0 {
        return Err(TasksError::invalid(
            "steps × dims",
            format!("{steps} × {dims}"),
            "at least one step and one dimension",
        ));
    }
    if !(dt.is_finite() && dt > 0.0) {
        return Err(TasksError::invalid("dt", dt, "a time step > 0 s"));
    }
    if !(smoothing.is_finite() && smoothing >= dt) {
        return Err(TasksError::invalid(
            "smoothing",
            smoothing,
            format!("a width >= dt = {dt} s"),
        ));
    }
    if !(amplitude.is_finite() && amplitude >= 0.0) {
        return Err(TasksError::invalid(
            "amplitude",
            amplitude,
            "a standard deviation >= 0",
        ));
    }
    let grid = (smoothing / 10.0).max(dt);
    let width = smoothing / grid;
    let half = (4.0 * width).ceil() as usize;
    let kernel: Vec<f64> = (0..=2 * half)
        .map(|k| {
            let u = (k as f64 - half as f64) / width;
            (-0.5 * u * u).exp()
        })
        .collect();
    let total: f64 = kernel.iter().sum();
    let coarse = ((steps as f64 * dt) / grid).ceil() as usize + 2;
    let mut rng = StdRng::seed_from_u64(seed);
    // Draw the padding too, so the edges are as smooth as the middle.
    let padded = coarse + 2 * half;
    let white: Vec<f64> = (0..padded * dims)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let mut out = vec![0.0; steps * dims];
    for d in 0..dims {
        let smooth: Vec<f64> = (0..coarse)
            .map(|t| {
                kernel
                    .iter()
                    .enumerate()
                    .map(|(k, w)| w * white[(t + k) * dims + d])
                    .sum::<f64>()
                    / total
            })
            .collect();
        for t in 0..steps {
            let pos = t as f64 * dt / grid;
            let (i, frac) = (pos.floor() as usize, pos.fract());
            out[t * dims + d] = smooth[i] * (1.0 - frac) + smooth[i + 1] * frac;
        }
        let mean = (0..steps).map(|t| out[t * dims + d]).sum::<f64>() / steps as f64;
        let var = (0..steps)
            .map(|t| (out[t * dims + d] - mean).powi(2))
            .sum::<f64>()
            / steps as f64;
        let scale = if var > 0.0 {
            amplitude / var.sqrt()
        } else {
            0.0
        };
        for t in 0..steps {
            out[t * dims + d] = (out[t * dims + d] - mean) * scale;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oscillator_decays_at_its_rate_and_rotates() {
        let sys = LinearSystem::damped_oscillator(1.0, std::f64::consts::TAU);
        let tau = sys.decay_time(2.0);
        assert!((tau - 1.0).abs() < 0.02, "decay time {tau}");
        // A quarter period without input rotates (1, 0) to about (0, e^{-1/4}).
        let steps = 2500;
        let x = sys
            .trajectory(&vec![0.0; steps * 2], 1e-4, &[1.0, 0.0])
            .unwrap();
        let end = &x[(steps - 1) * 2..];
        let expected = (-0.25f64).exp();
        assert!(
            end[0].abs() < 0.01 && (end[1] - expected).abs() < 0.01,
            "{end:?}"
        );
    }

    #[test]
    fn noise_has_the_requested_amplitude_and_is_smooth() {
        let c = smoothed_noise(20_000, 2, 1e-4, 0.003, 5.0, 1).unwrap();
        for d in 0..2 {
            let v: Vec<f64> = c.iter().skip(d).step_by(2).copied().collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
            assert!((sd - 5.0).abs() < 1e-9, "sd {sd}");
            // Successive samples 0.1 ms apart under a 3 ms kernel are nearly equal.
            let jump = v
                .windows(2)
                .map(|w| (w[1] - w[0]).abs())
                .fold(0.0, f64::max);
            assert!(jump < 0.5, "largest step {jump}");
        }
        assert_eq!(c, smoothed_noise(20_000, 2, 1e-4, 0.003, 5.0, 1).unwrap());
    }

    #[test]
    fn bad_systems_are_refused() {
        assert!(LinearSystem::new(&[vec![1.0, 2.0], vec![3.0]]).is_err());
        assert!(LinearSystem::new(&[]).is_err());
        let sys = LinearSystem::damped_oscillator(1.0, 1.0);
        assert!(sys.trajectory(&[0.0; 3], 1e-3, &[0.0, 0.0]).is_err());
        assert!(smoothed_noise(10, 2, 1e-3, 0.0, 1.0, 0).is_err());
    }
}

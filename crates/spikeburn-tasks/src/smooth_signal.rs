//! Smoothly varying multi-dimensional signals: the input (and the target)
//! of the auto-encoding task of Huh & Sejnowski 2018, where a network must
//! reproduce its input at its output through spikes.
//!
//! Each dimension of each sequence is an independent sum of `components`
//! sinusoids,
//!
//! ```text
//! x_d(t) = √(2/K) Σ_k sin(2π f_k t + φ_k),   f_k ~ U[min_hz, max_hz],  φ_k ~ U[0, 2π)
//! ```
//!
//! so every dimension has unit variance in expectation over the draws
//! (each sinusoid contributes 1/2) and no component is faster than
//! `max_hz`. Time-major `[steps, batch, dims]`, sampled at the middle of
//! each step.

use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::{Result, TasksError};

/// The signals' shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmoothSignals {
    /// Dimensions of the signal.
    pub dims: usize,
    /// Sinusoids summed per dimension.
    pub components: usize,
    /// Lowest frequency (Hz).
    pub min_hz: f64,
    /// Highest frequency (Hz).
    pub max_hz: f64,
    /// Length of a sequence (ms).
    pub duration_ms: f64,
}

impl Default for SmoothSignals {
    fn default() -> Self {
        Self {
            dims: 2,
            components: 3,
            min_hz: 1.0,
            max_hz: 5.0,
            duration_ms: 400.0,
        }
    }
}

impl SmoothSignals {
    /// Refuses empty signals, frequencies out of order or so fast that a
    /// period spans fewer than 20 steps of `dt_ms`, and a duration shorter
    /// than 10 steps.
    pub fn validate(&self, dt_ms: f64) -> Result<()> {
        if self.dims == 0 {
            return Err(TasksError::invalid("dims", self.dims, "at least 1"));
        }
        if self.components == 0 {
            return Err(TasksError::invalid(
                "components",
                self.components,
                "at least 1",
            ));
        }
        if !(dt_ms.is_finite() && dt_ms > 0.0) {
            return Err(TasksError::invalid("dt_ms", dt_ms, "a step > 0 ms"));
        }
        if !(self.min_hz.is_finite() && self.min_hz >= 0.0) {
            return Err(TasksError::invalid(
                "min_hz",
                self.min_hz,
                "a frequency >= 0",
            ));
        }
        let nyquist_20 = 1000.0 / (20.0 * dt_ms);
        if !(self.max_hz.is_finite() && self.max_hz >= self.min_hz && self.max_hz <= nyquist_20) {
            return Err(TasksError::invalid(
                "max_hz",
                self.max_hz,
                format!(
                    "a frequency in [min_hz = {}, {nyquist_20}] Hz (20 steps per period)",
                    self.min_hz
                ),
            ));
        }
        if !(self.duration_ms.is_finite() && self.duration_ms >= 10.0 * dt_ms) {
            return Err(TasksError::invalid(
                "duration_ms",
                self.duration_ms,
                format!("a length >= 10 dt = {} ms", 10.0 * dt_ms),
            ));
        }
        Ok(())
    }

    /// Steps of `dt_ms` in a sequence.
    pub fn steps(&self, dt_ms: f64) -> usize {
        (self.duration_ms / dt_ms).round() as usize
    }

    /// `batch` sequences `[steps, batch, dims]`, row-major.
    pub fn batch(&self, batch: usize, dt_ms: f64, rng: &mut StdRng) -> Vec<f32> {
        let steps = self.steps(dt_ms);
        let mut x = vec![0f32; steps * batch * self.dims];
        let gain = (2.0 / self.components as f64).sqrt();
        for b in 0..batch {
            for d in 0..self.dims {
                let waves: Vec<(f64, f64)> = (0..self.components)
                    .map(|_| {
                        let f = self.min_hz + (self.max_hz - self.min_hz) * rng.random::<f64>();
                        let phase = std::f64::consts::TAU * rng.random::<f64>();
                        (std::f64::consts::TAU * f * 1e-3, phase)
                    })
                    .collect();
                for t in 0..steps {
                    let time = (t as f64 + 0.5) * dt_ms;
                    let v: f64 = waves.iter().map(|(w, p)| (w * time + p).sin()).sum();
                    x[(t * batch + b) * self.dims + d] = (gain * v) as f32;
                }
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn signals_have_unit_variance_and_no_fast_components() {
        let s = SmoothSignals {
            duration_ms: 2000.0,
            ..SmoothSignals::default()
        };
        let dt = 0.5;
        let mut rng = StdRng::seed_from_u64(3);
        let (batch, steps) = (64, s.steps(dt));
        let x = s.batch(batch, dt, &mut rng);
        assert_eq!(x.len(), steps * batch * 2);
        let var = x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64;
        assert!((var - 1.0).abs() < 0.1, "variance {var}");
        // Smoothness: a sum of unit-gain sinusoids below max_hz changes by at
        // most √(2K)·2π·max_hz·dt per step.
        let bound = (2.0 * 3.0f64).sqrt() * std::f64::consts::TAU * 5.0 * dt * 1e-3;
        for t in 1..steps {
            for i in 0..batch * 2 {
                let d = (x[t * batch * 2 + i] - x[(t - 1) * batch * 2 + i]).abs() as f64;
                assert!(d <= bound * 1.0001, "step {t}: {d} > {bound}");
            }
        }
        // Deterministic for a seed, different across seeds.
        assert_eq!(x, s.batch(batch, dt, &mut StdRng::seed_from_u64(3)));
        assert_ne!(x, s.batch(batch, dt, &mut StdRng::seed_from_u64(4)));
    }

    #[test]
    fn bad_shapes_are_refused_by_name() {
        let ok = SmoothSignals::default();
        for (bad, name) in [
            (
                SmoothSignals {
                    dims: 0,
                    ..ok.clone()
                },
                "dims",
            ),
            (
                SmoothSignals {
                    components: 0,
                    ..ok.clone()
                },
                "components",
            ),
            (
                SmoothSignals {
                    max_hz: 0.5,
                    ..ok.clone()
                },
                "max_hz",
            ),
            (
                SmoothSignals {
                    max_hz: 400.0,
                    ..ok.clone()
                },
                "max_hz",
            ),
            (
                SmoothSignals {
                    duration_ms: 1.0,
                    ..ok.clone()
                },
                "duration_ms",
            ),
        ] {
            let e = bad.validate(0.25).unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
        assert!(ok.validate(0.25).is_ok());
    }
}

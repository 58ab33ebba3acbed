//! Nonlinear 2-D systems `ẋ = h(x) + c(t)`: the targets of the nonlinear
//! efficient-balanced-network experiments (Alemi et al. 2018).
//!
//! Time in seconds; states row-major `[steps, 2]`; forward Euler at the
//! network's `dt`, as [`crate::linear_system`] does.

use serde::{Deserialize, Serialize};

use crate::{Result, TasksError};

/// A nonlinear system in two dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NonlinearSystem {
    /// The Van der Pol oscillator in units of `scale`:
    /// `ẋ₁ = ω x₂`, `ẋ₂ = ω (μ (1 − x₁²/scale²) x₂ − x₁)`; its limit cycle
    /// has an amplitude of about `2 scale` in `x₁` and, for `μ = 1`, a
    /// period of about `6.66 / ω` s.
    VanDerPol {
        /// `μ`, the nonlinearity.
        mu: f64,
        /// `ω` in rad/s (time scale).
        omega: f64,
        /// State scale.
        scale: f64,
    },
    /// A damped pendulum, `x = (θ, θ̇/ω₀)`: `ẋ₁ = ω₀ x₂`,
    /// `ẋ₂ = −ω₀ sin x₁ − b x₂` (small oscillations at `ω₀` rad/s,
    /// amplitude decaying at `b/2` per second); the input drives both.
    Pendulum {
        /// `ω₀` in rad/s.
        omega: f64,
        /// Damping `b` per second.
        damping: f64,
    },
}

impl NonlinearSystem {
    /// Refuses non-finite or non-positive parameters.
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, v: f64, positive: bool| {
            if !v.is_finite() || v < 0.0 || (positive && v == 0.0) {
                Err(TasksError::invalid(
                    name,
                    v,
                    if positive {
                        "a finite value > 0"
                    } else {
                        "a finite value >= 0"
                    },
                ))
            } else {
                Ok(())
            }
        };
        match *self {
            Self::VanDerPol { mu, omega, scale } => {
                check("mu", mu, false)?;
                check("omega", omega, true)?;
                check("scale", scale, true)
            }
            Self::Pendulum { omega, damping } => {
                check("omega", omega, true)?;
                check("damping", damping, false)
            }
        }
    }

    /// `h(x)`.
    pub fn field(&self, x: [f64; 2]) -> [f64; 2] {
        match *self {
            Self::VanDerPol { mu, omega, scale } => {
                let u = x[0] / scale;
                [omega * x[1], omega * (mu * (1.0 - u * u) * x[1] - x[0])]
            }
            Self::Pendulum { omega, damping } => {
                [omega * x[1], -omega * x[0].sin() - damping * x[1]]
            }
        }
    }

    /// The trajectory `[steps, 2]` from `x0` under `input` (`[steps, 2]`),
    /// Euler steps of `dt` seconds; row `t` is the state after step `t`.
    pub fn trajectory(&self, input: &[f64], dt: f64, x0: [f64; 2]) -> Result<Vec<f64>> {
        if !input.len().is_multiple_of(2) {
            return Err(TasksError::invalid(
                "input",
                format!("{} values", input.len()),
                "[steps, 2]",
            ));
        }
        if !(dt.is_finite() && dt > 0.0) {
            return Err(TasksError::invalid("dt", dt, "a time step > 0 s"));
        }
        let mut x = x0;
        let mut out = Vec::with_capacity(input.len());
        for c in input.chunks_exact(2) {
            let h = self.field(x);
            x = [x[0] + dt * (h[0] + c[0]), x[1] + dt * (h[1] + c[1])];
            out.extend_from_slice(&x);
        }
        Ok(out)
    }

    /// The unforced trajectory of `steps` steps from `x0`.
    pub fn free_run(&self, steps: usize, dt: f64, x0: [f64; 2]) -> Result<Vec<f64>> {
        self.trajectory(&vec![0.0; 2 * steps], dt, x0)
    }
}

/// Amplitude and frequency (Hz) of the oscillation of `x₁` in the second
/// half of a trajectory `[steps, 2]`; `None` with fewer than three cycles.
///
/// Robust to a noisy (spiking) readout: the amplitude is half the range
/// between the 1st and 99th percentiles, and a cycle is counted at an
/// upward crossing of `mean + amplitude / 4` after a visit below
/// `mean − amplitude / 4` (hysteresis), so jitter around a level crossing
/// does not count as cycles.
pub fn cycle_amplitude_frequency(trajectory: &[f64], dt: f64) -> Option<(f64, f64)> {
    let steps = trajectory.len() / 2;
    let x: Vec<f64> = (steps / 2..steps).map(|t| trajectory[2 * t]).collect();
    if x.len() < 4 || x.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut sorted = x.clone();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(0.01), at(0.99));
    let amplitude = (hi - lo) / 2.0;
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let (up, down) = (mean + amplitude / 4.0, mean - amplitude / 4.0);
    let mut armed = false;
    let mut ups = vec![];
    for (t, v) in x.iter().enumerate() {
        if *v < down {
            armed = true;
        } else if armed && *v > up {
            ups.push(t);
            armed = false;
        }
    }
    if ups.len() < 3 || amplitude <= 0.0 {
        return None;
    }
    let period = (ups[ups.len() - 1] - ups[0]) as f64 * dt / (ups.len() - 1) as f64;
    Some((amplitude, 1.0 / period))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn van_der_pol_settles_on_its_limit_cycle() {
        let omega = std::f64::consts::PI;
        let sys = NonlinearSystem::VanDerPol {
            mu: 1.0,
            omega,
            scale: 0.5,
        };
        let dt = 1e-4;
        let x = sys.free_run(400_000, dt, [0.1, 0.0]).unwrap();
        let (amp, freq) = cycle_amplitude_frequency(&x, dt).unwrap();
        // Amplitude 2.01 scale; period 6.663 / ω for μ = 1.
        assert!((amp - 1.0).abs() < 0.03, "amplitude {amp}");
        let expected = omega / 6.663;
        assert!(
            (freq - expected).abs() / expected < 0.02,
            "frequency {freq} vs {expected}"
        );
    }

    #[test]
    fn pendulum_swings_at_its_frequency_and_decays() {
        let sys = NonlinearSystem::Pendulum {
            omega: 2.0 * std::f64::consts::PI,
            damping: 0.0,
        };
        let dt = 1e-4;
        let x = sys.free_run(50_000, dt, [0.1, 0.0]).unwrap();
        let (amp, freq) = cycle_amplitude_frequency(&x, dt).unwrap();
        assert!(
            (amp - 0.1).abs() < 0.002 && (freq - 1.0).abs() < 0.01,
            "{amp} {freq}"
        );
        let damped = NonlinearSystem::Pendulum {
            omega: 2.0 * std::f64::consts::PI,
            damping: 1.0,
        };
        let y = damped.free_run(20_000, dt, [0.5, 0.0]).unwrap();
        assert!(y[2 * 19_999].abs() < 0.5 * 0.5);
        assert!(
            NonlinearSystem::Pendulum {
                omega: 0.0,
                damping: 1.0
            }
            .validate()
            .is_err()
        );
    }
}

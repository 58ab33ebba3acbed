//! Surrogate derivatives (pseudo-derivatives) of the Heaviside spike function.
//!
//! A spike is `z = H(x)` with `H(x) = 1` for `x > 0` and `0` otherwise; `x`
//! is the threshold-normalised membrane potential. `H` has zero derivative
//! almost everywhere, so gradient learning replaces `dH/dx` in the backward
//! pass by a surrogate `ψ(x)`. The forward pass is always the exact Heaviside.
//!
//! | variant | `ψ(x)` | reference |
//! | --- | --- | --- |
//! | [`Surrogate::PiecewiseLinear`] | `γ · max(0, 1 − |x|/w)` | Bellec et al. 2018 (γ = 0.3, w = 1) |
//! | [`Surrogate::FastSigmoid`] | `1 / (1 + k|x|)²` | SuperSpike, Zenke & Ganguli 2018 |
//! | [`Surrogate::Arctan`] | `(a/2) / (1 + (π a x / 2)²)` | Fang et al. 2021 |
//! | [`Surrogate::Sigmoid`] | `k σ(kx)(1 − σ(kx))` | |
//! | [`Surrogate::Triangle`] | `max(0, 1 − |x|/w) / w` | Esser et al. 2016 |
//! | [`Surrogate::Boxcar`] | `1/w` for `|x| < w/2`, else `0` | Wu et al. 2018 (rectangular) |
//! | [`Surrogate::Gaussian`] | `exp(−x²/2σ²) / (σ√(2π))` | |
//! | [`Surrogate::Erfc`] | `(a/√π) · exp(−a²x²)`, the derivative of `½ erfc(−a x)` | |
//! | [`Surrogate::Exponential`] | `a · exp(−b|x|)` | SLAYER, Shrestha & Orchard 2018 |
//!
//! Your own surrogate: implement [`SurrogateGradient`] and wrap it with
//! [`Surrogate::custom`].

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::fmt::Debug;
use std::sync::Arc;

/// A pseudo-derivative of the Heaviside step.
///
/// `derivative` works on a flat tensor (any spike tensor is flattened before
/// the call) with Burn's ordinary tensor operations, so a user surrogate runs
/// unchanged on every backend. `derivative_at` is the same formula on one
/// scalar: the reference the tensor version is tested against, and what
/// plots use.
///
/// ```
/// use spikeburn_core::burn::prelude::*;
/// use spikeburn_core::spike::{Surrogate, SurrogateGradient};
///
/// /// ψ(x) = 1 / (1 + x²)
/// #[derive(Debug)]
/// struct Lorentzian;
/// impl SurrogateGradient for Lorentzian {
///     fn derivative(&self, x: Tensor<1>) -> Tensor<1> {
///         (x.powi_scalar(2) + 1.0).recip()
///     }
///     fn derivative_at(&self, x: f64) -> f64 {
///         1.0 / (1.0 + x * x)
///     }
/// }
/// let surrogate = Surrogate::custom(Lorentzian);
/// assert_eq!(surrogate.derivative_at(1.0), 0.5);
/// ```
pub trait SurrogateGradient: Debug + Send + Sync {
    /// `ψ(x)` elementwise.
    fn derivative(&self, x: Tensor<1>) -> Tensor<1>;
    /// `ψ(x)` for one value.
    fn derivative_at(&self, x: f64) -> f64;
}

/// The catalogue of surrogate derivatives, selectable from a JSON config.
///
/// Parameter names follow the formulas in the [module docs](self).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Surrogate {
    /// `γ · max(0, 1 − |x|/w)`: Bellec et al.'s pseudo-derivative with dampening `γ`.
    PiecewiseLinear {
        /// Dampening factor γ (0.3 in LSNN).
        dampening: f64,
        /// Half-width w of the support.
        width: f64,
    },
    /// `1 / (1 + k|x|)²`: SuperSpike / fast sigmoid.
    FastSigmoid {
        /// Slope k.
        slope: f64,
    },
    /// `(a/2) / (1 + (π a x / 2)²)`: derivative of `atan(π a x / 2)/π + ½`.
    Arctan {
        /// Sharpness a.
        alpha: f64,
    },
    /// `k σ(kx)(1 − σ(kx))`: derivative of the logistic sigmoid of slope k.
    Sigmoid {
        /// Slope k.
        slope: f64,
    },
    /// `max(0, 1 − |x|/w) / w`: unit-area triangle of half-width w.
    Triangle {
        /// Half-width w.
        width: f64,
    },
    /// `1/w` on `|x| < w/2`: unit-area rectangle of width w.
    Boxcar {
        /// Full width w.
        width: f64,
    },
    /// Normal density with standard deviation σ.
    Gaussian {
        /// Standard deviation σ.
        sigma: f64,
    },
    /// `(a/√π) exp(−a²x²)`: derivative of `½ erfc(−a x)`.
    Erfc {
        /// Sharpness a.
        alpha: f64,
    },
    /// `a · exp(−b|x|)`: SLAYER's spike-escape-rate kernel.
    Exponential {
        /// Scale a.
        scale: f64,
        /// Decay b.
        decay: f64,
    },
    /// A user surrogate (not serialisable: it lives in code, not in JSON).
    #[serde(skip)]
    Custom(Arc<dyn SurrogateGradient>),
}

impl Default for Surrogate {
    /// Bellec et al.'s piecewise-linear pseudo-derivative, γ = 0.3, w = 1.
    fn default() -> Self {
        Self::PiecewiseLinear {
            dampening: 0.3,
            width: 1.0,
        }
    }
}

impl Surrogate {
    /// Wraps a user-defined surrogate.
    pub fn custom(surrogate: impl SurrogateGradient + 'static) -> Self {
        Self::Custom(Arc::new(surrogate))
    }

    /// One default-parameterised instance of every built-in surrogate.
    pub fn catalogue() -> Vec<Surrogate> {
        vec![
            Self::default(),
            Self::FastSigmoid { slope: 10.0 },
            Self::Arctan { alpha: 2.0 },
            Self::Sigmoid { slope: 4.0 },
            Self::Triangle { width: 1.0 },
            Self::Boxcar { width: 1.0 },
            Self::Gaussian { sigma: 0.5 },
            Self::Erfc { alpha: 2.0 },
            Self::Exponential {
                scale: 1.0,
                decay: 2.0,
            },
        ]
    }

    /// Short name for reports (`"piecewise_linear"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::PiecewiseLinear { .. } => "piecewise_linear",
            Self::FastSigmoid { .. } => "fast_sigmoid",
            Self::Arctan { .. } => "arctan",
            Self::Sigmoid { .. } => "sigmoid",
            Self::Triangle { .. } => "triangle",
            Self::Boxcar { .. } => "boxcar",
            Self::Gaussian { .. } => "gaussian",
            Self::Erfc { .. } => "erfc",
            Self::Exponential { .. } => "exponential",
            Self::Custom(_) => "custom",
        }
    }

    /// Checks the parameters: widths, slopes and scales must be finite and > 0
    /// (the dampening may be 0, which switches gradients off).
    pub fn validate(&self) -> crate::Result<()> {
        let positive = |name: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(crate::SpikeburnError::InvalidValue {
                    name,
                    value: v,
                    expected: "a finite value > 0",
                })
            }
        };
        match *self {
            Self::PiecewiseLinear { dampening, width } => {
                if !(dampening.is_finite() && dampening >= 0.0) {
                    return Err(crate::SpikeburnError::InvalidValue {
                        name: "dampening",
                        value: dampening,
                        expected: "a finite value >= 0",
                    });
                }
                positive("width", width)
            }
            Self::FastSigmoid { slope } | Self::Sigmoid { slope } => positive("slope", slope),
            Self::Arctan { alpha } | Self::Erfc { alpha } => positive("alpha", alpha),
            Self::Triangle { width } | Self::Boxcar { width } => positive("width", width),
            Self::Gaussian { sigma } => positive("sigma", sigma),
            Self::Exponential { scale, decay } => {
                positive("scale", scale)?;
                positive("decay", decay)
            }
            Self::Custom(_) => Ok(()),
        }
    }
}

impl SurrogateGradient for Surrogate {
    fn derivative(&self, x: Tensor<1>) -> Tensor<1> {
        match *self {
            Self::PiecewiseLinear { dampening, width } => {
                ((x.abs() / -width) + 1.0).clamp_min(0.0) * dampening
            }
            Self::FastSigmoid { slope } => ((x.abs() * slope) + 1.0).powi_scalar(2).recip(),
            Self::Arctan { alpha } => {
                ((x * (PI * alpha / 2.0)).powi_scalar(2) + 1.0).recip() * (alpha / 2.0)
            }
            Self::Sigmoid { slope } => {
                let s = burn::tensor::activation::sigmoid(x * slope);
                s.clone() * (s.neg() + 1.0) * slope
            }
            Self::Triangle { width } => ((x.abs() / -width) + 1.0).clamp_min(0.0) / width,
            Self::Boxcar { width } => x.abs().lower_elem(width / 2.0).float() / width,
            Self::Gaussian { sigma } => {
                (x.powi_scalar(2) / (-2.0 * sigma * sigma)).exp() / (sigma * (2.0 * PI).sqrt())
            }
            Self::Erfc { alpha } => {
                (x.powi_scalar(2) * (-alpha * alpha)).exp() * (alpha / PI.sqrt())
            }
            Self::Exponential { scale, decay } => (x.abs() * -decay).exp() * scale,
            Self::Custom(ref s) => s.derivative(x),
        }
    }

    fn derivative_at(&self, x: f64) -> f64 {
        match *self {
            Self::PiecewiseLinear { dampening, width } => {
                dampening * (1.0 - x.abs() / width).max(0.0)
            }
            Self::FastSigmoid { slope } => 1.0 / (1.0 + slope * x.abs()).powi(2),
            Self::Arctan { alpha } => (alpha / 2.0) / (1.0 + (PI * alpha * x / 2.0).powi(2)),
            Self::Sigmoid { slope } => {
                let s = 1.0 / (1.0 + (-slope * x).exp());
                slope * s * (1.0 - s)
            }
            Self::Triangle { width } => (1.0 - x.abs() / width).max(0.0) / width,
            Self::Boxcar { width } => {
                if x.abs() < width / 2.0 {
                    1.0 / width
                } else {
                    0.0
                }
            }
            Self::Gaussian { sigma } => {
                (-x * x / (2.0 * sigma * sigma)).exp() / (sigma * (2.0 * PI).sqrt())
            }
            Self::Erfc { alpha } => alpha / PI.sqrt() * (-alpha * alpha * x * x).exp(),
            Self::Exponential { scale, decay } => scale * (-decay * x.abs()).exp(),
            Self::Custom(ref s) => s.derivative_at(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Riemann sum of ψ over [-lim, lim].
    fn area(s: &Surrogate, lim: f64) -> f64 {
        let n = 200_000;
        let h = 2.0 * lim / n as f64;
        (0..n)
            .map(|i| s.derivative_at(-lim + (i as f64 + 0.5) * h))
            .sum::<f64>()
            * h
    }

    #[test]
    fn normalised_surrogates_have_unit_area() {
        for s in Surrogate::catalogue() {
            let expected = match s {
                Surrogate::PiecewiseLinear { dampening, width } => dampening * width,
                // 1/(1+k|x|)^2 integrates to 2/k.
                Surrogate::FastSigmoid { slope } => 2.0 / slope,
                Surrogate::Exponential { scale, decay } => 2.0 * scale / decay,
                _ => 1.0,
            };
            // Heavy-tailed kernels need a wide window.
            let a = area(&s, 2000.0);
            assert!(
                (a - expected).abs() < 2e-3 * expected.max(1.0),
                "{}: area {a}, expected {expected}",
                s.name()
            );
        }
    }

    #[test]
    fn validate_names_bad_parameters() {
        let e = Surrogate::Gaussian { sigma: -1.0 }.validate().unwrap_err();
        assert!(e.to_string().contains("sigma"));
        assert!(Surrogate::Boxcar { width: 0.0 }.validate().is_err());
        for s in Surrogate::catalogue() {
            s.validate().unwrap();
        }
    }

    #[test]
    fn config_json_round_trip() {
        let s = Surrogate::Arctan { alpha: 3.0 };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"kind":"arctan","alpha":3.0}"#);
        let back: Surrogate = serde_json::from_str(&json).unwrap();
        assert_eq!(back.derivative_at(0.1), s.derivative_at(0.1));
    }
}
